/**
 * Accounts belong to the host: tiergate never stores them. The host passes
 * `authenticate(apiKey)` (its own user storage) and, optionally,
 * `findAccount(id)` for the operator pages. {@link apiKeyAuthenticator} is a
 * ready-made `authenticate` over a fixed list that keeps only key hashes and
 * compares them in constant time.
 */
import { hash } from 'node:crypto';
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

/**
 * The API key of an `Authorization` header: scheme `Bearer`, case-insensitive,
 * one token of printable ASCII. `undefined` for anything else — callers answer
 * every such case with the same 401.
 */
export function bearerToken(header: string | readonly string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string' || value.length > MAX_API_KEY_LENGTH + 16) return undefined;
  const space = value.indexOf(' ');
  if (space === -1 || value.slice(0, space).toLowerCase() !== 'bearer') return undefined;
  const key = value.slice(space + 1).trim();
  if (key.length === 0 || key.length > MAX_API_KEY_LENGTH || !API_KEY_SYNTAX.test(key)) return undefined;
  return key;
}

/** SHA-256 of an API key, hex: what {@link apiKeyAuthenticator} keeps instead of the key. */
export function hashApiKey(apiKey: string): string {
  // One-shot hash straight to hex: several times cheaper than createHash() and a digest Buffer.
  return hash('sha256', apiKey, 'hex');
}

/** Compares two strings of equal length in time that depends only on the length. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i += 1) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/**
 * An `authenticate` function over a fixed list of `{ apiKey | apiKeyHash, account }`.
 * Only SHA-256 hashes are kept; a lookup hashes the presented key (so its time
 * does not depend on how much of it matches) and confirms the hit with a
 * constant-time comparison.
 */
export function apiKeyAuthenticator(
  entries: readonly ({ readonly apiKey: string; readonly account: Account } | { readonly apiKeyHash: string; readonly account: Account })[],
): Authenticate & { readonly size: number } {
  const byHash = new Map<string, { hash: string; account: Account }>();
  for (const entry of entries) {
    const hex = 'apiKeyHash' in entry ? entry.apiKeyHash.toLowerCase() : hashApiKey(entry.apiKey);
    byHash.set(hex, { hash: hex, account: entry.account });
  }
  const authenticate = (apiKey: string): Account | null => {
    const digest = hashApiKey(apiKey);
    const hit = byHash.get(digest);
    if (hit === undefined) return null;
    return constantTimeEqual(hit.hash, digest) ? hit.account : null;
  };
  return Object.assign(authenticate, { size: byHash.size });
}
