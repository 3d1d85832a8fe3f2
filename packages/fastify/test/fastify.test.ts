// What only the Fastify plugin does: encapsulation (the prefix, the raw-body
// parser and the error mapping stay in tiergate's own context), decorators and
// the mapping of Fastify's own errors to tiergate's envelope. The wire contract
// itself is checked by conformance.test.ts.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { apiKeyAuthenticator, createTiergate, type GuardContext, type Tiergate } from '@tiergate/core';
import { requireCapability, tiergatePlugin } from '@tiergate/fastify';
import { approveOverHttp, createFakeClock } from '@tiergate/testing';

const KEY = 'tgk_fastify_developer';
const auth = { authorization: `Bearer ${KEY}` };
const apps: FastifyInstance[] = [];
afterEach(async () => {
  while (apps.length > 0) await apps.pop()?.close();
});

function makeTiergate(): Tiergate {
  return createTiergate({
    authenticate: apiKeyAuthenticator([{ apiKey: KEY, account: { id: 'acc_dev', tier: 'developer' } }]),
    secret: 'f'.repeat(32),
    publicUrl: 'http://localhost/tiergate',
    clock: createFakeClock(),
    maxBodyBytes: 1024,
  });
}

async function makeApp(prefix?: string, { trustProxy = false }: { trustProxy?: boolean } = {}): Promise<{ app: FastifyInstance; tiergate: Tiergate }> {
  const tiergate = makeTiergate();
  const app = Fastify({ logger: false, trustProxy });
  apps.push(app);
  await app.register(tiergatePlugin, prefix === undefined ? { tiergate } : { tiergate, prefix });
  return { app, tiergate };
}

describe('tiergatePlugin', () => {
  it('keeps its prefix, body parser and error handler to its own routes', async () => {
    const { app } = await makeApp('/tiergate');
    app.post('/host/echo', async (request) => ({ parsed: request.body }));
    app.get('/v1/capabilities', async () => ({ host: true }));

    const echo = await app.inject({ method: 'POST', url: '/host/echo', payload: { a: 1 } });
    expect(echo.json()).toEqual({ parsed: { a: 1 } });
    // Fastify's own errors outside the prefix stay Fastify's.
    const hostBadJson = await app.inject({ method: 'POST', url: '/host/echo', headers: { 'content-type': 'application/json' }, payload: '{' });
    expect(hostBadJson.statusCode).toBe(400);
    expect(hostBadJson.json()).toMatchObject({ code: 'FST_ERR_CTP_INVALID_JSON_BODY' });
    expect((await app.inject({ method: 'GET', url: '/v1/capabilities' })).json()).toEqual({ host: true });
    expect((await app.inject({ method: 'GET', url: '/nowhere' })).json()).toMatchObject({ statusCode: 404 });

    const caps = await app.inject({ method: 'GET', url: '/tiergate/v1/capabilities', headers: auth });
    expect(caps.statusCode).toBe(200);
    expect(caps.json()).toMatchObject({ result: { tier: 'developer' } });
    const bad = await app.inject({ method: 'POST', url: '/tiergate/v1/notify-operator', headers: { ...auth, 'content-type': 'application/json' }, payload: '{' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'INVALID_REQUEST', details: [{ path: '(body)' }] } });
  });

  it("maps Fastify's own body errors to tiergate's envelope", async () => {
    const { app } = await makeApp('/tiergate');
    const tooLarge = await app.inject({ method: 'POST', url: '/tiergate/v1/notify-operator', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ issue: 'x'.repeat(2000) }) });
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(Array.isArray(tooLarge.json().next_steps)).toBe(true);

    const badType = await app.inject({ method: 'POST', url: '/tiergate/v1/notify-operator', headers: { ...auth, 'content-type': '/// nonsense' }, payload: '{}' });
    expect(badType.statusCode).toBe(415);
    expect(badType.json()).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE' } });

    const noType = await app.inject({ method: 'POST', url: '/tiergate/v1/notify-operator', headers: auth, payload: '{"issue":"No content type"}' });
    expect(noType.statusCode).toBe(201);
  });

  it('mounts at the root without a prefix; the host routes still win', async () => {
    const { app } = await makeApp();
    app.post('/v1/messages/send', { preHandler: app.requireCapability('send_messages', { consume: 1 }) }, async (request) => ({ account: request.tiergate?.account.id }));
    expect((await app.inject({ method: 'GET', url: '/v1/capabilities', headers: auth })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/v1/messages/send', headers: auth })).json()).toEqual({ account: 'acc_dev' });
    const unknown = await app.inject({ method: 'GET', url: '/v1/nope' });
    expect(unknown.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('works inside a host plugin with its own prefix', async () => {
    const tiergate = makeTiergate();
    const app = Fastify({ logger: false });
    apps.push(app);
    await app.register(
      async (api) => {
        await api.register(tiergatePlugin, { tiergate, prefix: '/tiergate' });
        api.get('/ping', { preHandler: api.requireCapability('create_inboxes') }, async (request) => ({ account: request.tiergate?.account.id }));
      },
      { prefix: '/api' },
    );
    expect((await app.inject({ method: 'GET', url: '/api/tiergate/v1/account?x=1', headers: auth })).json()).toMatchObject({ result: { id: 'acc_dev' } });
    expect((await app.inject({ method: 'GET', url: '/api/ping', headers: auth })).json()).toEqual({ account: 'acc_dev' });
  });
});

describe('tiergatePlugin: what it reads from Fastify', () => {
  it("records the operator's address by Fastify's own rules (trustProxy and X-Forwarded-For)", async () => {
    const { app, tiergate } = await makeApp('/tiergate', { trustProxy: true });
    const origin = await app.listen({ host: '127.0.0.1', port: 0 });
    const { requestId, decisionStatus } = await approveOverHttp({ origin, mount: '/tiergate', authorization: auth.authorization, headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.2' } });
    expect(decisionStatus).toBe(200);
    const audit = await tiergate.approvals.audit(requestId);
    expect(audit.find((e) => e.event === 'approved')?.ip).toBe('203.0.113.9');
  });
});

describe('requireCapability', () => {
  it('the standalone preHandler and the decorator set a typed request.tiergate; null on routes without a guard', async () => {
    const { app, tiergate } = await makeApp('/tiergate');
    app.post('/send', { preHandler: requireCapability(tiergate, 'send_messages', { consume: 3 }) }, async (request) => {
      expectTypeOf(request.tiergate).toEqualTypeOf<GuardContext | null>();
      return { consumed: request.tiergate?.consumed };
    });
    app.get('/open', async (request) => ({ tiergate: request.tiergate }));
    expect((await app.inject({ method: 'POST', url: '/send', headers: auth })).json()).toEqual({ consumed: 3 });
    expect((await app.inject({ method: 'GET', url: '/open' })).json()).toEqual({ tiergate: null });
    const denied = await app.inject({ method: 'POST', url: '/send', headers: { authorization: 'Bearer nope' } });
    expect(denied.statusCode).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Bearer');
    expect(denied.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
  });
});
