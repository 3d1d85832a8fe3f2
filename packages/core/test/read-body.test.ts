import http from 'node:http';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { isTiergateError, readBody } from '@tiergate/core';
import { listenLocal, type LocalServer } from '@tiergate/testing';

type Outcome = { ok: true; body: string } | { ok: false; code: string };

async function outcome(promise: Promise<Buffer>): Promise<Outcome> {
  try {
    return { ok: true, body: (await promise).toString('utf8') };
  } catch (err) {
    if (isTiergateError(err)) return { ok: false, code: err.code };
    throw err;
  }
}

/** A real server that reads each request body with readBody(limit) and hands the outcome to the test. */
async function bodyServer(limit: number): Promise<{ server: LocalServer; next: () => Promise<Outcome> }> {
  const outcomes: Outcome[] = [];
  const waiting: ((o: Outcome) => void)[] = [];
  const server = await listenLocal(
    http.createServer((req, res) => {
      void outcome(readBody(req, limit)).then((o) => {
        const waiter = waiting.shift();
        if (waiter === undefined) outcomes.push(o);
        else waiter(o);
        if (!res.destroyed) res.end(JSON.stringify(o));
      });
    }),
  );
  return { server, next: () => new Promise<Outcome>((resolve) => (outcomes.length > 0 ? resolve(outcomes.shift() as Outcome) : waiting.push(resolve))) };
}

let open: LocalServer | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

describe('readBody on a Node request (read with its events)', () => {
  it('reads a body sent in several chunks, byte for byte', async () => {
    const { server, next } = await bodyServer(1 << 20);
    open = server;
    const text = `{"issue":"${'é✓'.repeat(20_000)}"}`;
    const response = await fetch(server.origin, { method: 'POST', body: text, headers: { 'content-type': 'application/json' } });
    expect(await next()).toEqual({ ok: true, body: text });
    expect(response.status).toBe(200);
  });

  it('reads an empty body', async () => {
    const { server, next } = await bodyServer(10);
    open = server;
    await fetch(server.origin, { method: 'POST' });
    expect(await next()).toEqual({ ok: true, body: '' });
  });

  it('accepts a body of exactly the limit and refuses one byte more with PAYLOAD_TOO_LARGE', async () => {
    const { server, next } = await bodyServer(1000);
    open = server;
    await fetch(server.origin, { method: 'POST', body: 'x'.repeat(1000) });
    expect(await next()).toEqual({ ok: true, body: 'x'.repeat(1000) });
    await fetch(server.origin, { method: 'POST', body: 'x'.repeat(1001) }).catch(() => undefined);
    expect(await next()).toEqual({ ok: false, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('refuses a body far over the limit after its first kilobytes, and the answer still reaches the client', async () => {
    const { server, next } = await bodyServer(1000);
    open = server;
    // 64 MB announced and streamed: the server's answer arrives while the client is still sending.
    const socket = net.connect(server.port, '127.0.0.1');
    socket.on('error', () => undefined);
    let received = '';
    const answered = new Promise<void>((resolve) => socket.on('data', (d: Buffer) => ((received += d.toString('latin1')), received.includes('PAYLOAD_TOO_LARGE') && resolve())));
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${64 << 20}\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 'y');
    const writer = setInterval(() => socket.writable && socket.write(chunk), 1);
    try {
      expect(await next()).toEqual({ ok: false, code: 'PAYLOAD_TOO_LARGE' });
      await answered;
      expect(received.startsWith('HTTP/1.1 200')).toBe(true);
    } finally {
      clearInterval(writer);
      socket.destroy();
    }
  });

  it('a client that goes away midway is INVALID_REQUEST, not a hang', async () => {
    const { server, next } = await bodyServer(1 << 20);
    open = server;
    const socket = net.connect(server.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"issue":');
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    expect(await next()).toEqual({ ok: false, code: 'INVALID_REQUEST' });
  });
});

describe('readBody on other streams', () => {
  it('a Node stream that fails is INVALID_REQUEST', async () => {
    const stream = new PassThrough();
    const reading = outcome(readBody(stream, 100));
    stream.write('{"a":');
    stream.destroy(new Error('boom'));
    expect(await reading).toEqual({ ok: false, code: 'INVALID_REQUEST' });
  });

  it('a Node stream that fails after its body was refused as too large fails nothing else', async () => {
    const stream = new PassThrough();
    const reading = outcome(readBody(stream, 4));
    stream.write('abcdef');
    expect(await reading).toEqual({ ok: false, code: 'PAYLOAD_TOO_LARGE' });
    // Without a listener this error would be thrown as an uncaught exception (and fail the run).
    stream.destroy(new Error('reset by peer'));
    await new Promise((resolve) => stream.once('close', resolve));
    expect(stream.destroyed).toBe(true);
  });

  it('reads string chunks of a Node stream with an encoding set', async () => {
    const stream = new PassThrough();
    stream.setEncoding('utf8');
    const reading = outcome(readBody(stream, 100));
    stream.write('héllo ');
    stream.end('wörld');
    expect(await reading).toEqual({ ok: true, body: 'héllo wörld' });
  });

  it('reads any async iterable of bytes (a web stream, a generator) under the same limit', async () => {
    async function* chunks(parts: string[]) {
      for (const part of parts) yield new TextEncoder().encode(part);
    }
    expect(await outcome(readBody(chunks(['ab', 'cd']), 4))).toEqual({ ok: true, body: 'abcd' });
    expect(await outcome(readBody(chunks(['ab', 'cde']), 4))).toEqual({ ok: false, code: 'PAYLOAD_TOO_LARGE' });
    expect(await outcome(readBody(new Blob(['web ', 'stream']).stream() as unknown as AsyncIterable<Uint8Array>, 100))).toEqual({ ok: true, body: 'web stream' });
  });
});
