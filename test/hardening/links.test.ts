// Signed links under attack, through real HTTP on every framework and store:
// bit flips, truncation, switched algorithms (HS384, RS256, none, EdDSA key
// confusion), another purpose's key or typ, a link of one account or request
// used on another, missing or malformed claims, hostile key ids, claims that
// are not JSON or not UTF-8, the exact expiry boundary and key rotation. Every
// case answers a 4xx page with a stable code — never a 500 — and changes
// nothing.
import { createHmac, createSign, generateKeyPairSync, randomBytes, sign as edSign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINK_CLOCK_TOLERANCE_SECONDS, escapeHtml, signLink, type LinkClaimsInput } from '@tiergate/core';
import { createFakeClock } from '@tiergate/testing';
import {
  approvalState,
  expectCleanLogs,
  expectErrorPage,
  expectPageHeaders,
  expectSuccess,
  matrix,
  openStore,
  pageErrorCode,
  postDecision,
  requestApproval,
  startHarness,
  storeKinds,
  type Harness,
  type Reply,
  type StoreHandle,
  type TestAccount,
} from './harness.js';

type Part = Record<string, unknown> | string | Uint8Array;

const encode = (part: Part): string =>
  Buffer.from(part instanceof Uint8Array ? part : typeof part === 'string' ? part : JSON.stringify(part)).toString('base64url');
const decode = (part: string): Record<string, unknown> => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

/** The header and claims of a genuine token. */
function claimsOf(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = token.split('.') as [string, string];
  return { header: decode(header), payload: decode(payload) };
}

const tokenOf = (url: string): string => new URL(url).searchParams.get('token') as string;

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const attackerEd = generateKeyPairSync('ed25519');

/** Signs `header.payload` with one of the service's own HMAC keys (the test knows the secret), or with `hash` other than SHA-256. */
async function hmacSign(h: Harness, header: Part, payload: Part, options: { purpose?: 'operator_action' | 'upgrade' | 'context'; hash?: string } = {}): Promise<string> {
  const purpose = options.purpose ?? 'operator_action';
  const key = purpose === 'context' ? (await h.tiergate.keyring.contextKey())?.secret : (await h.tiergate.keyring.linkSigningKey(purpose)).hmacKey;
  if (key === undefined) throw new Error('no key');
  const input = `${encode(header)}.${encode(payload)}`;
  return `${input}.${createHmac(options.hash ?? 'sha256', key).update(input).digest('base64url')}`;
}

/** Opens an operator page with `token`. */
function openPage(h: Harness, token: string, path = '/operator/action'): Promise<Reply> {
  return h.api('GET', `${path}?token=${encodeURIComponent(token)}`);
}

function flipBit(part: string, byte: number, bit = 0): string {
  const bytes = Buffer.from(part, 'base64url');
  const index = ((byte % bytes.length) + bytes.length) % bytes.length;
  bytes[index] = (bytes[index] as number) ^ (1 << bit);
  return bytes.toString('base64url');
}

describe.each(matrix(storeKinds('links.test.ts')))('links on $framework + $store', ({ framework, store }) => {
  let stores: StoreHandle;
  let h: Harness;
  let account: TestAccount;
  let other: TestAccount;
  /** A notification with context, and its genuine link token. */
  let genuine: { token: string; header: Record<string, unknown>; payload: Record<string, unknown>; notificationId: string };

  beforeAll(async () => {
    stores = await openStore(store);
    h = await startHarness(framework, stores);
    account = h.addAccount({ operatorEmail: 'ops@example.com' });
    other = h.addAccount();
    const created = expectSuccess(await h.api('POST', '/v1/notify-operator', { key: account.key, json: { issue: 'Genuine', context: { marker: 'ctx-genuine' } } }), 201);
    const token = tokenOf(created.operator_action_url);
    genuine = { token, ...claimsOf(token), notificationId: created.notification_id };
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
  });

  it('the forging helper is sound: the genuine claims re-signed with the right key open the page', async () => {
    expect((await openPage(h, genuine.token)).status).toBe(200);
    const resigned = await hmacSign(h, genuine.header, { ...genuine.payload, jti: 'fresh-jti' });
    const page = await openPage(h, resigned);
    expect(page.status).toBe(200);
    expect(page.text).toContain('ctx-genuine');
  });

  it('damaged tokens (bit flips anywhere, truncation, extra parts, re-encoding) are 400 LINK_INVALID', async () => {
    const [header, payload, signature] = genuine.token.split('.') as [string, string, string];
    const damaged = [
      ...[0, 7, 15, 31].map((byte) => `${header}.${payload}.${flipBit(signature, byte)}`),
      ...[0, 5, 40, -1].map((byte) => `${header}.${flipBit(payload, byte, 3)}.${signature}`),
      `${flipBit(header, 2, 1)}.${payload}.${signature}`,
      genuine.token.slice(0, -1),
      genuine.token.slice(0, -10),
      `${header}.${payload}`,
      `${header}.${payload}.`,
      `${header}..${signature}`,
      `.${payload}.${signature}`,
      header,
      genuine.token.slice(0, genuine.token.length / 2),
      `${genuine.token}.${signature}`,
      `${genuine.token} `,
      `${genuine.token}\n`,
      genuine.token.replaceAll('-', '+').replaceAll('_', '/'),
      `${header}.${payload}.${Buffer.from(signature, 'base64url').toString('hex')}`,
      `${header}.${payload}.${'A'.repeat(4096)}`,
      'eyJ',
      '...',
      '\u0000',
    ];
    const accepted: string[] = [];
    for (const [i, token] of damaged.entries()) {
      if (token === genuine.token) continue;
      const reply = await openPage(h, token);
      if (reply.status !== 400 || pageErrorCode(h, reply) !== 'LINK_INVALID') accepted.push(`#${i} ${reply.status} ${JSON.stringify(token.slice(-12))}`);
      expectPageHeaders(reply);
    }
    expect(accepted).toEqual([]);
    // The genuine link still works afterwards.
    expect((await openPage(h, genuine.token)).status).toBe(200);
  });

  it('switched algorithms are refused: HS384, HS512, RS256, none in any case, EdDSA', async () => {
    const { header, payload } = genuine;
    const input = (alg: string) => `${encode({ ...header, alg })}.${encode(payload)}`;
    const rs256 = `${input('RS256')}.${createSign('RSA-SHA256').update(input('RS256')).sign(rsa.privateKey).toString('base64url')}`;
    const eddsa = `${input('EdDSA')}.${edSign(null, Buffer.from(input('EdDSA')), attackerEd.privateKey).toString('base64url')}`;
    const forged = [
      await hmacSign(h, { ...header, alg: 'HS384' }, payload, { hash: 'sha384' }),
      await hmacSign(h, { ...header, alg: 'HS512' }, payload, { hash: 'sha512' }),
      await hmacSign(h, { ...header, alg: 'HS384' }, payload),
      rs256,
      eddsa,
      `${input('none')}.`,
      `${input('None')}.`,
      `${input('NONE')}.`,
      `${input('none')}.${genuine.token.split('.')[2]}`,
      `${encode({ typ: header['typ'], kid: header['kid'] })}.${encode(payload)}.`,
      await hmacSign(h, { ...header, alg: 'hs256' }, payload),
      await hmacSign(h, { ...header, alg: 'HS256', crit: ['exp'] }, payload),
      await hmacSign(h, { ...header, alg: 'HS256', b64: false, crit: ['b64'] }, payload),
      await hmacSign(h, { ...header, alg: 'dir', enc: 'A256GCM' }, payload),
      // Keys named by the token itself are never fetched or used.
      `${encode({ ...header, jku: 'https://evil.example/jwks.json' })}.${encode(payload)}.${createHmac('sha256', 'attacker').update(`${encode({ ...header, jku: 'https://evil.example/jwks.json' })}.${encode(payload)}`).digest('base64url')}`,
      `${encode({ ...header, jwk: { kty: 'oct', k: Buffer.from('attacker').toString('base64url') } })}.${encode(payload)}.${createHmac('sha256', 'attacker').update(`${encode({ ...header, jwk: { kty: 'oct', k: Buffer.from('attacker').toString('base64url') } })}.${encode(payload)}`).digest('base64url')}`,
    ];
    for (const token of forged) expectErrorPage(h, await openPage(h, token), 400, 'LINK_INVALID');
  });

  it("a token signed with another purpose's key, or of another typ, aud or iss, is refused", async () => {
    const { header, payload } = genuine;
    const upgrade = expectSuccess(await h.api('POST', '/v1/upgrade-link', { key: account.key, json: { tier: 'growth' } }), 200);
    const upgradeToken = tokenOf(upgrade.operator_action_url);
    const invalid = [
      await hmacSign(h, header, payload, { purpose: 'upgrade' }),
      await hmacSign(h, header, payload, { purpose: 'context' }),
      await hmacSign(h, { ...header, typ: 'tiergate-upgrade+jwt' }, payload),
      await hmacSign(h, { ...header, typ: 'JWT' }, payload),
      await hmacSign(h, { alg: header['alg'], kid: header['kid'] }, payload),
      await hmacSign(h, header, { ...payload, aud: 'tiergate:upgrade' }),
      await hmacSign(h, header, { ...payload, iss: 'https://evil.example/tiergate' }),
      await hmacSign(h, header, { ...payload, iss: `${h.base}/` }),
    ];
    for (const [i, token] of invalid.entries()) {
      const reply = await openPage(h, token);
      expect({ i, status: reply.status, code: pageErrorCode(h, reply) }).toEqual({ i, status: 400, code: 'LINK_INVALID' });
      expectPageHeaders(reply);
    }
    // Genuine links of the other purpose on the wrong page: authentic, so 403 LINK_SCOPE_MISMATCH.
    expectErrorPage(h, await openPage(h, upgradeToken), 403, 'LINK_SCOPE_MISMATCH');
    expectErrorPage(h, await openPage(h, genuine.token, '/upgrade'), 403, 'LINK_SCOPE_MISMATCH');
    expect((await openPage(h, upgradeToken, '/upgrade')).status).toBe(200);
  });

  it('a link of one account or request used on another is 403 and decides nothing', async () => {
    const x = await requestApproval(h, account.key);
    const y = await requestApproval(h, account.key);
    const z = await requestApproval(h, other.key);
    const before = await Promise.all([x, y, z].map((a) => approvalState(h, a.id)));
    const xClaims = claimsOf(x.form.token);
    const mixed = {
      'another account (sub)': await hmacSign(h, xClaims.header, { ...xClaims.payload, sub: other.account.id, jti: 'm1' }),
      'another request (apr)': await hmacSign(h, xClaims.header, { ...xClaims.payload, apr: y.id, jti: 'm2' }),
      "another account's request": await hmacSign(h, xClaims.header, { ...xClaims.payload, apr: z.id, nid: z.notificationId, jti: 'm3' }),
      'another notification (nid)': await hmacSign(h, xClaims.header, { ...xClaims.payload, nid: y.notificationId, jti: 'm4' }),
      'the approval without its notification': await hmacSign(h, xClaims.header, { ...xClaims.payload, nid: genuine.notificationId, jti: 'm5' }),
    };
    for (const [name, token] of Object.entries(mixed)) {
      const page = await openPage(h, token);
      expect({ name, status: page.status, code: pageErrorCode(h, page) }).toEqual({ name, status: 403, code: 'LINK_SCOPE_MISMATCH' });
      expectPageHeaders(page);
      // The form token is bound to the link id, so a decision needs the form token of this very link: use it.
      const { formToken } = { formToken: h.tiergate.keyring.formToken(claimsOf(token).payload['jti'] as string) };
      for (const decision of ['approve', 'deny']) {
        const reply = await postDecision(h, { action: x.form.action, token, formToken }, decision);
        expect({ name, status: reply.status, code: pageErrorCode(h, reply) }).toEqual({ name, status: 403, code: 'LINK_SCOPE_MISMATCH' });
      }
    }
    // A plain notification link (no approval) cannot decide either.
    const notificationForm = { action: x.form.action, token: genuine.token, formToken: h.tiergate.keyring.formToken(genuine.payload['jti'] as string) };
    expectErrorPage(h, await postDecision(h, notificationForm, 'approve'), 403, 'LINK_SCOPE_MISMATCH');
    expect(await Promise.all([x, y, z].map((a) => approvalState(h, a.id)))).toEqual(before);
  });

  it('missing or malformed claims and hostile key ids are 400 LINK_INVALID, never 500', async () => {
    const { header, payload } = genuine;
    const without = (name: string) => Object.fromEntries(Object.entries(payload).filter(([k]) => k !== name));
    const now = Math.floor(h.clock.now() / 1000);
    const cases: Part[][] = [
      [header, without('exp')],
      [header, without('jti')],
      [header, without('sub')],
      [header, without('iat')],
      [header, without('iss')],
      [header, without('aud')],
      [header, { ...payload, exp: String(payload['exp']) }],
      [header, { ...payload, exp: null }],
      [header, { ...payload, iat: now + 3600 }],
      [header, { ...payload, nbf: now + 3600 }],
      [header, { ...payload, sub: 42 }],
      [header, { ...payload, sub: '' }],
      [header, { ...payload, jti: { id: 1 } }],
      [header, { ...payload, nid: ['not_x'] }],
      [header, { ...payload, nid: 'n'.repeat(300) }],
      [header, { ...payload, apr: '' }],
      [{ ...header, kid: 'unknown-kid' }, payload],
      [{ ...header, kid: '../../../../etc/passwd' }, payload],
      [{ ...header, kid: "' OR '1'='1" }, payload],
      [{ ...header, kid: '__proto__' }, payload],
      [{ ...header, kid: 'constructor' }, payload],
      [{ ...header, kid: 'x'.repeat(2000) }, payload],
      [{ ...header, kid: 7 }, payload],
      [{ ...header, kid: { $ne: null } }, payload],
      [{ ...header, kid: null }, payload],
      [{ alg: header['alg'], typ: header['typ'] }, payload],
      // Not JSON, not UTF-8, not an object.
      [header, '{"sub": "acc", '],
      [header, new Uint8Array([0x7b, 0x22, 0x73, 0x75, 0x62, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xfd, 0x22, 0x7d])],
      [header, new Uint8Array([0xc3, 0x28, 0xa0, 0xa1])],
      [header, '[1, 2, 3]'],
      [header, 'null'],
      [header, '"a string"'],
      [header, ''],
      ['{"alg": "HS256", ', payload],
      [new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]), payload],
      ['[]', payload],
    ];
    const accepted: string[] = [];
    for (const [i, [head, body]] of cases.entries()) {
      const reply = await openPage(h, await hmacSign(h, head as Part, body as Part));
      if (reply.status !== 400 || pageErrorCode(h, reply) !== 'LINK_INVALID') accepted.push(`case #${i}: ${reply.status}`);
      expectPageHeaders(reply);
    }
    expect(accepted).toEqual([]);
    // Claims that decode but name nothing real: a 4xx, never a 500.
    for (const claims of [{ sub: '\ud800' }, { nid: 'not_\u0000' }, { nid: 'not_doesnotexist' }, { sub: other.account.id, nid: 'not_x' }]) {
      const reply = await openPage(h, await hmacSign(h, header, { ...payload, ...claims }));
      expect(reply.status).toBeGreaterThanOrEqual(400);
      expect(reply.status).toBeLessThan(500);
      expectPageHeaders(reply);
    }
    expect(h.logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it(`expiry at the boundary: valid until exp + ${LINK_CLOCK_TOLERANCE_SECONDS} s tolerance, then 410 LINK_EXPIRED (remembered and fresh links alike)`, async () => {
    const clockStart = h.clock.now();
    const make = async () => tokenOf(expectSuccess(await h.api('POST', '/v1/notify-operator', { key: other.key, json: { issue: 'Boundary' } }), 201).operator_action_url);
    const [seen, freshBefore, seenLate, freshAfter] = [await make(), await make(), await make(), await make()];
    const exp = claimsOf(seen).payload['exp'] as number;
    expect(exp * 1000).toBe(Math.floor(clockStart / 1000) * 1000 + 7 * 24 * 3600 * 1000);
    for (const token of [seen, seenLate]) expect((await openPage(h, token)).status).toBe(200);
    const lastValid = (exp + LINK_CLOCK_TOLERANCE_SECONDS) * 1000 - 1;
    h.clock.set(lastValid);
    expect((await openPage(h, seen)).status).toBe(200);
    expect((await openPage(h, freshBefore)).status).toBe(200);
    h.clock.set(lastValid + 1);
    expectErrorPage(h, await openPage(h, seenLate), 410, 'LINK_EXPIRED');
    expectErrorPage(h, await openPage(h, freshAfter), 410, 'LINK_EXPIRED');
    expectErrorPage(h, await openPage(h, seen), 410, 'LINK_EXPIRED');
  });

  it('no token, API key or context reached a log line', () => {
    expectCleanLogs(h, ['ctx-genuine']);
  });
});

describe.each(matrix(storeKinds('links.test.ts (rotation)')))('key rotation on $framework + $store', ({ framework, store }) => {
  const oldSecret = { id: 'k2025', secret: randomBytes(32).toString('base64url') };
  const newSecret = { id: 'k2026', secret: randomBytes(32).toString('base64url') };
  let stores: StoreHandle;
  let before: Harness;
  let rotating: Harness;
  let rotated: Harness;

  beforeAll(async () => {
    stores = await openStore(store);
    const clock = createFakeClock();
    // Three deployments of one service on one store, sharing its public URL: before, during and after the rotation.
    before = await startHarness(framework, stores, { secret: [oldSecret], clock });
    const publicUrl = () => before.base;
    rotating = await startHarness(framework, stores, { secret: [newSecret, oldSecret], clock, publicUrl });
    rotated = await startHarness(framework, stores, { secret: [newSecret], clock, publicUrl });
  });
  afterAll(async () => {
    for (const h of [before, rotating, rotated]) await h?.close();
    await stores?.cleanup();
  });

  /** The same link path on another deployment. */
  const on = (h: Harness, url: string): string => `${h.origin}${new URL(url).pathname}${new URL(url).search}`;

  it('the previous key stays valid while listed (links, forms, contexts); a removed key is refused; nothing breaks with a 500', async () => {
    const account = { tier: 'developer', operatorEmail: 'ops@example.com' } as const;
    const oldAccount = before.addAccount(account);
    const old = expectSuccess(await before.api('POST', '/v1/notify-operator', { key: oldAccount.key, json: { issue: 'Old', context: { marker: 'ctx-old-key' } } }), 201);
    const oldApproval = await requestApproval(before, oldAccount.key);
    const secondOldApproval = await requestApproval(before, oldAccount.key);
    expect(claimsOf(tokenOf(old.operator_action_url)).header['kid']).toBe('k2025');

    // During the rotation: the old link, its context and its form still work; new links use the new key.
    const during = await rotating.fetch('GET', on(rotating, old.operator_action_url));
    expect(during.status).toBe(200);
    expect(during.text).toContain(escapeHtml('"marker": "ctx-old-key"'));
    expect((await postDecision(rotating, oldApproval.form, 'approve')).status).toBe(200);
    const newAccount = rotating.addAccount(account);
    const fresh = expectSuccess(await rotating.api('POST', '/v1/notify-operator', { key: newAccount.key, json: { issue: 'New', context: { marker: 'ctx-new-key' } } }), 201);
    expect(claimsOf(tokenOf(fresh.operator_action_url)).header['kid']).toBe('k2026');

    // After: the old key is gone. Its links are invalid, its forms decide nothing, its contexts are unavailable.
    expectErrorPage(rotated, await rotated.fetch('GET', on(rotated, old.operator_action_url)), 400, 'LINK_INVALID');
    const stateBefore = await approvalState(rotated, secondOldApproval.id);
    expectErrorPage(rotated, await postDecision(rotated, secondOldApproval.form, 'approve'), 400, 'LINK_INVALID');
    expect(await approvalState(rotated, secondOldApproval.id)).toEqual(stateBefore);
    const freshPage = await rotated.fetch('GET', on(rotated, fresh.operator_action_url));
    expect(freshPage.status).toBe(200);
    expect(freshPage.text).toContain('ctx-new-key');
    const claims: LinkClaimsInput = { purpose: 'operator_action', accountId: oldAccount.account.id, notificationId: old.notification_id };
    const relinked = await signLink(claims, 3600, { keyring: rotated.tiergate.keyring, issuer: rotated.tiergate.publicUrl(), now: rotated.clock.now() });
    const unreadable = await rotated.api('GET', `/operator/action?token=${relinked.token}`);
    expect(unreadable.status).toBe(200);
    expectPageHeaders(unreadable);
    expect(unreadable.text).toContain(escapeHtml(rotated.tiergate.messages.page.contextUnavailable));
    expect(unreadable.text).not.toContain('ctx-old-key');
    for (const h of [before, rotating, rotated]) expectCleanLogs(h, ['ctx-old-key', 'ctx-new-key']);
  });
});

describe.each(matrix(['memory']))('EdDSA links on $framework', ({ framework }) => {
  let stores: StoreHandle;
  let h: Harness;
  let genuine: string;

  beforeAll(async () => {
    stores = await openStore('memory');
    h = await startHarness(framework, stores, { linkAlgorithm: 'EdDSA' });
    const account = h.addAccount();
    genuine = tokenOf(expectSuccess(await h.api('POST', '/v1/notify-operator', { key: account.key, json: { issue: 'Ed' } }), 201).operator_action_url);
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
  });

  it('key confusion: HS256 tokens keyed with the published public key, and tokens of an attacker key, are 400', async () => {
    expect((await openPage(h, genuine)).status).toBe(200);
    const { header, payload } = claimsOf(genuine);
    const jwks = await h.tiergate.keyring.publicJwks();
    const jwk = jwks.find((k) => (k as { kid?: string }).kid === `${String(header['kid'])}.operator_action`) as JsonWebKey & { x: string };
    expect(jwk).toBeDefined();
    const publicKeys = [Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.x), Buffer.from(JSON.stringify(jwk))];
    const input = (head: Record<string, unknown>) => `${encode(head)}.${encode(payload)}`;
    const forged = publicKeys.map((key) => {
      const head = { ...header, alg: 'HS256' };
      return `${input(head)}.${createHmac('sha256', key).update(input(head)).digest('base64url')}`;
    });
    const attackerJwk = attackerEd.publicKey.export({ format: 'jwk' });
    for (const head of [header, { ...header, jwk: attackerJwk }, { ...header, kid: `${String(header['kid'])}.operator_action` }]) {
      forged.push(`${input(head)}.${edSign(null, Buffer.from(input(head)), attackerEd.privateKey).toString('base64url')}`);
    }
    forged.push(`${input({ ...header, alg: 'none' })}.`);
    for (const token of forged) expectErrorPage(h, await openPage(h, token), 400, 'LINK_INVALID');
    expectCleanLogs(h);
  });
});
