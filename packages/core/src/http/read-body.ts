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
  if (isNodeReadable(stream)) return readNodeStream(stream, limit);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buffer = toBuffer(chunk);
      size += buffer.byteLength;
      if (size > limit) throw tooLarge();
      chunks.push(buffer);
    }
  } catch (err) {
    if (isTiergateError(err)) throw err;
    throw unreadable(err);
  }
  return Buffer.concat(chunks, size);
}

function toBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk);
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function tooLarge(): TiergateError<'PAYLOAD_TOO_LARGE'> {
  return new TiergateError('PAYLOAD_TOO_LARGE', 'The request body is too large.');
}

function unreadable(cause: unknown): TiergateError<'INVALID_REQUEST'> {
  return new TiergateError('INVALID_REQUEST', 'The request body could not be read.', { cause });
}

/** The part of a Node `Readable` (an `IncomingMessage`) that {@link readNodeStream} uses. */
interface NodeReadable {
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  readonly readableEnded: boolean;
}

const ignore = (): void => undefined;

function isNodeReadable(stream: unknown): stream is NodeReadable {
  const s = stream as Partial<NodeReadable>;
  return typeof s.on === 'function' && typeof s.removeListener === 'function' && typeof s.readableEnded === 'boolean';
}

/**
 * A Node stream read with its events: the same outcomes as `for await` over it (which costs an async
 * iterator, a promise per chunk and end-of-stream bookkeeping on every request). Over the limit it
 * stops collecting and leaves the rest to flow away unread, so the 413 still reaches the client (Node
 * drops what follows, as it does for any body a handler leaves unread; its request timeout bounds a
 * client that never stops); an error, or a close before the end (the client went away), is
 * `INVALID_REQUEST`.
 */
function readNodeStream(stream: NodeReadable, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
      stream.removeListener('close', onClose);
    };
    const onData = (chunk: Uint8Array | string): void => {
      const buffer = toBuffer(chunk);
      size += buffer.byteLength;
      if (size > limit) {
        done();
        // The rest flows away unread; a later error of the stream must not go unhandled.
        stream.on('error', ignore);
        reject(tooLarge());
        return;
      }
      chunks.push(buffer);
    };
    const onEnd = (): void => {
      done();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      done();
      reject(unreadable(err));
    };
    const onClose = (): void => {
      done();
      reject(unreadable(new Error('the stream closed before its end')));
    };
    if (stream.readableEnded) {
      resolve(Buffer.alloc(0));
      return;
    }
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}
