/**
 * `TiergateClient`: the agent's side of the wire contract. Every method
 * returns the envelope's `result` exactly as sent (snake_case wire names:
 * `agent_script`, `operator_action_url`, `request_id`, …) with the envelope's
 * `next_steps` attached as a **non-enumerable** property — reachable as
 * `result.next_steps` (or {@link nextStepsOf}), invisible to `JSON.stringify`,
 * spreading and deep equality, so the object is the wire `result` and nothing
 * else.
 */
import type { AccountResult, ApprovalResult, CapabilitiesResult, NotifyOperatorResult, UpgradeLinkResult } from '@tiergate/core';
import { TiergateError } from './errors.js';
import { createEngine, type CallInput, type CallOutput, type FetchLike, type RequestOptions, type RetryOptions } from './request.js';

/** A result with the envelope's `next_steps` (non-enumerable). */
export type WithNextSteps<T> = T & { readonly next_steps: readonly string[] };

/** Options of {@link TiergateClient}. */
export interface TiergateClientOptions {
  /** The account's API key, sent as `Authorization: Bearer <apiKey>`. */
  readonly apiKey: string;
  /** Where the host mounted tiergate, e.g. `https://api.example.com` (routes are `<baseUrl>/v1/…`). */
  readonly baseUrl: string;
  /** `fetch` to use (default: the global one). Pass the runtime's or an instrumented one. */
  readonly fetch?: FetchLike;
  /** Retry 429 and 503 responses, honouring `Retry-After` (default: no retries). */
  readonly retries?: RetryOptions;
  /** Per-attempt timeout, ms (default 30 000). A long poll adds its wait to this. */
  readonly timeoutMs?: number;
  /** Extra headers on every request (a `user-agent`, a tracing id). `authorization` cannot be overridden. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** `client.account.notifyOperator()` input (seed: notify-operator). */
export interface NotifyOperatorParams {
  /** What the operator should know or do, 1–1000 characters. */
  readonly issue: string;
  /** Structured context, shown to the operator as JSON (encrypted at rest). Never put secrets here. */
  readonly context?: Record<string, unknown> | undefined;
  /** Button text of the action link (default "Review Request"). */
  readonly actionLabel?: string | undefined;
}

/** `client.approvals.request()` input (seed: human-approval-workflow). */
export interface ApprovalRequestParams {
  /** What the agent wants to do, e.g. `bulk_send` (1–64 of `A-Z a-z 0-9 _ . : -`). */
  readonly action: string;
  /** Why it needs approval, 1–1000 characters. */
  readonly reason: string;
  /** Structured context shown to the operator (encrypted at rest); it comes back in the callback's `data.context`. */
  readonly context?: Record<string, unknown> | undefined;
  /** `low`, `medium` (default) or `high`. */
  readonly urgency?: ApprovalResult['urgency'] | undefined;
  /** Public URL that receives the signed `approval.*` callback. Needs a `whsec_` secret on the account. */
  readonly callbackUrl?: string | undefined;
  /** Seconds until the request expires: 60 – 604 800 (default 7 days). */
  readonly expiresIn?: number | undefined;
  /** Text shown to the operator (defaults to `reason`). */
  readonly issue?: string | undefined;
  /** Button text of the action link. */
  readonly actionLabel?: string | undefined;
}

/** The result of an approval request: a notification that also carries `request_id` and `status: 'pending'`. */
export type ApprovalRequestResult = NotifyOperatorResult & { readonly request_id: string; readonly status: 'pending' };

/** Options of {@link ApprovalsApi.wait}. */
export interface WaitOptions {
  /** How long to wait in total, ms. At the end the pending state is returned (no error). */
  readonly timeoutMs: number;
  /** Stops waiting (the call fails with `NETWORK_ERROR`, `details.reason: 'aborted'`). */
  readonly signal?: AbortSignal;
}

/** Input of {@link TiergateClient.request}: a call to one of the host's own routes. */
export interface HostRequest extends RequestOptions {
  /** HTTP method (default `GET`). */
  readonly method?: string;
  /** Query parameters; `undefined` values are left out. */
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** JSON body. */
  readonly body?: unknown;
}

/** `client.account`: capabilities, account, upgrade links and operator notifications. */
export interface AccountApi {
  /** `GET /v1/capabilities`: the tier, what the account can do and what it cannot, with reason codes and an `upgrade_context`. */
  getCapabilities(options?: RequestOptions): Promise<WithNextSteps<CapabilitiesResult>>;
  /** `GET /v1/account`: id, tier, status, usage per metered action and window, custom domains, webhook health. */
  get(options?: RequestOptions): Promise<WithNextSteps<AccountResult>>;
  /**
   * `POST /v1/notify-operator`: a signed magic link for the operator plus a
   * ready-made `agent_script`. Also accepts the seed's approval form
   * (`type: 'approval_request'`), which `client.approvals.request` sends for you.
   * Rate-limited per account (429 `RATE_LIMITED`).
   */
  notifyOperator(params: NotifyOperatorParams, options?: RequestOptions): Promise<WithNextSteps<NotifyOperatorResult>>;
  notifyOperator(params: ApprovalRequestParams & { readonly type: 'approval_request' }, options?: RequestOptions): Promise<WithNextSteps<ApprovalRequestResult>>;
  /** `POST /v1/upgrade-link`: a fresh signed upgrade link, to `tier` or to the lowest tier that lifts the first blocked action. */
  upgradeLink(params?: { readonly tier?: string | undefined }, options?: RequestOptions): Promise<WithNextSteps<UpgradeLinkResult>>;
}

/** `client.approvals`: the human-approval workflow. */
export interface ApprovalsApi {
  /** Asks the operator to approve `action` (`POST /v1/notify-operator` with `type: 'approval_request'`). */
  request(params: ApprovalRequestParams, options?: RequestOptions): Promise<WithNextSteps<ApprovalRequestResult>>;
  /** `GET /v1/approvals/:id`: the current state (pending, approved, denied, expired). */
  get(requestId: string, options?: RequestOptions): Promise<WithNextSteps<ApprovalResult>>;
  /**
   * Long-polls `GET /v1/approvals/:id?wait=N` in slices of at most 30 s until
   * the status leaves `pending` or `timeoutMs` has passed. Resolves with the
   * final state, or with the still-pending state at the timeout — a plain
   * timeout never throws. Network and server errors do.
   */
  wait(requestId: string, options: WaitOptions): Promise<WithNextSteps<ApprovalResult>>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const LONG_POLL_MAX_SECONDS = 30;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Attaches `next_steps` without making it part of the object's data. */
function withNextSteps<T extends object>(value: T, nextSteps: readonly string[]): WithNextSteps<T> {
  Object.defineProperty(value, 'next_steps', { value: Object.freeze([...nextSteps]), enumerable: false, writable: false, configurable: true });
  return value as WithNextSteps<T>;
}

function nextStepsIn(body: unknown): readonly string[] {
  return isRecord(body) && Array.isArray(body.next_steps) ? body.next_steps.filter((s): s is string => typeof s === 'string') : [];
}

/**
 * The `next_steps` a client call attached to its result (empty when there
 * were none, or for a value the client did not return).
 */
export function nextStepsOf(value: unknown): readonly string[] {
  if (typeof value !== 'object' || value === null) return [];
  const steps = (value as { next_steps?: unknown }).next_steps;
  return Array.isArray(steps) ? (steps as readonly string[]) : [];
}

/** The `result` object of a success envelope, or `BAD_RESPONSE`. */
function envelopeResult<T extends object>(output: CallOutput, required: readonly string[] = []): WithNextSteps<T> {
  const result = isRecord(output.body) ? output.body.result : undefined;
  if (!isRecord(result) || required.some((key) => result[key] === undefined)) {
    throw new TiergateError('BAD_RESPONSE', `HTTP ${output.status} response is not a tiergate result envelope.`, {
      status: output.status,
      details: { content_type: output.headers.get('content-type') },
    });
  }
  return withNextSteps(result as T, nextStepsIn(output.body));
}

function notificationBody(params: NotifyOperatorParams): Record<string, unknown> {
  return { issue: params.issue, context: params.context, action_label: params.actionLabel };
}

function approvalBody(params: ApprovalRequestParams): Record<string, unknown> {
  return {
    type: 'approval_request',
    action: params.action,
    reason: params.reason,
    issue: params.issue,
    context: params.context,
    urgency: params.urgency,
    callback_url: params.callbackUrl,
    expires_in: params.expiresIn,
    action_label: params.actionLabel,
  };
}

function validBaseUrl(baseUrl: unknown): string {
  if (typeof baseUrl === 'string') {
    try {
      const url = new URL(baseUrl);
      if ((url.protocol === 'https:' || url.protocol === 'http:') && url.search === '' && url.hash === '') return url.toString();
    } catch {
      // reported below
    }
  }
  throw new TiergateError('CONFIG_INVALID', 'baseUrl must be an absolute http(s) URL without query or fragment, e.g. https://api.example.com');
}

/**
 * A typed client for an API that embeds tiergate. Runs wherever the standard
 * `fetch` does (Node 20+, Bun, Deno, browsers, Workers) and imports nothing at
 * run time.
 *
 * @example
 * const client = new TiergateClient({ apiKey: process.env.API_KEY!, baseUrl: 'https://api.example.com' });
 * const caps = await client.account.getCapabilities();
 * if (caps.cannot.some((c) => c.action === 'send_messages')) console.log(caps.upgrade_context?.agent_script);
 */
export class TiergateClient {
  /** Capabilities, account, upgrade links, operator notifications. */
  readonly account: AccountApi;
  /** Approval requests and their state. */
  readonly approvals: ApprovalsApi;
  private readonly call: (input: CallInput) => Promise<CallOutput>;
  private readonly timeoutMs: number;

  constructor(options: TiergateClientOptions) {
    // Checked here so a bad key or header fails at construction, not as a TypeError from fetch on the first call.
    if (typeof options.apiKey !== 'string' || !/^[\x21-\x7E]+$/.test(options.apiKey.trim())) {
      throw new TiergateError('CONFIG_INVALID', 'apiKey must be a non-empty string of printable ASCII');
    }
    try {
      new Headers(options.headers);
    } catch (cause) {
      throw new TiergateError('CONFIG_INVALID', 'headers must be valid HTTP header names and values', { cause });
    }
    const baseUrl = validBaseUrl(options.baseUrl);
    const fetchImpl: FetchLike | undefined = options.fetch ?? (typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : undefined);
    if (fetchImpl === undefined) throw new TiergateError('CONFIG_INVALID', 'No global fetch in this runtime; pass options.fetch');
    const retries = options.retries ?? { max: 0 };
    if (!Number.isInteger(retries.max) || retries.max < 0) throw new TiergateError('CONFIG_INVALID', 'retries.max must be a non-negative integer');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.call = createEngine({ apiKey: options.apiKey.trim(), baseUrl, fetch: fetchImpl, timeoutMs: this.timeoutMs, retries, headers: options.headers ?? {} });

    const call = this.call;
    const getApproval = async (requestId: string, waitSeconds: number, options: RequestOptions = {}): Promise<WithNextSteps<ApprovalResult>> =>
      envelopeResult<ApprovalResult>(
        await call({
          method: 'GET',
          path: `/v1/approvals/${encodeURIComponent(requestId)}`,
          query: { wait: waitSeconds === 0 ? undefined : waitSeconds },
          ...options,
          // A long poll is held open by the server for `wait` seconds on purpose.
          timeoutMs: (options.timeoutMs ?? this.timeoutMs) + waitSeconds * 1000,
        }),
        ['status'],
      );

    const notifyOperator = async (
      params: NotifyOperatorParams | (ApprovalRequestParams & { readonly type: 'approval_request' }),
      options: RequestOptions = {},
    ): Promise<WithNextSteps<NotifyOperatorResult>> => {
      const approval = 'type' in params && params.type === 'approval_request';
      const body = approval ? approvalBody(params) : notificationBody(params as NotifyOperatorParams);
      return envelopeResult<NotifyOperatorResult>(await call({ method: 'POST', path: '/v1/notify-operator', body, ...options }), approval ? ['request_id'] : []);
    };

    this.account = {
      getCapabilities: async (options = {}) => envelopeResult<CapabilitiesResult>(await call({ method: 'GET', path: '/v1/capabilities', ...options }), ['can', 'cannot']),
      get: async (options = {}) => envelopeResult<AccountResult>(await call({ method: 'GET', path: '/v1/account', ...options })),
      notifyOperator: notifyOperator as AccountApi['notifyOperator'],
      upgradeLink: async (params = {}, options = {}) =>
        envelopeResult<UpgradeLinkResult>(await call({ method: 'POST', path: '/v1/upgrade-link', body: { tier: params.tier }, ...options })),
    };

    this.approvals = {
      request: async (params, options = {}) => (await notifyOperator({ ...params, type: 'approval_request' }, options)) as WithNextSteps<ApprovalRequestResult>,
      get: (requestId, options = {}) => getApproval(requestId, 0, options),
      async wait(requestId, { timeoutMs, signal }) {
        const deadline = Date.now() + Math.max(0, timeoutMs);
        const options: RequestOptions = signal === undefined ? {} : { signal };
        for (;;) {
          const waitSeconds = Math.max(0, Math.min(LONG_POLL_MAX_SECONDS, Math.floor((deadline - Date.now()) / 1000)));
          const started = Date.now();
          const state = await getApproval(requestId, waitSeconds, options);
          if (state.status !== 'pending' || waitSeconds === 0 || Date.now() >= deadline) return state;
          // A server (or proxy) that answers a long poll at once would make this a hot loop: pace it.
          const held = Date.now() - started;
          if (held < (waitSeconds * 1000) / 2) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(0, deadline - Date.now()))));
        }
      },
    };
  }

  /**
   * Calls one of the host's own routes (for example one guarded by
   * `requireCapability('send_messages')`) with the same auth, timeout,
   * retries and error mapping: a deny arrives as a {@link TiergateError}
   * whose `code` is the reason (`SEND_REQUIRES_PAID`) and whose
   * `upgradeContext` says how to ask the operator. Resolves with the
   * envelope's `result` when the body is a tiergate envelope, else with the
   * whole JSON body (`undefined` when empty).
   *
   * @example
   * await client.request('/v1/messages', { method: 'POST', body: { to, subject, text } });
   */
  async request<T = unknown>(path: string, init: HostRequest = {}): Promise<T> {
    if (!path.startsWith('/')) throw new TiergateError('CONFIG_INVALID', 'path must start with /');
    const { method, ...rest } = init;
    const output = await this.call({ method: method ?? 'GET', path, ...rest });
    if (isRecord(output.body) && 'result' in output.body) {
      const result = output.body.result;
      return (isRecord(result) || Array.isArray(result) ? withNextSteps(result, nextStepsIn(output.body)) : result) as T;
    }
    return output.body as T;
  }
}
