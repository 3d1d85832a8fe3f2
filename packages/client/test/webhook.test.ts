import { Webhook } from 'standardwebhooks';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { generateWebhookSecret, webhookHeaders, type ApprovalEvent as CoreApprovalEvent } from '@tiergate/core';
import { TiergateError, verifyWebhook, type ApprovalEvent, type WebhookFailure } from '@tiergate/client';

// The Standard Webhooks specification's test vector.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const vectorHeaders = { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': VECTOR.signature };
const vectorNow = VECTOR.timestamp * 1000;

const granted = {
  type: 'approval.granted',
  timestamp: '2026-03-10T12:00:00.000Z',
  data: {
    request_id: 'apr_abc',
    status: 'approved',
    action: 'bulk_send',
    context: { recipient_count: 500 },
    approved_by: 'ops@example.com',
    approved_at: '2026-03-10T12:00:00.000Z',
    denial_reason: null,
  },
} as const;

/** The `details.failure` a verification fails with. */
async function failureOf(promise: Promise<unknown>): Promise<WebhookFailure | string> {
  try {
    await promise;
    return 'OK';
  } catch (err) {
    if (err instanceof TiergateError) return err.code === 'WEBHOOK_INVALID' ? (err.details as { failure: WebhookFailure }).failure : err.code;
    throw err;
  }
}

describe('verifyWebhook', () => {
  it('the spec test vector: its signature verifies (the body is then refused as not an approval event)', async () => {
    expect(await failureOf(verifyWebhook(VECTOR.secret, vectorHeaders, VECTOR.body, { now: vectorNow }))).toBe('unsupported_event');
    expect(await failureOf(verifyWebhook(VECTOR.secret, vectorHeaders, `${VECTOR.body} `, { now: vectorNow }))).toBe('bad_signature');
    const wrongSecret = `whsec_${btoa('another secret of 24 byte')}`;
    expect(await failureOf(verifyWebhook(wrongSecret, vectorHeaders, VECTOR.body, { now: vectorNow }))).toBe('bad_signature');
    // One valid signature among several (secret rotation) is enough.
    const several = { ...vectorHeaders, 'webhook-signature': `v1,Zm9v v2,abc ${VECTOR.signature}` };
    expect(await failureOf(verifyWebhook(VECTOR.secret, several, VECTOR.body, { now: vectorNow }))).toBe('unsupported_event');
  });

  it('timestamp tolerance (default 300 s, configurable; now as ms or Date)', async () => {
    expect(await failureOf(verifyWebhook(VECTOR.secret, vectorHeaders, VECTOR.body, { now: vectorNow + 300_000 }))).toBe('unsupported_event');
    expect(await failureOf(verifyWebhook(VECTOR.secret, vectorHeaders, VECTOR.body, { now: vectorNow + 301_000 }))).toBe('timestamp_out_of_tolerance');
    expect(await failureOf(verifyWebhook(VECTOR.secret, vectorHeaders, VECTOR.body, { now: new Date(vectorNow - 301_000) }))).toBe('timestamp_out_of_tolerance');
    expect(await failureOf(verifyWebhook(VECTOR.secret, vectorHeaders, VECTOR.body, { now: vectorNow + 3_600_000, toleranceSeconds: 3600 }))).toBe('unsupported_event');
    expect(await failureOf(verifyWebhook(VECTOR.secret, vectorHeaders, VECTOR.body))).toBe('timestamp_out_of_tolerance');
    expect(await failureOf(verifyWebhook(VECTOR.secret, { ...vectorHeaders, 'webhook-timestamp': '1614265330.5' }, VECTOR.body, { now: vectorNow }))).toBe('timestamp_out_of_tolerance');
  });

  it('missing headers, malformed secret', async () => {
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
      const { [name]: _dropped, ...rest } = vectorHeaders;
      expect(await failureOf(verifyWebhook(VECTOR.secret, rest, VECTOR.body, { now: vectorNow }))).toBe('missing_headers');
    }
    expect(await failureOf(verifyWebhook('whsec_not base64!', vectorHeaders, VECTOR.body, { now: vectorNow }))).toBe('CONFIG_INVALID');
  });

  it('verifies what the standardwebhooks package signs, and agrees with its verifier', async () => {
    const secret = generateWebhookSecret();
    const body = JSON.stringify(granted);
    const now = new Date('2026-03-10T12:00:05.000Z');
    const signature = new Webhook(secret).sign('msg_theirs', now, body);
    const headers = { 'webhook-id': 'msg_theirs', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signature };
    expect(await verifyWebhook(secret, headers, body, { now })).toEqual(granted);
    // A body their verifier rejects, ours rejects too.
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
    expect(await failureOf(verifyWebhook(secret, headers, `${body} `, { now }))).toBe('bad_signature');
  });

  it("verifies core's webhookHeaders signer (what tiergate sends), which standardwebhooks also accepts", async () => {
    const secret = generateWebhookSecret();
    const denied = { ...granted, type: 'approval.denied', data: { ...granted.data, status: 'denied', denial_reason: 'Too many recipients' } };
    const body = JSON.stringify(denied);
    const now = Date.now();
    const headers = webhookHeaders(secret, 'msg_ours', Math.floor(now / 1000), body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(denied);
    const event = await verifyWebhook(secret, headers, body, { now });
    expect(event).toEqual(denied);
    expect(event.type === 'approval.denied' ? event.data.denial_reason : undefined).toBe('Too many recipients');
  });

  it('accepts a Headers object, any header case, array values, and the body as bytes', async () => {
    const secret = generateWebhookSecret();
    const body = JSON.stringify(granted);
    const headers = webhookHeaders(secret, 'msg_1', VECTOR.timestamp, body);
    const opts = { now: vectorNow };
    expect((await verifyWebhook(secret, new Headers(headers), body, opts)).type).toBe('approval.granted');
    const upper = { 'Webhook-Id': headers['webhook-id'], 'WEBHOOK-TIMESTAMP': [headers['webhook-timestamp'] as string], 'webhook-Signature': headers['webhook-signature'] };
    expect((await verifyWebhook(secret, upper, body, opts)).data.request_id).toBe('apr_abc');
    const bytes = new TextEncoder().encode(body);
    expect((await verifyWebhook(secret, headers, bytes, opts)).type).toBe('approval.granted');
    expect((await verifyWebhook(secret, headers, bytes.buffer, opts)).type).toBe('approval.granted');
    expect((await verifyWebhook(secret.slice('whsec_'.length), headers, body, opts)).type).toBe('approval.granted');
  });

  it('a verified body that is not JSON or not an approval event is refused', async () => {
    const secret = generateWebhookSecret();
    const sign = (body: string) => webhookHeaders(secret, 'msg_x', VECTOR.timestamp, body);
    const check = (body: string) => failureOf(verifyWebhook(secret, sign(body), body, { now: vectorNow }));
    expect(await check('not json')).toBe('malformed_body');
    expect(await check(JSON.stringify({ ...granted, type: 'approval.reconsidered' }))).toBe('unsupported_event');
    expect(await check(JSON.stringify({ ...granted, data: { ...granted.data, status: 'denied' } }))).toBe('unsupported_event');
    expect(await check(JSON.stringify({ type: 'approval.expired', timestamp: 'x', data: { status: 'expired', action: 'a' } }))).toBe('unsupported_event');
    expect(await check(JSON.stringify([granted]))).toBe('unsupported_event');
  });

  it('the event union matches the core callback body and narrows on type', () => {
    expectTypeOf<ApprovalEvent>().toExtend<CoreApprovalEvent>();
    expectTypeOf<Extract<ApprovalEvent, { type: 'approval.expired' }>['data']['approved_by']>().toEqualTypeOf<null>();
    expectTypeOf<Extract<ApprovalEvent, { type: 'approval.denied' }>['data']['denial_reason']>().toEqualTypeOf<string | null>();
  });
});
