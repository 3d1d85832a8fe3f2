#!/usr/bin/env node
// Builds every workspace package in dependency order (core first), because each
// package's `.d.ts` build resolves its siblings through their built `dist/`.
// `--if-stale` skips a package whose dist is newer than all of its sources, so
// `npm test` and `npm start` build only what changed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ifStale = process.argv.includes('--if-stale');
const rootPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

const workspaces = rootPkg.workspaces.map((dir) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
  const deps = { ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies };
  return { dir, name: pkg.name, internal: Object.keys(deps).filter((d) => d.startsWith('@tiergate/')) };
});

const ordered = [];
const seen = new Set();
function visit(ws, trail = []) {
  if (seen.has(ws.name)) return;
  if (trail.includes(ws.name)) throw new Error(`dependency cycle: ${[...trail, ws.name].join(' -> ')}`);
  for (const dep of ws.internal) {
    const target = workspaces.find((w) => w.name === dep);
    if (target) visit(target, [...trail, ws.name]);
  }
  seen.add(ws.name);
  ordered.push(ws);
}
workspaces.forEach((ws) => visit(ws));

function newestMtime(dir) {
  let newest = 0;
  if (!fs.existsSync(dir)) return newest;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

const rebuilt = new Set();
for (const ws of ordered) {
  const abs = path.join(root, ws.dir);
  const marker = path.join(abs, 'dist', '.built');
  const sources = Math.max(
    newestMtime(path.join(abs, 'src')),
    ...['package.json', 'tsup.config.ts', 'tsconfig.build.json'].map((f) => (fs.existsSync(path.join(abs, f)) ? fs.statSync(path.join(abs, f)).mtimeMs : 0)),
  );
  const upstreamRebuilt = ws.internal.some((d) => rebuilt.has(d));
  if (ifStale && !upstreamRebuilt && fs.existsSync(marker) && fs.statSync(marker).mtimeMs >= sources) continue;
  process.stdout.write(`building ${ws.name}\n`);
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: abs, stdio: ['ignore', 'ignore', 'inherit'] });
  fs.writeFileSync(marker, new Date().toISOString());
  rebuilt.add(ws.name);
}
