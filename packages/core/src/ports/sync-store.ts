/**
 * The synchronous side of a store that keeps its state in this process
 * (`memoryStore()`): the two reads the service makes on every capabilities
 * request and every guarded one, and the write of every notify-operator call,
 * answered without a promise, because each
 * `await` is a microtask turn. Kept in a registry keyed by the store object,
 * so a store that did not register (PostgreSQL, Redis, a host's wrapper of
 * the memory store) is called through its `Store` methods, as always.
 *
 * @internal
 */
import type { AccountStateRead, QuotaResult, Store } from './store.js';

/** @internal The same operations as the `Store` methods of the same name, answered synchronously. */
export interface SyncStore {
  readAccountState(accountId: string, actions: readonly string[], windowKeys: readonly [string, string]): AccountStateRead;
  consumeQuota(input: Parameters<Store['consumeQuota']>[0]): QuotaResult;
  /** Throws what the `Store` method rejects with. */
  createNotification(input: Parameters<Store['createNotification']>[0]): void;
}

const registry = new WeakMap<object, SyncStore>();

/** @internal Called by a store for itself, once, when it is made. */
export function registerSyncStore(store: Store, sync: SyncStore): void {
  registry.set(store, sync);
}

/** @internal The synchronous operations of `store`, if it registered them. */
export function syncStoreOf(store: Store): SyncStore | undefined {
  return registry.get(store);
}
