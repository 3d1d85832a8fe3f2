/**
 * A local keyring: one key per purpose, selected by `kid`, rotated without
 * breaking live links.
 *
 * The host supplies master secrets (newest first, each ≥ 32 bytes). From each,
 * HKDF-SHA256 derives an independent key per purpose — operator links, upgrade
 * links, context encryption, form (anti-forgery) tokens — so a key of one
 * purpose can never verify or decrypt anything of another. Signing uses the
 * first secret; verification accepts any secret still listed, so rotation is:
 * put the new secret first, keep the old one until its links have expired,
 * then remove it.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, createSecretKey, hkdfSync, timingSafeEqual, webcrypto, type KeyObject } from 'node:crypto';
import { TiergateError } from '../errors.js';
import { setBounded } from '../bounded-map.js';

/** What each derived key is for. */
export type KeyPurpose = 'operator_action' | 'upgrade' | 'context' | 'form';

/** A master secret, optionally with an explicit key id. */
export type SecretInput = string | Uint8Array | { readonly id: string; readonly secret: string | Uint8Array };

/** Options of {@link createKeyring}. */
export interface KeyringOptions {
  /** Master secrets, newest first; each at least 32 bytes. */
  readonly secrets: readonly SecretInput[];
  /** Link signature algorithm: HMAC-SHA256 (default) or Ed25519, whose public keys {@link Keyring.publicJwks} publishes. */
  readonly linkAlgorithm?: 'HS256' | 'EdDSA';
}

/** A link-signing key pair of one purpose and one master secret. */
export interface LinkKey {
  readonly kid: string;
  readonly alg: 'HS256' | 'EdDSA';
  readonly signKey: CryptoKey;
  readonly verifyKey: CryptoKey;
  /**
   * The same HMAC key as a Node `KeyObject` (HS256 only), for signing on the
   * calling thread: Web Crypto's per-call overhead (~50 µs) dominates signing.
   */
  readonly hmacKey?: KeyObject;
}

/** Derived keys, imported once. */
export interface Keyring {
  /** Algorithm of link signatures. */
  readonly linkAlgorithm: 'HS256' | 'EdDSA';
  /** Id of the current (signing) secret. */
  readonly currentKid: string;
  /** Every key id still accepted, newest first. */
  readonly kids: readonly string[];
  /** Resolves once every key is imported; operations await it. */
  ready(): Promise<void>;
  /** The signing key of a link purpose. */
  linkSigningKey(purpose: 'operator_action' | 'upgrade'): Promise<LinkKey>;
  /** The verification key of a link purpose for `kid`, or `undefined` for an unknown kid. */
  linkVerificationKey(purpose: 'operator_action' | 'upgrade', kid: string): Promise<LinkKey | undefined>;
  /**
   * The AES-256-GCM key for context encryption under `kid` (current when
   * omitted), as a Web Crypto key and as a Node `KeyObject` (`secret`).
   */
  contextKey(kid?: string): Promise<{ readonly kid: string; readonly key: CryptoKey; readonly secret: KeyObject } | undefined>;
  /** A form (anti-forgery) token binding `value`; HMAC with the current form key. */
  formToken(value: string): string;
  /** Constant-time check of a form token against every accepted form key. */
  verifyFormToken(value: string, token: string): boolean;
  /** Public JWKs of the EdDSA link keys (empty for HS256). */
  publicJwks(): Promise<readonly JsonWebKey[]>;
}

const MIN_SECRET_BYTES = 32;
/** How many form tokens a keyring remembers (one per operator link recently viewed). */
const FORM_TOKENS_REMEMBERED = 4096;
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function toBytes(secret: string | Uint8Array): Uint8Array {
  return typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
}

function derive(secret: Uint8Array, purpose: KeyPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'tiergate', `tiergate/v1/${purpose}`, 32));
}

/** A short, stable id for a secret (so hosts need not name their keys). */
function defaultKid(secret: Uint8Array): string {
  return createHash('sha256').update('tiergate-kid/v1').update(secret).digest('base64url').slice(0, 10);
}

/**
 * Builds a keyring. Throws `CONFIG_INVALID` for a missing or short secret or a
 * duplicate key id.
 */
export function createKeyring(options: KeyringOptions): Keyring {
  const alg = options.linkAlgorithm ?? 'HS256';
  if (alg !== 'HS256' && alg !== 'EdDSA') throw new TiergateError('CONFIG_INVALID', `linkAlgorithm must be HS256 or EdDSA, not ${String(alg)}`);
  if (!Array.isArray(options.secrets) || options.secrets.length === 0) {
    throw new TiergateError('CONFIG_INVALID', 'At least one secret is required to sign links.');
  }
  const entries = options.secrets.map((input, i) => {
    const secret = toBytes(typeof input === 'object' && !(input instanceof Uint8Array) ? input.secret : input);
    if (secret.byteLength < MIN_SECRET_BYTES) {
      throw new TiergateError('CONFIG_INVALID', `secrets[${i}] is ${secret.byteLength} bytes; link-signing secrets need at least ${MIN_SECRET_BYTES}.`);
    }
    const kid = typeof input === 'object' && !(input instanceof Uint8Array) ? input.id : defaultKid(secret);
    if (typeof kid !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(kid)) throw new TiergateError('CONFIG_INVALID', `secrets[${i}].id must match [A-Za-z0-9_-]{1,64}`);
    return { kid, secret };
  });
  const kids = entries.map((e) => e.kid);
  if (new Set(kids).size !== kids.length) throw new TiergateError('CONFIG_INVALID', 'Two secrets have the same key id.');

  // Sync parts: raw derived bytes (HMAC form tokens use node:crypto directly).
  const formKeys = entries.map((e) => derive(e.secret, 'form'));
  const contextSecrets = new Map<string, KeyObject>(entries.map((e) => [e.kid, createSecretKey(derive(e.secret, 'context'))]));
  const subtle = webcrypto.subtle;

  const linkKeys = new Map<string, LinkKey>(); // `${purpose}:${kid}`
  const contextKeys = new Map<string, CryptoKey>();
  const publicJwks: JsonWebKey[] = [];

  async function importAll(): Promise<void> {
    for (const { kid, secret } of entries) {
      for (const purpose of ['operator_action', 'upgrade'] as const) {
        const raw = derive(secret, purpose);
        if (alg === 'HS256') {
          const key = await subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
          linkKeys.set(`${purpose}:${kid}`, { kid, alg, signKey: key, verifyKey: key, hmacKey: createSecretKey(raw) });
        } else {
          const der = Buffer.concat([ED25519_PKCS8_PREFIX, raw]);
          const publicDer = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
          const signKey = await subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
          const verifyKey = await subtle.importKey('spki', publicDer, { name: 'Ed25519' }, true, ['verify']);
          linkKeys.set(`${purpose}:${kid}`, { kid, alg, signKey, verifyKey });
          const jwk = await subtle.exportKey('jwk', verifyKey);
          publicJwks.push({ ...jwk, kid: `${kid}.${purpose}`, alg: 'EdDSA', use: 'sig' } as JsonWebKey);
        }
      }
      contextKeys.set(kid, await subtle.importKey('raw', derive(secret, 'context'), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']));
    }
  }
  const currentKid = kids[0] as string;
  const formTokens = new Map<string, string>();
  // What the key methods answer once `ready()` has resolved.
  const signingKey = (purpose: 'operator_action' | 'upgrade'): LinkKey => linkKeys.get(`${purpose}:${currentKid}`) as LinkKey;
  const contextKeyOf = (kid: string): { kid: string; key: CryptoKey; secret: KeyObject } | undefined => {
    const key = contextKeys.get(kid);
    const secret = contextSecrets.get(kid);
    return key === undefined || secret === undefined ? undefined : { kid, key, secret };
  };
  let loading: Promise<void> | undefined;
  // Once imported, the current keys are also read without a promise (see LoadedKeys).
  const ready = (): Promise<void> => (loading ??= importAll().then(() => void loadedKeys.set(keyring, { linkSigningKey: signingKey, contextKey: () => contextKeyOf(currentKid) })));
  const keyring: Keyring = {
    linkAlgorithm: alg,
    currentKid,
    kids,
    ready,
    async linkSigningKey(purpose) {
      await ready();
      return signingKey(purpose);
    },
    async linkVerificationKey(purpose, kid) {
      await ready();
      return linkKeys.get(`${purpose}:${kid}`);
    },
    async contextKey(kid = currentKid) {
      await ready();
      return contextKeyOf(kid);
    },
    formToken(value) {
      // Deterministic per value (a link id), and asked for on every view of a page: remembered,
      // bounded, oldest first. It is derived from the form key, which this process holds anyway.
      let token = formTokens.get(value);
      if (token === undefined) {
        token = createHmac('sha256', formKeys[0] as Buffer).update(value).digest('base64url');
        setBounded(formTokens, value, token, FORM_TOKENS_REMEMBERED);
      }
      return token;
    },
    verifyFormToken(value, token) {
      if (typeof token !== 'string' || token.length !== 43) return false;
      const given = Buffer.from(token);
      let ok = false;
      for (const key of formKeys) {
        const expected = Buffer.from(createHmac('sha256', key).update(value).digest('base64url'));
        // Compare against every key without an early exit.
        ok = timingSafeEqual(expected, given) || ok;
      }
      return ok;
    },
    async publicJwks() {
      await ready();
      return publicJwks;
    },
  };
  // Start importing at once; failures surface on first use.
  ready().catch(() => undefined);
  return keyring;
}

/**
 * @internal The current signing keys of a keyring that `createKeyring()` built, read without a
 * promise once they are imported (`undefined` before that, and for any other keyring): links and
 * contexts are then signed and sealed on the caller's turn, without the microtask turns of
 * `linkSigningKey()` / `contextKey()`.
 */
export interface LoadedKeys {
  linkSigningKey(purpose: 'operator_action' | 'upgrade'): LinkKey;
  contextKey(): { readonly kid: string; readonly key: CryptoKey; readonly secret: KeyObject } | undefined;
}

const loadedKeys = new WeakMap<Keyring, LoadedKeys>();

/** @internal See {@link LoadedKeys}. */
export function keysNow(keyring: Keyring): LoadedKeys | undefined {
  return loadedKeys.get(keyring);
}
