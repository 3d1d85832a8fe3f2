/**
 * Accounts belong to the host: tiergate never stores them. The host passes
 * `authenticate(apiKey)` (its own user storage) and, optionally,
 * `findAccount(id)` for the operator pages. {@link apiKeyAuthenticator} is a
 * ready-made `authenticate` over a fixed list that keeps only key hashes, so
 * a lookup's timing depends on the SHA-256 of the presented key, never on the
 * keys themselves.
 */
import { hash } from 'node:crypto';
import { TiergateError } from '../errors.js';
import type { Usage } from '../policy/capabilities.js';

/** What tiergate needs to know about an account. */
export interface Account {
  readonly id: string;
  /** A tier of the table. */
  readonly tier: string;
  /** `active` (default) or a status of the table such as `under_review`. */
  readonly status?: string;
  /**
   * Usage the host counted itself in the current UTC day/month (e.g. sends
   * outside tiergate). tiergate adds what it counted through the guard's
   * `consume`; limits apply to the sum.
   */
  readonly usage?: Usage;
  /** Custom domains in use (shown against the tier's limit). */
  readonly customDomains?: number;
  /** `whsec_…` secret that signs this account's approval callbacks. Required to use `callback_url`. */
  readonly webhookSecret?: string;
  /** Operator e-mail: recorded as `approved_by` and used by the e-mail notifier. */
  readonly operatorEmail?: string;
  /** The host's own view of the webhook endpoint; `false` reports it unhealthy regardless of deliveries. */
  readonly webhookHealthy?: boolean;
}

/** The host's API-key lookup. Return `null` for an unknown key. */
export type Authenticate = (apiKey: string) => Promise<Account | null> | Account | null;

/** The host's account lookup by id (operator pages, callbacks). */
export type FindAccount = (accountId: string) => Promise<Account | null> | Account | null;

/** Longest API key tiergate passes to `authenticate`; anything longer is refused without a lookup. */
export const MAX_API_KEY_LENGTH = 512;
const API_KEY_SYNTAX = /^[\x21-\x7E]+$/;
const USUAL_BEARER = /^Bearer [\x21-\x7E]+$/;

/**
 * The API key of an `Authorization` header: scheme `Bearer`, case-insensitive,
 * one token of printable ASCII. `undefined` for anything else — callers answer
 * every such case with the same 401.
 */
export function bearerToken(header: string | readonly string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string' || value.length > MAX_API_KEY_LENGTH + 16) return undefined;
  // The header as agents send it, `Bearer ` and one printable-ASCII token, is told by one regex scan
  // (2.5 times cheaper than a loop over the characters; this runs on every request).
  if (USUAL_BEARER.test(value)) return value.length - 7 > MAX_API_KEY_LENGTH ? undefined : value.slice(7);
  // Anything else: the scheme in any case, whitespace around the key.
  if (value.charCodeAt(6) !== 32 || value.slice(0, 6).toLowerCase() !== 'bearer') return undefined;
  const key = value.slice(7).trim();
  if (key.length === 0 || key.length > MAX_API_KEY_LENGTH || !API_KEY_SYNTAX.test(key)) return undefined;
  return key;
}

/** SHA-256 of an API key, hex: the form {@link apiKeyAuthenticator} takes as `apiKeyHash`. */
export function hashApiKey(apiKey: string): string {
  // One-shot hash straight to hex: several times cheaper than createHash() and a digest Buffer.
  return hash('sha256', apiKey, 'hex');
}

/**
 * The key of {@link apiKeyAuthenticator}'s map: the SHA-256 in base64url (43 characters to encode and for
 * the map to hash, against 64 in hex).
 */
function keyDigest(apiKey: string): string {
  return hash('sha256', apiKey, 'base64url');
}

/** A hex SHA-256 digest (any case) in base64url; a string that is not 64 hex digits is refused. */
function hexToBase64url(hex: string): string {
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new TiergateError('CONFIG_INVALID', 'apiKeyHash must be the 64 hex digits of a SHA-256 digest (see hashApiKey()).');
  return Buffer.from(hex, 'hex').toString('base64url');
}

/**
 * An `authenticate` function over a fixed list of `{ apiKey | apiKeyHash, account }`.
 * Only SHA-256 hashes are kept; a lookup hashes the presented key and finds
 * its hash in a map, so its time does not depend on how much of a stored key
 * the presented one matches (an attacker can steer the bytes of a key, not of
 * its hash). A hit is the equality of the two hashes itself; no second
 * comparison follows.
 */
export function apiKeyAuthenticator(
  entries: readonly ({ readonly apiKey: string; readonly account: Account } | { readonly apiKeyHash: string; readonly account: Account })[],
): Authenticate & { readonly size: number } {
  const byHash = new Map<string, Account>();
  for (const entry of entries) byHash.set('apiKeyHash' in entry ? hexToBase64url(entry.apiKeyHash) : keyDigest(entry.apiKey), entry.account);
  const authenticate = (apiKey: string): Account | null => byHash.get(keyDigest(apiKey)) ?? null;
  return Object.assign(authenticate, { size: byHash.size });
}
