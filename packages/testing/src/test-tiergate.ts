/**
 * `createTestTiergate()`: a complete tiergate service for a host's unit tests —
 * memory store, fake clock, accounts with API keys and `whsec_` secrets, and a
 * capturing callback transport — so code that depends on approvals can be
 * tested without HTTP: request an approval, `approve()` / `deny()` /
 * `expire()` it, `deliver()`, and read the signed callbacks from `callbacks`.
 *
 * Nothing here is a mock of tiergate: it is the real service, with the real
 * dispatcher signing the real callback bodies; only the last hop (the HTTP
 * POST to the agent) is captured in memory instead of sent.
 */
import {
  apiKeyAuthenticator,
  createHandler,
  createTiergate,
  defaultTiers,
  generateWebhookSecret,
  memoryStore,
  type Account,
  type ApprovalEvent,
  type CapabilitiesResult,
  type CheckResult,
  type DecisionOutcome,
  type DefaultTierTable,
  type DeliveryReport,
  type KernelHandler,
  type NotifyOperatorResult,
  type RateLimitInfo,
  type Store,
  type Tiergate,
  type TiergateOptions,
  type TierTable,
  type WebhookOptions,
  type WebhookRequest,
  type WebhookResponse,
} from '@tiergate/core';
import { createFakeClock, type FakeClock } from './fake-clock.js';

/** An account of the test service; `apiKey` defaults to `key_<id>`, `webhookSecret` to a fresh `whsec_`. */
export interface TestAccountInput extends Account {
  readonly apiKey?: string;
}

/** An account as the test service knows it: always with an API key and a webhook secret. */
export type TestAccount = Account & { readonly apiKey: string; readonly webhookSecret: string };

/** One callback delivery attempt the capturing transport received. */
export interface CapturedCallback {
  /** The approval's `callback_url`. */
  readonly url: string;
  /** `webhook-id`, `webhook-timestamp`, `webhook-signature`, … as sent. */
  readonly headers: Readonly<Record<string, string>>;
  /** The exact signed body. */
  readonly rawBody: string;
  /** The parsed body. */
  readonly body: ApprovalEvent;
  /** The HTTP status the transport answered (see `callbackStatus`). */
  readonly status: number;
  /** Fake-clock time of the attempt, epoch ms. */
  readonly at: number;
}

/** Options of {@link createTestTiergate}; everything else goes to `createTiergate`. */
export interface TestTiergateOptions<TT extends TierTable = DefaultTierTable>
  extends Omit<Partial<TiergateOptions<TT>>, 'authenticate' | 'clock' | 'tiers' | 'webhooks'> {
  /** The accounts (default: one per tier of the table, id `acc_<tier>`). */
  readonly accounts?: readonly TestAccountInput[];
  /** The tier table (default: the seed's). */
  readonly tiers?: TT;
  /** The fake clock to use (default: a new one at `start`). */
  readonly clock?: FakeClock;
  /** Start time of the default clock (default 2026-01-15T12:00:00Z). */
  readonly start?: number | string | Date;
  /** Webhook options; private callback URLs are allowed and the transport is always the capturing one. */
  readonly webhooks?: Omit<WebhookOptions, 'transport'>;
  /** The HTTP status each callback attempt is answered with (default 200); return 500 to exercise retries. */
  readonly callbackStatus?: (request: WebhookRequest) => number;
}

/** Input of {@link TestTiergate.requestApproval}. */
export interface TestApprovalRequest {
  readonly action: string;
  /** Default: `"<action> needs approval"`. */
  readonly reason?: string;
  readonly context?: Record<string, unknown>;
  readonly urgency?: 'low' | 'medium' | 'high';
  /** Default `https://agent.test/tiergate/approvals` (never contacted: callbacks are captured). `null` for none. */
  readonly callbackUrl?: string | null;
  /** Seconds until the request expires (default 7 days). */
  readonly expiresIn?: number;
}

/** What {@link createTestTiergate} returns. */
export interface TestTiergate<TT extends TierTable = DefaultTierTable> {
  /** The real service. */
  readonly tiergate: Tiergate<TT>;
  /** The kernel handler of the service (`{ method, path, headers, body }` in, `{ status, headers, body }` out). */
  readonly handle: KernelHandler;
  /** Move time with `clock.advance('1h')`. */
  readonly clock: FakeClock;
  readonly store: Store;
  /** Accounts by id. */
  readonly accounts: Readonly<Record<string, TestAccount>>;
  /** An account by id (throws for an unknown id: a typo in a test). */
  account(id: string): TestAccount;
  /** Every callback attempt, in order. */
  readonly callbacks: CapturedCallback[];
  /** `POST /v1/notify-operator` for an account, without HTTP (either body shape). */
  notify(accountId: string, body: unknown): Promise<NotifyOperatorResult & { readonly rateLimit?: RateLimitInfo }>;
  /** An approval request with test defaults; returns the notification with its `request_id`. */
  requestApproval(accountId: string, request: TestApprovalRequest): Promise<NotifyOperatorResult & { readonly request_id: string }>;
  /** Approves as the operator (`by`, default `"operator"`). */
  approve(requestId: string, by?: string): Promise<DecisionOutcome>;
  /** Denies as the operator, with an optional reason. */
  deny(requestId: string, reason?: string, by?: string): Promise<DecisionOutcome>;
  /** Expires a pending approval now, before its deadline (to reach the deadline instead, advance the clock and call `tiergate.sweep()`). */
  expire(requestId: string): Promise<DecisionOutcome>;
  /** Runs the outbox dispatcher once: due callbacks go to {@link callbacks}. */
  deliver(): Promise<DeliveryReport>;
  /** The account's wire capabilities. */
  capabilities(accountId: string): Promise<CapabilitiesResult>;
  /** `tiergate.check` for an account (with `consume`, takes quota atomically). */
  check<A extends string>(accountId: string, action: A, options?: { readonly consume?: number }): Promise<CheckResult<A>>;
  /** Stops the service's background work. */
  stop(): Promise<void>;
}

const DEFAULT_CALLBACK_URL = 'https://agent.test/tiergate/approvals';

/**
 * Creates a test tiergate.
 *
 * @example
 * const t = createTestTiergate({ accounts: [{ id: 'acc_1', tier: 'developer' }] });
 * const { request_id } = await t.requestApproval('acc_1', { action: 'bulk_send' });
 * await t.approve(request_id, 'ops@example.com');
 * await t.deliver();
 * expect(t.callbacks.map((c) => c.body.type)).toEqual(['approval.granted']);
 */
export function createTestTiergate<TT extends TierTable = DefaultTierTable>(options: TestTiergateOptions<TT> = {}): TestTiergate<TT> {
  const { accounts: accountInputs, tiers, clock: givenClock, start, webhooks, callbackStatus, store: givenStore, ...rest } = options;
  const table = (tiers ?? defaultTiers) as TierTable;
  const clock = givenClock ?? createFakeClock(start);
  const store = givenStore ?? memoryStore();
  const inputs: readonly TestAccountInput[] = accountInputs ?? table.tiers.map((tier) => ({ id: `acc_${tier.name}`, tier: tier.name }));
  const accounts: Record<string, TestAccount> = {};
  for (const input of inputs) {
    if (accounts[input.id] !== undefined) throw new TypeError(`createTestTiergate: duplicate account id ${input.id}`);
    const { apiKey, ...account } = input;
    accounts[input.id] = { ...account, apiKey: apiKey ?? `key_${input.id}`, webhookSecret: input.webhookSecret ?? generateWebhookSecret() };
  }
  const accountList = Object.values(accounts);

  const callbacks: CapturedCallback[] = [];
  // A real transport, answering in-process: what the dispatcher sends is recorded as sent.
  const capture = async (request: WebhookRequest): Promise<WebhookResponse> => {
    const status = callbackStatus?.(request) ?? 200;
    callbacks.push({ url: request.url, headers: { ...request.headers }, rawBody: request.body, body: JSON.parse(request.body) as ApprovalEvent, status, at: clock.now() });
    return { status };
  };

  const tiergate = createTiergate<TT>({
    secret: 'tiergate-test-link-signing-secret-not-for-production',
    publicUrl: 'https://api.test',
    notifyRateLimit: false,
    ...rest,
    ...(tiers === undefined ? {} : { tiers }),
    store,
    clock,
    authenticate: apiKeyAuthenticator(accountList.map((account) => ({ apiKey: account.apiKey, account }))),
    findAccount: (id) => accounts[id] ?? null,
    webhooks: { allowPrivateCallbacks: true, ...webhooks, transport: capture },
  } as TiergateOptions<TT>);

  function account(id: string): TestAccount {
    const found = accounts[id];
    if (found === undefined) throw new TypeError(`createTestTiergate: unknown account ${id} (known: ${Object.keys(accounts).join(', ')})`);
    return found;
  }

  return {
    tiergate,
    handle: createHandler(tiergate),
    clock,
    store,
    accounts,
    account,
    callbacks,
    notify: (accountId, body) => tiergate.notifyOperator(account(accountId), body),
    async requestApproval(accountId, request) {
      const callbackUrl = request.callbackUrl === undefined ? DEFAULT_CALLBACK_URL : request.callbackUrl;
      const result = await tiergate.notifyOperator(account(accountId), {
        type: 'approval_request',
        action: request.action,
        reason: request.reason ?? `${request.action} needs approval`,
        ...(request.context === undefined ? {} : { context: request.context }),
        ...(request.urgency === undefined ? {} : { urgency: request.urgency }),
        ...(callbackUrl === null ? {} : { callback_url: callbackUrl }),
        ...(request.expiresIn === undefined ? {} : { expires_in: request.expiresIn }),
      });
      return result as NotifyOperatorResult & { readonly request_id: string };
    },
    approve: (requestId, by) => tiergate.approvals.decide(requestId, { decision: 'approve', ...(by === undefined ? {} : { by }) }),
    deny: (requestId, reason, by) =>
      tiergate.approvals.decide(requestId, { decision: 'deny', ...(reason === undefined ? {} : { denialReason: reason }), ...(by === undefined ? {} : { by }) }),
    expire: (requestId) => tiergate.approvals.expire(requestId, { force: true }),
    deliver: () => tiergate.deliver(),
    capabilities: (accountId) => tiergate.capabilities(account(accountId)),
    check: (accountId, action, checkOptions) => tiergate.check(account(accountId), action, checkOptions),
    stop: () => tiergate.stop(),
  };
}
