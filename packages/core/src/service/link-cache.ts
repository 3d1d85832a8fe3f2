/**
 * Link reuse. Signing a link costs ~50 µs, so capabilities responses reuse
 * one link per (account, purpose, target) until it has aged by `refreshMs`;
 * a reused link therefore always has at least `ttl - refreshMs` left. The
 * cache is a bounded LRU keyed by account, purpose, target and signing key, so
 * a key rotation issues fresh links at once.
 */
import { setBounded } from '../bounded-map.js';

/** A cached link. */
export interface CachedLink {
  readonly url: string;
  /** ms */
  readonly expiresAt: number;
  /** ms */
  readonly issuedAt: number;
}

/** A small LRU of signed links. @internal */
export class LinkCache {
  private readonly entries = new Map<string, CachedLink>();

  constructor(
    private readonly maxEntries: number,
    private readonly refreshMs: number,
  ) {}

  /** A link still young enough to hand out, or `undefined`. */
  get(key: string, now: number): CachedLink | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    if (now - hit.issuedAt >= this.refreshMs || now < hit.issuedAt) {
      this.entries.delete(key);
      return undefined;
    }
    return hit;
  }

  set(key: string, link: CachedLink): void {
    this.entries.delete(key);
    setBounded(this.entries, key, link, this.maxEntries);
  }

  /** Issues once per key: concurrent misses share one signing. */
  async getOrCreate(key: string, now: number, create: () => Promise<CachedLink>): Promise<CachedLink> {
    const hit = this.get(key, now);
    if (hit !== undefined) return hit;
    const inflight = this.pending.get(key);
    if (inflight !== undefined) return inflight;
    const promise = create().then(
      (link) => {
        this.pending.delete(key);
        this.set(key, link);
        return link;
      },
      (err: unknown) => {
        this.pending.delete(key);
        throw err;
      },
    );
    this.pending.set(key, promise);
    return promise;
  }

  private readonly pending = new Map<string, Promise<CachedLink>>();
}
