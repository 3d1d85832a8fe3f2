/**
 * The in-process half of `Store.waitForApproval`: waiters registered per
 * approval id, each ended by a wake-up, its timeout or its abort signal —
 * whichever comes first, exactly once. Stores add how a wake-up arrives
 * (memory: the transition itself; PostgreSQL: LISTEN/NOTIFY; Redis:
 * pub/sub).
 */

/** One registered wait. */
export interface Waiter {
  /** Resolves when the wait ends (wake-up, timeout or abort). Never rejects. */
  readonly ended: Promise<void>;
  /** True once the wait has ended. */
  readonly done: boolean;
  /** Ends the wait now. */
  finish(): void;
}

/** Waiters by approval id. */
export interface WaiterRegistry {
  /** Registers a wait for `id` that ends after `timeoutMs` at the latest, or when `signal` aborts (at once if already aborted). */
  add(id: string, timeoutMs: number, signal?: AbortSignal): Waiter;
  /** Ends every wait for `id`. */
  wake(id: string): void;
  /** Ends every wait. */
  wakeAll(): void;
  /** Number of ids with a pending wait. */
  readonly size: number;
}

/** Creates an empty registry. */
export function createWaiterRegistry(): WaiterRegistry {
  const waiters = new Map<string, Set<() => void>>();

  function wake(id: string): void {
    const set = waiters.get(id);
    if (set !== undefined) for (const finish of [...set]) finish();
  }

  return {
    add(id, timeoutMs, signal) {
      let resolve!: () => void;
      const ended = new Promise<void>((r) => (resolve = r));
      let set = waiters.get(id);
      if (set === undefined) {
        set = new Set();
        waiters.set(id, set);
      }
      const mine = set;
      const waiter = {
        ended,
        done: false,
        finish(): void {
          if (waiter.done) return;
          waiter.done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', waiter.finish);
          mine.delete(waiter.finish);
          if (mine.size === 0 && waiters.get(id) === mine) waiters.delete(id);
          resolve();
        },
      };
      mine.add(waiter.finish);
      const timer = setTimeout(waiter.finish, Math.max(0, timeoutMs));
      if (signal?.aborted === true) waiter.finish();
      else signal?.addEventListener('abort', waiter.finish, { once: true });
      return waiter;
    },
    wake,
    wakeAll() {
      for (const id of [...waiters.keys()]) wake(id);
    },
    get size() {
      return waiters.size;
    },
  };
}
