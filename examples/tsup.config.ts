import { defineConfig } from 'tsup';
import { libraryBuild } from '../tsup.base.js';

// `npm start` runs dist/server.js; the @tiergate packages stay external (their own dist/).
export default defineConfig({ ...libraryBuild, entry: { server: 'src/main.ts' }, dts: false });
