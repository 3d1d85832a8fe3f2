/**
 * `runAdapterConformance`: the one HTTP conformance suite every tiergate
 * adapter runs — Express, Fastify, Koa, or a third party's — against a real
 * server on 127.0.0.1 with real `fetch`. It checks the wire contract of
 * DESIGN.md (statuses, headers, envelopes, `next_steps`), authentication,
 * body handling (400/413/415), rate limits, the `requireCapability` guard
 * (including concurrent quota consumes) and the human-approval workflow end
 * to end (operator page, form POST, signed callbacks to a real receiver,
 * expiry, long polls and client disconnects).
 *
 * Time is a fake clock; callbacks are delivered with `tiergate.deliver()` and
 * expiry with `tiergate.sweep()` instead of waiting for timers.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiKeyAuthenticator,
  createTiergate,
  generateWebhookSecret,
  memoryStore,
  verifyWebhookSignature,
  type Account,
  type Store,
  type Tiergate,
} from '@tiergate/core';
import { createFakeClock, type FakeClock } from './fake-clock.js';
import { listenLocal } from './local-server.js';
import { decisionForm } from './operator-page.js';

/** A server started by a {@link MakeConformanceServer}. */
export interface ConformanceServer {
  /** Origin the server listens on, e.g. `http://127.0.0.1:54321` (no trailing slash). */
  readonly url: string;
  /** Stops the server (close open connections too: the suite holds long polls). */
  close(): Promise<void>;
}

/**
 * Starts a real server of the framework under test on 127.0.0.1, port 0, with:
 *
 * - tiergate's routes mounted under `options.prefix` (e.g. `/tiergate`), so
 *   `GET {url}{prefix}/v1/capabilities` reaches the kernel with path
 *   `/v1/capabilities`;
 * - `POST /host/send` guarded by `requireCapability(tiergate, 'send_messages', { consume: 1 })`,
 *   answering 200 JSON `{ "account": <account id>, "consumed": <context.consumed> }`;
 * - `GET /host/inboxes` guarded by `requireCapability(tiergate, 'create_inboxes')`,
 *   answering 200 JSON `{ "account": <account id>, "can_send": (await context.ability()).can('send_messages'),
 *   "tier": (await context.capabilities()).tier }`.
 *
 * Host routes are at the root, outside `prefix`. The suite creates the
 * tiergate (its `publicUrl` is `url + prefix`) and never calls `start()`.
 */
export type MakeConformanceServer = (tiergate: Tiergate, options: { readonly prefix: string }) => Promise<ConformanceServer>;

/** Options of {@link runAdapterConformance}. */
export interface AdapterConformanceOptions {
  /**
   * Makes a fresh, empty store for one test group (default `memoryStore()`),
   * e.g. a PostgreSQL schema or a Redis key prefix of its own; `cleanup` drops it.
   */
  readonly makeStore?: () => Promise<{ readonly store: Store; cleanup(): Promise<void> }>;
}

const PREFIX = '/tiergate';
const START = '2026-01-15T12:00:00.000Z';
const NEXT_UTC_MIDNIGHT = '2026-01-16T00:00:00.000Z';
const SLACKBOT = 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)';
const FACEBOOK = 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)';

/** The accounts of every test group: one per default tier, plus special cases (each test mutating state has its own). */
const ACCOUNT_SHAPES = {
  free: { tier: 'free' },
  developer: { tier: 'developer' },
  growth: { tier: 'growth' },
  enterprise: { tier: 'enterprise', customDomains: 3 },
  review: { tier: 'developer', status: 'under_review' },
  limit: { tier: 'developer', usage: { send_messages: { day: 100, month: 100 } } },
  near: { tier: 'developer', usage: { send_messages: { day: 95, month: 95 } } },
  sender: { tier: 'developer' },
  notifier: { tier: 'developer' },
  limited: { tier: 'developer' },
  approver: { tier: 'developer', operatorEmail: 'ops@example.com' },
  other: { tier: 'developer' },
} as const satisfies Record<string, Omit<Account, 'id'>>;

type AccountName = keyof typeof ACCOUNT_SHAPES;

/** Parsed JSON of a response (shape checked by the assertions). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Parsed = any;

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: Parsed;
}

interface RequestOptions {
  /** Account whose API key goes into `Authorization: Bearer`. */
  readonly as?: AccountName;
  /** A raw `Authorization` header (overrides `as`). */
  readonly authorization?: string;
  /** Sent as JSON with `Content-Type: application/json`. */
  readonly json?: unknown;
  /** A raw body (with `contentType`). */
  readonly body?: string;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
}

interface Harness {
  readonly tiergate: Tiergate;
  readonly clock: FakeClock;
  /** Server origin. */
  readonly origin: string;
  /** Where tiergate is mounted: origin + prefix (= publicUrl). */
  readonly base: string;
  readonly accounts: Readonly<Record<AccountName, Account & { readonly webhookSecret: string }>>;
  /** API key of each account. */
  readonly keys: Readonly<Record<AccountName, string>>;
  /** `waitForApproval` calls seen by the store (long polls), with the adapter's abort signal. */
  readonly waits: { readonly id: string; readonly signal: AbortSignal | undefined }[];
  /** A request to tiergate's routes (`path` relative to the prefix). */
  api(method: string, path: string, options?: RequestOptions): Promise<Reply>;
  /** A request to an absolute URL or a path on the server's origin. */
  fetch(method: string, url: string, options?: RequestOptions): Promise<Reply>;
  close(): Promise<void>;
}

/** Records `waitForApproval` calls so tests can see a long poll is in progress and how the adapter aborts it. */
function observeWaits(store: Store, waits: Harness['waits']): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'waitForApproval') {
        return (id: string, timeoutMs: number, signal?: AbortSignal) => {
          waits.push({ id, signal });
          return target.waitForApproval(id, timeoutMs, signal);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function startHarness(makeServer: MakeConformanceServer, options: AdapterConformanceOptions): Promise<Harness> {
  const run = randomBytes(4).toString('hex');
  const accounts = Object.fromEntries(
    Object.entries(ACCOUNT_SHAPES).map(([name, shape]) => [name, { ...shape, id: `acc_${name}_${run}`, webhookSecret: generateWebhookSecret() }]),
  ) as unknown as Harness['accounts'];
  const keys = Object.fromEntries(Object.keys(ACCOUNT_SHAPES).map((name) => [name, `tgk_${name}_${randomBytes(12).toString('base64url')}`])) as Record<AccountName, string>;
  const byId = new Map(Object.values(accounts).map((a) => [a.id, a]));
  const made = options.makeStore === undefined ? { store: memoryStore(), cleanup: async () => undefined } : await options.makeStore();
  const waits: Harness['waits'] = [];
  const clock = createFakeClock(START);
  let base = 'http://127.0.0.1';
  const tiergate = createTiergate({
    authenticate: apiKeyAuthenticator((Object.keys(keys) as AccountName[]).map((name) => ({ apiKey: keys[name], account: accounts[name] }))),
    findAccount: (id) => byId.get(id) ?? null,
    secret: randomBytes(32).toString('base64url'),
    publicUrl: () => base,
    clock,
    store: observeWaits(made.store, waits),
    webhooks: { allowPrivateCallbacks: true, timeoutMs: 5000 },
  });
  let server: ConformanceServer;
  try {
    server = await makeServer(tiergate, { prefix: PREFIX });
  } catch (err) {
    await made.cleanup();
    throw err;
  }
  const origin = server.url.replace(/\/$/, '');
  base = `${origin}${PREFIX}`;

  async function request(method: string, url: string, options: RequestOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.authorization !== undefined) headers.authorization = options.authorization;
    else if (options.as !== undefined) headers.authorization = `Bearer ${keys[options.as]}`;
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    } else if (options.body !== undefined) {
      body = options.body;
      if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    }
    const response = await fetch(url.startsWith('http') ? url : `${origin}${url}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      redirect: 'manual',
    });
    const text = await response.text();
    let json: Parsed;
    if ((response.headers.get('content-type') ?? '').includes('json') && text !== '') json = JSON.parse(text);
    return { status: response.status, headers: response.headers, text, json };
  }

  return {
    tiergate,
    clock,
    origin,
    base,
    accounts,
    keys,
    waits,
    api: (method, path, options) => request(method, `${base}${path}`, options),
    fetch: request,
    async close() {
      await server.close();
      await tiergate.stop();
      await made.cleanup();
    },
  };
}

// ------------------------------------------------------------------ assertions

function expectJsonHeaders(reply: Reply): void {
  expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
}

/** A success envelope: `{ result, next_steps: string[] }` with the given status. */
function expectSuccess(reply: Reply, status: number): Parsed {
  expect({ status: reply.status, body: reply.text.slice(0, 500) }).toMatchObject({ status });
  expectJsonHeaders(reply);
  expect(Object.keys(reply.json).sort()).toEqual(['next_steps', 'result']);
  expectNextSteps(reply.json.next_steps);
  return reply.json.result;
}

/** An error envelope: `{ error: { code, message, details? }, next_steps }` with the given status and code. */
function expectError(reply: Reply, status: number, code: string): Parsed {
  expect({ status: reply.status, code: reply.json?.error?.code }).toEqual({ status, code });
  expectJsonHeaders(reply);
  expect(Object.keys(reply.json).sort()).toEqual(['error', 'next_steps']);
  expect(typeof reply.json.error.message).toBe('string');
  expect(Object.keys(reply.json.error).every((k) => ['code', 'message', 'details'].includes(k))).toBe(true);
  expectNextSteps(reply.json.next_steps);
  return reply.json.error;
}

function expectNextSteps(steps: unknown): void {
  expect(Array.isArray(steps)).toBe(true);
  expect((steps as unknown[]).length).toBeGreaterThan(0);
  for (const step of steps as unknown[]) expect(typeof step).toBe('string');
}

/** The security headers of every operator page (DESIGN security rule 6), error pages included. */
function expectPageHeaders(reply: Reply): void {
  expect(reply.headers.get('content-type')).toMatch(/^text\/html/);
  const csp = reply.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toMatch(/default-src 'none'/);
  // No script at all: no script-src other than 'none', nothing inline or eval'd.
  for (const directive of csp.split(';').map((d) => d.trim()).filter((d) => d.startsWith('script-src'))) expect(directive).toMatch(/^script-src(-elem|-attr)? 'none'$/);
  expect(csp).not.toMatch(/unsafe-(inline|eval|hashes)/);
  expect(reply.headers.get('referrer-policy')).toBe('no-referrer');
  expect(reply.headers.get('cache-control')).toBe('no-store');
  expect(reply.headers.get('x-robots-tag')).toMatch(/noindex/);
  expect(reply.text).not.toMatch(/<script/i);
}

/** An upgrade context: exactly its three fields, a signed upgrade link under `base`, quoted by the agent script. */
function expectUpgradeContext(context: Parsed, base: string): void {
  expect(Object.keys(context).sort()).toEqual(['agent_script', 'operator_action_label', 'operator_action_url']);
  expect(context.operator_action_url).toMatch(new RegExp(`^${escapeRegExp(base)}/upgrade\\?token=`));
  expect(context.agent_script).toContain(context.operator_action_url);
}

function detailPaths(error: Parsed): string[] {
  return (error.details as { path: string }[]).map((d) => d.path);
}


/** Polls a condition a bounded number of times (for effects in another request or process). */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i += 1) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// ------------------------------------------------------------------ callbacks

interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** A real HTTP receiver on 127.0.0.1 for approval callbacks. */
async function startReceiver(): Promise<{ url: string; received: Received[]; forRequest(id: string): { received: Received; event: Parsed }[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  const { origin, close } = await listenLocal(server);
  return {
    url: `${origin}/hooks/approval`,
    received,
    forRequest: (id) =>
      received.map((r) => ({ received: r, event: JSON.parse(r.body) as Parsed })).filter((e) => e.event?.data?.request_id === id),
    close,
  };
}

const approvalBody = (callbackUrl: string | undefined, extra: Record<string, unknown> = {}) => ({
  type: 'approval_request',
  action: 'bulk_send',
  reason: 'Sending to 500 recipients exceeds safety threshold',
  context: { recipient_count: 500, subject: 'Product Update' },
  urgency: 'medium',
  ...(callbackUrl === undefined ? {} : { callbackUrl }),
  expiresIn: 3600,
  ...extra,
});

function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

const FORM = 'application/x-www-form-urlencoded';

// ------------------------------------------------------------------ the suite

/**
 * Registers the HTTP conformance suite for one adapter (vitest `describe`
 * blocks). `makeServer` starts a real server of the framework (see
 * {@link MakeConformanceServer} for the routes it must mount); each test group
 * gets its own tiergate, store and server.
 *
 * @example
 * // packages/my-adapter/test/conformance.test.ts
 * import { runAdapterConformance } from '@tiergate/testing';
 * runAdapterConformance('my-framework', async (tiergate, { prefix }) => {
 *   const server = await startMyServer(tiergate, prefix); // routes + /host/send + /host/inboxes
 *   return { url: server.url, close: () => server.close() };
 * });
 */
export function runAdapterConformance(name: string, makeServer: MakeConformanceServer, options: AdapterConformanceOptions = {}): void {
  describe(`tiergate adapter conformance: ${name}`, () => {
    describe('agent API', () => {
      let h: Harness;
      beforeAll(async () => {
        h = await startHarness(makeServer, options);
      });
      afterAll(async () => {
        await h?.close();
      });

      it('GET /v1/capabilities (free): reason codes, unlock links, upgrade context', async () => {
        const result = expectSuccess(await h.api('GET', '/v1/capabilities', { as: 'free' }), 200);
        expect(result.tier).toBe('free');
        expect(result.can.map((c: Parsed) => c.action)).toEqual(
          expect.arrayContaining(['receive_messages', 'create_inboxes', 'create_webhooks', 'use_reply_extraction', 'use_link_extraction', 'use_threading']),
        );
        for (const entry of result.can) expect(Object.keys(entry).sort()).toEqual(['action', 'description']);
        const reasons = Object.fromEntries(result.cannot.map((c: Parsed) => [c.action, c.reason]));
        expect(reasons).toEqual({ send_messages: 'SEND_REQUIRES_PAID', use_custom_domains: 'DOMAIN_REQUIRES_PAID', use_smtp: 'SMTP_REQUIRES_PAID' });
        for (const entry of result.cannot) {
          expect(entry.unlock_url).toMatch(new RegExp(`^${escapeRegExp(h.base)}/upgrade\\?token=[\\w-]+\\.[\\w-]+\\.[\\w-]+$`));
          expect(entry.api_call).toBe('POST /v1/upgrade-link');
        }
        expectUpgradeContext(result.upgrade_context, h.base);

        const page = await h.fetch('GET', result.cannot[0].unlock_url);
        expect(page.status).toBe(200);
        expectPageHeaders(page);
      });

      it('GET /v1/capabilities (developer): nothing blocked, upgrade_context null', async () => {
        const reply = await h.api('GET', '/v1/capabilities', { as: 'developer' });
        expect(reply.headers.get('cache-control')).toBe('no-store');
        const result = expectSuccess(reply, 200);
        expect(result.tier).toBe('developer');
        expect(result.can.map((c: Parsed) => c.action)).toEqual(expect.arrayContaining(['send_messages', 'use_custom_domains', 'use_smtp']));
        expect(result.cannot).toEqual([]);
        expect(result.upgrade_context).toBeNull();
      });

      it('GET /v1/capabilities: ACCOUNT_UNDER_REVIEW, and SEND_LIMIT_EXCEEDED with resets_at', async () => {
        const review = expectSuccess(await h.api('GET', '/v1/capabilities', { as: 'review' }), 200);
        const send = review.cannot.find((c: Parsed) => c.action === 'send_messages');
        expect(send).toMatchObject({ reason: 'ACCOUNT_UNDER_REVIEW', api_call: 'POST /v1/notify-operator' });
        expect(review.upgrade_context).not.toBeNull();

        const limit = expectSuccess(await h.api('GET', '/v1/capabilities', { as: 'limit' }), 200);
        expect(limit.cannot).toEqual([
          expect.objectContaining({ action: 'send_messages', reason: 'SEND_LIMIT_EXCEEDED', resets_at: NEXT_UTC_MIDNIGHT, api_call: 'POST /v1/upgrade-link' }),
        ]);
      });

      it('GET /v1/account: usage per metered action, custom domains, webhook health', async () => {
        const dev = expectSuccess(await h.api('GET', '/v1/account', { as: 'developer' }), 200);
        expect(dev).toEqual({
          id: h.accounts.developer.id,
          tier: 'developer',
          status: 'active',
          usage: {
            send_messages: {
              day: { used: 0, limit: 100, resets_at: NEXT_UTC_MIDNIGHT },
              month: { used: 0, limit: 3000, resets_at: '2026-02-01T00:00:00.000Z' },
            },
          },
          custom_domains: { used: 0, limit: 1 },
          webhook_health: { healthy: true, consecutive_failures: 0 },
        });
        const limit = expectSuccess(await h.api('GET', '/v1/account', { as: 'limit' }), 200);
        expect(limit.usage.send_messages.day).toMatchObject({ used: 100, limit: 100 });
        const enterprise = expectSuccess(await h.api('GET', '/v1/account', { as: 'enterprise' }), 200);
        expect(enterprise.custom_domains).toEqual({ used: 3, limit: null });
        expect(expectSuccess(await h.api('GET', '/v1/account', { as: 'review' }), 200).status).toBe('under_review');
      });

      it('POST /v1/upgrade-link: a fresh signed link; a bad tier is 400 with details', async () => {
        const result = expectSuccess(await h.api('POST', '/v1/upgrade-link', { as: 'free' }), 200);
        expect(result.operator_action_url).toMatch(new RegExp(`^${escapeRegExp(h.base)}/upgrade\\?token=`));
        expect(result.agent_script).toContain(result.operator_action_url);
        expect(typeof result.operator_action_label).toBe('string');
        expect(result.target_tier).toBe('developer');
        expect(Date.parse(result.expires_at)).toBe(h.clock.now() + 7 * 86_400_000);

        expect(expectSuccess(await h.api('POST', '/v1/upgrade-link', { as: 'free', json: { tier: 'growth' } }), 200).target_tier).toBe('growth');
        const bad = expectError(await h.api('POST', '/v1/upgrade-link', { as: 'growth', json: { tier: 'developer' } }), 400, 'INVALID_REQUEST');
        expect(detailPaths(bad)).toEqual(['tier']);
        expectError(await h.api('POST', '/v1/upgrade-link', { as: 'enterprise' }), 400, 'INVALID_REQUEST');
        expectError(await h.api('POST', '/v1/upgrade-link'), 401, 'UNAUTHORIZED');
      });

      it('GET /v1/openapi.json describes the API at the public URL', async () => {
        const reply = await h.api('GET', '/v1/openapi.json');
        expect(reply.status).toBe(200);
        expectJsonHeaders(reply);
        expect(reply.json.openapi).toMatch(/^3\./);
        expect(reply.json.servers[0].url).toBe(h.base);
        expect(Object.keys(reply.json.paths)).toEqual(
          expect.arrayContaining(['/v1/capabilities', '/v1/account', '/v1/upgrade-link', '/v1/notify-operator', '/v1/approvals/{request_id}']),
        );
      });

      it('401 UNAUTHORIZED with WWW-Authenticate: Bearer for a missing, empty, wrong-scheme, unknown or very long key — one body', async () => {
        const attempts = [
          undefined,
          '',
          'Bearer',
          'Bearer ',
          `Basic ${Buffer.from('user:pass').toString('base64')}`,
          `Token tgk_unknown`,
          'Bearer tgk_unknown_key',
          `Bearer ${'k'.repeat(10_000)}`,
        ];
        const bodies = new Set<string>();
        for (const authorization of attempts) {
          const reply = await h.api('GET', '/v1/capabilities', authorization === undefined ? {} : { authorization });
          expectError(reply, 401, 'UNAUTHORIZED');
          expect(reply.headers.get('www-authenticate')).toBe('Bearer');
          bodies.add(reply.text);
        }
        expect(bodies.size).toBe(1);
        for (const path of ['/v1/account', '/v1/approvals/apr_whatever']) expectError(await h.api('GET', path), 401, 'UNAUTHORIZED');
        expectError(await h.api('POST', '/v1/notify-operator', { json: { issue: 'x' } }), 401, 'UNAUTHORIZED');
      });

      it('the Bearer scheme is case-insensitive', async () => {
        const key = h.keys.developer;
        for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
          expect(expectSuccess(await h.api('GET', '/v1/capabilities', { authorization: `${scheme} ${key}` }), 200).tier).toBe('developer');
        }
      });

      it('404 NOT_FOUND for unknown routes and approvals; 405 METHOD_NOT_ALLOWED with Allow', async () => {
        expectError(await h.api('GET', '/v1/does-not-exist'), 404, 'NOT_FOUND');
        expectError(await h.api('POST', '/v2/capabilities', { as: 'developer' }), 404, 'NOT_FOUND');
        expectError(await h.api('GET', '/v1/approvals/apr_doesnotexist', { as: 'developer' }), 404, 'NOT_FOUND');

        const post = await h.api('POST', '/v1/capabilities', { as: 'developer', json: {} });
        expectError(post, 405, 'METHOD_NOT_ALLOWED');
        expect(post.headers.get('allow')).toMatch(/GET/);
        const del = await h.api('DELETE', '/v1/account', { as: 'developer' });
        expectError(del, 405, 'METHOD_NOT_ALLOWED');
        const get = await h.api('GET', '/v1/notify-operator', { as: 'developer' });
        expectError(get, 405, 'METHOD_NOT_ALLOWED');
        expect(get.headers.get('allow')).toBe('POST');
        const put = await h.api('PUT', '/operator/action', { body: 'x', contentType: 'text/plain' });
        expect(put.status).toBe(405);
        expectPageHeaders(put);
      });

      it('POST /v1/notify-operator: 201 with the seed fields and RateLimit-* headers', async () => {
        const reply = await h.api('POST', '/v1/notify-operator', {
          as: 'notifier',
          json: { issue: 'Unable to send confirmation email - sending requires paid tier', context: { attempted_action: 'send_email', blocked_by: 'SEND_REQUIRES_PAID' } },
        });
        const result = expectSuccess(reply, 201);
        expect(Object.keys(result).sort()).toEqual(['agent_script', 'expires_at', 'notification_id', 'operator_action_label', 'operator_action_url']);
        expect(result.operator_action_url).toMatch(new RegExp(`^${escapeRegExp(h.base)}/operator/action\\?token=[\\w-]+\\.[\\w-]+\\.[\\w-]+$`));
        expect(result.operator_action_label).toBe(h.tiergate.messages.defaultActionLabel);
        expect(result.agent_script).toContain(result.operator_action_url);
        expect(result.notification_id).toMatch(/^not_/);
        expect(Date.parse(result.expires_at)).toBe(h.clock.now() + 7 * 86_400_000);
        expect(reply.headers.get('ratelimit-limit')).toBe('10');
        expect(reply.headers.get('ratelimit-remaining')).toBe('9');
        expect(Number(reply.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
      });

      it('POST /v1/notify-operator accepts camelCase aliases and refuses two different values for one field', async () => {
        const result = expectSuccess(await h.api('POST', '/v1/notify-operator', { as: 'notifier', json: { issue: 'Need a domain', actionLabel: 'Set Up Custom Domain' } }), 201);
        expect(result.operator_action_label).toBe('Set Up Custom Domain');
        const snake = expectSuccess(await h.api('POST', '/v1/notify-operator', { as: 'notifier', json: { issue: 'Need a domain', action_label: 'Set Up Domain' } }), 201);
        expect(snake.operator_action_label).toBe('Set Up Domain');
        const both = expectError(await h.api('POST', '/v1/notify-operator', { as: 'notifier', json: { issue: 'x', action_label: 'A', actionLabel: 'B' } }), 400, 'INVALID_REQUEST');
        expect(detailPaths(both)).toEqual(['actionLabel']);
      });

      it('POST /v1/notify-operator: 400 INVALID_REQUEST with details paths', async () => {
        const cases: [RequestOptions, string][] = [
          [{ json: { issue: 'x'.repeat(1001) } }, 'issue'],
          [{ json: { issue: ' \n\t ' } }, 'issue'],
          [{ json: { context: { a: 1 } } }, 'issue'],
          [{ json: { issue: 'ok', context: [1, 2] } }, 'context'],
          [{ body: '{"issue": "unterminated', contentType: 'application/json' }, '(body)'],
        ];
        for (const [request, path] of cases) {
          const error = expectError(await h.api('POST', '/v1/notify-operator', { as: 'developer', ...request }), 400, 'INVALID_REQUEST');
          expect(detailPaths(error)).toContain(path);
        }
        expectSuccess(await h.api('POST', '/v1/notify-operator', { as: 'developer', json: { issue: 'x'.repeat(1000) } }), 201);
      });

      it('413 PAYLOAD_TOO_LARGE and 415 UNSUPPORTED_MEDIA_TYPE in the JSON envelope', async () => {
        const big = JSON.stringify({ issue: 'x', context: { blob: 'y'.repeat(h.tiergate.maxBodyBytes) } });
        expectError(await h.api('POST', '/v1/notify-operator', { as: 'developer', body: big, contentType: 'application/json' }), 413, 'PAYLOAD_TOO_LARGE');
        expectError(await h.api('POST', '/v1/notify-operator', { as: 'developer', body: '{"issue":"x"}', contentType: 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
        expectError(await h.api('POST', '/v1/upgrade-link', { as: 'free', body: 'tier=growth', contentType: FORM }), 415, 'UNSUPPORTED_MEDIA_TYPE');
        // The server is still fine afterwards.
        expectSuccess(await h.api('GET', '/v1/capabilities', { as: 'developer' }), 200);
      });

      it('rate limit: invalid requests cost nothing; the 11th call in an hour is 429 RATE_LIMITED with Retry-After', async () => {
        expectError(await h.api('POST', '/v1/notify-operator', { as: 'limited', json: { issue: '' } }), 400, 'INVALID_REQUEST');
        expectError(await h.api('POST', '/v1/notify-operator', { as: 'limited', body: 'issue', contentType: 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
        for (let i = 1; i <= 10; i += 1) {
          const reply = await h.api('POST', '/v1/notify-operator', { as: 'limited', json: { issue: `Issue number ${i}` } });
          expectSuccess(reply, 201);
          expect(reply.headers.get('ratelimit-remaining')).toBe(String(10 - i));
        }
        const limited = await h.api('POST', '/v1/notify-operator', { as: 'limited', json: { issue: 'One too many' } });
        expectError(limited, 429, 'RATE_LIMITED');
        const retryAfter = Number(limited.headers.get('retry-after'));
        expect(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 3600).toBe(true);
        expect(limited.headers.get('ratelimit-remaining')).toBe('0');
        // Another account is not affected.
        expectSuccess(await h.api('POST', '/v1/notify-operator', { as: 'growth', json: { issue: 'Mine is fine' } }), 201);
      });

      it('operator page of a notification: escaped issue and context, security headers; HEAD works', async () => {
        const result = expectSuccess(
          await h.api('POST', '/v1/notify-operator', { as: 'free', json: { issue: 'Help <script>alert(1)</script>', context: { note: '<img src=x onerror=alert(1)>' } } }),
          201,
        );
        const page = await h.fetch('GET', result.operator_action_url);
        expect(page.status).toBe(200);
        expectPageHeaders(page);
        expect(page.text).toContain('Help &lt;script&gt;');
        expect(page.text).not.toContain('<img src=x');
        const head = await h.fetch('HEAD', result.operator_action_url);
        expect(head.status).toBe(200);
        expect(head.text).toBe('');
        expectPageHeaders({ ...head, text: '' });
      });

      it('answers carry Content-Length of their bytes (UTF-8), never chunked: JSON, errors and pages', async () => {
        const notified = await h.api('POST', '/v1/notify-operator', { as: 'free', json: { issue: 'Répondre au client — reçu “envoyé” ✓' } });
        const replies = [
          await h.api('GET', '/v1/capabilities', { as: 'free' }),
          notified,
          await h.api('GET', '/v1/nope', { as: 'free' }),
          await h.api('GET', '/v1/capabilities'),
          await h.fetch('GET', expectSuccess(notified, 201).operator_action_url),
        ];
        for (const reply of replies) {
          expect(reply.headers.get('transfer-encoding')).toBeNull();
          expect(reply.headers.get('content-length')).toBe(String(Buffer.byteLength(reply.text, 'utf8')));
        }
        expect(replies[4]!.text).toContain('Répondre au client — reçu');
      });

      it('the pages load one stylesheet from where tiergate is mounted: CSS, cached as immutable, HEAD works', async () => {
        const result = expectSuccess(await h.api('POST', '/v1/notify-operator', { as: 'free', json: { issue: 'Style check' } }), 201);
        const page = await h.fetch('GET', result.operator_action_url);
        expect(page.headers.get('content-security-policy')).toMatch(/style-src 'self'/);
        expect(page.text).not.toMatch(/<style/i);
        const href = /<link rel="stylesheet" href="([^"]+)">/.exec(page.text)?.[1];
        expect(href).toMatch(/\/operator\/tiergate-[A-Za-z0-9_-]{16}\.css$/);
        expect(href?.startsWith(new URL(h.base).pathname.replace(/\/$/, ''))).toBe(true);
        const css = await h.fetch('GET', href ?? '');
        expect(css.status).toBe(200);
        expect(css.headers.get('content-type')).toMatch(/^text\/css/);
        expect(css.headers.get('cache-control')).toMatch(/immutable/);
        expect(css.headers.get('x-content-type-options')).toBe('nosniff');
        expect(css.text).toContain('.actions');
        const head = await h.fetch('HEAD', href ?? '');
        expect(head.status).toBe(200);
        expect(head.text).toBe('');
        expect((await h.fetch('POST', href ?? '')).status).toBe(405);
      });

      it('invalid, missing and tampered link tokens: 400 pages with security headers', async () => {
        const result = expectSuccess(await h.api('POST', '/v1/notify-operator', { as: 'developer', json: { issue: 'Tamper target' } }), 201);
        const token = new URL(result.operator_action_url).searchParams.get('token') as string;
        const [header, payload, signature] = token.split('.') as [string, string, string];
        const flipped = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
        for (const query of ['', '?token=', '?token=not-a-token', `?token=${flipped}`, `?token=${header}.${payload}.`]) {
          const page = await h.api('GET', `/operator/action${query}`);
          expect(page.status).toBe(400);
          expectPageHeaders(page);
        }
        const upgrade = await h.api('GET', '/upgrade?token=nope');
        expect(upgrade.status).toBe(400);
        expectPageHeaders(upgrade);
        // An operator-action token is not an upgrade token.
        const wrongPurpose = await h.api('GET', `/upgrade?token=${token}`);
        expect(wrongPurpose.status).toBeGreaterThanOrEqual(400);
        expect(wrongPurpose.status).toBeLessThan(500);
        expectPageHeaders(wrongPurpose);
      });
    });

    describe('requireCapability on host routes', () => {
      let h: Harness;
      beforeAll(async () => {
        h = await startHarness(makeServer, options);
      });
      afterAll(async () => {
        await h?.close();
      });

      it('allowed: 200 with the guard context; consume counts usage', async () => {
        const reply = await h.fetch('POST', '/host/send', { as: 'sender', json: { to: 'user@example.com' } });
        expect(reply.status).toBe(200);
        expect(reply.json).toEqual({ account: h.accounts.sender.id, consumed: 1 });
        expect((await h.fetch('POST', '/host/send', { as: 'sender' })).json).toEqual({ account: h.accounts.sender.id, consumed: 1 });
        const usage = expectSuccess(await h.api('GET', '/v1/account', { as: 'sender' }), 200).usage.send_messages;
        expect([usage.day.used, usage.month.used]).toEqual([2, 2]);
      });

      it('free: 403 with the reason code and details.upgrade_context', async () => {
        const reply = await h.fetch('POST', '/host/send', { as: 'free' });
        const error = expectError(reply, 403, 'SEND_REQUIRES_PAID');
        expect(error.details).toMatchObject({ action: 'send_messages', reason: 'SEND_REQUIRES_PAID' });
        expectUpgradeContext(error.details.upgrade_context, h.base);
        expect(reply.headers.get('retry-after')).toBeNull();
        expect(expectSuccess(await h.api('GET', '/v1/account', { as: 'free' }), 200).usage.send_messages.day.used).toBe(0);
      });

      it('under review: 403 ACCOUNT_UNDER_REVIEW', async () => {
        const error = expectError(await h.fetch('POST', '/host/send', { as: 'review' }), 403, 'ACCOUNT_UNDER_REVIEW');
        expect(error.details).toMatchObject({ action: 'send_messages', reason: 'ACCOUNT_UNDER_REVIEW' });
        expect(error.details.upgrade_context).toBeTruthy();
      });

      it('at the daily limit: 429 SEND_LIMIT_EXCEEDED with Retry-After until the window resets', async () => {
        const reply = await h.fetch('POST', '/host/send', { as: 'limit' });
        const error = expectError(reply, 429, 'SEND_LIMIT_EXCEEDED');
        expect(error.details).toMatchObject({ action: 'send_messages', reason: 'SEND_LIMIT_EXCEEDED', resets_at: NEXT_UTC_MIDNIGHT });
        expect(Number(reply.headers.get('retry-after'))).toBe((Date.parse(NEXT_UTC_MIDNIGHT) - h.clock.now()) / 1000);
        expect(error.details.upgrade_context.operator_action_url).toMatch(/\/upgrade\?token=/);
      });

      it('missing or unknown key: 401 with WWW-Authenticate: Bearer', async () => {
        for (const options_ of [{}, { authorization: 'Bearer nope' }, { authorization: 'Basic abc' }] as RequestOptions[]) {
          for (const [method, path] of [['POST', '/host/send'], ['GET', '/host/inboxes']] as const) {
            const reply = await h.fetch(method, path, options_);
            expectError(reply, 401, 'UNAUTHORIZED');
            expect(reply.headers.get('www-authenticate')).toBe('Bearer');
          }
        }
      });

      it('the guard context gives the host the ability and capabilities', async () => {
        expect((await h.fetch('GET', '/host/inboxes', { as: 'free' })).json).toEqual({ account: h.accounts.free.id, can_send: false, tier: 'free' });
        expect((await h.fetch('GET', '/host/inboxes', { as: 'growth' })).json).toEqual({ account: h.accounts.growth.id, can_send: true, tier: 'growth' });
        expect((await h.fetch('GET', '/host/inboxes', { as: 'review' })).json).toEqual({ account: h.accounts.review.id, can_send: false, tier: 'developer' });
      });

      it('concurrent consumes at the daily limit never overshoot (95/100 + 20 parallel → exactly 5 allowed)', async () => {
        const replies = await Promise.all(Array.from({ length: 20 }, () => h.fetch('POST', '/host/send', { as: 'near' })));
        const statuses = replies.map((r) => r.status).sort();
        expect(statuses.filter((s) => s === 200)).toHaveLength(5);
        expect(statuses.filter((s) => s === 429)).toHaveLength(15);
        for (const r of replies.filter((x) => x.status === 429)) expect(r.json.error.code).toBe('SEND_LIMIT_EXCEEDED');
        const usage = expectSuccess(await h.api('GET', '/v1/account', { as: 'near' }), 200).usage.send_messages.day;
        expect(usage).toMatchObject({ used: 100, limit: 100 });
      });
    });

    describe('human approval workflow', () => {
      let h: Harness;
      let receiver: Awaited<ReturnType<typeof startReceiver>>;
      beforeAll(async () => {
        receiver = await startReceiver();
        h = await startHarness(makeServer, options);
      });
      afterAll(async () => {
        await h?.close();
        await receiver?.close();
      });

      async function requestApproval(as: AccountName = 'approver', extra: Record<string, unknown> = {}) {
        const result = expectSuccess(await h.api('POST', '/v1/notify-operator', { as, json: approvalBody(receiver.url, extra) }), 201);
        return result as { request_id: string; operator_action_url: string; expires_at: string; status: string; notification_id: string };
      }

      async function statusOf(requestId: string, as: AccountName = 'approver') {
        return expectSuccess(await h.api('GET', `/v1/approvals/${requestId}`, { as }), 200);
      }

      async function decide(form: { action: string; token: string; formToken: string }, decision: 'approve' | 'deny', extra: Record<string, string> = {}, headers: Record<string, string> = {}) {
        return h.fetch('POST', form.action, { body: formBody({ token: form.token, form_token: form.formToken, decision, ...extra }), contentType: FORM, headers });
      }

      it('approval_request (camelCase callbackUrl/expiresIn) → 201 pending with request_id', async () => {
        const result = await requestApproval();
        expect(result.request_id).toMatch(/^apr_/);
        expect(result.status).toBe('pending');
        expect(result.notification_id).toMatch(/^not_/);
        expect(result.operator_action_url).toMatch(new RegExp(`^${escapeRegExp(h.base)}/operator/action\\?token=`));
        expect(Date.parse(result.expires_at)).toBe(h.clock.now() + 3600 * 1000);
        const status = await statusOf(result.request_id);
        expect(status).toMatchObject({ request_id: result.request_id, status: 'pending', action: 'bulk_send', urgency: 'medium', decided_by: null, decided_at: null, denial_reason: null });
      });

      it('GET, HEAD and link unfurlers never decide; the page carries the security headers', async () => {
        const { request_id: id, operator_action_url: url } = await requestApproval();
        const page = await h.fetch('GET', url);
        expect(page.status).toBe(200);
        expectPageHeaders(page);
        const form = decisionForm(page.text);
        expect(form.action).toBe(`${PREFIX}/operator/action`);
        expect((await h.fetch('HEAD', url)).status).toBe(200);
        for (const agent of [SLACKBOT, FACEBOOK, SLACKBOT, FACEBOOK]) {
          const unfurl = await h.fetch('GET', url, { headers: { 'user-agent': agent } });
          expect(unfurl.status).toBe(200);
          expectPageHeaders(unfurl);
        }
        await h.fetch('GET', `${url}&choice=approve`);
        await h.tiergate.deliver();
        expect((await statusOf(id)).status).toBe('pending');
        expect(receiver.forRequest(id)).toHaveLength(0);
      });

      it('POST approve → 200; exactly one signed approval.granted; a second POST → 409', async () => {
        const { request_id: id, operator_action_url: url } = await requestApproval();
        const form = decisionForm((await h.fetch('GET', url)).text);
        const approved = await decide(form, 'approve');
        expect(approved.status).toBe(200);
        expectPageHeaders(approved);
        await h.tiergate.deliver();
        await h.tiergate.deliver();

        const callbacks = receiver.forRequest(id);
        expect(callbacks).toHaveLength(1);
        const [{ received, event }] = callbacks as [{ received: Received; event: Parsed }];
        expect(verifyWebhookSignature(h.accounts.approver.webhookSecret, received.headers as Record<string, string>, received.body, h.clock.now())).toEqual({ ok: true });
        expect(verifyWebhookSignature(h.accounts.other.webhookSecret, received.headers as Record<string, string>, received.body, h.clock.now()).ok).toBe(false);
        expect(received.headers['webhook-id']).toMatch(/^msg_/);
        expect(received.headers['content-type']).toMatch(/^application\/json/);
        expect(event).toEqual({
          type: 'approval.granted',
          timestamp: new Date(h.clock.now()).toISOString(),
          data: {
            request_id: id,
            status: 'approved',
            action: 'bulk_send',
            context: { recipient_count: 500, subject: 'Product Update' },
            approved_by: 'ops@example.com',
            approved_at: new Date(h.clock.now()).toISOString(),
            denial_reason: null,
          },
        });

        // The adapter passed the client's address for the audit trail.
        const audit = await h.tiergate.approvals.audit(id);
        expect(audit.find((e) => e.event === 'approved')?.ip).toContain('127.0.0.1');

        const again = await decide(form, 'approve');
        expect(again.status).toBe(409);
        expectPageHeaders(again);
        expect((await decide(form, 'deny')).status).toBe(409);
        await h.tiergate.deliver();
        expect(receiver.forRequest(id)).toHaveLength(1);

        expect(await statusOf(id)).toMatchObject({ status: 'approved', decided_by: 'ops@example.com', decided_at: new Date(h.clock.now()).toISOString(), denial_reason: null });
        // The page now shows the decision instead of the forms.
        const after = await h.fetch('GET', url);
        expect(after.status).toBe(200);
        expect(() => decisionForm(after.text)).toThrow();
      });

      it('approve and deny at once: one 200, one 409, one callback', async () => {
        const { request_id: id, operator_action_url: url } = await requestApproval();
        const form = decisionForm((await h.fetch('GET', url)).text);
        const replies = await Promise.all([decide(form, 'approve'), decide(form, 'deny', { denial_reason: 'Too many recipients' })]);
        expect(replies.map((r) => r.status).sort()).toEqual([200, 409]);
        await h.tiergate.deliver();
        const callbacks = receiver.forRequest(id);
        expect(callbacks).toHaveLength(1);
        const status = await statusOf(id);
        expect(callbacks[0]?.event.data.status).toBe(status.status);
        expect(['approved', 'denied']).toContain(status.status);
      });

      it('deny with a reason: GET /v1/approvals/:id shows it and approval.denied is delivered', async () => {
        const { request_id: id, operator_action_url: url } = await requestApproval();
        const form = decisionForm((await h.fetch('GET', url)).text);
        expect((await decide(form, 'deny', { denial_reason: 'Not this week' })).status).toBe(200);
        expect(await statusOf(id)).toMatchObject({ status: 'denied', decided_by: 'ops@example.com', denial_reason: 'Not this week' });
        await h.tiergate.deliver();
        const callbacks = receiver.forRequest(id);
        expect(callbacks.map((c) => [c.event.type, c.event.data.denial_reason])).toEqual([['approval.denied', 'Not this week']]);
      });

      it('POST without form_token → 403; from another origin → 403; the approval stays pending', async () => {
        const { request_id: id, operator_action_url: url } = await requestApproval();
        const form = decisionForm((await h.fetch('GET', url)).text);
        const noFormToken = await h.fetch('POST', form.action, { body: formBody({ token: form.token, decision: 'approve' }), contentType: FORM });
        expect(noFormToken.status).toBe(403);
        expectPageHeaders(noFormToken);
        const wrongFormToken = await decide({ ...form, formToken: `${form.formToken.slice(0, -2)}xx` }, 'approve');
        expect(wrongFormToken.status).toBe(403);
        const crossOrigin = await decide(form, 'approve', {}, { origin: 'https://evil.example' });
        expect(crossOrigin.status).toBe(403);
        expectPageHeaders(crossOrigin);
        const crossSite = await decide(form, 'approve', {}, { 'sec-fetch-site': 'cross-site' });
        expect(crossSite.status).toBe(403);
        const sameOrigin = await decide(form, 'deny', {}, { origin: h.origin });
        expect(sameOrigin.status).toBe(200);
        expect((await statusOf(id)).status).toBe('denied');
      });

      it('another account cannot read the approval (404)', async () => {
        const { request_id: id } = await requestApproval();
        expectError(await h.api('GET', `/v1/approvals/${id}`, { as: 'other' }), 404, 'NOT_FOUND');
        expectError(await h.api('GET', `/v1/approvals/${id}?wait=1`, { as: 'other' }), 404, 'NOT_FOUND');
        expectError(await h.api('GET', `/v1/approvals/${id}?wait=99`, { as: 'approver' }), 400, 'INVALID_REQUEST');
      });

      it('?wait= returns as soon as the approval is decided', { timeout: 15_000 }, async () => {
        const { request_id: id, operator_action_url: url } = await requestApproval();
        const form = decisionForm((await h.fetch('GET', url)).text);
        // wait=30: if the long poll did not wake on the decision, this test would run into its timeout.
        const polling = h.api('GET', `/v1/approvals/${id}?wait=30`, { as: 'approver' });
        await eventually(() => h.waits.some((w) => w.id === id), 'the long poll to start waiting');
        expect((await decide(form, 'approve')).status).toBe(200);
        const result = expectSuccess(await polling, 200);
        expect(result).toMatchObject({ request_id: id, status: 'approved', decided_by: 'ops@example.com' });
      });

      it('a client that disconnects during ?wait= aborts the long poll', { timeout: 15_000 }, async () => {
        const { request_id: id } = await requestApproval();
        const controller = new AbortController();
        const polling = h.api('GET', `/v1/approvals/${id}?wait=30`, { as: 'approver', signal: controller.signal }).catch((err: unknown) => err);
        await eventually(() => h.waits.some((w) => w.id === id), 'the long poll to start waiting');
        const wait = h.waits.find((w) => w.id === id);
        expect(wait?.signal).toBeInstanceOf(AbortSignal);
        expect(wait?.signal?.aborted).toBe(false);
        controller.abort();
        await polling;
        await eventually(() => wait?.signal?.aborted === true, 'the adapter to abort the request signal');
        expect((await statusOf(id)).status).toBe('pending');
      });
    });

    describe('approval expiry', () => {
      let h: Harness;
      let receiver: Awaited<ReturnType<typeof startReceiver>>;
      beforeAll(async () => {
        receiver = await startReceiver();
        h = await startHarness(makeServer, options);
      });
      afterAll(async () => {
        await h?.close();
        await receiver?.close();
      });

      it('past expiry: POST → 410, the link page → 410, approval.expired delivered exactly once after two sweeps', async () => {
        const create = async () =>
          expectSuccess(await h.api('POST', '/v1/notify-operator', { as: 'approver', json: approvalBody(receiver.url, { expiresIn: 120 }) }), 201) as {
            request_id: string;
            operator_action_url: string;
          };
        const decidedLate = await create();
        const sweptOnly = await create();
        const form = decisionForm((await h.fetch('GET', decidedLate.operator_action_url)).text);
        const notification = expectSuccess(await h.api('POST', '/v1/notify-operator', { as: 'developer', json: { issue: 'Lives 7 days' } }), 201);

        h.clock.advance('10m');
        const late = await h.fetch('POST', form.action, { body: formBody({ token: form.token, form_token: form.formToken, decision: 'approve' }), contentType: FORM });
        expect(late.status).toBe(410);
        expectPageHeaders(late);
        const expiredPage = await h.fetch('GET', sweptOnly.operator_action_url);
        expect(expiredPage.status).toBe(410);
        expectPageHeaders(expiredPage);

        await h.tiergate.sweep();
        await h.tiergate.sweep();
        await h.tiergate.deliver();
        await h.tiergate.sweep();
        await h.tiergate.deliver();
        for (const { request_id: id } of [decidedLate, sweptOnly]) {
          const callbacks = receiver.forRequest(id);
          expect(callbacks.map((c) => c.event.type)).toEqual(['approval.expired']);
          expect(callbacks[0]?.event.data).toMatchObject({ request_id: id, status: 'expired', approved_by: null, approved_at: null });
          expect(verifyWebhookSignature(h.accounts.approver.webhookSecret, callbacks[0]?.received.headers as Record<string, string>, callbacks[0]?.received.body ?? '', h.clock.now())).toEqual({ ok: true });
          expect(expectSuccess(await h.api('GET', `/v1/approvals/${id}?wait=5`, { as: 'approver' }), 200)).toMatchObject({ status: 'expired', decided_by: null });
        }

        // A plain notification link outlives the approvals, then expires after 7 days.
        expect((await h.fetch('GET', notification.operator_action_url)).status).toBe(200);
        h.clock.advance('8d');
        const stale = await h.fetch('GET', notification.operator_action_url);
        expect(stale.status).toBe(410);
        expectPageHeaders(stale);
      });
    });
  });
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
