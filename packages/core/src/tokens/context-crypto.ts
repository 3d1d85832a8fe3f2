/**
 * Context encryption at rest: JWE `dir` + `A256GCM` with the keyring's
 * context key. The record id is the JWE's additional authenticated data and is
 * not stored with the ciphertext, so a ciphertext copied onto another record
 * fails to decrypt instead of showing another record's context.
 *
 * Stored form: `<protected>.<iv>.<ciphertext>.<tag>` (base64url; the protected
 * header carries `kid`) — the parts of a flattened JWE (RFC 7516), whose AAD
 * is `ASCII(protected || '.' || BASE64URL(recordId))`, so any JOSE library
 * (jose's `flattenedDecrypt`) opens it. The AES-GCM runs through `node:crypto`
 * on the calling thread: Web Crypto's per-call overhead (~30 µs) was most of
 * the cost of sealing a context.
 *
 * An operator page is typically fetched several times (mail scanners, chat
 * unfurlers, the operator, a reload after deciding), so the plaintext of the
 * last few opened contexts is kept in process memory (bounded, per keyring —
 * whose keys never change —, keyed by the exact sealed text, whose random
 * nonce makes it unique, and checked against the record id). `openContext`
 * still answers each caller a freshly parsed value; the operator page's view
 * shares one value per sealed text, frozen all the way down
 * (`openContextShared`). Nothing decrypted is ever written back to the store.
 */
import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { TiergateError } from '../errors.js';
import { setBounded } from '../bounded-map.js';
import { freezeJson } from '../frozen-json.js';
import { keysNow, type Keyring } from './keyring.js';
import { randomBuffer } from './random-id.js';

const decoder = new TextDecoder('utf-8', { fatal: true });
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;
// Encoded protected headers per key id, and key ids per encoded header (a handful of strings each).
const headers = new Map<string, string>();
const kidsByHeader = new Map<string, string | null>();
// Plaintexts of recently opened contexts, per keyring; the oldest entry goes first.
const openedBy = new WeakMap<Keyring, Map<string, Opened>>();
const MAX_OPENED = 256;

function unavailable(cause?: unknown): TiergateError<'CONTEXT_UNAVAILABLE'> {
  return new TiergateError('CONTEXT_UNAVAILABLE', 'The stored context could not be decrypted.', { cause });
}

function protectedHeader(kid: string): string {
  let header = headers.get(kid);
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid })).toString('base64url');
    if (headers.size > 64) headers.clear();
    headers.set(kid, header);
  }
  return header;
}

function additionalData(header: string, recordId: string): Buffer {
  return Buffer.from(`${header}.${Buffer.from(recordId).toString('base64url')}`, 'ascii');
}

/** Encrypts JSON-serialisable `value`, bound to `recordId`. */
export async function sealContext(keyring: Keyring, value: unknown, recordId: string): Promise<string> {
  return sealWith(await keyring.contextKey(), value, recordId);
}

/**
 * @internal {@link sealContext}, answered without a promise once the keyring's keys are imported
 * (AES-GCM runs on this turn either way); a promise before that. Never throws. `json`, when the
 * caller has it, is `JSON.stringify(value)` (not computed again).
 */
export function sealContextNow(keyring: Keyring, value: unknown, recordId: string, json?: string): string | Promise<string> {
  const loaded = keysNow(keyring);
  if (loaded === undefined) return keyring.contextKey().then((key) => sealWith(key, value, recordId, json));
  try {
    return sealWith(loaded.contextKey(), value, recordId, json);
  } catch (err) {
    return Promise.reject(err);
  }
}

function sealWith(key: { readonly kid: string; readonly secret: KeyObject } | undefined, value: unknown, recordId: string, json?: string): string {
  if (key === undefined) throw new TiergateError('CONFIG_INVALID', 'No context encryption key.');
  const header = protectedHeader(key.kid);
  const iv = randomBuffer(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.secret, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(header, recordId));
  const body = cipher.update(json ?? JSON.stringify(value), 'utf8');
  const rest = cipher.final(); // empty for GCM, a stream mode
  const ciphertext = rest.length === 0 ? body : Buffer.concat([body, rest]);
  // One flat string (a template literal would be a tree of seven concatenations, kept with the record).
  return [header, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** The key id of a protected header that sealContext could have written, or `null`. */
function kidOf(header: string): string | null {
  let kid = kidsByHeader.get(header);
  if (kid !== undefined) return kid;
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown;
  } catch (cause) {
    throw unavailable(cause);
  }
  if (typeof fields !== 'object' || fields === null) throw unavailable();
  const { alg, enc, kid: named } = fields as Record<string, unknown>;
  // Only what sealContext writes: no other algorithm is ever tried.
  kid = alg === 'dir' && enc === 'A256GCM' && typeof named === 'string' ? named : null;
  if (kidsByHeader.size > 64) kidsByHeader.clear();
  kidsByHeader.set(header, kid);
  return kid;
}

/** A remembered opening: the plaintext, and the value frozen all the way down once something asked for it. */
interface Opened {
  readonly recordId: string;
  readonly plaintext: string;
  shared?: unknown;
}

/** The remembered opening of `sealed` for `recordId`, if any. */
function rememberedOpening(keyring: Keyring, sealed: string, recordId: string): Opened | undefined {
  // A keyring's keys never change, so a sealed text it opened once for this record opens again: the
  // plaintext is remembered by the exact sealed text (unique: random nonce), checked against the record id.
  const known = typeof sealed === 'string' ? openedBy.get(keyring)?.get(sealed) : undefined;
  return known !== undefined && known.recordId === recordId ? known : undefined;
}

/** Decrypts `sealed` and remembers its plaintext; the parsed value and the remembered opening. */
async function decrypt(keyring: Keyring, sealed: string, recordId: string): Promise<{ value: unknown; opened: Opened }> {
  const parts = typeof sealed === 'string' ? sealed.split('.') : [];
  if (parts.length !== 4 || !parts.every((part) => BASE64URL.test(part))) throw unavailable();
  const [header, iv, ciphertext, tag] = parts as [string, string, string, string];
  const kid = kidOf(header);
  if (kid === null) throw unavailable();
  const key = await keyring.contextKey(kid);
  if (key === undefined) throw unavailable();
  const ivBytes = Buffer.from(iv, 'base64url');
  const tagBytes = Buffer.from(tag, 'base64url');
  if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) throw unavailable();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.secret, ivBytes, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(header, recordId));
    decipher.setAuthTag(tagBytes);
    const plaintext = decoder.decode(Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]));
    const value = JSON.parse(plaintext) as unknown;
    let opened = openedBy.get(keyring);
    if (opened === undefined) {
      opened = new Map();
      openedBy.set(keyring, opened);
    }
    const entry: Opened = { recordId, plaintext };
    setBounded(opened, sealed, entry, MAX_OPENED);
    return { value, opened: entry };
  } catch (cause) {
    throw unavailable(cause);
  }
}

/**
 * Decrypts a sealed context of `recordId`. A flipped byte, another record's
 * ciphertext or an unknown key id throw `CONTEXT_UNAVAILABLE` — never garbage.
 * Each call answers a value of its own, which the caller may change.
 */
export async function openContext(keyring: Keyring, sealed: string, recordId: string): Promise<unknown> {
  const known = rememberedOpening(keyring, sealed, recordId);
  if (known !== undefined) return JSON.parse(known.plaintext) as unknown;
  return (await decrypt(keyring, sealed, recordId)).value;
}

/**
 * @internal {@link openContext}, answering one value frozen all the way down (`freezeJson`) that every
 * call for the same sealed text shares, so what is rendered from it can be remembered with it. Answered
 * without a promise when the opening is remembered; a failure is a rejected promise, never a throw.
 */
export function openContextShared(keyring: Keyring, sealed: string, recordId: string): unknown {
  const known = rememberedOpening(keyring, sealed, recordId);
  if (known !== undefined) return (known.shared ??= freezeJson(JSON.parse(known.plaintext) as unknown));
  return decrypt(keyring, sealed, recordId).then(({ value, opened }) => (opened.shared ??= freezeJson(value)));
}
