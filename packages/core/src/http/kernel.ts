/**
 * The framework-neutral HTTP kernel:
 * `handle({ method, path, query, headers, body }) → { status, headers, body }`.
 * Every route of the wire contract lives here — routing, auth, the envelope,
 * error mapping and the operator pages — so an adapter is translation only.
 *
 * - Success: `{ "result": …, "next_steps": [...] }`; error:
 *   `{ "error": { code, message, details? }, "next_steps": [...] }`, with the
 *   status from the one table in `errors.ts`. Never a stack trace, and never
 *   HTML from the agent API.
 * - Pages send the security headers of DESIGN rule 6 on every response,
 *   error pages included. Only `POST /operator/action` decides.
 */
import { isoTime } from '../clock.js';
import { ERROR_STATUS, TiergateError, isTiergateError } from '../errors.js';
import { approvalQuerySchema, issuesOf, operatorDecisionFormSchema, type CapabilitiesResult, type NotifyOperatorResult } from '../schemas/wire.js';
import type { Account } from '../service/accounts.js';
import type { CheckResult, GuardContext, Tiergate } from '../service/create-tiergate.js';
import { authenticatorOf, capabilitiesOf, checkerOf, isThenable, notifierOf, type NotifyOutcome } from '../service/internals.js';
import { openApiDocument } from './openapi.js';
import { disconnectSignal, type ClosableResponse } from './disconnect-signal.js';
import { readBody } from './read-body.js';
import { PAGE_HEADERS, STYLESHEET, STYLESHEET_FILE, STYLESHEET_HEADERS, renderDecisionPage, renderErrorPage, renderOperatorPage, renderUpgradePage, type PageContext } from './pages.js';

/** A request as the kernel reads it. Adapters build this from their framework's request. */
export interface KernelRequest {
  /** HTTP method, any case. */
  readonly method: string;
  /** Path relative to where tiergate is mounted, e.g. `/v1/capabilities`. */
  readonly path: string;
  /** Raw query string without `?` (may be empty). */
  readonly query?: string;
  /** Headers with lower-case names. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /**
   * The body: the raw request stream (any `AsyncIterable` of bytes, such as
   * Node's `IncomingMessage` — read here only by routes that take a body,
   * under `maxBodyBytes`), raw bytes (`string` / `Uint8Array`), or a body the
   * framework already parsed (a plain object), or `undefined`. Raw bodies are
   * parsed here by content type, so every 400/413/415 has tiergate's format.
   */
  readonly body?: unknown;
  /**
   * Client IP (for the approval audit trail), or undefined when unknown. Read only by the routes that
   * record it, so an adapter may answer it from a getter.
   */
  readonly ip?: string | undefined;
  /** Aborts long polls when the client goes away. */
  readonly signal?: AbortSignal;
  /**
   * For adapters on `node:http`-based frameworks, instead of `signal`: the
   * Node response. Only a `?wait=` long poll needs to know when the client
   * goes away, and only then does the kernel make a {@link disconnectSignal}
   * from it, so other requests pay for no `AbortController` or listener.
   */
  readonly response?: ClosableResponse;
}

/** What the adapter writes back. `body` is already serialised. */
export interface KernelResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * The kernel's request handler: call it with a request, write the response it resolves to.
 *
 * `now(request)` is the same handler for adapters that can write a response
 * without waiting: it answers the response itself when nothing had to be waited
 * for (an agent request on the memory store with a synchronous authenticator),
 * else a promise of it — one microtask turn less per request than the promise
 * of `handle(request)`. Errors of the request (bad input, a store that is
 * down) are answered as responses by both; neither throws (an unexpected
 * exception is a rejected promise).
 */
export interface KernelHandler {
  (request: KernelRequest): Promise<KernelResponse>;
  /** The response now when it is ready, else a promise of it (see {@link KernelHandler}). */
  readonly now: (request: KernelRequest) => KernelResponse | Promise<KernelResponse>;
}

const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });

function header(request: Pick<KernelRequest, 'headers'>, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? (value[0] as string | undefined) : (value as string | undefined);
}

/** Serialises a success envelope. */
function success(status: number, result: unknown, nextSteps: readonly string[], extra?: Record<string, string>): KernelResponse {
  return { status, headers: extra === undefined ? JSON_HEADERS : { ...JSON_HEADERS, ...extra }, body: `{"result":${JSON.stringify(result)},"next_steps":${JSON.stringify(nextSteps)}}` };
}

/** Serialises an error envelope. */
export function errorResponse(tiergate: Pick<Tiergate, 'messages'>, code: string, status: number, message: string, details?: unknown, extra?: Record<string, string>): KernelResponse {
  const error = details === undefined ? { code, message } : { code, message, details };
  return {
    status,
    headers: extra === undefined ? JSON_HEADERS : { ...JSON_HEADERS, ...extra },
    body: JSON.stringify({ error, next_steps: tiergate.messages.nextSteps.error(code) }),
  };
}

const UNAUTHORIZED_HEADERS = { 'www-authenticate': 'Bearer' };

function unauthorized(tiergate: Tiergate): KernelResponse {
  return errorResponse(tiergate, 'UNAUTHORIZED', 401, tiergate.messages.errors.UNAUTHORIZED, undefined, UNAUTHORIZED_HEADERS);
}

/** Maps a thrown error to a JSON error response (500 for anything unexpected, logged without request data). */
function jsonError(tiergate: Tiergate, err: unknown, path: string): KernelResponse {
  if (isTiergateError(err) && err.code !== 'INTERNAL_ERROR' && err.code !== 'CONFIG_INVALID' && err.code !== 'CONTEXT_UNAVAILABLE' && err.code !== 'TIER_TABLE_INVALID') {
    const extra: Record<string, string> = {};
    if (err.retryAfterSeconds !== undefined) extra['retry-after'] = String(err.retryAfterSeconds);
    if (err.code === 'UNAUTHORIZED') Object.assign(extra, UNAUTHORIZED_HEADERS);
    if (err.code === 'RATE_LIMITED') {
      const details = err.details as { limit?: number; reset_seconds?: number } | undefined;
      if (details?.limit !== undefined) Object.assign(extra, rateLimitHeaders({ limit: details.limit, remaining: 0, resetSeconds: details.reset_seconds ?? 0 }));
    }
    return errorResponse(tiergate, err.code, err.status, tiergate.messages.errors[err.code] ?? err.message, err.details, extra);
  }
  tiergate.logger.error('request failed', { path, code: isTiergateError(err) ? err.code : undefined, error: err instanceof Error ? err.message : String(err) });
  return errorResponse(tiergate, 'INTERNAL_ERROR', 500, tiergate.messages.errors.INTERNAL_ERROR);
}

function page(status: number, html: string, extra?: Record<string, string>): KernelResponse {
  return { status, headers: extra === undefined ? PAGE_HEADERS : { ...PAGE_HEADERS, ...extra }, body: html };
}

function pageError(tiergate: Tiergate, context: PageContext, err: unknown, path: string): KernelResponse {
  if (isTiergateError(err) && err.code in ERROR_STATUS && err.status < 500) return page(err.status, renderErrorPage(context, err.code));
  if (isTiergateError(err, 'STORE_UNAVAILABLE')) return page(503, renderErrorPage(context, err.code), { 'retry-after': String(err.retryAfterSeconds ?? 5) });
  tiergate.logger.error('page failed', { path, code: isTiergateError(err) ? err.code : undefined, error: err instanceof Error ? err.message : String(err) });
  return page(500, renderErrorPage(context, 'INTERNAL_ERROR'));
}

type ParsedBody = { ok: true; value: unknown } | { ok: false; response: KernelResponse };

function contentType(request: KernelRequest): string {
  const raw = header(request, 'content-type') ?? '';
  // The usual header as it is; anything else (parameters, case, spaces) normalised.
  if (raw === 'application/json') return raw;
  return raw.split(';')[0]?.trim().toLowerCase() ?? '';
}

// One decoder for every request (stateless between `decode()` calls without `stream`).
const utf8 = new TextDecoder('utf-8', { fatal: true });

const SURROGATE = /[\uD800-\uDFFF]/;
const WHITESPACE = /^\s$/;

/**
 * `new URLSearchParams(query).get(name)` without building the object, for a
 * query with nothing to decode (no `%`, no `+`, no lone surrogate, which
 * URLSearchParams would replace: the usual `?token=<JWT>`).
 * Returns `undefined` when the query needs decoding (the caller falls back to
 * `URLSearchParams`), `null` when the name is absent.
 */
export function queryParam(query: string, name: string): string | null | undefined {
  if (query.includes('%') || query.includes('+') || SURROGATE.test(query)) return undefined;
  const text = query.startsWith('?') ? query.slice(1) : query;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('&', start);
    if (end === -1) end = text.length;
    const eq = text.indexOf('=', start);
    const hasValue = eq !== -1 && eq < end;
    // Empty sequences (`a=1&&b=2`) are skipped, as URLSearchParams does.
    if (end > start && text.slice(start, hasValue ? eq : end) === name) return hasValue ? text.slice(eq + 1, end) : '';
    start = end + 1;
  }
  return null;
}

function isStream(body: unknown): body is AsyncIterable<Uint8Array | string> {
  return typeof body === 'object' && body !== null && !(body instanceof Uint8Array) && typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/**
 * Reads (a stream) and parses (raw bytes) a body by content type, enforcing
 * the size limit; pre-parsed objects pass through. Answers at once unless the
 * body is a stream still to be read.
 */
function parseBody(tiergate: Tiergate, request: KernelRequest, accept: 'json' | 'form'): ParsedBody | Promise<ParsedBody> {
  const body = request.body;
  if (!isStream(body)) return parseRead(tiergate, request, accept, body);
  return readBody(body, tiergate.maxBodyBytes).then(
    (bytes) => parseRead(tiergate, request, accept, bytes),
    (err: unknown) => {
      if (isTiergateError(err, 'PAYLOAD_TOO_LARGE')) return { ok: false, response: errorResponse(tiergate, 'PAYLOAD_TOO_LARGE', 413, tiergate.messages.errors.PAYLOAD_TOO_LARGE) };
      throw err;
    },
  );
}

function parseRead(tiergate: Tiergate, request: KernelRequest, accept: 'json' | 'form', body: unknown): ParsedBody {
  if (body === undefined || body === null) return { ok: true, value: undefined };
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) return { ok: true, value: body };
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  if (size > tiergate.maxBodyBytes) return { ok: false, response: errorResponse(tiergate, 'PAYLOAD_TOO_LARGE', 413, tiergate.messages.errors.PAYLOAD_TOO_LARGE) };
  let text: string;
  try {
    text = typeof body === 'string' ? body : utf8.decode(body);
  } catch {
    return { ok: false, response: errorResponse(tiergate, 'INVALID_REQUEST', 400, tiergate.messages.errors.INVALID_REQUEST, [{ path: '(body)', message: 'body is not valid UTF-8' }]) };
  }
  // (`\s` is the set trim() removes: a body that starts with anything else is not blank.)
  if (text.length === 0 || (WHITESPACE.test(text.charAt(0)) && text.trim() === '')) return { ok: true, value: undefined };
  const type = contentType(request);
  if (type === 'application/x-www-form-urlencoded' && accept === 'form') return { ok: true, value: Object.fromEntries(new URLSearchParams(text)) };
  if (type === 'application/json' || type.endsWith('+json') || (type === '' && accept === 'json')) {
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch {
      return { ok: false, response: errorResponse(tiergate, 'INVALID_REQUEST', 400, tiergate.messages.errors.INVALID_REQUEST, [{ path: '(body)', message: 'body is not valid JSON' }]) };
    }
  }
  return { ok: false, response: errorResponse(tiergate, 'UNSUPPORTED_MEDIA_TYPE', 415, tiergate.messages.errors.UNSUPPORTED_MEDIA_TYPE) };
}

/**
 * `JSON.stringify(text)`, where `text` holds `plain` (JSON-plain, see `isJsonPlain`): `plain` is
 * copied, not scanned character by character again. Equal to `JSON.stringify(text)`: escaping is per
 * character, and an ASCII `plain` cannot split a surrogate pair.
 */
function jsonStringAround(text: string, plain: string): string {
  // The default catalog's script ends with the link; string equality compares memory, where
  // endsWith() and the searches go character by character.
  const tail = text.length - plain.length;
  const at = tail >= 0 && text.slice(tail) === plain ? tail : text.indexOf(plain);
  if (at === -1) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, at)).slice(0, -1)}${plain}${JSON.stringify(text.slice(at + plain.length)).slice(1)}`;
}

/**
 * notify-operator's success body: the text `success()` writes. When `verbatim` (see
 * `NotifyOutcome.verbatim`: the service's keys in its order, a JSON-plain link) the operator link —
 * about two thirds of the answer, as it appears twice — is copied rather than escaped.
 * @internal Exported for its tests.
 */
export function notifyBody(result: NotifyOperatorResult, stepsJson: string, verbatim: boolean): string {
  if (!verbatim) return `{"result":${JSON.stringify(result)},"next_steps":${stepsJson}}`;
  const url = result.operator_action_url;
  const approval = result.request_id === undefined ? '' : `,"request_id":${JSON.stringify(result.request_id)},"status":${JSON.stringify(result.status)}`;
  return `{"result":{"operator_action_url":"${url}","operator_action_label":${JSON.stringify(result.operator_action_label)},"agent_script":${jsonStringAround(result.agent_script, url)},"notification_id":${JSON.stringify(result.notification_id)},"expires_at":${JSON.stringify(result.expires_at)}${approval}},"next_steps":${stepsJson}}`;
}

/**
 * `JSON.stringify(steps(arg))`, remembered per argument (64 at most): the catalog's `next_steps`
 * functions are pure, and notify-operator's take the same "7 days" on almost every call.
 */
function stepsJsonOf(steps: (arg: string) => readonly string[]): (arg: string) => string {
  const known = new Map<string, string>();
  return (arg) => {
    let json = known.get(arg);
    if (json === undefined) {
      json = JSON.stringify(steps(arg));
      if (known.size >= 64) known.clear();
      known.set(arg, json);
    }
    return json;
  };
}

/** The origin of a URL, or undefined. */
function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** True when a POST comes from our own pages (or a client that sends no Origin, like curl); false for another origin. */
function sameOrigin(tiergate: Tiergate, request: KernelRequest): boolean {
  const fetchSite = header(request, 'sec-fetch-site');
  if (fetchSite === 'cross-site' || fetchSite === 'same-site') return false;
  const origin = header(request, 'origin');
  if (origin === undefined) return true;
  // The pages send `Referrer-Policy: no-referrer`, under which browsers send `Origin: null` with the page's own
  // form posts; then only Sec-Fetch-Site (which no page can set) tells ours from a sandboxed frame's.
  if (origin === 'null') return fetchSite === 'same-origin';
  if (origin === originOf(tiergate.publicUrl())) return true;
  const host = header(request, 'host');
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

const capabilitiesBodies = new WeakMap<CapabilitiesResult, string>();

/** Creates the kernel handler of a tiergate service. */
export function createHandler(tiergate: Tiergate): KernelHandler {
  const messages = tiergate.messages;
  let openApi: { url: string; body: string } | undefined;
  // The form posts back to where tiergate is mounted, and pages load the stylesheet from there
  // (both recomputed only when publicUrl changes).
  let mountedAt: { base: string; action: string; pages: PageContext } | undefined;
  const mount = (): { action: string; pages: PageContext } => {
    const base = tiergate.publicUrl();
    if (mountedAt?.base !== base) {
      const path = new URL(base).pathname.replace(/\/$/, '');
      mountedAt = { base, action: `${path}/operator/action`, pages: { catalog: messages, stylesheet: `${path}/operator/${STYLESHEET_FILE}` } };
    }
    return mountedAt;
  };
  const formAction = (): string => mount().action;
  const pages = (): PageContext => mount().pages;
  const stylesheetPath = `/operator/${STYLESHEET_FILE}`;

  function capabilitiesNextSteps(result: CapabilitiesResult): readonly string[] {
    if (result.cannot.length > 0) return messages.nextSteps.capabilitiesBlocked;
    const tier = tiergate.tiers.tier(result.tier);
    const next = tier === undefined ? undefined : tiergate.tiers.tiers[tier.rank + 1];
    return messages.nextSteps.capabilitiesClear(tier?.label ?? result.tier, next?.label);
  }

  const authenticate = authenticatorOf(tiergate);
  const capabilitiesNow = capabilitiesOf(tiergate);
  const notify = notifierOf(tiergate);
  const notifySteps = stepsJsonOf(messages.nextSteps.notifyOperator);
  const approvalSteps = stepsJsonOf(messages.nextSteps.approvalRequested);

  /** A route's work: its response, or a promise of it when it waits on something. */
  type Work = (account: Account, request: KernelRequest) => KernelResponse | Promise<KernelResponse>;

  /**
   * Authenticates, then runs `work` with the account; every error becomes tiergate's JSON error. With a
   * synchronous authenticator and synchronous work (the memory store) no promise is made at all (this
   * runs on every agent request).
   */
  function withAccount(request: KernelRequest, work: Work): KernelResponse | Promise<KernelResponse> {
    let found: Account | null | PromiseLike<Account | null>;
    try {
      found = authenticate(request.headers.authorization);
    } catch (err) {
      return jsonError(tiergate, err, request.path);
    }
    if (found === null) return unauthorized(tiergate);
    if (isThenable(found)) return authenticatedLater(request, found, work);
    return run(request, found, work);
  }

  async function authenticatedLater(request: KernelRequest, found: PromiseLike<Account | null>, work: Work): Promise<KernelResponse> {
    let account: Account | null;
    try {
      account = await found;
    } catch (err) {
      return jsonError(tiergate, err, request.path);
    }
    return account === null ? unauthorized(tiergate) : run(request, account, work);
  }

  function run(request: KernelRequest, account: Account, work: Work): KernelResponse | Promise<KernelResponse> {
    let response: KernelResponse | Promise<KernelResponse>;
    try {
      response = work(account, request);
    } catch (err) {
      return jsonError(tiergate, err, request.path);
    }
    return isPromise(response) ? response.then(undefined, (err: unknown) => jsonError(tiergate, err, request.path)) : response;
  }

  // The routes' work, made once (not a closure per request).
  function capabilitiesWork(account: Account): KernelResponse | Promise<KernelResponse> {
    const result = capabilitiesNow(account);
    return isThenable(result) ? Promise.resolve(result).then(capabilitiesResponse) : capabilitiesResponse(result);
  }

  function capabilitiesResponse(result: CapabilitiesResult): KernelResponse {
    let body = capabilitiesBodies.get(result);
    if (body === undefined) {
      body = success(200, result, capabilitiesNextSteps(result)).body;
      capabilitiesBodies.set(result, body);
    }
    return { status: 200, headers: JSON_HEADERS, body };
  }

  async function accountWork(account: Account): Promise<KernelResponse> {
    return success(200, await tiergate.account(account), messages.nextSteps.account);
  }

  async function upgradeLinkWork(account: Account, request: KernelRequest): Promise<KernelResponse> {
    const body = await parseBody(tiergate, request, 'json');
    if (!body.ok) return body.response;
    const result = await tiergate.upgradeLink(account, body.value);
    return success(200, result, messages.nextSteps.upgradeLink(messages.duration(Date.parse(result.expires_at) - tiergate.clock.now())));
  }

  function notifyWork(account: Account, request: KernelRequest): KernelResponse | Promise<KernelResponse> {
    const body = parseBody(tiergate, request, 'json');
    return isPromise(body) ? body.then((read) => notifyParsed(account, read)) : notifyParsed(account, body);
  }

  function notifyParsed(account: Account, body: ParsedBody): KernelResponse | Promise<KernelResponse> {
    if (!body.ok) return body.response;
    return notify(account, body.value).then(notifyResponse);
  }

  function notifyResponse({ result, expiresAt, rateLimit, verbatim }: NotifyOutcome): KernelResponse {
    const validFor = messages.duration(expiresAt - tiergate.clock.now());
    const steps = result.request_id === undefined ? notifySteps(validFor) : approvalSteps(validFor);
    const headers: Record<string, string> =
      rateLimit === undefined
        ? JSON_HEADERS
        : {
            // JSON_HEADERS written out: a spread copies them key by key on every call.
            'content-type': JSON_HEADERS['content-type'],
            'cache-control': JSON_HEADERS['cache-control'],
            'x-content-type-options': JSON_HEADERS['x-content-type-options'],
            'ratelimit-limit': String(rateLimit.limit),
            'ratelimit-remaining': String(rateLimit.remaining),
            'ratelimit-reset': String(Math.max(0, rateLimit.resetSeconds)),
          };
    return { status: 201, headers, body: notifyBody(result, steps, verbatim) };
  }

  async function operatorPage(path: string, query: QueryReader): Promise<KernelResponse> {
    try {
      const view = await tiergate.operatorView(query.get('token'), query.get('choice'));
      return page(200, renderOperatorPage(pages(), view, formAction()));
    } catch (err) {
      return pageError(tiergate, pages(), err, path);
    }
  }

  async function operatorDecision(request: KernelRequest, path: string): Promise<KernelResponse> {
    try {
      if (!sameOrigin(tiergate, request)) return page(403, renderErrorPage(pages(), 'CSRF_REJECTED'));
      const body = await parseBody(tiergate, request, 'form');
      if (!body.ok) return page(body.response.status, renderErrorPage(pages(), body.response.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'INVALID_REQUEST'));
      const form = operatorDecisionFormSchema.safeParse(body.value ?? {});
      if (!form.success) {
        const missing = issuesOf(form.error).some((i) => i.path === 'form_token');
        return page(missing ? 403 : 400, renderErrorPage(pages(), missing ? 'CSRF_REJECTED' : 'INVALID_REQUEST'));
      }
      const userAgent = header(request, 'user-agent');
      // Read once: an adapter may answer it from a getter that applies the framework's proxy rules.
      const ip = request.ip;
      const outcome = await tiergate.decideWithLink({
        token: form.data.token,
        formToken: form.data.form_token,
        decision: form.data.decision,
        ...(form.data.denial_reason === undefined ? {} : { denialReason: form.data.denial_reason }),
        ...(form.data.name === undefined ? {} : { name: form.data.name }),
        ...(ip === undefined ? {} : { ip }),
        ...(userAgent === undefined ? {} : { userAgent }),
      });
      if (outcome.ok) return page(200, renderDecisionPage(pages(), outcome.approval, 'recorded'));
      return outcome.code === 'APPROVAL_EXPIRED'
        ? page(410, renderDecisionPage(pages(), outcome.approval, 'expired'))
        : page(409, renderDecisionPage(pages(), outcome.approval, 'conflict'));
    } catch (err) {
      return pageError(tiergate, pages(), err, path);
    }
  }

  async function upgradePage(path: string, query: QueryReader): Promise<KernelResponse> {
    try {
      return page(200, renderUpgradePage(pages(), await tiergate.upgradeView(query.get('token'))));
    } catch (err) {
      return pageError(tiergate, pages(), err, path);
    }
  }

  function methodNotAllowed(allow: string, html: boolean): KernelResponse {
    return html
      ? page(405, renderErrorPage(pages(), 'METHOD_NOT_ALLOWED'), { allow })
      : errorResponse(tiergate, 'METHOD_NOT_ALLOWED', 405, messages.errors.METHOD_NOT_ALLOWED, undefined, { allow });
  }

  /** Routes a request: a response, or a promise of one for the routes that wait on something. */
  function route(request: KernelRequest): KernelResponse | Promise<KernelResponse> {
    const method = request.method === 'GET' || request.method === 'POST' ? request.method : request.method.toUpperCase();
    const isGet = method === 'GET' || method === 'HEAD';
    const path = request.path.length > 1 && request.path.charCodeAt(request.path.length - 1) === 47 ? request.path.slice(0, -1) : request.path;

    switch (path) {
      case '/v1/capabilities':
        if (!isGet) return methodNotAllowed('GET, HEAD', false);
        return withAccount(request, capabilitiesWork);

      case '/v1/account':
        if (!isGet) return methodNotAllowed('GET, HEAD', false);
        return withAccount(request, accountWork);

      case '/v1/upgrade-link':
        if (method !== 'POST') return methodNotAllowed('POST', false);
        return withAccount(request, upgradeLinkWork);

      case '/v1/notify-operator':
        if (method !== 'POST') return methodNotAllowed('POST', false);
        return withAccount(request, notifyWork);

      case '/v1/openapi.json': {
        if (!isGet) return methodNotAllowed('GET, HEAD', false);
        const url = tiergate.publicUrl();
        if (openApi?.url !== url) openApi = { url, body: JSON.stringify(openApiDocument(url)) };
        return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'public, max-age=300', 'x-content-type-options': 'nosniff' }, body: openApi.body };
      }

      case '/operator/action':
        if (isGet) return operatorPage(path, queryReader(request));
        if (method !== 'POST') return methodNotAllowed('GET, HEAD, POST', true);
        return operatorDecision(request, path);

      case stylesheetPath:
        if (!isGet) return methodNotAllowed('GET, HEAD', false);
        return { status: 200, headers: STYLESHEET_HEADERS, body: STYLESHEET };

      case '/upgrade':
        if (!isGet) return methodNotAllowed('GET, HEAD', true);
        return upgradePage(path, queryReader(request));

      default:
        if (path.startsWith('/v1/approvals/')) {
          if (!isGet) return methodNotAllowed('GET, HEAD', false);
          const requestId = decodeSegment(path.slice('/v1/approvals/'.length));
          const query = queryReader(request);
          return withAccount(request, async (account) => {
            const parsed = approvalQuerySchema.safeParse({ wait: query.get('wait') ?? undefined });
            if (!parsed.success) throw new TiergateError('INVALID_REQUEST', messages.errors.INVALID_REQUEST, { details: issuesOf(parsed.error) });
            // Only a long poll watches for the client going away.
            const signal = parsed.data.wait === undefined ? undefined : (request.signal ?? (request.response === undefined ? undefined : disconnectSignal(request.response)));
            const result = await tiergate.getApproval(account, requestId ?? '', {
              ...(parsed.data.wait === undefined ? {} : { waitSeconds: parsed.data.wait }),
              ...(signal === undefined ? {} : { signal }),
            });
            return success(200, result, messages.nextSteps.approvalStatus(result.status));
          });
        }
        return errorResponse(tiergate, 'NOT_FOUND', 404, messages.errors.NOT_FOUND);
    }
  }

  // Not an async function: the routes' own promises are returned as they are (an async function
  // returning a promise adopts it through two more microtask turns).
  function now(request: KernelRequest): KernelResponse | Promise<KernelResponse> {
    try {
      return route(request);
    } catch (err) {
      return Promise.reject(err);
    }
  }
  function handle(request: KernelRequest): Promise<KernelResponse> {
    const response = now(request);
    return isPromise(response) ? response : Promise.resolve(response);
  }
  return Object.assign(handle, { now });
}

/** Reads query parameters: the usual `?token=<JWT>` without building a `URLSearchParams`. */
interface QueryReader {
  get(name: string): string | null;
}

function queryReader(request: KernelRequest): QueryReader {
  const query = request.query ?? '';
  let parsed: URLSearchParams | undefined;
  return {
    get(name) {
      const fast = queryParam(query, name);
      return fast !== undefined ? fast : (parsed ??= new URLSearchParams(query)).get(name);
    },
  };
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return value instanceof Promise;
}

function decodeSegment(segment: string): string | undefined {
  if (segment.includes('/')) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** IETF `RateLimit-*` headers. */
function rateLimitHeaders(info: { limit: number; remaining: number; resetSeconds: number }): Record<string, string> {
  return { 'ratelimit-limit': String(info.limit), 'ratelimit-remaining': String(info.remaining), 'ratelimit-reset': String(Math.max(0, info.resetSeconds)) };
}

/** What an adapter's guard gets back: pass to the handler, or write this response. */
export type GuardResult<A extends string = string> = { readonly ok: true; readonly context: GuardContext<A> } | { readonly ok: false; readonly response: KernelResponse };

/**
 * A guard made by {@link createGuard}: call it with the request's headers and
 * act on the result it resolves to. `now(headers)` is the same guard for
 * adapters that can go on without waiting: it answers the result itself when
 * nothing had to be waited for (a synchronous authenticator, and the memory
 * store taking the quota), else a promise of it. Neither throws nor rejects:
 * every failure is a `{ ok: false, response }`.
 */
export interface Guard<A extends string = string> {
  (headers: KernelRequest['headers']): Promise<GuardResult<A>>;
  /** The result now when it is ready, else a promise of it (see {@link Guard}). */
  readonly now: (headers: KernelRequest['headers']) => GuardResult<A> | Promise<GuardResult<A>>;
}

/** Options of a guard. */
export interface GuardOptions {
  /** Units of a metered action to take atomically with the check (the quota check and increment are one step). */
  readonly consume?: number;
}

/**
 * A guard for the host's own routes: authenticates the `Authorization` header
 * and checks `action`. Denied → 403 with the reason code and `upgrade_context`
 * in `error.details` (429 with `Retry-After` for quota reasons); allowed → the
 * context for the host's handler (account, refund, capabilities, ability).
 */
export function createGuard<A extends string>(tiergate: Tiergate, action: A, options: GuardOptions = {}): Guard<A> {
  const authenticate = authenticatorOf(tiergate);
  const check = checkerOf(tiergate);
  const where = `guard:${action}`;
  const failed = (err: unknown): GuardResult<A> => ({ ok: false, response: jsonError(tiergate, err, where) });

  function outcome(result: CheckResult<A>): GuardResult<A> {
    if (result.allowed) return { ok: true, context: result };
    try {
      const retryAfter = result.resetsAt === undefined ? undefined : Math.max(1, Math.ceil((result.resetsAt - tiergate.clock.now()) / 1000));
      const details = {
        action: result.action,
        reason: result.reason,
        ...(result.resetsAt === undefined ? {} : { resets_at: isoTime(result.resetsAt) }),
        upgrade_context: result.upgradeContext,
      };
      const status = result.kind === 'quota' ? 429 : 403;
      return { ok: false, response: errorResponse(tiergate, result.reason, status, result.message, details, retryAfter === undefined ? undefined : { 'retry-after': String(retryAfter) }) };
    } catch (err) {
      return failed(err);
    }
  }

  function checkAccount(account: Account | null): GuardResult<A> | Promise<GuardResult<A>> {
    if (account === null) return { ok: false, response: unauthorized(tiergate) };
    let result: CheckResult<A> | PromiseLike<CheckResult<A>>;
    try {
      result = check(account, action, options);
    } catch (err) {
      return failed(err);
    }
    return isThenable(result) ? Promise.resolve(result).then(outcome, failed) : outcome(result);
  }

  function now(headers: KernelRequest['headers']): GuardResult<A> | Promise<GuardResult<A>> {
    let found: Account | null | PromiseLike<Account | null>;
    try {
      found = authenticate(headers.authorization);
    } catch (err) {
      return failed(err);
    }
    // A synchronous authenticator and store (apiKeyAuthenticator, the memory store): no promise at all.
    return isThenable(found) ? Promise.resolve(found).then(checkAccount, failed) : checkAccount(found);
  }

  function guard(headers: KernelRequest['headers']): Promise<GuardResult<A>> {
    const result = now(headers);
    return isPromise(result) ? result : Promise.resolve(result);
  }
  return Object.assign(guard, { now });
}
