// What only the Express adapter does: bodies a host parser already read, mounting
// (root, nested routers), the `req.tiergate` type. The wire contract itself is
// checked by conformance.test.ts.
import http from 'node:http';
import express from 'express';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { apiKeyAuthenticator, createTiergate, type GuardContext, type Tiergate } from '@tiergate/core';
import { requireCapability, tiergateRouter } from '@tiergate/express';
import { approveOverHttp, createFakeClock, listenLocal } from '@tiergate/testing';

const KEY = 'tgk_express_developer';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

/** Starts `app` on 127.0.0.1:0 with a tiergate whose public URL is `origin + mount`. */
async function serve(build: (tiergate: Tiergate) => express.Express, mount: string) {
  let publicUrl = 'http://127.0.0.1';
  const tiergate = createTiergate({
    authenticate: apiKeyAuthenticator([{ apiKey: KEY, account: { id: 'acc_dev', tier: 'developer' } }]),
    secret: 'e'.repeat(32),
    publicUrl: () => publicUrl,
    clock: createFakeClock(),
  });
  const { origin, close } = await listenLocal(http.createServer(build(tiergate)));
  publicUrl = `${origin}${mount}`;
  closers.push(async () => {
    await close();
    await tiergate.stop();
  });
  return { origin, base: publicUrl };
}

const auth = { authorization: `Bearer ${KEY}` };

describe('tiergateRouter', () => {
  it('uses bodies a host parser already read (express.json / express.urlencoded), and still answers 415 for types it skipped', async () => {
    const { base } = await serve((tiergate) => {
      const app = express();
      app.use(express.json(), express.urlencoded({ extended: false }));
      app.use('/tiergate', tiergateRouter(tiergate));
      return app;
    }, '/tiergate');

    const notified = await fetch(`${base}/v1/notify-operator`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'approval_request', action: 'bulk_send', reason: 'Big send', actionLabel: 'Approve it' }),
    });
    expect(notified.status).toBe(201);
    const result = ((await notified.json()) as { result: { request_id: string; operator_action_url: string; operator_action_label: string } }).result;
    expect(result.operator_action_label).toBe('Approve it');

    const page = await (await fetch(result.operator_action_url)).text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(page)?.[1] ?? '';
    const decided = await fetch(`${base}/operator/action`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: field('token'), form_token: field('form_token'), decision: 'approve' }),
    });
    expect(decided.status).toBe(200);
    const status = await (await fetch(`${base}/v1/approvals/${result.request_id}`, { headers: auth })).json();
    expect(status).toMatchObject({ result: { status: 'approved' } });

    const text = await fetch(`${base}/v1/notify-operator`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'issue' });
    expect(text.status).toBe(415);
    expect(await text.json()).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
  });

  it('works mounted at the root after the host routes, and inside a nested router', async () => {
    const root = await serve((tiergate) => {
      const app = express();
      app.get('/health', (_req, res) => {
        res.json({ ok: true });
      });
      app.use(tiergateRouter(tiergate));
      return app;
    }, '');
    expect(await (await fetch(`${root.origin}/health`)).json()).toEqual({ ok: true });
    expect((await fetch(`${root.origin}/v1/capabilities`, { headers: auth })).status).toBe(200);
    // The router owns its mount point: unknown paths get tiergate's 404 envelope.
    const unknown = await fetch(`${root.origin}/nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });

    const nested = await serve((tiergate) => {
      const app = express();
      const api = express.Router();
      api.use('/tiergate', tiergateRouter(tiergate));
      app.use('/api', api);
      return app;
    }, '/api/tiergate');
    const caps = await fetch(`${nested.base}/v1/capabilities?ignored=1`, { headers: auth });
    expect(caps.status).toBe(200);
    const notified = await fetch(`${nested.base}/v1/notify-operator`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"type":"approval_request","action":"bulk_send","reason":"Nested"}' });
    const url = ((await notified.json()) as { result: { operator_action_url: string } }).result.operator_action_url;
    expect(url.startsWith(`${nested.base}/operator/action?token=`)).toBe(true);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('action="/api/tiergate/operator/action"');
  });
});

describe('tiergateRouter: what it reads from Express', () => {
  it("records the operator's address by Express's own rules ('trust proxy' and X-Forwarded-For)", async () => {
    let service: Tiergate | undefined;
    const { origin } = await serve((tiergate) => {
      service = tiergate;
      const app = express();
      app.set('trust proxy', true);
      app.use('/tiergate', tiergateRouter(tiergate));
      return app;
    }, '/tiergate');
    const { requestId, decisionStatus } = await approveOverHttp({ origin, mount: '/tiergate', authorization: auth.authorization, headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.2' } });
    expect(decisionStatus).toBe(200);
    const audit = await (service as Tiergate).approvals.audit(requestId);
    expect(audit.find((e) => e.event === 'approved')?.ip).toBe('203.0.113.9');
  });
});

describe('requireCapability', () => {
  it('sets a typed req.tiergate for the next handler and writes tiergate responses on deny', async () => {
    const { origin } = await serve((tiergate) => {
      const app = express();
      app.post('/send', requireCapability(tiergate, 'send_messages', { consume: 2 }), (req, res) => {
        expectTypeOf(req.tiergate).toEqualTypeOf<GuardContext | undefined>();
        res.json({ consumed: req.tiergate?.consumed, action: req.tiergate?.decision.action });
      });
      app.post('/smtp', requireCapability(tiergate, 'use_smtp'), (_req, res) => {
        res.json({ ok: true });
      });
      return app;
    }, '/tiergate');
    expect(await (await fetch(`${origin}/send`, { method: 'POST', headers: auth })).json()).toEqual({ consumed: 2, action: 'send_messages' });
    expect(await (await fetch(`${origin}/smtp`, { method: 'POST', headers: auth })).json()).toEqual({ ok: true });
    const denied = await fetch(`${origin}/send`, { method: 'POST' });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer');
  });
});
