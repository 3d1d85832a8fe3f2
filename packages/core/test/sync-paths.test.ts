// The kernel's and the guard's answers without a promise (handle.now, guard.now): on the memory store with a
// synchronous authenticator they answer at once; on any other store (here: a copy of the memory store's methods,
// which the service cannot tell from PostgreSQL's) they answer a promise of the same thing.
import { afterEach, describe, expect, it } from 'vitest';
import {
  apiKeyAuthenticator,
  createGuard,
  createHandler,
  createTiergate,
  memoryStore,
  type Account,
  type Authenticate,
  type GuardResult,
  type KernelResponse,
  type Store,
  type Tiergate,
} from '@tiergate/core';

const developer: Account = { id: 'acc_dev', tier: 'developer' };
const free: Account = { id: 'acc_free', tier: 'free' };
const stops: Tiergate[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()?.stop();
});

function service(store: Store, authenticate: Authenticate = apiKeyAuthenticator([{ apiKey: 'key-dev', account: developer }, { apiKey: 'key-free', account: free }])): Tiergate {
  const tiergate = createTiergate({
    authenticate,
    findAccount: (id) => (id === developer.id ? developer : id === free.id ? free : null),
    secret: 'x'.repeat(32),
    publicUrl: 'https://api.example.com/tg',
    store,
    clock: { now: () => Date.parse('2026-01-15T12:00:00.000Z') },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  stops.push(tiergate);
  return tiergate;
}

/** The memory store's methods on another object: not the store `memoryStore()` made, so reached through its promises. */
const throughPromises = (store: Store): Store => ({ ...store });

const capabilities = (key: string) => ({ method: 'GET', path: '/v1/capabilities', headers: { authorization: `Bearer ${key}` } });

function settled<T>(value: T | Promise<T>): { now: boolean; value: Promise<T> } {
  return { now: !(value instanceof Promise), value: Promise.resolve(value) };
}

describe('handle.now()', () => {
  it('answers capabilities at once on the memory store once its links are signed, the same bytes as handle() and as through promises', async () => {
    const handle = createHandler(service(memoryStore()));
    // The first answer signs its links (a promise); later ones are kept.
    const first = settled(handle.now(capabilities('key-free')));
    expect(first.now).toBe(false);
    const signed = await first.value;
    const now = settled(handle.now(capabilities('key-free')));
    expect(now.now).toBe(true);
    const answer = await now.value;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).result.cannot.length).toBeGreaterThan(0);
    expect(signed.body).toBe(answer.body);
    expect((await handle(capabilities('key-free'))).body).toBe(answer.body);

    const other = createHandler(service(throughPromises(memoryStore())));
    await other(capabilities('key-free'));
    const later = settled(other.now(capabilities('key-free')));
    expect(later.now).toBe(false);
    const awaited = await later.value;
    expect(awaited.status).toBe(200);
    // Same answer apart from the signed links (another service, another token id).
    const strip = (body: string) => JSON.stringify(JSON.parse(body), (k, v: unknown) => (typeof v === 'string' && v.includes('token=') ? 'link' : v));
    expect(strip(awaited.body)).toBe(strip(answer.body));
  });

  it('answers 401, 404 and 405 at once; a route that has to read a body answers a promise', async () => {
    const handle = createHandler(service(memoryStore()));
    const cases: [Parameters<typeof handle.now>[0], number][] = [
      [{ method: 'GET', path: '/v1/capabilities', headers: { authorization: 'Bearer nope' } }, 401],
      [{ method: 'GET', path: '/v1/nope', headers: {} }, 404],
      [{ method: 'DELETE', path: '/v1/capabilities', headers: {} }, 405],
    ];
    for (const [request, status] of cases) {
      const response = handle.now(request);
      expect(response, request.path).not.toBeInstanceOf(Promise);
      expect((response as KernelResponse).status).toBe(status);
    }
    const notify = handle.now({ method: 'POST', path: '/v1/notify-operator', headers: { authorization: 'Bearer key-dev', 'content-type': 'application/json' }, body: Buffer.from('{"issue":"stuck"}') });
    expect(notify).toBeInstanceOf(Promise);
    expect((await notify).status).toBe(201);
  });

  it('a store that fails is 503 STORE_UNAVAILABLE through promises; an unexpected exception is a rejected promise, never a throw', async () => {
    const base = memoryStore();
    const failing: Store = { ...base, readAccountState: () => Promise.reject(new Error('connection reset')) };
    const response = createHandler(service(failing)).now(capabilities('key-dev'));
    expect(response).toBeInstanceOf(Promise);
    const answer = await response;
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body).error.code).toBe('STORE_UNAVAILABLE');

    const handle = createHandler(service(memoryStore()));
    let thrown: unknown;
    let result: unknown;
    try {
      result = handle.now({ method: undefined as unknown as string, path: '/v1/capabilities', headers: {} });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeUndefined();
    await expect(result).rejects.toBeInstanceOf(TypeError);
  });
});

describe('guard.now()', () => {
  const send = (tiergate: Tiergate) => createGuard(tiergate, 'send_messages', { consume: 1 });
  const statusOf = (result: GuardResult) => (result.ok ? 200 : result.response.status);

  it('allows at once on the memory store and takes the quota there; through promises, the same outcome', async () => {
    for (const [kind, store, immediate] of [
      ['memory store', memoryStore(), true],
      ['through promises', throughPromises(memoryStore()), false],
    ] as const) {
      const tiergate = service(store);
      const guard = send(tiergate);
      const first = settled(guard.now({ authorization: 'Bearer key-dev' }));
      expect(first.now, kind).toBe(immediate);
      const result = await first.value;
      expect(result.ok && result.context.consumed, kind).toBe(1);
      expect(statusOf(await guard({ authorization: 'Bearer key-dev' }))).toBe(200);
      expect((await tiergate.account(developer)).usage['send_messages']?.day.used, kind).toBe(2);
      // A refund gives the unit back.
      if (result.ok) await result.context.refund();
      expect((await tiergate.account(developer)).usage['send_messages']?.day.used, kind).toBe(1);
    }
  });

  it('never overshoots a limit: 100 a day, 105 calls in one turn → exactly 100 allowed', async () => {
    const tiergate = service(memoryStore());
    const guard = send(tiergate);
    const results = await Promise.all(Array.from({ length: 105 }, () => guard.now({ authorization: 'Bearer key-dev' })));
    expect(results.filter((r) => r.ok)).toHaveLength(100);
    const denied = results.find((r) => !r.ok);
    expect(denied?.ok === false && denied.response.status).toBe(429);
    expect(denied?.ok === false && denied.response.headers['retry-after']).toBe(String(12 * 3600));
  });

  it('answers a denial (its upgrade link), 401 and failures as results, never by throwing', async () => {
    const tiergate = service(memoryStore());
    const denied = send(tiergate).now({ authorization: 'Bearer key-free' });
    expect(statusOf(await denied)).toBe(403);
    const unknown = send(tiergate).now({ authorization: 'Bearer nope' });
    expect(unknown).not.toBeInstanceOf(Promise);
    expect(statusOf(unknown as GuardResult)).toBe(401);

    // A bad consume is a 500 from the guard, and a rejection (not a throw) from the public check().
    const bad = createGuard(tiergate, 'send_messages', { consume: -1 }).now({ authorization: 'Bearer key-dev' });
    expect(statusOf(await bad)).toBe(500);
    const checked = tiergate.check(developer, 'send_messages', { consume: -1 });
    expect(checked).toBeInstanceOf(Promise);
    await expect(checked).rejects.toMatchObject({ code: 'CONFIG_INVALID' });

    // A store whose consume throws synchronously, or rejects: 503.
    for (const consumeQuota of [
      (): never => {
        throw new Error('driver bug');
      },
      () => Promise.reject(new Error('connection reset')),
    ]) {
      const failing = service({ ...memoryStore(), consumeQuota } as Store);
      const result = await send(failing).now({ authorization: 'Bearer key-dev' });
      expect(result.ok ? undefined : JSON.parse(result.response.body).error.code).toBe('STORE_UNAVAILABLE');
    }
  });

  it('an asynchronous authenticator makes it a promise, with the same outcome', async () => {
    const tiergate = service(memoryStore(), async (key) => (key === 'key-dev' ? developer : null));
    const result = send(tiergate).now({ authorization: 'Bearer key-dev' });
    expect(result).toBeInstanceOf(Promise);
    expect(statusOf(await result)).toBe(200);
    expect(statusOf(await send(tiergate).now({ authorization: 'Bearer other' }))).toBe(401);
  });
});

describe('notify-operator on the memory store (its write without a promise)', () => {
  const notify = (key: string) => ({
    method: 'POST',
    path: '/v1/notify-operator',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ issue: 'Please review', context: { n: 1 } }),
  });

  it('stores the record and answers as through promises', async () => {
    const answers: { status: number; body: Record<string, unknown> }[] = [];
    for (const store of [memoryStore(), throughPromises(memoryStore())]) {
      const tiergate = service(store);
      const answer = await createHandler(tiergate)(notify('key-dev'));
      const body = JSON.parse(answer.body) as { result: { notification_id: string; operator_action_url: string } };
      const record = await store.getNotification(body.result.notification_id);
      expect(record).toMatchObject({ id: body.result.notification_id, accountId: developer.id, issue: 'Please review' });
      expect(Object.isFrozen(record)).toBe(true);
      const view = await tiergate.operatorView(new URL(body.result.operator_action_url).searchParams.get('token'), null);
      expect(view).toMatchObject({ kind: 'notification' });
      answers.push({ status: answer.status, body: { ...body.result, operator_action_url: '', agent_script: '', notification_id: '' } });
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]?.status).toBe(201);
  });

  it('a write that throws is 503 STORE_UNAVAILABLE, keeps nothing and gives the rate-limit point back', async () => {
    const { registerSyncStore, syncStoreOf } = await import('../src/ports/sync-store.js');
    const base = memoryStore();
    // Its promise side would succeed (and keep nothing): a 503 shows the synchronous side was the one called.
    const failing: Store = { ...base, createNotification: async () => undefined };
    const sync = syncStoreOf(base);
    if (sync === undefined) throw new Error('the memory store registers its synchronous side');
    registerSyncStore(failing, {
      ...sync,
      createNotification: () => {
        throw new Error('disk full');
      },
    });
    const tiergate = createTiergate({
      authenticate: apiKeyAuthenticator([{ apiKey: 'key-dev', account: developer }]),
      secret: 'x'.repeat(32),
      publicUrl: 'https://api.example.com/tg',
      store: failing,
      notifyRateLimit: { points: 1, durationSeconds: 3600 },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    stops.push(tiergate);
    const handle = createHandler(tiergate);
    for (let i = 0; i < 2; i++) {
      const answer = await handle(notify('key-dev'));
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body).error.code).toBe('STORE_UNAVAILABLE');
    }
    expect(base.size().notifications).toBe(0);
  });
});

describe('a blank body', () => {
  it('is no body at all, whatever whitespace it is made of; anything else is parsed', async () => {
    const handle = createHandler(service(memoryStore()));
    const post = (body: string) => handle({ method: 'POST', path: '/v1/notify-operator', headers: { authorization: 'Bearer key-dev', 'content-type': 'application/json' }, body });
    const noBody = await post('');
    expect(noBody.status).toBe(400);
    for (const blank of [' ', '\n\t \r', '\u00a0\ufeff', '\u2028 \u3000']) expect(await post(blank)).toEqual(noBody);
    // Not blank: not JSON, and said so.
    for (const text of ['x', ' x ', '\u200b']) expect(JSON.parse((await post(text)).body).error.details).toEqual([{ path: '(body)', message: 'body is not valid JSON' }]);
  });
});
