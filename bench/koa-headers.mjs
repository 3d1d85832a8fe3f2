#!/usr/bin/env node
// What setting a response's headers costs on Koa, counted by valgrind's callgrind: Koa's `ctx.set(fields)`
// against `res.setHeader()` per header on the same context (what @tiergate/koa does since fix 40), for
// tiergate's six notify-operator headers. Each way runs twice under callgrind, N₁ and N₂ contexts, and the
// difference per context is printed, less a run that only builds the contexts. Not part of `npm run bench`.
//   node bench/koa-headers.mjs
// Needs valgrind (Debian's package).
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'ratelimit-limit': '10',
  'ratelimit-remaining': '9',
  'ratelimit-reset': '3600',
};
const [way, count] = process.argv.slice(2);

if (way !== undefined) {
  // One run: `count` fresh contexts, each given the headers one way (or none).
  const { default: Koa } = await import('koa');
  const app = new Koa();
  let names = 0;
  for (let i = 0; i < Number(count); i++) {
    const req = new http.IncomingMessage(new net.Socket());
    const res = new http.ServerResponse(req);
    const ctx = app.createContext(req, res);
    if (way === 'ctx.set') ctx.set(HEADERS);
    else if (way === 'res.setHeader') for (const name in HEADERS) res.setHeader(name, HEADERS[name]);
    names += res.getHeaderNames().length;
  }
  if (names !== (way === 'none' ? 0 : 6 * Number(count))) throw new Error(`${way}: ${names} header names set`);
} else {
  const run = promisify(execFile);
  const self = fileURLToPath(import.meta.url);
  const [n1, n2] = [2_000, 12_000];
  const instructions = async (how, n) => {
    const { stderr } = await run('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--no-concurrent-recompilation', self, how, String(n)], { maxBuffer: 1 << 24 });
    const collected = /Collected : (\d+)/.exec(stderr);
    if (collected === null) throw new Error(`no count from callgrind: ${stderr.slice(-500)}`);
    return Number(collected[1]);
  };
  const perContext = async (how) => ((await instructions(how, n2)) - (await instructions(how, n1))) / (n2 - n1);
  const base = await perContext('none');
  for (const how of ['ctx.set', 'res.setHeader']) console.log(`${how}: ${Math.round((await perContext(how)) - base).toLocaleString('en')} instructions for six headers`);
}
