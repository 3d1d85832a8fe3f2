import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The root test configuration. Vitest 4 no longer discovers workspace files on
// its own, so `npm test` points at this file, which lists one project per package.
// In-process tests import every `@tiergate/*` package from its TypeScript source
// (one module graph, no stale builds); tests that spawn processes use `dist/`,
// which `npm test` rebuilds first when it is stale.
const packages = ['core', 'client', 'testing', 'express', 'fastify', 'koa', 'postgres', 'redis', 'notifiers'] as const;

const alias = Object.fromEntries(
  packages.map((name) => [`@tiergate/${name}`, fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url))]),
);

export default defineConfig({
  resolve: { alias },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      ...packages.map((name) => ({
        extends: true as const,
        test: { name, include: [`packages/${name}/test/**/*.test.ts`] },
      })),
      { extends: true as const, test: { name: 'examples', include: ['examples/test/**/*.test.ts'] } },
      { extends: true as const, test: { name: 'hardening', include: ['test/hardening/**/*.test.ts'] } },
    ],
  },
});
