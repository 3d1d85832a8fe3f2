import { defineConfig } from 'tsup';

// `npm start` runs dist/server.js; the @tiergate packages stay external (their own dist/).
export default defineConfig({
  entry: { server: 'src/main.ts' },
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'node20',
  tsconfig: 'tsconfig.build.json',
});
