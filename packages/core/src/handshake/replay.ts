/**
 * A bounded set of single-use values (nonces, handshake ids) that forget each value once it has
 * expired — by then the timestamp window rejects the message anyway. When full of live entries
 * it refuses new ones (fail closed) rather than evicting, since eviction would re-open a replay.
 */
export class ExpiringSet {
  readonly capacity: number;
  private readonly entries = new Map<string, number>();
  private lastPurgeAt = Number.NEGATIVE_INFINITY;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: string, now: number): boolean {
    const expiresAt = this.entries.get(key);
    if (expiresAt === undefined) return false;
    if (expiresAt <= now) {
      this.entries.delete(key);
      return false;
    }
    return true;
  }

  /** Records `key` until `expiresAt`. False when the set is full of unexpired entries. */
  add(key: string, expiresAt: number, now: number): boolean {
    this.sweepOldest(now, 8);
    if (!this.entries.has(key) && this.entries.size >= this.capacity) {
      // A full scan (for entries that expired out of insertion order) at most once a second: when
      // full of live entries, every add would otherwise pay a pass over all of them.
      if (now - this.lastPurgeAt >= 1000 || now < this.lastPurgeAt) {
        this.lastPurgeAt = now;
        this.purge(now);
      }
      if (this.entries.size >= this.capacity) return false;
    }
    this.entries.delete(key);
    this.entries.set(key, expiresAt);
    return true;
  }

  purge(now: number): void {
    for (const [key, expiresAt] of this.entries) if (expiresAt <= now) this.entries.delete(key);
  }

  /** Cheap incremental cleanup: entries are mostly inserted in expiry order. */
  private sweepOldest(now: number, max: number): void {
    let n = 0;
    for (const [key, expiresAt] of this.entries) {
      if (n++ >= max || expiresAt > now) return;
      this.entries.delete(key);
    }
  }
}
