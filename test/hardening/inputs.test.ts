// Hostile inputs through real HTTP on every framework and store: the length
// limits count UTF-16 code units exactly, whitespace-only text, control
// characters, bidi overrides, lone surrogates and broken encodings are refused
// with 400 before anything is stored (and cost no rate-limit point), and HTML
// in every rendered field comes out as inert text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeHtml } from '@tiergate/core';
import {
  approvalState,
  expectCleanLogs,
  expectError,
  expectPageHeaders,
  expectSuccess,
  matrix,
  openStore,
  postDecision,
  requestApproval,
  startHarness,
  storeKinds,
  type Harness,
  type StoreHandle,
} from './harness.js';

/** Text that must be refused wherever free text is accepted. */
const BAD_TEXT: Record<string, string> = {
  'empty': '',
  'spaces only': '   ',
  'whitespace only': '\n\t \r\n',
  'no-break and em spaces only': '\u00a0\u2003\u3000',
  'NUL': 'ok\u0000then',
  'BEL': 'ring\u0007',
  'ANSI escape': '\u001b[31mred\u001b[0m',
  'DEL': 'x\u007f',
  'C1 control (NEL)': 'x\u0085y',
  'right-to-left override': 'invoice\u202Efdp.exe',
  'left-to-right isolate': 'a\u2066b',
  'lone high surrogate': 'broken \ud800',
  'lone low surrogate': '\udc00 broken',
};

/** Markup an agent (or an attacker steering one) could put in any field. */
const MARKUP = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(2)>',
  "'><svg/onload=alert(3)>",
  '</textarea><script>alert(4)</script>',
  '</pre><iframe src="javascript:alert(5)"></iframe>',
  '<a href="javascript:alert(6)">click</a>',
  '<base href="https://evil.example/">',
  '<meta http-equiv="refresh" content="0;url=https://evil.example">',
  '<style>body{display:none}</style>',
  '&lt;script&gt;already escaped&lt;/script&gt;',
];

/** Tags and attributes that may only appear in a page as tiergate wrote it. */
function expectInert(html: string, payloads: readonly string[]): void {
  for (const payload of payloads) {
    expect(html.includes(payload), `raw payload in the page: ${payload}`).toBe(false);
  }
  expect(html).not.toMatch(/<(script|img|svg|iframe|base|meta http-equiv|a href="javascript)/i);
  // No inline style at all: the only styling is tiergate's own stylesheet file (CSP style-src 'self').
  expect(html).not.toMatch(/<style/i);
  expect(html.match(/<link /g)).toHaveLength(1);
  expect(html).toMatch(/<link rel="stylesheet" href="[^"]*\/operator\/tiergate-[A-Za-z0-9_-]{16}\.css">/);
  expect(html.match(/<textarea/g)?.length ?? 0).toBeLessThanOrEqual(1);
}

describe.each(matrix(storeKinds('inputs.test.ts')))('inputs on $framework + $store', ({ framework, store }) => {
  let stores: StoreHandle;
  let h: Harness;

  beforeAll(async () => {
    stores = await openStore(store);
    h = await startHarness(framework, stores);
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
  });

  it('issue, reason and action_label: the limit counts UTF-16 code units, at the limit passes, one over fails', async () => {
    const astral = '\u{1F600}'; // two UTF-16 code units
    const fields: { build: (value: string) => Record<string, unknown>; path: string; limit: number }[] = [
      { build: (issue) => ({ issue }), path: 'issue', limit: 1000 },
      { build: (reason) => ({ type: 'approval_request', action: 'bulk_send', reason }), path: 'reason', limit: 1000 },
      { build: (issue) => ({ type: 'approval_request', action: 'bulk_send', reason: 'r', issue }), path: 'issue', limit: 1000 },
      { build: (label) => ({ issue: 'i', action_label: label }), path: 'action_label', limit: 100 },
    ];
    for (const field of fields) {
      const account = h.addAccount();
      const fits = ['a'.repeat(field.limit), astral.repeat(field.limit / 2), `${astral.repeat(field.limit / 2 - 1)}ab`];
      const over = ['a'.repeat(field.limit + 1), `${astral.repeat(field.limit / 2)}a`, `${'a'.repeat(field.limit - 1)}${astral}`];
      for (const value of fits) {
        expect(value.length).toBe(field.limit);
        expectSuccess(await h.api('POST', '/v1/notify-operator', { key: account.key, json: field.build(value) }), 201);
      }
      for (const value of over) {
        expect(value.length).toBe(field.limit + 1);
        const error = expectError(await h.api('POST', '/v1/notify-operator', { key: account.key, json: field.build(value) }), 400, 'INVALID_REQUEST');
        expect(error.details.map((d: { path: string }) => d.path)).toContain(field.path);
      }
    }
  });

  it('whitespace-only text, control characters, bidi overrides and lone surrogates: 400, nothing stored, no rate-limit point kept', async () => {
    const account = h.addAccount();
    const before = await stores.counts();
    for (const [name, bad] of Object.entries(BAD_TEXT)) {
      for (const body of [
        { issue: bad },
        { issue: 'fine', action_label: bad },
        { type: 'approval_request', action: 'bulk_send', reason: bad },
        { type: 'approval_request', action: 'bulk_send', reason: 'fine', issue: bad },
      ]) {
        // Sent as raw JSON text so lone surrogates travel as \ud800 escapes, exactly as a client would write them.
        const reply = await h.api('POST', '/v1/notify-operator', { key: account.key, body: JSON.stringify(body), contentType: 'application/json' });
        expect({ name, status: reply.status }).toEqual({ name, status: 400 });
        expectError(reply, 400, 'INVALID_REQUEST');
      }
    }
    const brokenBodies: [string, string | Uint8Array, number, string][] = [
      ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0x69, 0x73, 0x73, 0x75, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 400, 'INVALID_REQUEST'],
      ['overlong UTF-8 NUL', new Uint8Array([0x7b, 0x22, 0x69, 0x73, 0x73, 0x75, 0x65, 0x22, 0x3a, 0x22, 0xc0, 0x80, 0x22, 0x7d]), 400, 'INVALID_REQUEST'],
      ['UTF-16 with BOM', new Uint8Array([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]), 400, 'INVALID_REQUEST'],
      ['truncated JSON', '{"issue": "half', 400, 'INVALID_REQUEST'],
      ['a JSON array', '["issue"]', 400, 'INVALID_REQUEST'],
      ['a JSON string', '"issue"', 400, 'INVALID_REQUEST'],
      ['JSON null', 'null', 400, 'INVALID_REQUEST'],
      ['issue as a number', '{"issue": 42}', 400, 'INVALID_REQUEST'],
      ['context as an array', '{"issue": "x", "context": [1, 2]}', 400, 'INVALID_REQUEST'],
      ['context nested 9 deep', `{"issue": "x", "context": ${'{"a":'.repeat(9)}1${'}'.repeat(9)}}`, 400, 'INVALID_REQUEST'],
      ['context nested 20,000 deep', `{"issue": "x", "context": {"a": ${'['.repeat(20_000)}${']'.repeat(20_000)}}}`, 400, 'INVALID_REQUEST'],
      ['issue nested 9,000 deep', `{"issue": ${'{"a":'.repeat(9_000)}1${'}'.repeat(9_000)}}`, 400, 'INVALID_REQUEST'],
      ['snake and camel aliases nested deep', `{"type": "approval_request", "action": "a", "reason": "r", "callback_url": ${'['.repeat(9_000)}${']'.repeat(9_000)}, "callbackUrl": ${'['.repeat(9_000)}1${']'.repeat(9_000)}}`, 400, 'INVALID_REQUEST'],
      ['context key with a lone surrogate', '{"issue": "x", "context": {"\\ud800": 1}}', 400, 'INVALID_REQUEST'],
      ['context over 16 KiB', JSON.stringify({ issue: 'x', context: { blob: 'x'.repeat(17 * 1024) } }), 400, 'INVALID_REQUEST'],
      ['body over 64 KiB', JSON.stringify({ issue: 'x', context: { blob: 'x'.repeat(70 * 1024) } }), 413, 'PAYLOAD_TOO_LARGE'],
      ['expires_in below the minimum', '{"type": "approval_request", "action": "a", "reason": "r", "expires_in": 59}', 400, 'INVALID_REQUEST'],
      ['expires_in as a float', '{"type": "approval_request", "action": "a", "reason": "r", "expires_in": 60.5}', 400, 'INVALID_REQUEST'],
      ['action with markup', '{"type": "approval_request", "action": "<b>x</b>", "reason": "r"}', 400, 'INVALID_REQUEST'],
      ['urgency outside the set', '{"type": "approval_request", "action": "a", "reason": "r", "urgency": "critical"}', 400, 'INVALID_REQUEST'],
    ];
    for (const [name, body, status, code] of brokenBodies) {
      const reply = await h.api('POST', '/v1/notify-operator', { key: account.key, body, contentType: 'application/json' });
      expect({ name, status: reply.status }).toEqual({ name, status });
      expectError(reply, status, code);
    }
    expect(await stores.counts()).toEqual(before);
    // None of the refused requests kept a point of the 10-per-hour budget.
    for (let i = 0; i < 10; i += 1) expectSuccess(await h.api('POST', '/v1/notify-operator', { key: account.key, json: { issue: `valid ${i}` } }), 201);
    expectError(await h.api('POST', '/v1/notify-operator', { key: account.key, json: { issue: 'one too many' } }), 429, 'RATE_LIMITED');
  });

  it('the decision form refuses control characters and overlong text in the denial reason and name, and changes nothing', async () => {
    const account = h.addAccount(); // no operator e-mail: the page asks for a name
    const a = await requestApproval(h, account.key);
    const before = await approvalState(h, a.id);
    const attempts: Record<string, string>[] = [
      { denial_reason: 'no\u0000way' },
      { denial_reason: 'bell\u0007' },
      { denial_reason: 'flip\u202Eit' },
      { denial_reason: 'x'.repeat(1001) },
      { denial_reason: 'ok', name: 'Eve\u0000' },
      { denial_reason: 'ok', name: '\u001b[2J' },
      { denial_reason: 'ok', name: 'n'.repeat(101) },
    ];
    for (const extra of attempts) {
      const reply = await postDecision(h, a.form, 'deny', extra);
      expect({ extra: JSON.stringify(extra).slice(0, 60), status: reply.status }).toEqual({ extra: JSON.stringify(extra).slice(0, 60), status: 400 });
      expectPageHeaders(reply);
    }
    expect(await approvalState(h, a.id)).toEqual(before);
    const reason = `${'r'.repeat(998)}\u{1F600}`; // exactly 1000 UTF-16 code units
    expect((await postDecision(h, a.form, 'deny', { denial_reason: reason, name: 'Ada' })).status).toBe(200);
    expect(await h.tiergate.approvals.get(a.id)).toMatchObject({ status: 'denied', denialReason: reason.trim(), decidedBy: 'Ada' });
  });

  it('HTML and script in every rendered field (issue, reason, context keys and values, denial reason, name) come out escaped', async () => {
    const account = h.addAccount();
    for (const payload of MARKUP) {
      const context = { [payload]: payload, nested: { list: [payload] } };
      const notification = expectSuccess(await h.api('POST', '/v1/notify-operator', { key: account.key, json: { issue: payload, context } }), 201);
      const page = await h.fetch('GET', notification.operator_action_url);
      expect(page.status).toBe(200);
      expectPageHeaders(page);
      expectInert(page.text, [payload]);
      expect(page.text).toContain(`<p class="issue">${escapeHtml(payload)}</p>`);
    }
    const decider = h.addAccount();
    const payload = MARKUP.join(' ');
    const a = await requestApproval(h, decider.key, { reason: payload.slice(0, 1000), issue: payload.slice(0, 1000), context: { note: payload } });
    const page = await h.fetch('GET', a.url);
    expectInert(page.text, MARKUP);
    expect(page.text).toContain(`<dd>${escapeHtml(payload.slice(0, 1000))}</dd>`);
    const denied = await postDecision(h, a.form, 'deny', { denial_reason: MARKUP[1] as string, name: MARKUP[0] as string });
    expect(denied.status).toBe(200);
    expectInert(denied.text, MARKUP);
    for (const shown of [await h.fetch('GET', a.url), await postDecision(h, a.form, 'approve')]) {
      expectPageHeaders(shown);
      expectInert(shown.text, MARKUP);
      expect(shown.text).toContain(escapeHtml(MARKUP[0] as string));
      expect(shown.text).toContain(escapeHtml(MARKUP[1] as string));
    }
    // The agent API returns the same text as JSON, unchanged (escaping is the page's job).
    const status = expectSuccess(await h.api('GET', `/v1/approvals/${a.id}`, { key: decider.key }), 200);
    expect(status).toMatchObject({ status: 'denied', decided_by: MARKUP[0], denial_reason: MARKUP[1] });
  });

  it('no token, API key or context reached a log line', () => {
    expectCleanLogs(h, ['valid 0']);
  });
});
