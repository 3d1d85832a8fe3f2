import { afterEach, describe, expect, it } from 'vitest';
import {
  apiKeyAuthenticator,
  bearerToken,
  createGuard,
  createHandler,
  createTiergate,
  hashApiKey,
  memoryStore,
  MAX_API_KEY_LENGTH,
  type Account,
  type Authenticate,
  type Tiergate,
} from '@tiergate/core';

const free: Account = { id: 'acc_free', tier: 'free' };
const KEY = 'tg_live_4f9a1c2e8b7d6a5f';
const stops: Tiergate[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()?.stop();
});

function service(authenticate: Authenticate, errors: unknown[] = []): Tiergate {
  const tiergate = createTiergate({
    authenticate,
    findAccount: () => free,
    secret: 'x'.repeat(32),
    publicUrl: 'https://api.example.com/tg',
    store: memoryStore(),
    logger: { debug() {}, info() {}, warn() {}, error: (message, fields) => void errors.push({ message, fields }) },
  });
  stops.push(tiergate);
  return tiergate;
}

const capabilitiesOf = (tiergate: Tiergate, authorization?: string) =>
  createHandler(tiergate)({ method: 'GET', path: '/v1/capabilities', headers: authorization === undefined ? {} : { authorization } });

describe('bearerToken', () => {
  it('takes the key of a Bearer header, the scheme in any case', () => {
    expect(bearerToken(`Bearer ${KEY}`)).toBe(KEY);
    expect(bearerToken(`bearer ${KEY}`)).toBe(KEY);
    expect(bearerToken(`BEARER ${KEY}`)).toBe(KEY);
    expect(bearerToken([`Bearer ${KEY}`, 'Bearer other'])).toBe(KEY);
  });

  it('trims whitespace around the key, as before the fast path', () => {
    expect(bearerToken(`Bearer   ${KEY}  `)).toBe(KEY);
    expect(bearerToken(`Bearer \t${KEY}\u00a0`)).toBe(KEY);
  });

  it('refuses other schemes, missing keys, inner whitespace, non-ASCII and over-long keys', () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Bearer    ', `Basic ${KEY}`, `Bearerx ${KEY}`, `Bearer\t${KEY}`, ` Bearer ${KEY}`, `Bearer ${KEY} x`, `Bearer ${KEY}é`, `Bearer ${KEY}\u0000`]) {
      expect(bearerToken(header), JSON.stringify(header)).toBeUndefined();
    }
    expect(bearerToken(`Bearer ${'k'.repeat(MAX_API_KEY_LENGTH)}`)).toBe('k'.repeat(MAX_API_KEY_LENGTH));
    expect(bearerToken(`Bearer ${'k'.repeat(MAX_API_KEY_LENGTH + 1)}`)).toBeUndefined();
    expect(bearerToken(`Bearer  ${'k'.repeat(MAX_API_KEY_LENGTH + 1)}`)).toBeUndefined();
  });
});

describe('apiKeyAuthenticator', () => {
  it('finds an account by its key or by the hex SHA-256 of its key (any case); nothing else', () => {
    const other: Account = { id: 'acc_other', tier: 'developer' };
    const authenticate = apiKeyAuthenticator([
      { apiKey: KEY, account: free },
      { apiKeyHash: hashApiKey('tg_other').toUpperCase(), account: other },
    ]);
    expect(authenticate(KEY)).toBe(free);
    expect(authenticate('tg_other')).toBe(other);
    expect(authenticate(`${KEY}x`)).toBeNull();
    expect(authenticate(hashApiKey(KEY))).toBeNull();
    expect(authenticate.size).toBe(2);
  });

  it('refuses an apiKeyHash that is not the 64 hex digits of a SHA-256 digest, at construction', () => {
    for (const apiKeyHash of ['', 'abc', hashApiKey(KEY).slice(1), `${hashApiKey(KEY)}0`, hashApiKey(KEY).replace(/^./, 'g')]) {
      let code: unknown;
      try {
        apiKeyAuthenticator([{ apiKeyHash, account: free }]);
      } catch (err) {
        code = (err as { code?: unknown }).code;
      }
      expect(code, apiKeyHash).toBe('CONFIG_INVALID');
    }
  });
});

describe('the kernel and the guard with every kind of authenticator', () => {
  const kinds: [string, (key: string) => ReturnType<Authenticate>][] = [
    ['synchronous', (key) => (key === KEY ? free : null)],
    ['asynchronous', async (key) => (key === KEY ? free : null)],
    ['a thenable that is not a Promise', (key) => ({ then: (resolve: (a: Account | null) => void) => resolve(key === KEY ? free : null) }) as unknown as Promise<Account | null>],
  ];
  for (const [kind, authenticate] of kinds) {
    it(`${kind}: 200 for the key, 401 for another or none`, async () => {
      const tiergate = service(authenticate);
      const ok = await capabilitiesOf(tiergate, `Bearer ${KEY}`);
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body).result.tier).toBe('free');
      expect((await capabilitiesOf(tiergate, 'Bearer nope')).status).toBe(401);
      expect((await capabilitiesOf(tiergate)).status).toBe(401);
      const guard = createGuard(tiergate, 'receive_messages');
      expect((await guard({ authorization: `Bearer ${KEY}` })).ok).toBe(true);
      const denied = await guard({ authorization: 'Bearer nope' });
      expect(denied.ok ? 200 : denied.response.status).toBe(401);
    });
  }

  it('an authenticator that throws, or rejects: 500 INTERNAL_ERROR, logged, and the next request is served', async () => {
    for (const authenticate of [
      (): never => {
        throw new Error('user store down');
      },
      async (): Promise<never> => {
        throw new Error('user store down');
      },
    ]) {
      const errors: unknown[] = [];
      let fail = true;
      const tiergate = service((key) => (fail ? authenticate() : key === KEY ? free : null), errors);
      const failed = await capabilitiesOf(tiergate, `Bearer ${KEY}`);
      expect(failed.status).toBe(500);
      expect(JSON.parse(failed.body).error.code).toBe('INTERNAL_ERROR');
      expect(errors).toHaveLength(1);
      const guarded = await createGuard(tiergate, 'receive_messages')({ authorization: `Bearer ${KEY}` });
      expect(guarded.ok ? 200 : guarded.response.status).toBe(500);
      fail = false;
      expect((await capabilitiesOf(tiergate, `Bearer ${KEY}`)).status).toBe(200);
    }
  });

  it('a Tiergate that createTiergate() did not build (a wrapper) is served through its public methods', async () => {
    const tiergate = service((key) => (key === KEY ? free : null));
    const seen: unknown[] = [];
    const wrapped: Tiergate = {
      ...tiergate,
      authenticate: async (authorization) => {
        seen.push(authorization);
        return tiergate.authenticate(authorization);
      },
    };
    expect((await capabilitiesOf(wrapped, `Bearer ${KEY}`)).status).toBe(200);
    expect((await capabilitiesOf(wrapped, 'Bearer nope')).status).toBe(401);
    const guard = createGuard(wrapped, 'receive_messages');
    expect((await guard({ authorization: `Bearer ${KEY}` })).ok).toBe(true);
    expect(seen).toEqual([`Bearer ${KEY}`, 'Bearer nope', `Bearer ${KEY}`]);
    // One whose authenticate() answers a thenable rather than a Promise.
    const thenable: Tiergate = { ...tiergate, authenticate: () => ({ then: (resolve: (a: Account) => void) => resolve(free) }) as unknown as Promise<Account> };
    const answer = await capabilitiesOf(thenable, 'Bearer anything');
    expect(JSON.parse(answer.body).result?.tier).toBe('free');
    expect((await createGuard(thenable, 'receive_messages')({ authorization: 'Bearer anything' })).ok).toBe(true);
  });

  it('routes that answer without waiting still answer with a promise; an unknown route is 404', async () => {
    const handle = createHandler(service(() => free));
    const pending = handle({ method: 'get', path: '/v1/capabilities/', headers: { authorization: `Bearer ${KEY}` } });
    expect(pending).toBeInstanceOf(Promise);
    expect((await pending).status).toBe(200);
    const notFound = handle({ method: 'GET', path: '/v1/nope', headers: {} });
    expect(notFound).toBeInstanceOf(Promise);
    expect((await notFound).status).toBe(404);
    expect((await handle({ method: 'DELETE', path: '/v1/capabilities', headers: {} })).status).toBe(405);
  });
});
