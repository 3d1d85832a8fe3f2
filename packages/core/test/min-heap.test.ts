import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap } from '../src/ports/min-heap.js';

describe('MinHeap', () => {
  it('pops entries earliest first, each with its own id and kind', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 3 })), { maxLength: 200 }), (entries) => {
        const heap = new MinHeap();
        entries.forEach(([at, kind], i) => heap.push(at, `id${i}`, kind));
        expect(heap.size).toBe(entries.length);
        const popped: { at: number; id: string; kind: number }[] = [];
        while (heap.size > 0) {
          expect(heap.peekAt()).toBe(Math.min(...entries.filter((_, i) => !popped.some((p) => p.id === `id${i}`)).map(([at]) => at)));
          popped.push(heap.pop() as { at: number; id: string; kind: number });
        }
        expect(popped.map((p) => p.at)).toEqual(entries.map(([at]) => at).sort((a, b) => a - b));
        for (const p of popped) {
          const [at, kind] = entries[Number(p.id.slice(2))] as [number, number];
          expect(p).toEqual({ at, id: p.id, kind });
        }
        expect(heap.pop()).toBeUndefined();
        expect(heap.peekAt()).toBe(Infinity);
      }),
      { numRuns: 300 },
    );
  });

  it('gives kind 0 when none is named', () => {
    const heap = new MinHeap();
    heap.push(5, 'a');
    expect(heap.pop()).toEqual({ at: 5, id: 'a', kind: 0 });
  });
});
