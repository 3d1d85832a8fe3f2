/**
 * Verifies the approval callbacks tiergate sends to an agent's `callbackUrl`,
 * per the Standard Webhooks spec (https://www.standardwebhooks.com):
 * `webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<raw body>")>`,
 * where `key` is the base64 part of the account's `whsec_…` secret.
 * Runs on WebCrypto (`globalThis.crypto.subtle`), so it works on Node 20+,
 * Bun, Deno, browsers and Workers.
 */
import { TiergateError } from './errors.js';

/** `data` fields every approval event carries. */
interface ApprovalEventDataBase {
  /** `apr_…` of the request (one terminal event per request: dedupe on it). */
  readonly request_id: string;
  /** The `action` the agent asked approval for. */
  readonly action: string;
  /** The `context` the agent sent with the request, or `null`. */
  readonly context: Record<string, unknown> | null;
}

/** The operator approved: go ahead with the action. */
export interface ApprovalGrantedEvent {
  readonly type: 'approval.granted';
  /** When the state changed, ISO-8601. */
  readonly timestamp: string;
  readonly data: ApprovalEventDataBase & {
    readonly status: 'approved';
    /** Who approved (operator e-mail or name). */
    readonly approved_by: string | null;
    /** When, ISO-8601. */
    readonly approved_at: string;
    readonly denial_reason: null;
  };
}

/** The operator denied: do not perform the action. */
export interface ApprovalDeniedEvent {
  readonly type: 'approval.denied';
  readonly timestamp: string;
  readonly data: ApprovalEventDataBase & {
    readonly status: 'denied';
    /** Who decided (named `approved_by` on the wire, as in the seed). */
    readonly approved_by: string | null;
    /** When the decision was made, ISO-8601. */
    readonly approved_at: string;
    /** The operator's reason, if they gave one. */
    readonly denial_reason: string | null;
  };
}

/** Nobody decided before `expires_in` ran out: treat it as not approved. */
export interface ApprovalExpiredEvent {
  readonly type: 'approval.expired';
  readonly timestamp: string;
  readonly data: ApprovalEventDataBase & {
    readonly status: 'expired';
    readonly approved_by: null;
    readonly approved_at: null;
    readonly denial_reason: null;
  };
}

/** An approval callback body; `switch (event.type)` narrows `data`. */
export type ApprovalEvent = ApprovalGrantedEvent | ApprovalDeniedEvent | ApprovalExpiredEvent;

/** The callback's event types. */
export type ApprovalEventType = ApprovalEvent['type'];

/** Why {@link verifyWebhook} refused a delivery (`error.details.failure`). */
export type WebhookFailure = 'missing_headers' | 'timestamp_out_of_tolerance' | 'bad_signature' | 'malformed_body' | 'unsupported_event';

/** Request headers as frameworks hand them over: a `Headers` object or a plain record (any case). */
export type WebhookHeadersInput = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** Options of {@link verifyWebhook}. */
export interface VerifyWebhookOptions {
  /** Largest accepted distance between `webhook-timestamp` and now, seconds (default 300, the spec's). */
  readonly toleranceSeconds?: number;
  /** The current time, epoch ms or a `Date` (default `Date.now()`); tests pass a fake clock's time. */
  readonly now?: number | Date;
}

/** Default timestamp tolerance, seconds (Standard Webhooks' recommendation). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

const STATUS_OF: Readonly<Record<ApprovalEventType, string>> = { 'approval.granted': 'approved', 'approval.denied': 'denied', 'approval.expired': 'expired' };

function invalid(failure: WebhookFailure, message: string): TiergateError {
  return new TiergateError('WEBHOOK_INVALID', message, { details: { failure } });
}

function headerOf(headers: WebhookHeadersInput, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  const key = name in record ? name : Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return typeof value === 'string' ? value : value?.[0];
}

function base64Bytes(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) return undefined;
  try {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}

function secretBytes(secret: string): Uint8Array<ArrayBuffer> {
  const bytes = typeof secret === 'string' ? base64Bytes(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret) : undefined;
  if (bytes === undefined || bytes.byteLength === 0) throw new TiergateError('CONFIG_INVALID', 'The webhook secret must be whsec_ followed by base64.');
  return bytes;
}

function bodyBytes(rawBody: string | Uint8Array | ArrayBuffer): Uint8Array {
  if (typeof rawBody === 'string') return new TextEncoder().encode(rawBody);
  return rawBody instanceof Uint8Array ? rawBody : new Uint8Array(rawBody);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the verified body is an approval event this version knows. */
function approvalEventOf(value: unknown): ApprovalEvent | undefined {
  if (!isRecord(value) || typeof value.type !== 'string' || typeof value.timestamp !== 'string' || !isRecord(value.data)) return undefined;
  const expected = STATUS_OF[value.type as ApprovalEventType] as string | undefined;
  const data = value.data;
  if (expected === undefined || data.status !== expected || typeof data.request_id !== 'string' || typeof data.action !== 'string') return undefined;
  return value as unknown as ApprovalEvent;
}

/**
 * Verifies one callback delivery and returns its typed event. Pass the body
 * exactly as received (the raw string or bytes — not re-serialised JSON, which
 * changes the signed bytes). Accepts any of several space-separated `v1,`
 * signatures (secret rotation) and compares in constant time (WebCrypto's
 * `verify`).
 *
 * Deliveries are at least once: the same `webhook-id` may arrive again, and
 * each request has exactly one terminal event, so dedupe on
 * `event.data.request_id`.
 *
 * @throws {TiergateError} `WEBHOOK_INVALID` with `details.failure` one of
 * `missing_headers`, `timestamp_out_of_tolerance`, `bad_signature`,
 * `malformed_body` (verified but not JSON), `unsupported_event` (verified but
 * not an `approval.*` event); `CONFIG_INVALID` for a malformed secret.
 *
 * @example
 * app.post('/webhook/approval', express.text({ type: '*\/*' }), async (req, res) => {
 *   const event = await verifyWebhook(process.env.TIERGATE_WEBHOOK_SECRET!, req.headers, req.body);
 *   if (event.type === 'approval.granted') await runApproved(event.data.request_id);
 *   res.sendStatus(204);
 * });
 */
export async function verifyWebhook(
  secret: string,
  headers: WebhookHeadersInput,
  rawBody: string | Uint8Array | ArrayBuffer,
  options: VerifyWebhookOptions = {},
): Promise<ApprovalEvent> {
  const key = secretBytes(secret);
  const id = headerOf(headers, 'webhook-id');
  const timestamp = headerOf(headers, 'webhook-timestamp');
  const signatures = headerOf(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw invalid('missing_headers', 'The webhook-id, webhook-timestamp and webhook-signature headers are required.');

  const now = options.now === undefined ? Date.now() : typeof options.now === 'number' ? options.now : options.now.getTime();
  const tolerance = options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS;
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now / 1000 - Number(timestamp)) > tolerance) {
    throw invalid('timestamp_out_of_tolerance', `webhook-timestamp is more than ${tolerance} s away from now.`);
  }

  const body = bodyBytes(rawBody);
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.byteLength + body.byteLength);
  signed.set(prefix, 0);
  signed.set(body, prefix.byteLength);
  const hmacKey = await globalThis.crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);

  let verified = false;
  for (const candidate of signatures.split(' ')) {
    const comma = candidate.indexOf(',');
    if (comma === -1 || candidate.slice(0, comma) !== 'v1') continue;
    const mac = base64Bytes(candidate.slice(comma + 1));
    if (mac === undefined || mac.byteLength !== 32) continue;
    if (await globalThis.crypto.subtle.verify('HMAC', hmacKey, mac, signed)) {
      verified = true;
      break;
    }
  }
  if (!verified) throw invalid('bad_signature', 'No webhook-signature matches this body and secret.');

  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw invalid('malformed_body', 'The webhook body is not JSON.');
  }
  const event = approvalEventOf(parsed);
  if (event === undefined) throw invalid('unsupported_event', 'The webhook body is not an approval.granted, approval.denied or approval.expired event.');
  return event;
}
