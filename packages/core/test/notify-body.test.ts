import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apiKeyAuthenticator, createHandler, createTiergate, memoryStore } from '@tiergate/core';
import { notifyBody } from '../src/http/kernel.js';
import { isJsonPlain } from '../src/render/json.js';
import type { NotifyOperatorResult } from '../src/schemas/wire.js';

// What success() writes for a notify-operator answer: the reference notifyBody must equal.
const reference = (result: NotifyOperatorResult, steps: string) => `{"result":${JSON.stringify(result)},"next_steps":${steps}}`;
const STEPS = JSON.stringify(['Share operator_action_url with your operator via Slack, email, or UI', 'Link is valid for 7 days']);
const URL_PLAIN = 'http://127.0.0.1:3000/operator/action?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY2NfMSJ9.c2lnbmF0dXJl';

function answer(url: string, issue: string, label: string, approval: boolean, script = `Tell your operator: ${issue} Here's a direct action link: ${url}`): NotifyOperatorResult {
  const base = { operator_action_url: url, operator_action_label: label, agent_script: script, notification_id: 'not_abc', expires_at: '2026-12-07T21:10:19.000Z' };
  return approval ? { ...base, request_id: 'apr_xyz', status: 'pending' } : base;
}

// Text that JSON.stringify escapes (quotes, backslashes, controls, lone surrogates) next to text it does not.
const text = fc.string({ unit: fc.constantFrom('a', ' ', '"', '\\', '\n', '\u0000', '\u001f', '\u007f', 'é', '😀', '\uD800', '\uDC00', '\u2028', '/') });

describe('notifyBody', () => {
  it('writes exactly what JSON.stringify writes, for any issue and label, and any link the caller vouches for', () => {
    fc.assert(
      fc.property(text, text, fc.boolean(), fc.oneof(fc.constant(URL_PLAIN), text.map((t) => `${URL_PLAIN}${t}`)), (issue, label, approval, url) => {
        const result = answer(url, issue, label, approval);
        // verbatim only for a JSON-plain link, as the service says it.
        expect(notifyBody(result, STEPS, isJsonPlain(url))).toBe(reference(result, STEPS));
        expect(notifyBody(result, STEPS, false)).toBe(reference(result, STEPS));
      }),
      { numRuns: 3000 },
    );
  });

  it('writes the same for a catalog whose script puts the link elsewhere, or leaves it out', () => {
    fc.assert(
      fc.property(text, text, fc.boolean(), (before, after, approval) => {
        const around = answer(URL_PLAIN, 'x', 'Open', approval, `${before}${URL_PLAIN}${after}`);
        expect(notifyBody(around, STEPS, true)).toBe(reference(around, STEPS));
        const without = answer(URL_PLAIN, 'x', 'Open', approval, `${before}${after}`);
        expect(notifyBody(without, STEPS, true)).toBe(reference(without, STEPS));
      }),
      { numRuns: 1000 },
    );
  });

  it('serialises a result it was not promised the order of as it is', () => {
    const result = { notification_id: 'not_1', operator_action_url: URL_PLAIN, extra: 1 } as unknown as NotifyOperatorResult;
    expect(notifyBody(result, STEPS, false)).toBe(reference(result, STEPS));
    expect(JSON.parse(notifyBody(result, STEPS, false))).toEqual({ result, next_steps: JSON.parse(STEPS) });
  });
});

describe('isJsonPlain', () => {
  it('is true only when JSON.stringify escapes nothing, and for all printable ASCII but quote and backslash', () => {
    fc.assert(fc.property(text, (t) => !isJsonPlain(t) || JSON.stringify(t) === `"${t}"`), { numRuns: 3000 });
    const ascii = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).filter((c) => c !== 0x22 && c !== 0x5c).map((c) => String.fromCharCode(c)) });
    fc.assert(fc.property(ascii, (t) => isJsonPlain(t)), { numRuns: 1000 });
    expect(isJsonPlain(URL_PLAIN)).toBe(true);
    for (const t of ['a"b', 'a\\b', 'a\nb', 'caf\u00e9']) expect(isJsonPlain(t)).toBe(false);
  });
});

describe('POST /v1/notify-operator answers valid JSON whatever the public URL holds', () => {
  for (const publicUrl of ['https://api.example.com', 'https://api.example.com/x"y\\z', 'https://api.example.com/caf\u00e9']) {
    it(publicUrl, async () => {
      const account = { id: 'acc_1', tier: 'free' };
      const tiergate = createTiergate({ authenticate: apiKeyAuthenticator([{ apiKey: 'key-0123456789abcdef', account }]), secret: 'test-secret-0123456789abcdef-0123456789', publicUrl: () => publicUrl, store: memoryStore(), logger: { debug() {}, info() {}, warn() {}, error() {} } });
      const response = await createHandler(tiergate)({
        method: 'POST',
        path: '/v1/notify-operator',
        query: '',
        headers: { authorization: 'Bearer key-0123456789abcdef', 'content-type': 'application/json' },
        body: JSON.stringify({ issue: 'Say "hi" \\ back\u2028 please', context: { a: 1 } }),
      });
      expect(response.status).toBe(201);
      const answer = JSON.parse(response.body) as { result: NotifyOperatorResult; next_steps: string[] };
      expect(answer.result.operator_action_url.startsWith(`${publicUrl}/operator/action?token=`)).toBe(true);
      expect(answer.result.agent_script.startsWith('Tell your operator: Say "hi" \\ back\u2028 please')).toBe(true);
      expect(answer.result.agent_script.endsWith(` ${answer.result.operator_action_url}`)).toBe(true);
      expect(response.body).toBe(`{"result":${JSON.stringify(answer.result)},"next_steps":${JSON.stringify(answer.next_steps)}}`);
    });
  }
});

describe('the context as validated is the context sealed', () => {
  it('seals the JSON text validation produced, which opens to the same value', async () => {
    const { parseNotifyOperatorBody } = await import('../src/schemas/wire.js');
    const { validatedContextJson } = await import('../src/schemas/context-json.js');
    const context = { customer: 'cus_1', nested: { list: [1, 'two', null, { deep: true }] }, text: 'é "quoted" \u2028' };
    const parsed = parseNotifyOperatorBody({ issue: 'x', context });
    if (!parsed.ok || parsed.value.context === undefined) throw new Error('valid body refused');
    const text = validatedContextJson(parsed.value.context);
    expect(text).toBe(JSON.stringify(context));
    // Read once; another object, or a context that failed validation, has no text.
    expect(validatedContextJson(parsed.value.context)).toBeUndefined();
    const again = parseNotifyOperatorBody({ issue: 'x', context });
    if (!again.ok || again.value.context === undefined) throw new Error('valid body refused');
    expect(validatedContextJson({ ...context })).toBeUndefined();
    // A context validation refused does not take the slot of the last one accepted.
    const third = parseNotifyOperatorBody({ issue: 'x', context: { n: 3 } });
    if (!third.ok || third.value.context === undefined) throw new Error('valid body refused');
    expect(parseNotifyOperatorBody({ issue: 'x', context: { big: 'x'.repeat(20_000) } }).ok).toBe(false);
    expect(validatedContextJson(third.value.context)).toBe('{"n":3}');

    const account = { id: 'acc_1', tier: 'free' };
    const store = memoryStore();
    const tiergate = createTiergate({ authenticate: apiKeyAuthenticator([{ apiKey: 'key-0123456789abcdef', account }]), secret: 'test-secret-0123456789abcdef-0123456789', publicUrl: 'https://api.example.com', store, logger: { debug() {}, info() {}, warn() {}, error() {} } });
    const result = await tiergate.notifyOperator(account, { issue: 'Look', context });
    const view = await tiergate.operatorView(new URL(result.operator_action_url).searchParams.get('token'), null);
    expect(view).toMatchObject({ kind: 'notification', context: { state: 'ok', value: context } });
  });
});
