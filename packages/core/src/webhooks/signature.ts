/**
 * Standard Webhooks (https://www.standardwebhooks.com) signatures:
 * `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`
 * where `key` is the base64 part of the account's `whsec_…` secret.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Header names of the spec. */
export const WEBHOOK_HEADERS = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' } as const;

/** Default tolerance for `webhook-timestamp`, seconds (the spec's recommendation). */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

/** A fresh `whsec_…` secret (24 random bytes). */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

function secretKey(secret: string): Buffer {
  const body = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  return Buffer.from(body, 'base64');
}

/** True for a well-formed `whsec_<base64>` secret of at least 16 bytes. */
export function isWebhookSecret(value: unknown): value is string {
  return typeof value === 'string' && /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(value) && secretKey(value).byteLength >= 16;
}

/** The `v1,<base64>` signature of one message. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three headers of one signed delivery. */
export function webhookHeaders(secret: string, id: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    [WEBHOOK_HEADERS.id]: id,
    [WEBHOOK_HEADERS.timestamp]: String(timestampSeconds),
    [WEBHOOK_HEADERS.signature]: signWebhook(secret, id, timestampSeconds, body),
  };
}

/** Why a webhook failed verification. */
export type WebhookVerifyFailure = 'missing_headers' | 'timestamp_out_of_tolerance' | 'bad_signature';

function header(headers: Record<string, string | string[] | undefined> | Headers, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const value = record[name] ?? record[Object.keys(record).find((k) => k.toLowerCase() === name) ?? ''];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Verifies a delivery against `secret` (server-side helper; agents use
 * `verifyWebhook` from `@tiergate/client`, which runs on any runtime).
 * Accepts any of several space-separated `v1,` signatures, compares in
 * constant time and checks the timestamp against `now` (ms).
 */
export function verifyWebhookSignature(
  secret: string,
  headers: Record<string, string | string[] | undefined> | Headers,
  body: string,
  now: number = Date.now(),
  toleranceSeconds: number = WEBHOOK_TOLERANCE_SECONDS,
): { ok: true } | { ok: false; failure: WebhookVerifyFailure } {
  const id = header(headers, WEBHOOK_HEADERS.id);
  const timestamp = header(headers, WEBHOOK_HEADERS.timestamp);
  const signatures = header(headers, WEBHOOK_HEADERS.signature);
  if (!id || !timestamp || !signatures) return { ok: false, failure: 'missing_headers' };
  const ts = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now / 1000 - ts) > toleranceSeconds) return { ok: false, failure: 'timestamp_out_of_tolerance' };
  const expected = Buffer.from(signWebhook(secret, id, ts, body).slice(3), 'base64');
  for (const candidate of signatures.split(' ')) {
    const [version, mac] = candidate.split(',', 2);
    if (version !== 'v1' || mac === undefined) continue;
    const given = Buffer.from(mac, 'base64');
    if (given.byteLength === expected.byteLength && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, failure: 'bad_signature' };
}
