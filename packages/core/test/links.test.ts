import { generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createKeyring, isTiergateError, LINK_CLOCK_TOLERANCE_SECONDS, signLink, verifyLink, type Keyring } from '@tiergate/core';
// Internal (not exported): the synchronous form the service signs with.
import { signLinkNow } from '../src/tokens/links.js';

const SECRET_A = 'a'.repeat(32);
const SECRET_B = 'b'.repeat(40);
const ISSUER = 'https://api.example.com';
const NOW = Date.parse('2026-03-10T15:30:00.000Z');
const keyring = createKeyring({ secrets: [SECRET_A] });
const opts = (now = NOW, ring: Keyring = keyring) => ({ keyring: ring, issuer: ISSUER, now });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (isTiergateError(err)) return err.code;
    throw err;
  }
  return 'OK';
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

async function hmacSign(ring: Keyring, purpose: 'operator_action' | 'upgrade', signingInput: string): Promise<string> {
  const key = await ring.linkSigningKey(purpose);
  const mac = await crypto.subtle.sign('HMAC', key.signKey, new TextEncoder().encode(signingInput));
  return Buffer.from(mac).toString('base64url');
}

/** A token signed with the real operator key but arbitrary header/payload bytes. */
async function forge(header: Record<string, unknown>, payload: string | Record<string, unknown>, purpose: 'operator_action' | 'upgrade' = 'operator_action'): Promise<string> {
  const input = `${b64(header)}.${typeof payload === 'string' ? Buffer.from(payload, 'latin1').toString('base64url') : b64(payload)}`;
  return `${input}.${await hmacSign(keyring, purpose, input)}`;
}

const validClaims = () => ({
  iss: ISSUER,
  aud: 'tiergate:operator_action',
  sub: 'acc_1',
  jti: 'j1',
  iat: Math.floor(NOW / 1000),
  exp: Math.floor(NOW / 1000) + 3600,
});
const operatorHeader = () => ({ alg: 'HS256', typ: 'tiergate-operator+jwt', kid: keyring.currentKid });

describe('signLink / verifyLink', () => {
  it('round-trips the claims of an operator link', async () => {
    const { token, expiresAt, linkId } = await signLink({ purpose: 'operator_action', accountId: 'acc_1', notificationId: 'not_1', approvalId: 'apr_1' }, 3600, opts());
    expect(expiresAt).toBe(Math.floor(NOW / 1000) * 1000 + 3_600_000);
    const claims = await verifyLink(token, 'operator_action', opts(NOW + 1000));
    expect(claims).toEqual({ purpose: 'operator_action', accountId: 'acc_1', linkId, issuedAt: Math.floor(NOW / 1000), expiresAt: expiresAt / 1000, notificationId: 'not_1', approvalId: 'apr_1' });
  });

  it('round-trips an upgrade link with its target tier', async () => {
    const { token } = await signLink({ purpose: 'upgrade', accountId: 'acc_1', targetTier: 'developer' }, 600, opts());
    expect((await verifyLink(token, 'upgrade', opts())).targetTier).toBe('developer');
  });

  it('refuses a link of another purpose as LINK_SCOPE_MISMATCH', async () => {
    const { token } = await signLink({ purpose: 'upgrade', accountId: 'acc_1', targetTier: 'developer' }, 600, opts());
    expect(await codeOf(verifyLink(token, 'operator_action', opts()))).toBe('LINK_SCOPE_MISMATCH');
  });

  describe('tampering', () => {
    it('every single-bit flip in the signature, header or payload is LINK_INVALID', async () => {
      const { token } = await signLink({ purpose: 'operator_action', accountId: 'acc_1', notificationId: 'not_1' }, 600, opts());
      const positions = [0, 5, 20, token.indexOf('.') + 3, token.lastIndexOf('.') - 2, token.lastIndexOf('.') + 1, token.length - 2];
      for (const i of positions) {
        const c = token[i] as string;
        const flipped = token.slice(0, i) + (c === 'A' ? 'B' : 'A') + token.slice(i + 1);
        expect(await codeOf(verifyLink(flipped, 'operator_action', opts()))).toBe('LINK_INVALID');
      }
    });
    it('once the genuine token is remembered, its signature on other bytes is still LINK_INVALID', async () => {
      const { token } = await signLink({ purpose: 'operator_action', accountId: 'acc_1', notificationId: 'not_1' }, 600, opts());
      expect((await verifyLink(token, 'operator_action', opts())).notificationId).toBe('not_1');
      const signature = token.slice(token.lastIndexOf('.') + 1);
      const [header] = token.split('.') as [string];
      const otherPayload = `${header}.${b64({ ...validClaims(), nid: 'not_2' })}.${signature}`;
      const flipped = `${token[0] === 'A' ? 'B' : 'A'}${token.slice(1)}`;
      for (const forged of [otherPayload, flipped, `${token.slice(0, token.lastIndexOf('.'))}x.${signature}`]) {
        expect(await codeOf(verifyLink(forged, 'operator_action', opts()))).toBe('LINK_INVALID');
      }
      expect((await verifyLink(token, 'operator_action', opts())).notificationId).toBe('not_1');
    });
    it('truncation and garbage are LINK_INVALID', async () => {
      const { token } = await signLink({ purpose: 'operator_action', accountId: 'acc_1' }, 600, opts());
      for (const bad of [token.slice(0, -5), token.slice(0, token.lastIndexOf('.')), 'abc', '', 'a.b.c', '...', '\u0000', 'x'.repeat(5000), undefined, 42, null, {}]) {
        expect(await codeOf(verifyLink(bad, 'operator_action', opts()))).toBe('LINK_INVALID');
      }
    });
  });

  describe('pinned algorithms', () => {
    it('refuses alg none', async () => {
      const token = `${b64({ alg: 'none', typ: 'tiergate-operator+jwt', kid: keyring.currentKid })}.${b64(validClaims())}.`;
      expect(await codeOf(verifyLink(token, 'operator_action', opts()))).toBe('LINK_INVALID');
    });
    it('refuses HS384 and RS256 even when validly signed', async () => {
      const hs384 = await new SignJWT(validClaims()).setProtectedHeader({ alg: 'HS384', typ: 'tiergate-operator+jwt', kid: keyring.currentKid }).sign(new TextEncoder().encode('x'.repeat(48)));
      const { privateKey } = await generateKeyPair('RS256');
      const rs256 = await new SignJWT(validClaims()).setProtectedHeader({ alg: 'RS256', typ: 'tiergate-operator+jwt', kid: keyring.currentKid }).sign(privateKey);
      expect(await codeOf(verifyLink(hs384, 'operator_action', opts()))).toBe('LINK_INVALID');
      expect(await codeOf(verifyLink(rs256, 'operator_action', opts()))).toBe('LINK_INVALID');
    });
    it('refuses a token signed with another purpose\u2019s key', async () => {
      const input = `${b64(operatorHeader())}.${b64(validClaims())}`;
      const token = `${input}.${await hmacSign(keyring, 'upgrade', input)}`;
      expect(await codeOf(verifyLink(token, 'operator_action', opts()))).toBe('LINK_INVALID');
    });
    it('refuses another typ, an unknown kid and a hostile kid', async () => {
      expect(await codeOf(verifyLink(await forge({ ...operatorHeader(), typ: 'JWT' }, validClaims()), 'operator_action', opts()))).toBe('LINK_INVALID');
      expect(await codeOf(verifyLink(await forge({ ...operatorHeader(), kid: 'nope' }, validClaims()), 'operator_action', opts()))).toBe('LINK_INVALID');
      expect(await codeOf(verifyLink(await forge({ ...operatorHeader(), kid: '__proto__' }, validClaims()), 'operator_action', opts()))).toBe('LINK_INVALID');
      expect(await codeOf(verifyLink(await forge({ ...operatorHeader(), kid: { $ne: 1 } }, validClaims()), 'operator_action', opts()))).toBe('LINK_INVALID');
    });
  });

  describe('required claims', () => {
    it.each(['exp', 'iat', 'jti', 'sub'] as const)('refuses a link without %s', async (claim) => {
      const claims: Record<string, unknown> = validClaims();
      delete claims[claim];
      expect(await codeOf(verifyLink(await forge(operatorHeader(), claims), 'operator_action', opts()))).toBe('LINK_INVALID');
    });
    it('refuses another issuer or audience', async () => {
      expect(await codeOf(verifyLink(await forge(operatorHeader(), { ...validClaims(), iss: 'https://evil.example' }), 'operator_action', opts()))).toBe('LINK_INVALID');
      expect(await codeOf(verifyLink(await forge(operatorHeader(), { ...validClaims(), aud: 'tiergate:upgrade' }), 'operator_action', opts()))).toBe('LINK_INVALID');
    });
    it('refuses an iat in the future', async () => {
      expect(await codeOf(verifyLink(await forge(operatorHeader(), { ...validClaims(), iat: Math.floor(NOW / 1000) + 3600 }), 'operator_action', opts()))).toBe('LINK_INVALID');
    });
    it('claims that are not JSON or not UTF-8 are LINK_INVALID, never a crash', async () => {
      expect(await codeOf(verifyLink(await forge(operatorHeader(), '{not json'), 'operator_action', opts()))).toBe('LINK_INVALID');
      expect(await codeOf(verifyLink(await forge(operatorHeader(), '\xff\xfe\xfd'), 'operator_action', opts()))).toBe('LINK_INVALID');
      expect(await codeOf(verifyLink(await forge(operatorHeader(), '[1,2]'), 'operator_action', opts()))).toBe('LINK_INVALID');
      expect(await codeOf(verifyLink(await forge(operatorHeader(), { ...validClaims(), nid: 42 }), 'operator_action', opts()))).toBe('LINK_INVALID');
    });
  });

  describe('expiry (injected clock)', () => {
    it('is valid up to exp plus the tolerance and LINK_EXPIRED from there', async () => {
      const { token, expiresAt } = await signLink({ purpose: 'operator_action', accountId: 'acc_1' }, 60, opts());
      const edge = expiresAt + LINK_CLOCK_TOLERANCE_SECONDS * 1000;
      expect(await codeOf(verifyLink(token, 'operator_action', opts(edge - 1)))).toBe('OK');
      expect(await codeOf(verifyLink(token, 'operator_action', opts(edge)))).toBe('LINK_EXPIRED');
      expect(await codeOf(verifyLink(token, 'operator_action', opts(expiresAt + 7 * 86_400_000)))).toBe('LINK_EXPIRED');
    });
    it('a forged token past exp is LINK_INVALID, not LINK_EXPIRED (signature first)', async () => {
      const { token } = await signLink({ purpose: 'operator_action', accountId: 'acc_1' }, 60, opts());
      const forged = `${token.slice(0, token.lastIndexOf('.'))}.${'A'.repeat(43)}`;
      expect(await codeOf(verifyLink(forged, 'operator_action', opts(NOW + 3_600_000)))).toBe('LINK_INVALID');
    });
  });

  describe('rotation', () => {
    it('a previous key still verifies; a removed key is refused', async () => {
      const old = createKeyring({ secrets: [SECRET_A] });
      const rotated = createKeyring({ secrets: [SECRET_B, SECRET_A] });
      const removed = createKeyring({ secrets: [SECRET_B] });
      const { token } = await signLink({ purpose: 'operator_action', accountId: 'acc_1' }, 600, opts(NOW, old));
      expect(await codeOf(verifyLink(token, 'operator_action', opts(NOW, rotated)))).toBe('OK');
      expect(await codeOf(verifyLink(token, 'operator_action', opts(NOW, removed)))).toBe('LINK_INVALID');
      const fresh = await signLink({ purpose: 'operator_action', accountId: 'acc_1' }, 600, opts(NOW, rotated));
      expect(await codeOf(verifyLink(fresh.token, 'operator_action', opts(NOW, removed)))).toBe('OK');
      expect(rotated.currentKid).not.toBe(old.currentKid);
    });
  });

  describe('EdDSA', () => {
    it('signs and verifies, refuses HS256 tokens, and publishes public keys', async () => {
      const ed = createKeyring({ secrets: [SECRET_A], linkAlgorithm: 'EdDSA' });
      const { token } = await signLink({ purpose: 'upgrade', accountId: 'acc_1', targetTier: 'growth' }, 600, opts(NOW, ed));
      expect(JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString()).alg).toBe('EdDSA');
      expect((await verifyLink(token, 'upgrade', opts(NOW, ed))).targetTier).toBe('growth');
      const hs = await signLink({ purpose: 'upgrade', accountId: 'acc_1' }, 600, opts());
      expect(await codeOf(verifyLink(hs.token, 'upgrade', opts(NOW, ed)))).toBe('LINK_INVALID');
      const jwks = await ed.publicJwks();
      expect(jwks.map((k) => k.crv)).toEqual(['Ed25519', 'Ed25519']);
      expect(jwks.every((k) => !('d' in k))).toBe(true);
    });
  });
});

describe('signLinkNow (internal: the service signs on its own turn once the keys are imported)', () => {
  const claims = { purpose: 'operator_action', accountId: 'acc_1', notificationId: 'not_1' } as const;

  it('HS256: a promise before the keys are imported, the link itself after; both verify with the same claims', async () => {
    const fresh = createKeyring({ secrets: [SECRET_B] });
    const early = signLinkNow(claims, 600, opts(NOW, fresh));
    expect(early).toBeInstanceOf(Promise);
    await fresh.ready();
    const now = signLinkNow(claims, 600, opts(NOW, fresh));
    expect(now).not.toBeInstanceOf(Promise);
    for (const link of [await early, now as Awaited<typeof early>]) {
      expect(link.expiresAt).toBe((Math.floor(NOW / 1000) + 600) * 1000);
      const verified = await verifyLink(link.token, 'operator_action', opts(NOW, fresh));
      expect(verified).toMatchObject({ accountId: 'acc_1', notificationId: 'not_1', linkId: link.linkId });
    }
    // The same header and claim layout as signLink's (only jti differs).
    const plain = await signLink(claims, 600, opts(NOW, fresh));
    const { token } = now as Awaited<typeof early>;
    expect(token.split('.')[0]).toBe(plain.token.split('.')[0]);
    expect(Object.keys(JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()))).toEqual(
      Object.keys(JSON.parse(Buffer.from(plain.token.split('.')[1] as string, 'base64url').toString())),
    );
  });

  it('EdDSA and a keyring it did not build go through promises, and verify', async () => {
    const ed = createKeyring({ secrets: [SECRET_A], linkAlgorithm: 'EdDSA' });
    await ed.ready();
    const signed = signLinkNow(claims, 600, opts(NOW, ed));
    expect(signed).toBeInstanceOf(Promise);
    expect((await verifyLink((await signed).token, 'operator_action', opts(NOW, ed))).notificationId).toBe('not_1');
    await keyring.ready();
    const wrapped: Keyring = { ...keyring };
    const viaPromises = signLinkNow(claims, 600, opts(NOW, wrapped));
    expect(viaPromises).toBeInstanceOf(Promise);
    expect((await verifyLink((await viaPromises).token, 'operator_action', opts())).accountId).toBe('acc_1');
  });
});

describe('createKeyring', () => {
  it.each([
    ['no secret', { secrets: [] }],
    ['a short secret', { secrets: ['short'] }],
    ['duplicate ids', { secrets: [{ id: 'k', secret: SECRET_A }, { id: 'k', secret: SECRET_B }] }],
    ['a bad id', { secrets: [{ id: 'bad id!', secret: SECRET_A }] }],
    ['an unknown algorithm', { secrets: [SECRET_A], linkAlgorithm: 'RS256' }],
  ])('refuses %s with CONFIG_INVALID', (_name, options) => {
    expect(() => createKeyring(options as never)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('form tokens verify in constant-time against every accepted key', () => {
    const old = createKeyring({ secrets: [SECRET_A] });
    const rotated = createKeyring({ secrets: [SECRET_B, SECRET_A] });
    const t = old.formToken('jti-1');
    expect(rotated.verifyFormToken('jti-1', t)).toBe(true);
    expect(rotated.verifyFormToken('jti-2', t)).toBe(false);
    expect(createKeyring({ secrets: [SECRET_B] }).verifyFormToken('jti-1', t)).toBe(false);
    expect(old.verifyFormToken('jti-1', '')).toBe(false);
    expect(old.verifyFormToken('jti-1', 'x'.repeat(43))).toBe(false);
  });
});
