/**
 * Random ids from a pool of CSPRNG bytes. Each `randomBytes()` call costs a
 * trip into OpenSSL (~1 µs, several per request: notification id, link id,
 * lease); drawing from a 4 KiB buffer refilled by one call makes that
 * negligible. The bytes are the same CSPRNG output, each used once.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

function take(bytes: number): number {
  if (bytes > 256) throw new RangeError('the random pool hands out at most 256 bytes at a time');
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += bytes; // each byte is handed out once
  return start;
}

/** `bytes` random bytes (at most 256), base64url-encoded. */
export function randomId(bytes: number): string {
  const start = take(bytes);
  return pool.toString('base64url', start, start + bytes);
}

/** `bytes` random bytes (at most 256) in a new buffer (e.g. an AES-GCM nonce). */
export function randomBuffer(bytes: number): Buffer {
  const start = take(bytes);
  return Buffer.from(pool.subarray(start, start + bytes));
}
