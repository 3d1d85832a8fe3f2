/**
 * Signed operator and upgrade links (JWT, `jose`).
 *
 * Every verification is pinned: algorithm allow-list (the keyring's one
 * algorithm; `none` and every other algorithm are refused), `typ`, `iss`,
 * `aud`, `sub`, required `exp`/`iat`/`jti`, a 5 s clock tolerance, and keys
 * looked up by `kid` in the local keyring only. Failures are typed:
 * `LINK_INVALID` (damaged, forged, unknown key), `LINK_EXPIRED` (authentic but
 * past `exp`), `LINK_SCOPE_MISMATCH` (authentic but for another purpose,
 * account or request).
 *
 * Speed (see `bench/RESULTS.md`): HS256 links are signed with `node:crypto`
 * on the calling thread — the same JWS bytes jose would produce, without Web
 * Crypto's ~50 µs per call — and a link that verified once is remembered by
 * its exact token string (per keyring and issuer), so opening a page again
 * skips the signature check but never the time checks: `exp` (and the
 * `iat`-not-in-the-future rule) are checked against the injected clock on
 * every call, exactly as jose checks them.
 */
import { createHmac } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { TiergateError } from '../errors.js';
import { setBounded } from '../bounded-map.js';
import { randomId } from './random-id.js';
import { keysNow, type Keyring, type LinkKey } from './keyring.js';

/** What a link lets its bearer do. */
export type LinkPurpose = 'operator_action' | 'upgrade';

/** Claims of a verified link, in tiergate's names. */
export interface LinkClaims {
  readonly purpose: LinkPurpose;
  /** `sub`: the account the link belongs to. */
  readonly accountId: string;
  /** `jti`: unique id of this link. */
  readonly linkId: string;
  /** `iat`, seconds. */
  readonly issuedAt: number;
  /** `exp`, seconds. */
  readonly expiresAt: number;
  /** Notification the operator page shows (`nid`). */
  readonly notificationId?: string;
  /** Approval the operator page decides (`apr`). */
  readonly approvalId?: string;
  /** Tier an upgrade link offers (`tier`). */
  readonly targetTier?: string;
  /** Reason code an account-status link explains (`rsn`). */
  readonly reason?: string;
}

/** Claims to sign (ids and times are filled in). */
export type LinkClaimsInput = Omit<LinkClaims, 'linkId' | 'issuedAt' | 'expiresAt'>;

/** Options shared by signing and verifying. */
export interface LinkOptions {
  readonly keyring: Keyring;
  /** `iss`: the public base URL of the API. */
  readonly issuer: string;
  /** Now, ms since epoch (injected clock). */
  readonly now: number;
}

/** Clock tolerance for `exp`/`iat`, seconds. Small: instances of one service share time. */
export const LINK_CLOCK_TOLERANCE_SECONDS = 5;

const TYP: Record<LinkPurpose, string> = { operator_action: 'tiergate-operator+jwt', upgrade: 'tiergate-upgrade+jwt' };
const AUD: Record<LinkPurpose, string> = { operator_action: 'tiergate:operator_action', upgrade: 'tiergate:upgrade' };
const PURPOSE_BY_TYP = new Map<string, LinkPurpose>(Object.entries(TYP).map(([p, t]) => [t, p as LinkPurpose]));
const MAX_TOKEN_LENGTH = 4096;
// A compact JWS and nothing else: Node's base64url decoder skips characters outside the alphabet, so
// without this check `token + ' '` (or a token with a line break inside) would verify as `token`.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
// Encoded protected headers per (purpose, kid): the same few strings on every signing.
const encodedHeaders = new Map<string, string>();

function encodedHeader(alg: string, purpose: LinkPurpose, kid: string): string {
  const key = `${alg}\u0000${purpose}\u0000${kid}`;
  let header = encodedHeaders.get(key);
  if (header === undefined) {
    // Same member order as jose's `setProtectedHeader({ alg, typ, kid })`.
    header = b64json({ alg, typ: TYP[purpose], kid });
    if (encodedHeaders.size > 256) encodedHeaders.clear();
    encodedHeaders.set(key, header);
  }
  return header;
}

/** A signed link: its token, its expiry (ms) and its id (`jti`). */
export interface SignedLink {
  readonly token: string;
  readonly expiresAt: number;
  readonly linkId: string;
}

/** Signs a link valid for `ttlSeconds`. Returns the token and its expiry (ms). */
export async function signLink(claims: LinkClaimsInput, ttlSeconds: number, options: LinkOptions): Promise<SignedLink> {
  return signWith(await options.keyring.linkSigningKey(claims.purpose), claims, ttlSeconds, options);
}

/**
 * @internal {@link signLink}, answered without a promise when the keyring's keys are imported and
 * links are HS256 (signed with `node:crypto` on this turn); a promise otherwise (EdDSA signs through
 * jose). Never throws.
 */
export function signLinkNow(claims: LinkClaimsInput, ttlSeconds: number, options: LinkOptions): SignedLink | Promise<SignedLink> {
  const key = keysNow(options.keyring)?.linkSigningKey(claims.purpose);
  if (key === undefined) return signLink(claims, ttlSeconds, options);
  try {
    return signWith(key, claims, ttlSeconds, options);
  } catch (err) {
    return Promise.reject(err);
  }
}

function signWith(key: LinkKey, claims: LinkClaimsInput, ttlSeconds: number, { issuer, now }: LinkOptions): SignedLink | Promise<SignedLink> {
  const iat = Math.floor(now / 1000);
  const exp = iat + Math.floor(ttlSeconds);
  const linkId = randomId(12);
  const payload: JWTPayload = {};
  if (claims.notificationId !== undefined) payload.nid = claims.notificationId;
  if (claims.approvalId !== undefined) payload.apr = claims.approvalId;
  if (claims.targetTier !== undefined) payload.tier = claims.targetTier;
  if (claims.reason !== undefined) payload.rsn = claims.reason;
  if (key.alg === 'HS256' && key.hmacKey !== undefined) {
    // The JWS jose would build (same claim order), signed on this thread. Assigned one by one: an
    // Object.assign from a literal copied them through a generic builtin on every link.
    payload.iss = issuer;
    payload.aud = AUD[claims.purpose];
    payload.sub = claims.accountId;
    payload.jti = linkId;
    payload.iat = iat;
    payload.exp = exp;
    const input = `${encodedHeader(key.alg, claims.purpose, key.kid)}.${b64json(payload)}`;
    const token = `${input}.${createHmac('sha256', key.hmacKey).update(input).digest('base64url')}`;
    return { token, expiresAt: exp * 1000, linkId };
  }
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, typ: TYP[claims.purpose], kid: key.kid })
    .setIssuer(issuer)
    .setAudience(AUD[claims.purpose])
    .setSubject(claims.accountId)
    .setJti(linkId)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key.signKey)
    .then((token) => ({ token, expiresAt: exp * 1000, linkId }));
}

function invalid(cause?: unknown): TiergateError<'LINK_INVALID'> {
  return new TiergateError('LINK_INVALID', 'This link is invalid.', { cause });
}

function optionalString(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) throw invalid();
  return value;
}

/** A link that passed every check once, remembered by its exact token. */
interface VerifiedLink {
  /** The whole token: a hit needs the very same string, not only the same signature. */
  readonly token: string;
  readonly issuer: string;
  readonly claims: LinkClaims;
}

// Per keyring (so another keyring never trusts a token this one verified),
// bounded; the oldest entry goes first. Keyed by the token's signature segment (43 characters for
// HS256) and confirmed by comparing the whole token: a map hashes its key character by character on
// every lookup of a fresh string, and the whole token is ~390.
const verifiedLinks = new WeakMap<Keyring, Map<string, VerifiedLink>>();
const MAX_VERIFIED_LINKS = 4096;

function remembered(keyring: Keyring): Map<string, VerifiedLink> {
  let links = verifiedLinks.get(keyring);
  if (links === undefined) {
    links = new Map();
    verifiedLinks.set(keyring, links);
  }
  return links;
}

/** The time-dependent checks of a verification, redone on every use of a remembered link. */
function checkTimes(claims: LinkClaims, now: number): void {
  // As jose: expired when `exp <= now - tolerance` (whole seconds).
  if (claims.expiresAt <= Math.floor(now / 1000) - LINK_CLOCK_TOLERANCE_SECONDS) throw new TiergateError('LINK_EXPIRED', 'This link has expired.');
  if (claims.issuedAt * 1000 > now + LINK_CLOCK_TOLERANCE_SECONDS * 1000) throw invalid();
}

/**
 * Verifies a link for `purpose`. Throws `LINK_INVALID`, `LINK_EXPIRED` or
 * `LINK_SCOPE_MISMATCH`; never anything else for any input string.
 */
export async function verifyLink(token: unknown, purpose: LinkPurpose, { keyring, issuer, now }: LinkOptions): Promise<LinkClaims> {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid();
  // A remembered token passed every check below once (its shape included).
  const signature = token.slice(token.lastIndexOf('.') + 1);
  const entry = verifiedLinks.get(keyring)?.get(signature);
  const known = entry !== undefined && entry.token === token ? entry : undefined;
  if (known === undefined && !COMPACT_JWS.test(token)) throw invalid();
  if (known !== undefined && known.issuer === issuer) {
    checkTimes(known.claims, now);
    if (known.claims.purpose !== purpose) throw new TiergateError('LINK_SCOPE_MISMATCH', 'This link is not valid for this page.');
    return known.claims;
  }
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch (cause) {
    throw invalid(cause);
  }
  const tokenPurpose = typeof header.typ === 'string' ? PURPOSE_BY_TYP.get(header.typ) : undefined;
  if (tokenPurpose === undefined || typeof header.kid !== 'string' || header.alg !== keyring.linkAlgorithm) throw invalid();
  const key = await keyring.linkVerificationKey(tokenPurpose, header.kid);
  if (key === undefined) throw invalid();

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key.verifyKey, {
      algorithms: [keyring.linkAlgorithm],
      typ: TYP[tokenPurpose],
      issuer,
      audience: AUD[tokenPurpose],
      requiredClaims: ['exp', 'iat', 'jti', 'sub'],
      clockTolerance: LINK_CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(now),
    }));
  } catch (cause) {
    if (cause instanceof joseErrors.JWTExpired) throw new TiergateError('LINK_EXPIRED', 'This link has expired.', { cause });
    throw invalid(cause);
  }
  const iat = payload.iat as number;
  if (iat * 1000 > now + LINK_CLOCK_TOLERANCE_SECONDS * 1000) throw invalid();
  if (typeof payload.sub !== 'string' || payload.sub.length === 0 || typeof payload.jti !== 'string') throw invalid();
  if (tokenPurpose !== purpose) throw new TiergateError('LINK_SCOPE_MISMATCH', 'This link is not valid for this page.');

  const claims: { -readonly [K in keyof LinkClaims]: LinkClaims[K] } = {
    purpose: tokenPurpose,
    accountId: payload.sub,
    linkId: payload.jti,
    issuedAt: iat,
    expiresAt: payload.exp as number,
  };
  const nid = optionalString(payload, 'nid');
  const apr = optionalString(payload, 'apr');
  const tier = optionalString(payload, 'tier');
  const rsn = optionalString(payload, 'rsn');
  if (nid !== undefined) claims.notificationId = nid;
  if (apr !== undefined) claims.approvalId = apr;
  if (tier !== undefined) claims.targetTier = tier;
  if (rsn !== undefined) claims.reason = rsn;
  // Remember it unless it carries a claim whose check depends on time and is not redone above.
  if (payload.nbf === undefined) {
    setBounded(remembered(keyring), signature, { token, issuer, claims: Object.freeze(claims) }, MAX_VERIFIED_LINKS);
  }
  return claims;
}
