/**
 * Reads a request body from any async iterable of bytes (a Node
 * `IncomingMessage`, a web stream) with a size limit, for adapters whose
 * framework does not parse bodies (Koa, plain `node:http`).
 */
import { TiergateError, isTiergateError } from '../errors.js';

/**
 * Reads at most `limit` bytes; rejects with `PAYLOAD_TOO_LARGE` beyond it (and
 * stops reading), and with `INVALID_REQUEST` when the stream fails midway (the
 * client aborted or broke the framing: its request, not a server failure).
 */
export async function readBody(stream: AsyncIterable<Uint8Array | string>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      size += buffer.byteLength;
      if (size > limit) throw new TiergateError('PAYLOAD_TOO_LARGE', 'The request body is too large.');
      chunks.push(buffer);
    }
  } catch (err) {
    if (isTiergateError(err)) throw err;
    throw new TiergateError('INVALID_REQUEST', 'The request body could not be read.', { cause: err });
  }
  return Buffer.concat(chunks, size);
}
