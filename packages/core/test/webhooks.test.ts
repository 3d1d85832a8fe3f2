import http from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkCallbackUrl,
  DEFAULT_RETRY_SCHEDULE_MS,
  generateWebhookSecret,
  isPublicAddress,
  isWebhookSecret,
  nextAttemptAt,
  nodeHttpTransport,
  parseRetryAfter,
  signWebhook,
  verifyWebhookSignature,
  webhookHeaders,
} from '@tiergate/core';
import { listenLocal, type LocalServer } from '@tiergate/testing';

// The Standard Webhooks specification's test vector.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('Standard Webhooks signatures', () => {
  it('matches the spec test vector', () => {
    expect(signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
  });

  it('is accepted by the standardwebhooks package, and we accept its signatures', () => {
    const secret = generateWebhookSecret();
    const body = JSON.stringify({ type: 'approval.granted', data: { request_id: 'apr_1' } });
    const now = Date.now();
    const headers = webhookHeaders(secret, 'msg_1', Math.floor(now / 1000), body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    const theirs = new Webhook(secret).sign('msg_2', new Date(now), body);
    expect(verifyWebhookSignature(secret, { 'webhook-id': 'msg_2', 'webhook-timestamp': String(Math.floor(now / 1000)), 'webhook-signature': theirs }, body, now)).toEqual({ ok: true });
  });

  it('verification: several signatures, tolerance, tampering, missing headers', () => {
    const now = VECTOR.timestamp * 1000;
    const h = { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': `v1,bogus ${VECTOR.signature}` };
    expect(verifyWebhookSignature(VECTOR.secret, h, VECTOR.body, now)).toEqual({ ok: true });
    expect(verifyWebhookSignature(VECTOR.secret, new Headers(h), VECTOR.body, now)).toEqual({ ok: true });
    expect(verifyWebhookSignature(VECTOR.secret, h, `${VECTOR.body} `, now)).toEqual({ ok: false, failure: 'bad_signature' });
    expect(verifyWebhookSignature(VECTOR.secret, h, VECTOR.body, now + 301_000)).toEqual({ ok: false, failure: 'timestamp_out_of_tolerance' });
    expect(verifyWebhookSignature(VECTOR.secret, { ...h, 'webhook-id': undefined }, VECTOR.body, now)).toEqual({ ok: false, failure: 'missing_headers' });
    expect(verifyWebhookSignature('whsec_' + Buffer.alloc(24).toString('base64'), h, VECTOR.body, now)).toEqual({ ok: false, failure: 'bad_signature' });
  });

  it('secrets', () => {
    expect(isWebhookSecret(generateWebhookSecret())).toBe(true);
    expect(isWebhookSecret(VECTOR.secret)).toBe(true);
    for (const bad of ['', 'whsec_', 'whsec_!!', 'sk_live_x', 'whsec_YQ==', 42]) expect(isWebhookSecret(bad)).toBe(false);
  });
});

describe('retry schedule', () => {
  it('is 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then dead', () => {
    expect(DEFAULT_RETRY_SCHEDULE_MS).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    expect(nextAttemptAt(0, 1)).toBe(5_000);
    expect(nextAttemptAt(0, 7)).toBe(36_000_000);
    expect(nextAttemptAt(0, 8)).toBeUndefined();
  });
  it('honours Retry-After when it asks for longer, capped at 24 h', () => {
    expect(nextAttemptAt(0, 1, DEFAULT_RETRY_SCHEDULE_MS, 60_000)).toBe(60_000);
    expect(nextAttemptAt(0, 2, DEFAULT_RETRY_SCHEDULE_MS, 60_000)).toBe(300_000);
    expect(nextAttemptAt(0, 1, DEFAULT_RETRY_SCHEDULE_MS, 10 * 86_400_000)).toBe(86_400_000);
  });
  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('120', 0)).toBe(120_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:00 GMT'))).toBe(60_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });
});

describe('callback address rules', () => {
  it.each([
    'http://127.0.0.1/x',
    'http://localhost/x',
    'http://api.localhost/x',
    'http://10.0.0.1/',
    'http://172.16.5.4/',
    'http://192.168.1.1/',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://[fd00:ec2::254]/',
    'http://[fe80::1]/',
    'http://0.0.0.0/',
    'http://2130706433/',
    'http://0177.0.0.1/',
    'http://0x7f.0.0.1/',
    'http://0x7f000001/',
    'http://100.64.0.1/',
    'http://224.0.0.1/',
    'http://service.internal/',
    'http://printer.local/',
  ])('refuses non-public target %s', (url) => {
    expect(checkCallbackUrl(url, false)).toMatchObject({ ok: false });
  });

  it.each([
    ['ftp://example.com/x', 'scheme'],
    ['file:///etc/passwd', 'scheme'],
    ['javascript:alert(1)', 'scheme'],
    ['https://user:pass@example.com/', 'credentials'],
    ['https://user@example.com/', 'credentials'],
    ['not a url', 'malformed'],
  ])('refuses %s (%s)', (url, problem) => {
    expect(checkCallbackUrl(url, false)).toEqual({ ok: false, problem });
  });

  it('allows public http(s) targets, and private ones only when the host opts in', () => {
    expect(checkCallbackUrl('https://my-agent.com/webhook/approval', false).ok).toBe(true);
    expect(checkCallbackUrl('http://8.8.8.8/hook', false).ok).toBe(true);
    expect(checkCallbackUrl('http://127.0.0.1:8080/hook', true).ok).toBe(true);
    expect(checkCallbackUrl('https://user:pw@127.0.0.1/', true)).toEqual({ ok: false, problem: 'credentials' });
  });

  it('classifies addresses', () => {
    expect(isPublicAddress('93.184.216.34')).toBe(true);
    expect(isPublicAddress('2606:4700::1111')).toBe(true);
    expect(isPublicAddress('::ffff:10.0.0.1')).toBe(false);
    expect(isPublicAddress('not-an-ip')).toBe(false);
  });
});

describe('nodeHttpTransport (real receiver on 127.0.0.1)', () => {
  let local: LocalServer;
  let base: string;
  const seen: { url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', headers: req.headers, body });
        if (req.url === '/ok') res.writeHead(204).end();
        else if (req.url === '/redirect') res.writeHead(302, { location: '/ok' }).end();
        else if (req.url === '/busy') res.writeHead(429, { 'retry-after': '30' }).end();
        else if (req.url === '/hang') return; // never answers
        else res.writeHead(500).end('boom');
      });
    });
    local = await listenLocal(server);
    base = local.origin;
  });
  afterAll(() => local.close());

  const send = (transport: ReturnType<typeof nodeHttpTransport>, path: string, timeoutMs = 2000) =>
    transport({ url: `${base}${path}`, headers: { 'webhook-id': 'msg_1' }, body: '{"a":1}', timeoutMs });

  it('posts the body and headers', async () => {
    const transport = nodeHttpTransport({ allowPrivate: true });
    expect(await send(transport, '/ok')).toEqual({ status: 204 });
    const last = seen.at(-1);
    expect(last?.body).toBe('{"a":1}');
    expect(last?.headers['webhook-id']).toBe('msg_1');
    expect(last?.headers['content-type']).toBe('application/json');
  });

  it('does not follow redirects and reports Retry-After', async () => {
    const transport = nodeHttpTransport({ allowPrivate: true });
    const before = seen.length;
    expect(await send(transport, '/redirect')).toEqual({ status: 302 });
    expect(seen.length).toBe(before + 1);
    expect(await send(transport, '/busy')).toEqual({ status: 429, retryAfter: '30' });
    expect((await send(transport, '/fail')).status).toBe(500);
  });

  it('times out a hanging receiver', async () => {
    const result = await send(nodeHttpTransport({ allowPrivate: true }), '/hang', 200);
    expect(result.status).toBe(0);
    expect(result.error).toMatch(/timeout/);
  });

  it('refuses loopback without the opt-in, before sending anything', async () => {
    const before = seen.length;
    expect(await send(nodeHttpTransport(), '/ok')).toMatchObject({ status: 0, forbidden: true });
    expect(seen.length).toBe(before);
  });

  it('re-checks the resolved address at connect time (DNS rebinding)', async () => {
    const port = local.port;
    let lookups = 0;
    // Public when the URL was accepted, loopback when the connection is made.
    const transport = nodeHttpTransport({
      resolve: async () => {
        lookups += 1;
        return [{ address: '127.0.0.1', family: 4 }];
      },
    });
    expect(checkCallbackUrl(`http://rebind.example.com:${port}/ok`, false).ok).toBe(true);
    const before = seen.length;
    const result = await transport({ url: `http://rebind.example.com:${port}/ok`, headers: {}, body: '{}', timeoutMs: 2000 });
    expect(result).toMatchObject({ status: 0, forbidden: true });
    expect(lookups).toBeGreaterThan(0);
    expect(seen.length).toBe(before);
  });

  it('connects to a name that resolves to an allowed address', async () => {
    const port = local.port;
    const transport = nodeHttpTransport({ allowPrivate: true, resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
    expect(await transport({ url: `http://agent.example.com:${port}/ok`, headers: {}, body: '{}', timeoutMs: 2000 })).toEqual({ status: 204 });
  });
});
