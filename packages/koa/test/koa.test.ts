// What only the Koa middleware does: prefix matching with next() for other
// paths, and bodies a host body parser already read. The wire contract itself
// is checked by conformance.test.ts.
import http from 'node:http';
import Koa from 'koa';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { apiKeyAuthenticator, createTiergate, readBody, type GuardContext, type Tiergate } from '@tiergate/core';
import { requireCapability, tiergateMiddleware } from '@tiergate/koa';
import { approveOverHttp, createFakeClock, listenLocal } from '@tiergate/testing';

const KEY = 'tgk_koa_developer';
const auth = { authorization: `Bearer ${KEY}` };
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

async function serve(build: (app: Koa, tiergate: Tiergate) => void): Promise<string> {
  const tiergate = createTiergate({
    authenticate: apiKeyAuthenticator([{ apiKey: KEY, account: { id: 'acc_dev', tier: 'developer' } }]),
    secret: 'k'.repeat(32),
    publicUrl: 'http://localhost/tiergate',
    clock: createFakeClock(),
  });
  const app = new Koa();
  build(app, tiergate);
  const { origin, close } = await listenLocal(http.createServer(app.callback()));
  closers.push(close);
  return origin;
}

describe('tiergateMiddleware', () => {
  it('answers paths under the prefix and passes every other path to next()', async () => {
    const origin = await serve((app, tiergate) => {
      app.use(tiergateMiddleware(tiergate, { prefix: '/tiergate/' }));
      app.use((ctx) => {
        ctx.body = { host: ctx.path };
      });
    });
    expect((await fetch(`${origin}/tiergate/v1/capabilities`, { headers: auth })).status).toBe(200);
    expect(await (await fetch(`${origin}/v1/capabilities`)).json()).toEqual({ host: '/v1/capabilities' });
    expect(await (await fetch(`${origin}/tiergateway`)).json()).toEqual({ host: '/tiergateway' });
    const unknown = await fetch(`${origin}/tiergate/unknown`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('with prefix "" it serves tiergate at the root, after the host routes', async () => {
    const origin = await serve((app, tiergate) => {
      app.use(async (ctx, next) => {
        if (ctx.path === '/health') ctx.body = { ok: true };
        else await next();
      });
      app.use(tiergateMiddleware(tiergate, { prefix: '' }));
    });
    expect(await (await fetch(`${origin}/health`)).json()).toEqual({ ok: true });
    expect(await (await fetch(`${origin}/v1/account`, { headers: auth })).json()).toMatchObject({ result: { id: 'acc_dev' } });
  });

  it('uses a body a host body parser already read into ctx.request.body', async () => {
    const origin = await serve((app, tiergate) => {
      // What koa-bodyparser does: read the stream, put the parsed JSON on ctx.request.body.
      app.use(async (ctx, next) => {
        if (ctx.is('application/json') === 'application/json') {
          (ctx.request as { body?: unknown }).body = JSON.parse((await readBody(ctx.req, 1 << 20)).toString('utf8'));
        }
        await next();
      });
      app.use(tiergateMiddleware(tiergate, { prefix: '/tiergate' }));
    });
    const reply = await fetch(`${origin}/tiergate/v1/notify-operator`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ issue: 'Parsed upstream', actionLabel: 'Look' }) });
    expect(reply.status).toBe(201);
    expect(await reply.json()).toMatchObject({ result: { operator_action_label: 'Look' } });
  });
});

describe('tiergateMiddleware: what it reads from Koa', () => {
  it("records the operator's address by Koa's own rules (app.proxy and X-Forwarded-For), and reads the link's query", async () => {
    let service: Tiergate | undefined;
    const origin = await serve((app, tiergate) => {
      service = tiergate;
      app.proxy = true;
      app.use(tiergateMiddleware(tiergate, { prefix: '/tiergate' }));
    });
    const { requestId, decisionStatus } = await approveOverHttp({ origin, mount: '/tiergate', authorization: auth.authorization, headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.2' } });
    expect(decisionStatus).toBe(200);
    const audit = await (service as Tiergate).approvals.audit(requestId);
    expect(audit.find((e) => e.event === 'approved')?.ip).toBe('203.0.113.9');
  });
});

describe('requireCapability', () => {
  it('sets a typed ctx.state.tiergate and runs next() only when allowed', async () => {
    const origin = await serve((app, tiergate) => {
      const guard = requireCapability(tiergate, 'send_messages', { consume: 4 });
      app.use((ctx) =>
        guard(ctx, async () => {
          expectTypeOf(ctx.state.tiergate).toEqualTypeOf<GuardContext | undefined>();
          ctx.body = { consumed: ctx.state.tiergate?.consumed };
        }),
      );
    });
    expect(await (await fetch(`${origin}/send`, { method: 'POST', headers: auth })).json()).toEqual({ consumed: 4 });
    const denied = await fetch(`${origin}/send`, { method: 'POST' });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer');
    expect(denied.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await denied.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
  });

  it('leaves a response whose head a host middleware already sent as it is (as ctx.set would), without an error', async () => {
    const errors: unknown[] = [];
    const origin = await serve((app, tiergate) => {
      app.on('error', (err: unknown) => errors.push(err));
      app.use(async (ctx, next) => {
        ctx.status = 202;
        ctx.res.flushHeaders();
        await next();
      });
      app.use(requireCapability(tiergate, 'send_messages'));
    });
    const reply = await fetch(`${origin}/send`, { method: 'POST' });
    expect(reply.status).toBe(202);
    expect(reply.headers.get('www-authenticate')).toBeNull();
    await reply.text();
    expect(errors).toEqual([]);
  });
});
