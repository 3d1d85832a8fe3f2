// Starts bench/servers/http-server.mjs as a child process and talks to it over IPC.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const SERVER = path.join(here, '..', 'servers', 'http-server.mjs');

/**
 * Forks a server for `config` and resolves once it listens. The returned
 * handle asks the child for its CPU time, approvals to decide, and shutdown.
 * With BENCH_CPU_PROF=<dir>, the child writes a V8 CPU profile there on exit.
 * `execArgv`: more Node options for the child (e.g. `--perf-basic-prof`).
 */
export async function startServer(config, { startupMs = 120_000, execArgv: extraArgv = [] } = {}) {
  const execArgv = [...extraArgv];
  if (process.env.BENCH_TRACE_GC) execArgv.push('--trace-gc');
  if (process.env.BENCH_CPU_PROF) execArgv.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`);
  const child = fork(SERVER, [], { env: { ...process.env, BENCH_SERVER: JSON.stringify(config) }, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let nextId = 1;
  const pending = new Map();
  let exited = false;
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server ${JSON.stringify(config)} did not start in ${startupMs} ms`)), startupMs);
    child.on('message', (message) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message);
        return;
      }
      const waiter = pending.get(message.id);
      if (waiter === undefined) return;
      pending.delete(message.id);
      if (message.error) waiter.reject(new Error(message.error));
      else waiter.resolve(message);
    });
    child.on('exit', (code) => {
      exited = true;
      clearTimeout(timer);
      reject(new Error(`server exited with code ${code} before it was ready`));
      for (const waiter of pending.values()) waiter.reject(new Error(`server exited with code ${code}`));
      pending.clear();
    });
  });
  const info = await ready;

  function ask(message) {
    if (exited) return Promise.reject(new Error('server has exited'));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      child.send({ ...message, id });
    });
  }

  return {
    ...info,
    pid: child.pid,
    /** CPU time of the server so far (µs) and when it was read (ms, monotonic). */
    cpu: () => ask({ type: 'cpu' }),
    /** `count` pending approvals, as form bodies deciding them. */
    approvals: async (count) => (await ask({ type: 'approvals', count })).bodies,
    /** Stops the server and waits for the process to exit (killed after 15 s). */
    async close() {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await ask({ type: 'close' }).catch(() => undefined);
      await gone;
      clearTimeout(killer);
    },
  };
}
