import { describe, expect, it } from 'vitest';
import { createKeyring, isTiergateError, openContext, sealContext, type Keyring } from '@tiergate/core';
// Internal (not exported): the synchronous form the service uses on every notify-operator, and the shared
// frozen value the operator page renders.
import { isFrozenJson } from '../src/frozen-json.js';
import { openContextShared, sealContextNow } from '../src/tokens/context-crypto.js';

const keyring = createKeyring({ secrets: ['k'.repeat(32)] });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (err) {
    if (isTiergateError(err)) return err.code;
    throw err;
  }
}

describe('context encryption at rest', () => {
  const context = { recipient: 'user@example.com', nested: { n: [1, 2, 3] }, text: 'héllo ✓' };

  it('round-trips and never stores plaintext', async () => {
    const sealed = await sealContext(keyring, context, 'not_1');
    expect(sealed).not.toContain('user@example.com');
    expect(sealed.split('.')).toHaveLength(4);
    expect(await openContext(keyring, sealed, 'not_1')).toEqual(context);
  });

  it('a ciphertext moved to another record does not decrypt', async () => {
    const sealed = await sealContext(keyring, context, 'not_1');
    expect(await codeOf(openContext(keyring, sealed, 'not_2'))).toBe('CONTEXT_UNAVAILABLE');
  });

  it('a flipped byte anywhere is CONTEXT_UNAVAILABLE, never garbage', async () => {
    const sealed = await sealContext(keyring, context, 'not_1');
    for (let i = 0; i < sealed.length; i += 7) {
      if (sealed[i] === '.') continue;
      const flipped = sealed.slice(0, i) + (sealed[i] === 'A' ? 'B' : 'A') + sealed.slice(i + 1);
      if (flipped === sealed) continue;
      const outcome = await codeOf(openContext(keyring, flipped, 'not_1'));
      // base64url padding bits can make a flip a no-op on the decoded bytes; then it must decrypt to the same value.
      if (outcome === 'OK') expect(await openContext(keyring, flipped, 'not_1')).toEqual(context);
      else expect(outcome).toBe('CONTEXT_UNAVAILABLE');
    }
  });

  it('an unknown key id or another keyring is CONTEXT_UNAVAILABLE', async () => {
    const sealed = await sealContext(keyring, context, 'not_1');
    expect(await codeOf(openContext(createKeyring({ secrets: ['z'.repeat(32)] }), sealed, 'not_1'))).toBe('CONTEXT_UNAVAILABLE');
    const [header, ...rest] = sealed.split('.');
    const renamed = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(header as string, 'base64url').toString()), kid: 'ghost' })).toString('base64url');
    expect(await codeOf(openContext(keyring, [renamed, ...rest].join('.'), 'not_1'))).toBe('CONTEXT_UNAVAILABLE');
  });

  it('garbage is CONTEXT_UNAVAILABLE', async () => {
    for (const bad of ['', 'a.b.c.d', 'x', 'a.b.c.d.e']) expect(await codeOf(openContext(keyring, bad, 'not_1'))).toBe('CONTEXT_UNAVAILABLE');
  });

  it('a rotated keyring still opens contexts sealed with the previous key', async () => {
    const sealed = await sealContext(keyring, context, 'not_1');
    const rotated = createKeyring({ secrets: ['n'.repeat(32), 'k'.repeat(32)] });
    expect(await openContext(rotated, sealed, 'not_1')).toEqual(context);
  });

  describe('a context opened before (remembered plaintext)', () => {
    it('still refuses another record id, and another keyring', async () => {
      const sealed = await sealContext(keyring, context, 'not_r1');
      expect(await openContext(keyring, sealed, 'not_r1')).toEqual(context);
      expect(await codeOf(openContext(keyring, sealed, 'not_r2'))).toBe('CONTEXT_UNAVAILABLE');
      expect(await codeOf(openContext(createKeyring({ secrets: ['z'.repeat(32)] }), sealed, 'not_r1'))).toBe('CONTEXT_UNAVAILABLE');
      // The record it was opened for still opens after the refusals.
      expect(await openContext(keyring, sealed, 'not_r1')).toEqual(context);
    });

    it('gives every caller its own value: a change to one does not reach the next', async () => {
      const sealed = await sealContext(keyring, context, 'not_r3');
      const first = (await openContext(keyring, sealed, 'not_r3')) as typeof context;
      first.nested.n.push(4);
      first.text = 'changed';
      const second = await openContext(keyring, sealed, 'not_r3');
      expect(second).toEqual(context);
      expect(second).not.toBe(first);
    });

    it('a flipped byte of a remembered text is still CONTEXT_UNAVAILABLE', async () => {
      const sealed = await sealContext(keyring, context, 'not_r4');
      await openContext(keyring, sealed, 'not_r4');
      const tagAt = sealed.lastIndexOf('.') + 2;
      const flipped = sealed.slice(0, tagAt) + (sealed[tagAt] === 'A' ? 'B' : 'A') + sealed.slice(tagAt + 1);
      expect(await codeOf(openContext(keyring, flipped, 'not_r4'))).toBe('CONTEXT_UNAVAILABLE');
    });
  });
});

describe('sealContextNow (internal: the service seals on its own turn once the keys are imported)', () => {
  const context = { customer_id: 'cus_1', text: 'héllo ✓' };

  it('answers a promise before the keys are imported, a string after; both open as sealContext output does', async () => {
    const fresh = createKeyring({ secrets: ['f'.repeat(32)] });
    const early = sealContextNow(fresh, context, 'not_s1');
    expect(early).toBeInstanceOf(Promise);
    await fresh.ready();
    const now = sealContextNow(fresh, context, 'not_s2');
    expect(typeof now).toBe('string');
    expect(await openContext(fresh, await early, 'not_s1')).toEqual(context);
    expect(await openContext(fresh, now as string, 'not_s2')).toEqual(context);
    // The same stored form (protected header with the key id first) as the public function writes.
    const sealed = await sealContext(fresh, context, 'not_s3');
    expect((now as string).split('.')[0]).toBe(sealed.split('.')[0]);
    expect(now).not.toBe(sealed);
  });

  it('a keyring it did not build is used through its promises; a missing key rejects, never throws', async () => {
    await keyring.ready();
    const wrapped: Keyring = { ...keyring };
    const viaPromises = sealContextNow(wrapped, context, 'not_s4');
    expect(viaPromises).toBeInstanceOf(Promise);
    expect(await openContext(keyring, await viaPromises, 'not_s4')).toEqual(context);
    const keyless: Keyring = { ...keyring, contextKey: async () => undefined };
    let outcome: string | Promise<string> | undefined;
    expect(() => {
      outcome = sealContextNow(keyless, context, 'not_s5');
    }).not.toThrow();
    expect(await codeOf(outcome as Promise<string>)).toBe('CONFIG_INVALID');
  });

  it('a value JSON cannot serialise is a rejected promise on the synchronous path too, never a throw', async () => {
    await keyring.ready();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    let outcome: string | Promise<string> | undefined;
    expect(() => {
      outcome = sealContextNow(keyring, cyclic, 'not_s6');
    }).not.toThrow();
    await expect(outcome).rejects.toThrow(TypeError);
  });
});

describe('openContextShared (internal: the operator page shares one frozen value per sealed text)', () => {
  const context = { customer_id: 'cus_1', nested: { list: [1, { deep: 'x' }] }, text: 'héllo ✓' };

  it('answers a promise the first time, then the same frozen value without one; openContext still answers its own copies', async () => {
    const sealed = await sealContext(keyring, context, 'not_f1');
    const first = openContextShared(keyring, sealed, 'not_f1');
    expect(first).toBeInstanceOf(Promise);
    const value = (await first) as typeof context;
    expect(value).toEqual(context);
    expect(isFrozenJson(value)).toBe(true);
    for (const part of [value, value.nested, value.nested.list, value.nested.list[1]]) expect(Object.isFrozen(part)).toBe(true);
    expect(() => {
      (value.nested.list[1] as { deep: string }).deep = 'changed';
    }).toThrow(TypeError);
    const again = openContextShared(keyring, sealed, 'not_f1');
    expect(again).toBe(value);
    const copy = (await openContext(keyring, sealed, 'not_f1')) as typeof context;
    expect(copy).toEqual(context);
    expect(copy).not.toBe(value);
    expect(Object.isFrozen(copy)).toBe(false);
  });

  it('a context opened by openContext first is shared from then on, frozen once', async () => {
    const sealed = await sealContext(keyring, context, 'not_f2');
    await openContext(keyring, sealed, 'not_f2');
    const shared = openContextShared(keyring, sealed, 'not_f2');
    expect(shared).not.toBeInstanceOf(Promise);
    expect(isFrozenJson(shared)).toBe(true);
    expect(openContextShared(keyring, sealed, 'not_f2')).toBe(shared);
  });

  it('refuses another record id, another keyring and a flipped byte as a rejected promise, even once remembered', async () => {
    const sealed = await sealContext(keyring, context, 'not_f3');
    await openContextShared(keyring, sealed, 'not_f3');
    const tagAt = sealed.lastIndexOf('.') + 2;
    const flipped = sealed.slice(0, tagAt) + (sealed[tagAt] === 'A' ? 'B' : 'A') + sealed.slice(tagAt + 1);
    for (const [ring, text, id] of [
      [keyring, sealed, 'not_f4'],
      [createKeyring({ secrets: ['z'.repeat(32)] }), sealed, 'not_f3'],
      [keyring, flipped, 'not_f3'],
      [keyring, 'a.b.c.d', 'not_f3'],
    ] as const) {
      let outcome: unknown;
      expect(() => {
        outcome = openContextShared(ring, text, id);
      }).not.toThrow();
      expect(await codeOf(outcome as Promise<unknown>)).toBe('CONTEXT_UNAVAILABLE');
    }
  });

  it('a context that is a JSON primitive is answered as it is', async () => {
    const sealed = await sealContext(keyring, 'just text', 'not_f5');
    expect(await openContextShared(keyring, sealed, 'not_f5')).toBe('just text');
    expect(openContextShared(keyring, sealed, 'not_f5')).toBe('just text');
  });
});
