/**
 * How `redisStore()` talks to the host's ioredis client so that a Redis
 * outage is reported at once as `STORE_UNAVAILABLE` instead of hanging.
 *
 * ioredis, by default, queues commands while it is disconnected (the offline
 * queue) and resends them for up to `maxRetriesPerRequest` reconnections —
 * tens of seconds of waiting, after which a queued write may still be applied.
 * The guard avoids that whatever the host configured:
 *
 * - **Not connected, not connecting** (`reconnecting`, `close`, `end`): the
 *   call fails at once and nothing is sent, so nothing can be applied later.
 * - **Connecting** (first connect, `lazyConnect`): the call waits for
 *   `ready`, bounded by the per-call timeout.
 * - **Every call** is bounded by `timeoutMs` end to end. A timeout while a
 *   command was already on the wire leaves its outcome unknown: a script
 *   runs entirely or not at all, but the caller cannot tell which.
 *
 * Errors become `STORE_UNAVAILABLE` — connection errors, timeouts and the
 * transient Redis replies (`LOADING`, `BUSY`, `READONLY`, `OOM`, …) — except
 * other Redis error replies, which mean a bug or a key clash (a failing
 * script, `WRONGTYPE`) and become `INTERNAL_ERROR`.
 */
import type { Redis } from 'ioredis';
import { TiergateError, isTiergateError, storeUnavailable } from '@tiergate/core';
import type { LuaScript } from './lua-scripts.js';

/** Runs store calls against one ioredis client with the rules above. */
export interface CommandGuard {
  /** Runs `work` once the client is ready, within the timeout; maps failures to tiergate errors. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Runs a Lua script by EVALSHA, loading it with EVAL when Redis does not know it yet. */
  script(lua: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

/** Thrown inside the guard when a call ran out of time (its cause when reported). */
class RedisCallTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms`);
    this.name = 'RedisCallTimeout';
  }
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : '';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** First words of Redis error replies that mean "not now" (loading, failover, memory, script busy), not "wrong". */
const TRANSIENT_REPLIES = new Set(['LOADING', 'BUSY', 'READONLY', 'MASTERDOWN', 'CLUSTERDOWN', 'TRYAGAIN', 'OOM', 'MISCONF', 'NOREPLICAS']);

/** A Redis error reply that means a bug or a clash (failing script, `WRONGTYPE`, bad argument), not unavailability. */
function isBugReply(err: unknown): boolean {
  if (errorName(err) !== 'ReplyError') return false;
  const message = errorMessage(err);
  const firstWord = message.split(' ', 1)[0] ?? '';
  return !TRANSIENT_REPLIES.has(firstWord) && !message.startsWith('ERR max number of clients');
}

/** Maps any failure of a Redis call to the tiergate error it stands for. */
export function toStoreError(err: unknown): TiergateError {
  if (isTiergateError(err)) return err;
  if (isBugReply(err)) return new TiergateError('INTERNAL_ERROR', 'Redis rejected a tiergate command.', { cause: err });
  return storeUnavailable(err);
}

/** Creates the guard over `client`. */
export function commandGuard(client: Redis, timeoutMs: number): CommandGuard {
  // One shared wait for the next `ready` (or the failure of the connection attempt), so
  // that many calls waiting at once add two listeners to the host's client, not hundreds.
  let nextReady: Promise<void> | undefined;

  function waitForReady(): Promise<void> {
    if (nextReady !== undefined) return nextReady;
    const waiting = new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        stop();
        resolve();
      };
      const onDown = (): void => {
        stop();
        reject(new Error(`Redis connection attempt failed (status ${client.status})`));
      };
      const stop = (): void => {
        client.off('ready', onReady);
        client.off('close', onDown);
        client.off('end', onDown);
        nextReady = undefined;
      };
      client.on('ready', onReady);
      client.on('close', onDown);
      client.on('end', onDown);
    });
    waiting.catch(() => undefined); // callers that gave up must not leave an unhandled rejection
    nextReady = waiting;
    return waiting;
  }

  function ready(): Promise<void> {
    switch (client.status) {
      case 'ready':
        return Promise.resolve();
      case 'wait': {
        // lazyConnect: connect now (what the first command would do) and wait for it.
        const waiting = waitForReady();
        client.connect().catch(() => undefined);
        return waiting;
      }
      case 'connecting':
      case 'connect':
        return waitForReady();
      default:
        // reconnecting / close / end: Redis is known to be unreachable right now; do not queue.
        return Promise.reject(new Error(`Redis connection is ${client.status}`));
    }
  }

  /** Settles with `attempt`, or with a timeout after `timeoutMs` (`onTimeout` runs first); failures mapped by {@link toStoreError}. */
  function bounded<T>(attempt: Promise<T>, onTimeout?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        onTimeout?.();
        reject(toStoreError(new RedisCallTimeout(timeoutMs)));
      }, timeoutMs);
      attempt.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(toStoreError(err));
        },
      );
    });
  }

  function run<T>(work: () => Promise<T>): Promise<T> {
    // Connected (nearly always): the command is sent now, with no wait for readiness in between.
    if (client.status === 'ready') {
      let attempt: Promise<T>;
      try {
        attempt = work();
      } catch (err) {
        return Promise.reject(toStoreError(err));
      }
      return bounded(attempt);
    }
    let gaveUp = false;
    const attempt = ready().then(() => {
      // A call that timed out while waiting for the connection must not run later.
      if (gaveUp) throw new RedisCallTimeout(timeoutMs);
      return work();
    });
    return bounded(attempt, () => {
      gaveUp = true;
    });
  }

  function evalScript(lua: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return client.evalsha(lua.sha, keys.length, ...keys, ...args).catch((err: unknown) => {
      if (errorName(err) === 'ReplyError' && errorMessage(err).startsWith('NOSCRIPT')) return client.eval(lua.lua, keys.length, ...keys, ...args);
      throw err;
    });
  }

  return {
    run,
    script: (lua, keys, args) => run(() => evalScript(lua, keys, args)),
  };
}
