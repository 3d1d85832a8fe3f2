/**
 * `waitForApproval` over Redis pub/sub. The transition script publishes the
 * approval id on one channel per store prefix; one subscriber connection per
 * store (`client.duplicate()`, opened on the first wait, closed by `close()`)
 * wakes every local waiter of that id.
 *
 * Never rejects. An approval already decided resolves at once. Otherwise the
 * order — register the waiter, subscribe, then read the status — means a
 * decision is either seen by that read or published after the subscription. While the subscription is not confirmed the waiter polls
 * instead, and after the subscriber reconnects every waiter is woken (a
 * decision may have been published while it was away); callers re-read the
 * approval, so an early wake-up is harmless.
 */
import { createWaiterRegistry } from '@tiergate/core';
import type { Redis } from 'ioredis';

/** Options of {@link approvalWaiter}. */
export interface ApprovalWaiterOptions {
  /** The host's client; the subscriber is its duplicate. */
  readonly client: Redis;
  /** The pub/sub channel the transition script publishes on. */
  readonly channel: string;
  /** True when the approval is no longer pending (or unknown); rejects when Redis is unreachable. */
  readonly isSettled: (id: string) => Promise<boolean>;
  /** Poll interval while the subscription is not confirmed, ms. */
  readonly pollMs: number;
  /** How long a wait holds out for the subscription before it polls, ms. */
  readonly subscribeWaitMs: number;
}

/** The waiter: `wait` for the store's `waitForApproval`, `close` for the store's `close`. */
export interface ApprovalWaiter {
  wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Creates the waiter; no connection is opened until the first `wait`. */
export function approvalWaiter(options: ApprovalWaiterOptions): ApprovalWaiter {
  const { client, channel, isSettled, pollMs, subscribeWaitMs } = options;
  const waiters = createWaiterRegistry();
  let subscriber: Redis | undefined;
  let subscription: Promise<boolean> | undefined;
  let everReady = false;
  let closed = false;

  function openSubscriber(): Redis {
    const connection = client.duplicate({
      // A background connection: it may wait for Redis as long as it takes, and re-subscribes itself below.
      lazyConnect: false,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: false,
      connectionName: `${client.options.connectionName ?? 'tiergate'}:approvals`,
    });
    connection.on('error', () => undefined); // reconnects on its own; waiters poll meanwhile
    connection.on('message', (from: string, id: string) => {
      if (from === channel) waiters.wake(id);
    });
    connection.on('close', () => {
      subscription = undefined;
    });
    connection.on('ready', () => {
      if (!everReady) {
        everReady = true;
        return;
      }
      // Reconnected: subscribe again, then wake everyone (a decision may have been published meanwhile).
      void subscribe().then((live) => {
        if (live) waiters.wakeAll();
      });
    });
    return connection;
  }

  function subscribe(): Promise<boolean> {
    if (closed) return Promise.resolve(false);
    if (subscription !== undefined) return subscription;
    subscriber ??= openSubscriber();
    const attempt = subscriber.subscribe(channel).then(
      () => true,
      () => {
        if (subscription === attempt) subscription = undefined;
        return false;
      },
    );
    subscription = attempt;
    return attempt;
  }

  async function settled(id: string): Promise<boolean> {
    try {
      return await isSettled(id);
    } catch {
      return false; // Redis unreachable: keep waiting until the timeout
    }
  }

  return {
    async wait(id, timeoutMs, signal) {
      if (closed || signal?.aborted === true) return;
      const waiter = waiters.add(id, timeoutMs, signal);
      let poll: NodeJS.Timeout | undefined;
      void waiter.ended.then(() => clearInterval(poll));
      void (async () => {
        let bound: NodeJS.Timeout | undefined;
        const subscribed = Promise.race([
          subscribe(),
          new Promise<boolean>((r) => {
            bound = setTimeout(() => r(false), subscribeWaitMs);
          }),
        ]);
        // Already decided: resolve without waiting for the subscription.
        if (await settled(id)) {
          clearTimeout(bound);
          waiter.finish();
          return;
        }
        const live = await subscribed;
        clearTimeout(bound);
        if (waiter.done) return;
        // Read again now that the subscription holds: a decision made in between was not published to us.
        if (await settled(id)) {
          waiter.finish();
          return;
        }
        if (!live && !waiter.done) {
          poll = setInterval(() => {
            void settled(id).then((yes) => {
              if (yes) waiter.finish();
            });
          }, pollMs);
        }
      })();
      await waiter.ended;
    },

    async close() {
      closed = true;
      waiters.wakeAll();
      const connection = subscriber;
      subscriber = undefined;
      subscription = undefined;
      connection?.disconnect();
    },
  };
}
