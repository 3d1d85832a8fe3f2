// API keys through real HTTP on every framework: a missing, empty, wrong-scheme,
// very short, very long, malformed or unknown key gets the very same 401 on
// every authenticated route, in comparable time (a behaviour check on medians
// of interleaved requests, not a speed target), and a host can keep only
// SHA-256 hashes of its keys.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyAuthenticator, hashApiKey } from '@tiergate/core';
import { FRAMEWORKS, expectCleanLogs, expectError, expectSuccess, openStore, startHarness, type Harness, type StoreHandle, type TestAccount } from './harness.js';

/** The Authorization header of each kind of bad key (`undefined`: no header). */
function badKeys(valid: string): Record<string, string | undefined> {
  return {
    missing: undefined,
    empty: '',
    'scheme only': 'Bearer',
    'scheme and space': 'Bearer ',
    'wrong scheme': 'Basic dXNlcjpwYXNzd29yZA==',
    'token scheme': `Token ${valid}`,
    'key without scheme': valid,
    'very short': 'Bearer x',
    'very long': `Bearer ${'k'.repeat(8_000)}`,
    'just over the limit': `Bearer ${'k'.repeat(513)}`,
    'unknown, well-formed': `Bearer tgk_${randomBytes(18).toString('base64url')}`,
    'one character off': `Bearer ${valid.slice(0, -1)}${valid.endsWith('A') ? 'B' : 'A'}`,
    'valid key plus suffix': `Bearer ${valid}x`,
    'valid key, two spaces': `Bearer  ${valid}x`,
    'two keys': `Bearer ${valid} ${valid}`,
    'latin-1 key': 'Bearer caf\u00e9',
    'hash of the key': `Bearer ${hashApiKey(valid)}`,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

describe.each(FRAMEWORKS.map((framework) => ({ framework })))('API keys on $framework', ({ framework }) => {
  let stores: StoreHandle;
  let h: Harness;
  let account: TestAccount;

  beforeAll(async () => {
    stores = await openStore('memory');
    h = await startHarness(framework, stores);
    account = h.addAccount();
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
  });

  const call = (method: string, url: string, authorization: string | undefined) =>
    h.fetch(method, url, { headers: authorization === undefined ? {} : { authorization }, ...(method === 'POST' ? { json: { issue: 'x' } } : {}) });

  it('every bad key gets the same 401 (body, WWW-Authenticate) on every authenticated route, and changes nothing', async () => {
    expectSuccess(await h.api('GET', '/v1/capabilities', { key: account.key }), 200);
    const routes: [string, string][] = [
      ['GET', `${h.base}/v1/capabilities`],
      ['GET', `${h.base}/v1/account`],
      ['POST', `${h.base}/v1/notify-operator`],
      ['POST', `${h.base}/v1/upgrade-link`],
      ['GET', `${h.base}/v1/approvals/apr_doesnotexist`],
      ['POST', '/host/send'],
    ];
    const before = await stores.counts();
    const bodies = new Set<string>();
    for (const [method, url] of routes) {
      for (const [kind, authorization] of Object.entries(badKeys(account.key))) {
        const reply = await call(method, url, authorization);
        expect({ kind, url, status: reply.status }).toEqual({ kind, url, status: 401 });
        expectError(reply, 401, 'UNAUTHORIZED');
        expect(reply.headers.get('www-authenticate')).toBe('Bearer');
        bodies.add(reply.text);
      }
    }
    expect(bodies.size).toBe(1);
    expect(await stores.counts()).toEqual(before);
    // Nothing was counted against the account either.
    expect(expectSuccess(await h.api('GET', '/v1/account', { key: account.key }), 200).usage.send_messages.day.used).toBe(0);
  });

  it('bad keys of every kind take comparable time (interleaved medians within 3×)', { timeout: 30_000 }, async () => {
    const kinds = Object.entries(badKeys(account.key));
    const measure = async (): Promise<Record<string, number>> => {
      const samples = new Map<string, number[]>(kinds.map(([kind]) => [kind, []]));
      for (let round = 0; round < 40; round += 1) {
        // A fresh order each round, so drift on a loaded machine spreads over every kind.
        const order = [...kinds].sort(() => Math.random() - 0.5);
        for (const [kind, authorization] of order) {
          const started = process.hrtime.bigint();
          const reply = await call('GET', `${h.base}/v1/account`, authorization);
          const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
          expect(reply.status).toBe(401);
          if (round >= 5) samples.get(kind)?.push(elapsed); // the first rounds warm up
        }
      }
      return Object.fromEntries([...samples].map(([kind, values]) => [kind, median(values)]));
    };
    const spread = (medians: Record<string, number>) => Math.max(...Object.values(medians)) / Math.min(...Object.values(medians));
    let medians = await measure();
    if (spread(medians) > 3) medians = await measure(); // once more before failing: the box is shared
    expect(spread(medians), JSON.stringify(medians)).toBeLessThanOrEqual(3);
  });

  it('a host can keep only SHA-256 hashes of its keys', async () => {
    const key = `tgk_${randomBytes(18).toString('base64url')}`;
    const authenticate = apiKeyAuthenticator([{ apiKeyHash: hashApiKey(key), account: { id: 'acc_hashed', tier: 'growth' } }]);
    expect(authenticate.size).toBe(1);
    expect(await authenticate(key)).toMatchObject({ id: 'acc_hashed' });
    expect(await authenticate(hashApiKey(key))).toBeNull();
    expect(await authenticate(`${key} `)).toBeNull();
    // The harness itself registers every account by hash only, and the keys work over HTTP.
    expectSuccess(await h.api('GET', '/v1/account', { key: account.key }), 200);
    expectCleanLogs(h);
  });
});
