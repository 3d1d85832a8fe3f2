import type { Options } from 'tsup';

/**
 * The build every `@tiergate/*` package shares: ESM and `.d.ts` from
 * `src/index.ts`, for Node 20, with the package's `tsconfig.build.json`.
 * Each package's `tsup.config.ts` is `defineConfig(libraryBuild)`.
 */
export const libraryBuild: Options = {
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  tsconfig: 'tsconfig.build.json',
};
