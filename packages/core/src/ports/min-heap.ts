/**
 * A binary min-heap of `(at, id, kind)` entries: the memory store's deadline indexes. `kind` is a
 * small integer the caller gives meaning to (default 0); kept beside the id rather than in it, so an
 * entry costs no string of its own. @internal
 */
export class MinHeap {
  private readonly at: number[] = [];
  private readonly ids: string[] = [];
  private readonly kinds: number[] = [];

  get size(): number {
    return this.at.length;
  }

  push(at: number, id: string, kind = 0): void {
    this.at.push(at);
    this.ids.push(id);
    this.kinds.push(kind);
    let i = this.at.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.at[parent] as number) <= at) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** The earliest deadline, or `Infinity` when empty. */
  peekAt(): number {
    return this.at.length === 0 ? Infinity : (this.at[0] as number);
  }

  /** Removes and returns the earliest entry. */
  pop(): { at: number; id: string; kind: number } | undefined {
    if (this.at.length === 0) return undefined;
    const top = { at: this.at[0] as number, id: this.ids[0] as string, kind: this.kinds[0] as number };
    const lastAt = this.at.pop() as number;
    const lastId = this.ids.pop() as string;
    const lastKind = this.kinds.pop() as number;
    if (this.at.length > 0) {
      this.at[0] = lastAt;
      this.ids[0] = lastId;
      this.kinds[0] = lastKind;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < this.at.length && (this.at[l] as number) < (this.at[smallest] as number)) smallest = l;
        if (r < this.at.length && (this.at[r] as number) < (this.at[smallest] as number)) smallest = r;
        if (smallest === i) break;
        this.swap(i, smallest);
        i = smallest;
      }
    }
    return top;
  }

  private swap(a: number, b: number): void {
    const at = this.at[a] as number;
    this.at[a] = this.at[b] as number;
    this.at[b] = at;
    const id = this.ids[a] as string;
    this.ids[a] = this.ids[b] as string;
    this.ids[b] = id;
    const kind = this.kinds[a] as number;
    this.kinds[a] = this.kinds[b] as number;
    this.kinds[b] = kind;
  }
}
