// A fast-check property over every route of every adapter: generated methods,
// paths, query strings, headers and bodies (valid credentials and tokens mixed
// with garbage) never produce a 5xx, a redirect, an unhandled rejection or an
// error in the framework's own handling; pages always carry their CSP; and the
// server keeps answering afterwards. Malformed HTTP framing is thrown at it too.
import http from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_CSP } from '@tiergate/core';
import {
  FRAMEWORKS,
  PREFIX,
  expectCleanLogs,
  expectSuccess,
  formBody,
  openStore,
  postDecision,
  requestApproval,
  startHarness,
  type Harness,
  type StoreHandle,
} from './harness.js';

interface RawReply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** One request with Node's client (fetch would normalise the path and refuse some headers). */
function send(origin: string, request: { method: string; path: string; headers: Record<string, string>; body: string | Uint8Array | undefined }): Promise<RawReply> {
  const { hostname, port } = new URL(origin);
  // An explicit length: Node's client sends DELETE/OPTIONS bodies unframed otherwise, which desynchronises the connection.
  const headers = request.body === undefined ? request.headers : { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) };
  return new Promise<RawReply>((resolve, reject) => {
    const req = http.request({ host: hostname, port, method: request.method, path: request.path, headers, agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${request.method} ${request.path}`)));
    req.on('error', reject);
    req.end(request.body);
  });
}

/** Writes raw bytes on a fresh connection and returns what came back before the server closed it (or 0.8 s passed). */
function sendRaw(origin: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(origin);
  return new Promise<string>((resolve) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    const done = () => {
      socket.destroy();
      resolve(received);
    };
    socket.setTimeout(800, done);
    socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
    socket.on('close', done);
    socket.on('error', done);
    socket.write(bytes, 'latin1');
  });
}

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const anyText = fc.string({ unit: 'binary', maxLength: 60 });

describe.each(FRAMEWORKS.map((framework) => ({ framework })))('fuzzing every route on $framework', ({ framework }) => {
  let stores: StoreHandle;
  let h: Harness;
  const pool: { keys: string[]; tokens: string[]; formTokens: string[]; approvalIds: string[] } = { keys: [], tokens: [], formTokens: [], approvalIds: [] };

  beforeAll(async () => {
    stores = await openStore('memory');
    h = await startHarness(framework, stores);
    const account = h.addAccount({ operatorEmail: 'ops@example.com' });
    const free = h.addAccount({ tier: 'free' });
    const decided = await requestApproval(h, account.key);
    expect((await postDecision(h, decided.form, 'approve')).status).toBe(200);
    const pending = await requestApproval(h, account.key);
    const notification = expectSuccess(await h.api('POST', '/v1/notify-operator', { key: account.key, json: { issue: 'Fuzz target', context: { a: [1, { b: null }] } } }), 201);
    const caps = expectSuccess(await h.api('GET', '/v1/capabilities', { key: free.key }), 200);
    const tokenOf = (url: string) => new URL(url).searchParams.get('token') as string;
    pool.keys.push(account.key, free.key);
    pool.tokens.push(decided.form.token, pending.form.token, tokenOf(notification.operator_action_url), tokenOf(caps.cannot[0].unlock_url));
    pool.formTokens.push(decided.form.formToken, pending.form.formToken);
    // Only decided approvals: a long poll on a pending one would hold a request for up to 30 s.
    pool.approvalIds.push(decided.id, 'apr_unknown', 'apr_', `apr_${'x'.repeat(80)}`);
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
  });

  it('generated requests never get a 5xx or a redirect; pages carry their CSP; no unhandled rejection; the server keeps answering', { timeout: 60_000 }, async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const pick = <T>(values: T[]) => fc.constantFrom(...values);
    const segment = fc.oneof(
      pick(['v1', 'capabilities', 'account', 'upgrade-link', 'notify-operator', 'approvals', 'openapi.json', 'operator', 'action', 'upgrade', '..', '.', '', '%2e%2e', '%2F', '%00', '%ff', '%', '%zz', ';x=1', '~', 'apr_x']),
      pick(pool.approvalIds),
      printable.map(encodeURIComponent),
    );
    const route = pick([
      '/v1/capabilities',
      '/v1/account',
      '/v1/upgrade-link',
      '/v1/notify-operator',
      '/v1/openapi.json',
      '/operator/action',
      '/upgrade',
      ...pool.approvalIds.map((id) => `/v1/approvals/${id}`),
    ]);
    const path = fc.oneof({ weight: 4, arbitrary: route }, { weight: 1, arbitrary: fc.array(segment, { maxLength: 5 }).map((parts) => `/${parts.join('/')}`) });
    const queryValue = fc.oneof(pick(pool.tokens), pick(pool.formTokens), anyText, pick(['', '0', '1', '30', '31', '-1', '1e9', 'NaN', 'approve', 'deny', 'https://evil.example', '//evil.example']));
    const queryKey = fc.oneof(pick(['token', 'choice', 'wait', 'decision', 'redirect', 'next', 'url', '__proto__', 'constructor']), printable);
    const query = fc.oneof(
      fc.array(fc.tuple(queryKey, queryValue), { maxLength: 4 }).map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')),
      pick(['%', '%zz', '&&&', '===', 'token', 'token=%E0%A4%A', 'wait=5&wait=99', 'token[]=a&token[x]=b']),
    );
    const headers = fc.record(
      {
        authorization: fc.oneof(pick(pool.keys).map((k) => `Bearer ${k}`), pick(['Bearer', 'Basic x', 'bearer  x', '']), printable),
        'content-type': fc.oneof(
          pick(['application/json', 'application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/merge-patch+json', 'APPLICATION/JSON', 'application/json;;', '/// nonsense']),
          printable,
        ),
        origin: pick(['null', 'https://evil.example', 'http://127.0.0.1']),
        'sec-fetch-site': pick(['same-origin', 'same-site', 'cross-site', 'none', 'bogus']),
        'content-encoding': pick(['gzip', 'br', 'identity', 'x-unknown']),
        'user-agent': fc.oneof(printable, pick(['Slackbot-LinkExpanding 1.0', 'facebookexternalhit/1.1'])),
        accept: pick(['text/html', 'application/json', '*/*']),
        'x-forwarded-for': pick(['1.2.3.4', 'garbage', '::1, 10.0.0.1']),
      },
      { requiredKeys: [] },
    );
    const form = fc
      .record(
        {
          token: fc.oneof(pick(pool.tokens), anyText),
          form_token: fc.oneof(pick(pool.formTokens), anyText),
          decision: fc.oneof(pick(['approve', 'deny']), anyText),
          denial_reason: anyText,
          name: anyText,
        },
        { requiredKeys: [] },
      )
      .map((fields) => formBody(fields as Record<string, string>));
    const body = fc.oneof(
      fc.constant(undefined),
      fc.json({ maxDepth: 4 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ type: 'approval_request', action: 'a', reason: 'r', context: v })),
      fc.record({ issue: anyText, context: fc.jsonValue({ maxDepth: 3 }), callback_url: anyText, expires_in: fc.integer(), type: pick(['notification', 'approval_request', 'x']) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
      form,
      anyText,
      fc.uint8Array({ maxLength: 64 }),
      fc.constant(`{"issue":"${'x'.repeat(70 * 1024)}"}`),
    );
    const request = fc.record({
      method: pick(['GET', 'HEAD', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']),
      path,
      query,
      headers,
      body,
    });

    const statuses = new Map<number, number>();
    try {
      await fc.assert(
        fc.asyncProperty(request, async ({ method, path: p, query: q, headers: hs, body: b }) => {
          const withBody = method !== 'GET' && method !== 'HEAD' && b !== undefined;
          const reply = await send(h.origin, { method, path: `${PREFIX}${p}${q === '' ? '' : `?${q}`}`, headers: hs as Record<string, string>, body: withBody ? b : undefined });
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
          expect(reply.status, `${method} ${p}?${q}`).toBeGreaterThanOrEqual(200);
          expect(reply.status, `${method} ${p}?${q} → ${reply.body.slice(0, 200)}`).toBeLessThan(500);
          expect(reply.status >= 300 && reply.status < 400).toBe(false);
          expect(reply.headers['location']).toBeUndefined();
          const type = String(reply.headers['content-type'] ?? '');
          if (type.startsWith('text/html')) expect(reply.headers['content-security-policy']).toBe(PAGE_CSP);
          if (type.startsWith('application/json') && method !== 'HEAD' && reply.body !== '') expect(() => JSON.parse(reply.body)).not.toThrow();
        }),
        { numRuns: 200 },
      );
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(h.frameworkErrors).toEqual([]);
    expect(h.logs.filter((l) => l.level === 'error')).toEqual([]);
    // Many kinds of answer were seen, not only one (the generators reach the routes).
    expect([...statuses.keys()].filter((s) => s < 300).length).toBeGreaterThan(0);
    expect([...statuses.keys()].length).toBeGreaterThanOrEqual(5);
    expectSuccess(await h.api('GET', '/v1/capabilities', { key: pool.keys[0] as string }), 200);
    expectCleanLogs(h);
  });

  it('malformed HTTP framing is refused and the server keeps answering', async () => {
    const path = `${PREFIX}/v1/notify-operator`;
    const auth = `Authorization: Bearer ${pool.keys[0]}\r\n`;
    const attempts = [
      `POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\n{"a":1}`,
      `POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      `POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
      `POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: -1\r\n\r\n`,
      `GET ${PREFIX}/v1/capabilities HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n`,
      `GET ${PREFIX}/v1/capabilities HTTP/1.1\r\nHost: x\r\nX-Nul: a\u0000b\r\n\r\n`,
      `GET ${PREFIX}/operator/action?token=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET ${PREFIX}/v1/capabilities HTTP/9.9\r\nHost: x\r\n\r\n`,
      `\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003`,
      `POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"issue":`,
    ];
    for (const bytes of attempts) {
      const answer = await sendRaw(h.origin, bytes);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);
      // Either refused with a 4xx or the connection closed without an answer: never a 5xx.
      expect(status === 0 || (status >= 400 && status < 500), answer.slice(0, 80)).toBe(true);
    }
    expectSuccess(await h.api('GET', '/v1/capabilities', { key: pool.keys[0] as string }), 200);
    // Koa reports a client's broken framing (llhttp's HPE_* errors) on app.on('error'); that is the peer's fault, not a failure.
    const clientFaults = (e: unknown) => /^HPE_|^ECONNRESET$/.test(String((e as { code?: unknown }).code ?? ''));
    expect(h.frameworkErrors.filter((e) => !clientFaults(e))).toEqual([]);
    expect(h.logs.filter((l) => l.level === 'error')).toEqual([]);
  });
});
