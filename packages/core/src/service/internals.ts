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
import type { CheckResult, RateLimitInfo, Tiergate } from './create-tiergate.js';
import type { CapabilitiesResult, NotifyOperatorResult } from '../schemas/wire.js';

/** @internal What `notify()` answers: the wire result, the link's expiry (epoch ms) and the rate-limit state. */
export interface NotifyOutcome {
  readonly result: NotifyOperatorResult;
  readonly expiresAt: number;
  readonly rateLimit: RateLimitInfo | undefined;
  /**
   * True when `result` has exactly the wire keys, in the order the service writes them
   * (`operator_action_url`, `operator_action_label`, `agent_script`, `notification_id`, `expires_at`,
   * then `request_id`, `status` for an approval) and its link is JSON-plain (`isJsonPlain`), so the
   * kernel may write the JSON key by key and copy the link as it is.
   */
  readonly verbatim: boolean;
}

/** @internal */
export interface ServiceInternals {
  /**
   * `Tiergate.authenticate()`, answered without a promise when the host's
   * `authenticate` answers synchronously (as `apiKeyAuthenticator` does).
   * May throw synchronously what the host's function throws.
   */
  authenticateNow(authorization: string | readonly string[] | undefined): Account | null | Promise<Account | null>;
  /** `Tiergate.capabilities()`, answered without a promise when the store reads synchronously and the links are kept. */
  capabilitiesNow(account: Account): CapabilitiesResult | Promise<CapabilitiesResult>;
  /**
   * `Tiergate.check()`, answered without a promise when the action is allowed and its quota (if any) was
   * taken by a synchronous store. Throws synchronously what `check()` rejects with for a bad argument.
   */
  checkNow<A extends string>(account: Account, action: A, options?: { readonly consume?: number }): CheckResult<A> | Promise<CheckResult<A>>;
  /**
   * `Tiergate.notifyOperator()`, with the rate-limit state beside the result rather than merged into a
   * copy of it, and the expiry as a number (the kernel would otherwise parse `expires_at` back).
   */
  notify(account: Account, body: unknown): Promise<NotifyOutcome>;
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

/** @internal How the kernel gets an account's capabilities: `capabilitiesNow()` when `createTiergate()` built `tiergate`. */
export function capabilitiesOf(tiergate: Tiergate): ServiceInternals['capabilitiesNow'] {
  return registry.get(tiergate)?.capabilitiesNow ?? ((account) => tiergate.capabilities(account));
}

/** @internal How the guard checks an action: `checkNow()` when `createTiergate()` built `tiergate`. */
export function checkerOf(tiergate: Tiergate): ServiceInternals['checkNow'] {
  return registry.get(tiergate)?.checkNow ?? ((account, action, options) => tiergate.check(account, action, options));
}

/** @internal How the kernel notifies the operator: `notify()` when `createTiergate()` built `tiergate`. */
export function notifierOf(tiergate: Tiergate): ServiceInternals['notify'] {
  return (
    registry.get(tiergate)?.notify ??
    (async (account, body) => {
      const { rateLimit, ...result } = await tiergate.notifyOperator(account, body);
      return { result, expiresAt: Date.parse(result.expires_at), rateLimit, verbatim: false };
    })
  );
}

/** @internal True for a promise or any other thenable (a host's function may answer either). */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}
