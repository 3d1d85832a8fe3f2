// The operator page's hot helpers, rewritten for speed, against the plain versions they replaced.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKeyring, englishMessages, escapeHtml } from '@tiergate/core';
import { isoTime } from '../src/clock.js';
import { setBounded } from '../src/bounded-map.js';
import { queryParam } from '../src/http/kernel.js';
import { freezeJson, isFrozenJson } from '../src/frozen-json.js';
import { escapedJson, escapeRecurring, formatJson } from '../src/render/html.js';

const plainEscape = (value: unknown): string =>
  String(value).replace(/[&<>"'`]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' })[c] as string);

describe('escapeHtml', () => {
  it('escapes the six characters and leaves everything else', () => {
    expect(escapeHtml(`<a href="x" title='y'>&\`</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&#96;&lt;/a&gt;');
    expect(escapeHtml('plain text, ünïcødé 😀')).toBe('plain text, ünïcødé 😀');
    expect(escapeHtml('')).toBe('');
    expect(escapeHtml(42)).toBe('42');
    expect(escapeHtml(null)).toBe('null');
  });

  it('matches a regex replace on any string', () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('a', '&', '<', '>', '"', "'", '`', 'é', '😀', ' ', '\n') }), (s) => escapeHtml(s) === plainEscape(s)), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => escapeHtml(s) === plainEscape(s)), { numRuns: 500 });
  });
});

describe('setBounded (internal: every in-process memory of tiergate)', () => {
  it('keeps at most max entries, the one set longest ago going first', () => {
    const map = new Map<string, number>();
    for (let i = 0; i < 5; i += 1) setBounded(map, `k${i}`, i, 3);
    expect([...map]).toEqual([
      ['k2', 2],
      ['k3', 3],
      ['k4', 4],
    ]);
    // A key moved to the back (deleted first) outlives the ones set before it.
    map.delete('k2');
    setBounded(map, 'k2', 22, 3);
    setBounded(map, 'k5', 5, 3);
    expect([...map.keys()]).toEqual(['k4', 'k2', 'k5']);
  });
});

describe('escapeRecurring (internal: texts a page shows on every view)', () => {
  it('is escapeHtml, the first time and every time after', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '&', '<', '>', '"', "'", '`', 'é', '😀', ' ') }), (s) => escapeRecurring(s) === plainEscape(s) && escapeRecurring(s) === plainEscape(s)),
      { numRuns: 2000 },
    );
  });

  it('stays right after more distinct texts than it keeps', () => {
    const texts = Array.from({ length: 3000 }, (_, i) => `<b title="${i}">&${i}</b>`);
    for (const text of texts) expect(escapeRecurring(text)).toBe(plainEscape(text));
    for (const text of texts.slice(0, 50)) expect(escapeRecurring(text)).toBe(plainEscape(text));
  });
});

describe('escapedJson (internal: the escaped <pre> of a context)', () => {
  const context = { note: '<script>alert("x")</script>', list: [1, "it's", { amp: 'a&b' }], n: null };

  it('is escapeHtml(formatJson(value)) for frozen, mutable and primitive values', () => {
    const frozen = freezeJson(structuredClone(context));
    expect(escapedJson(frozen)).toBe(plainEscape(formatJson(context)));
    expect(escapedJson(frozen)).toBe(plainEscape(formatJson(context)));
    expect(escapedJson(structuredClone(context))).toBe(plainEscape(formatJson(context)));
    for (const value of ['a<b', 42, null, true]) expect(escapedJson(value)).toBe(plainEscape(formatJson(value)));
  });

  it('renders a value that is not frozen all the way down anew on every call', () => {
    const value = structuredClone(context);
    expect(escapedJson(value)).toBe(plainEscape(formatJson(context)));
    value.list.push('<later>');
    expect(escapedJson(value)).toContain('&lt;later&gt;');
    // Frozen at the top only (by a host, say): not marked, so its nested parts may still change.
    const shallow = Object.freeze({ inner: { text: 'before' } });
    expect(isFrozenJson(shallow)).toBe(false);
    expect(escapedJson(shallow)).toContain('before');
    shallow.inner.text = '<after>';
    expect(escapedJson(shallow)).toContain('&lt;after&gt;');
  });

  it('freezeJson freezes every object and array inside and marks only what it froze', () => {
    const value = freezeJson({ a: [{ b: { c: [1, 2] } }], d: 'x' });
    expect(isFrozenJson(value)).toBe(true);
    expect(Object.isFrozen(value.a[0]?.b.c)).toBe(true);
    expect(isFrozenJson(value.a)).toBe(false);
    expect(freezeJson('text')).toBe('text');
    expect(isFrozenJson('text')).toBe(false);
    expect(isFrozenJson(null)).toBe(false);
  });
});

describe('isoTime', () => {
  it('is toISOString for every time, the far past and future included', () => {
    for (const ms of [0, -1, 1, 999, Date.UTC(2026, 2, 17, 12), Date.UTC(999, 11, 31, 23, 59, 59, 999), Date.UTC(1000, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), -8.64e15, 8.64e15]) {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    }
    fc.assert(fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => isoTime(ms) === new Date(ms).toISOString()), { numRuns: 5000 });
    fc.assert(fc.property(fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2100, 0, 1) }), (ms) => isoTime(ms) === new Date(ms).toISOString()), { numRuns: 5000 });
  });

  it('throws RangeError for an invalid time, as toISOString does', () => {
    for (const ms of [Number.NaN, 8.64e15 + 1, Infinity]) expect(() => isoTime(ms)).toThrow(RangeError);
  });
});

describe('queryParam', () => {
  it('reads a parameter like URLSearchParams when nothing needs decoding', () => {
    expect(queryParam('token=abc.def.ghi', 'token')).toBe('abc.def.ghi');
    expect(queryParam('?token=abc&choice=deny', 'choice')).toBe('deny');
    expect(queryParam('token=a=b&token=second', 'token')).toBe('a=b');
    expect(queryParam('token&x=1', 'token')).toBe('');
    expect(queryParam('x=1', 'token')).toBeNull();
    expect(queryParam('', 'token')).toBeNull();
  });

  it('leaves queries with % or + to URLSearchParams', () => {
    expect(queryParam('token=a%2Eb', 'token')).toBeUndefined();
    expect(queryParam('token=a+b', 'token')).toBeUndefined();
    expect(queryParam('tok%65n=a', 'token')).toBeUndefined();
    expect(queryParam('token=\uD800x', 'token')).toBeUndefined(); // URLSearchParams makes it U+FFFD
  });

  it('agrees with URLSearchParams on any query it answers', () => {
    const query = fc.string({ unit: fc.constantFrom('t', 'o', 'k', 'e', 'n', '=', '&', '?', '%', '+', '2', 'E', '.', '\uD800', '\uDC00', 'é') });
    const name = fc.constantFrom('token', 'choice', 'to', 'k', '');
    fc.assert(
      fc.property(query, name, (q, n) => {
        const fast = queryParam(q, n);
        return fast === undefined || fast === new URLSearchParams(q).get(n);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('form tokens', () => {
  it('are the same for the same value on every call (remembered) and verify; other values differ', () => {
    const keyring = createKeyring({ secrets: ['k'.repeat(32)] });
    const first = keyring.formToken('lnk_one');
    expect(keyring.formToken('lnk_one')).toBe(first);
    expect(keyring.verifyFormToken('lnk_one', first)).toBe(true);
    expect(keyring.formToken('lnk_two')).not.toBe(first);
    expect(keyring.verifyFormToken('lnk_two', first)).toBe(false);
    // More values than it remembers: the earliest is computed again, and is still the same token.
    for (let i = 0; i < 5000; i += 1) keyring.formToken(`lnk_${i}`);
    expect(keyring.formToken('lnk_one')).toBe(first);
    expect(createKeyring({ secrets: ['k'.repeat(32)] }).formToken('lnk_one')).toBe(first);
  });
});

describe('dateTime', () => {
  it('prints UTC to the second', () => {
    expect(englishMessages.dateTime(Date.UTC(2026, 2, 17, 9, 5, 7, 999))).toBe('2026-03-17 09:05:07 UTC');
    expect(englishMessages.dateTime(0)).toBe('1970-01-01 00:00:00 UTC');
    expect(englishMessages.dateTime(Date.UTC(10000, 0, 1))).toBe('+010000-01-01 00:00:00 UTC');
  });
});
