/**
 * `waitForApproval` over LISTEN/NOTIFY, with polling as the fallback.
 *
 * `transitionApproval` calls `pg_notify(<schema>.approvals, id)` inside its
 * statement, so the notification is sent when — and only if — the decision
 * commits, to every instance listening on that database. One dedicated
 * connection per store listens; it is taken from the host's pool on the
 * first wait and given back (destroyed, so no LISTEN state leaks into the
 * pool) once no wait has been pending for `idleMs`, or on `close()`.
 *
 * If LISTEN is impossible (pool exhausted or down, a transaction-mode
 * pooler, `listen: false`), each wait polls the approval instead. A wait
 * never rejects: at worst it ends at its timeout and the caller re-reads.
 */
import { createWaiterRegistry } from '@tiergate/core';
import type { Notification, Pool } from 'pg';
import { checkout, type Checkout } from './pool-checkout.js';

/** What the waiter needs from the store. */
export interface ApprovalWaiterOptions {
  readonly pool: Pool;
  readonly channel: string;
  /** `false`: never LISTEN, always poll. */
  readonly listen: boolean;
  readonly pollIntervalMs: number;
  /** How long the listening connection is kept with no wait pending. */
  readonly idleMs: number;
  /** The approval's status, or `null` if unknown. May reject (backend down). */
  readonly readStatus: (id: string) => Promise<string | null>;
}

/** The waiter behind `waitForApproval` and `close`. */
export interface ApprovalWaiter {
  wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** Ends every pending wait and releases the listening connection. */
  close(): Promise<void>;
}

/** After LISTEN failed, waits poll for this long before LISTEN is tried again. */
const LISTEN_RETRY_MS = 5_000;

/** Creates the waiter of one store. */
export function approvalWaiter(options: ApprovalWaiterOptions): ApprovalWaiter {
  const { pool, channel, pollIntervalMs, idleMs, readStatus } = options;
  const waiters = createWaiterRegistry();
  let listener: Promise<Checkout | null> | null = null;
  let listenRetryAt = 0;
  let idleTimer: NodeJS.Timeout | undefined;

  function onNotification(message: Notification): void {
    if (message.channel === channel && message.payload !== undefined) waiters.wake(message.payload);
  }

  function drop(held: Checkout, reason: Error): void {
    held.client.removeListener('notification', onNotification);
    held.release(reason); // an error destroys the connection instead of pooling it, LISTEN state and all
  }

  /** The listening connection, or `null` when LISTEN is not possible right now. Never rejects. */
  function ensureListener(): Promise<Checkout | null> {
    if (!options.listen || Date.now() < listenRetryAt) return Promise.resolve(null);
    if (listener !== null) return listener;
    const opening = (async (): Promise<Checkout | null> => {
      let held: Checkout | undefined;
      try {
        held = await checkout(pool, (err) => {
          // The connection died: forget it, and let waiters re-read (their next wait listens again or polls).
          if (listener === opening) listener = null;
          if (held !== undefined) drop(held, err);
          waiters.wakeAll();
        });
        held.client.on('notification', onNotification);
        await held.client.query(`LISTEN "${channel}"`);
        return held;
      } catch (err) {
        if (held !== undefined) drop(held, err instanceof Error ? err : new Error(String(err)));
        listenRetryAt = Date.now() + LISTEN_RETRY_MS;
        return null;
      }
    })();
    listener = opening;
    void opening.then((client) => {
      if (client === null && listener === opening) listener = null;
    });
    return opening;
  }

  function scheduleIdleRelease(): void {
    clearTimeout(idleTimer);
    if (waiters.size > 0 || listener === null) return;
    idleTimer = setTimeout(() => void releaseListener(), idleMs);
    idleTimer.unref();
  }

  async function releaseListener(): Promise<void> {
    clearTimeout(idleTimer);
    const current = listener;
    listener = null;
    const held = current === null ? null : await current;
    if (held !== null) drop(held, new Error('tiergate approval listener closed'));
  }

  return {
    async wait(id, timeoutMs, signal) {
      if (signal?.aborted === true) return;
      const waiter = waiters.add(id, timeoutMs, signal);
      let pollTimer: NodeJS.Timeout | undefined;
      clearTimeout(idleTimer);
      void waiter.ended.then(() => {
        clearTimeout(pollTimer);
        scheduleIdleRelease();
      });

      // A read failure counts as "still pending": the wait goes on until a notification or its timeout.
      const decided = async (): Promise<boolean> => (await readStatus(id).catch(() => 'pending')) !== 'pending';
      const poll = async (): Promise<void> => {
        if (waiter.done) return;
        if (await decided()) waiter.finish();
        else if (!waiter.done) pollTimer = setTimeout(() => void poll(), pollIntervalMs);
      };
      void (async () => {
        const held = await ensureListener();
        if (waiter.done) return;
        // Read after LISTEN is in place, so a decision made before it is not missed.
        if (held !== null) {
          if (await decided()) waiter.finish();
        } else await poll();
      })();
      await waiter.ended;
    },

    async close() {
      waiters.wakeAll();
      await releaseListener();
    },
  };
}
