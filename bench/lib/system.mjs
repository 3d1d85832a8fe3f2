// What the benchmark ran on: machine, OS, Node and package versions.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(root, 'package.json'));

function cpuInfo() {
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const models = [...text.matchAll(/^model name\s*:\s*(.+)$/gm)].map((m) => m[1].trim());
    return { model: models[0] ?? os.cpus()[0]?.model ?? 'unknown', cores: models.length || os.cpus().length };
  } catch {
    return { model: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length };
  }
}

function osName() {
  try {
    const text = fs.readFileSync('/etc/os-release', 'utf8');
    const pretty = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(text)?.[1];
    if (pretty) return `${pretty}, kernel ${os.release()}`;
  } catch {
    // not Linux
  }
  return `${os.type()} ${os.release()}`;
}

function versionOf(name) {
  try {
    return JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;
  } catch {
    // Packages without an exported package.json: find the folder through node_modules.
    const candidate = path.join(root, 'node_modules', name, 'package.json');
    return fs.existsSync(candidate) ? JSON.parse(fs.readFileSync(candidate, 'utf8')).version : 'not installed';
  }
}

const PACKAGES = [
  '@tiergate/core',
  '@tiergate/express',
  '@tiergate/fastify',
  '@tiergate/koa',
  '@tiergate/postgres',
  '@tiergate/redis',
  'fastify',
  'express',
  'koa',
  '@fastify/rate-limit',
  'jose',
  '@casl/ability',
  'rate-limiter-flexible',
  'zod',
  'pg',
  'ioredis',
  'autocannon',
];

/** Facts about this machine and the software under test. */
export function systemInfo() {
  const cpu = cpuInfo();
  return {
    cpu: cpu.model,
    cores: cpu.cores,
    memoryGiB: os.totalmem() / 2 ** 30,
    os: osName(),
    node: process.version,
    packages: Object.fromEntries(PACKAGES.map((name) => [name, versionOf(name)])),
  };
}
