/**
 * What the HTTP kernel and the guard reach of a service beyond its public
 * interface: the same operations without a promise where none is needed,
 * because they run on every request and each `await` is a microtask turn.
 * Kept in a registry keyed by the service object, so a `Tiergate` that
 * `createTiergate()` did not build (a wrapper, a test double) has none and
 * the kernel falls back to its public methods.
 *
 * @internal
 */
import type { Account } from './accounts.js';
import type { Tiergate } from './create-tiergate.js';

/** @internal */
export interface ServiceInternals {
  /**
   * `Tiergate.authenticate()`, answered without a promise when the host's
   * `authenticate` answers synchronously (as `apiKeyAuthenticator` does).
   * May throw synchronously what the host's function throws.
   */
  authenticateNow(authorization: string | readonly string[] | undefined): Account | null | Promise<Account | null>;
}

const registry = new WeakMap<object, ServiceInternals>();

/** @internal Called once by `createTiergate()` for the service it returns. */
export function registerInternals(service: object, internals: ServiceInternals): void {
  registry.set(service, internals);
}

/**
 * @internal How the kernel and the guard authenticate with `tiergate`: its synchronous
 * `authenticateNow()` when `createTiergate()` built it, else its public `authenticate()`.
 */
export function authenticatorOf(tiergate: Tiergate): ServiceInternals['authenticateNow'] {
  return registry.get(tiergate)?.authenticateNow ?? ((authorization) => tiergate.authenticate(authorization));
}

/** @internal True for a promise or any other thenable (a host's function may answer either). */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}
