/**
 * Per-federation rate limiting (spec 6.3 "Rate Limiting: per-federation quotas"): one token bucket
 * per federation id, in a bounded LRU map so a flood of distinct ids cannot grow memory. Buckets
 * are independent, so a federation that floods only drains its own tokens.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ defaultQuota: { ratePerSec: 100, burst: 200 }, maxKeys: 100_000, now: Date.now });
 * const r = limiter.check(envelope.federationId);
 * if (!r.ok) throw rateLimitedError(r.retryAfterMs); // error frame with code rate_limited + retryAfterMs
 * ```
 */
import { ValidationError } from './errors.js';
import { ProtocolError } from './wire/errors.js';
import { LIMITS } from './wire/messages.js';

export interface Quota {
  /** Tokens added per second (sustained rate). */
  readonly ratePerSec: number;
  /** Bucket capacity: the largest burst accepted after a quiet period. */
  readonly burst: number;
}

export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

export interface TokenBucketOptions extends Quota {
  now: () => number;
}

function checkQuota(q: Quota): void {
  if (!Number.isFinite(q.ratePerSec) || q.ratePerSec <= 0) {
    throw new ValidationError('ratePerSec must be a positive number', [
      { path: 'ratePerSec', message: '> 0' },
    ]);
  }
  if (!Number.isFinite(q.burst) || q.burst < 1) {
    throw new ValidationError('burst must be at least 1', [{ path: 'burst', message: '>= 1' }]);
  }
}

export class TokenBucket {
  readonly ratePerSec: number;
  readonly burst: number;
  private readonly now: () => number;
  private level: number;
  private updatedAt: number;

  constructor(options: TokenBucketOptions) {
    checkQuota(options);
    this.ratePerSec = options.ratePerSec;
    this.burst = options.burst;
    this.now = options.now;
    this.level = options.burst;
    this.updatedAt = options.now();
  }

  /** Tokens available now (fractional). */
  tokens(): number {
    this.refill();
    return this.level;
  }

  /**
   * Takes `n` tokens, or none: on refusal `retryAfterMs` is when `n` tokens will be there if
   * nothing else is taken (rounded up, at least 1). Asking for more than `burst` can never
   * succeed and throws ValidationError.
   */
  take(n = 1): TakeResult {
    if (!Number.isFinite(n) || n <= 0) throw new ValidationError('n must be a positive number');
    if (n > this.burst) throw new ValidationError(`n (${n}) exceeds the bucket's burst (${this.burst})`);
    this.refill();
    if (this.level >= n) {
      this.level -= n;
      return { ok: true };
    }
    const retryAfterMs = Math.max(1, Math.ceil(((n - this.level) / this.ratePerSec) * 1000));
    return { ok: false, retryAfterMs };
  }

  private refill(): void {
    const now = this.now();
    // A clock that steps backwards adds nothing (and does not drain the bucket either).
    const elapsed = Math.max(0, now - this.updatedAt);
    this.updatedAt = Math.max(this.updatedAt, now);
    this.level = Math.min(this.burst, this.level + (elapsed / 1000) * this.ratePerSec);
  }
}

export interface RateLimiterOptions {
  defaultQuota: Quota;
  /** Per-federation quotas that override the default. */
  quotas?: ReadonlyMap<string, Quota>;
  /** Most buckets kept; the least recently used one is forgotten beyond it. */
  maxKeys: number;
  now: () => number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly quotas: Map<string, Quota>;
  private defaultQuota: Quota;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(options: RateLimiterOptions) {
    checkQuota(options.defaultQuota);
    if (!Number.isSafeInteger(options.maxKeys) || options.maxKeys < 1) {
      throw new ValidationError('maxKeys must be a positive integer');
    }
    for (const q of options.quotas?.values() ?? []) checkQuota(q);
    if ((options.quotas?.size ?? 0) > options.maxKeys) throw new ValidationError('more quotas than maxKeys');
    this.defaultQuota = options.defaultQuota;
    this.quotas = new Map(options.quotas ?? []);
    this.maxKeys = options.maxKeys;
    this.now = options.now;
  }

  /** Buckets currently held (at most maxKeys). */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Takes `n` tokens from `federationId`'s bucket. A forgotten (evicted) key starts again with a
   * full bucket: eviction only ever forgets the least recently active federations, never the one
   * that is flooding.
   */
  check(federationId: string, n = 1): TakeResult {
    let bucket = this.buckets.get(federationId);
    if (bucket) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.buckets.delete(federationId);
    } else {
      const quota = this.quotas.get(federationId) ?? this.defaultQuota;
      bucket = new TokenBucket({ ...quota, now: this.now });
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
    }
    this.buckets.set(federationId, bucket);
    return bucket.take(n);
  }

  /**
   * `check(key)`, under the name the hub's RateLimiter seam (hub/src/rate-limit.ts) uses, so this
   * class plugs into `HubOptions.rateLimiter`. Time comes from the injected `now`; construct the
   * limiter with the hub's clock.
   */
  take(key: string): TakeResult {
    return this.check(key);
  }

  /** `delete`, under the seam's name. */
  forget(key: string): void {
    this.delete(key);
  }

  /** Sets or replaces one federation's quota; its bucket restarts full under the new quota. */
  setQuota(federationId: string, quota: Quota): void {
    checkQuota(quota);
    if (!this.quotas.has(federationId) && this.quotas.size >= this.maxKeys) {
      throw new ValidationError(`at most ${this.maxKeys} quota overrides`);
    }
    this.quotas.set(federationId, quota);
    this.buckets.delete(federationId);
  }

  /**
   * Replaces the default quota (a governance parameter changed): buckets under the default restart
   * full under the new one; federations with their own quota keep it.
   */
  setDefaultQuota(quota: Quota): void {
    checkQuota(quota);
    this.defaultQuota = quota;
    for (const key of [...this.buckets.keys()]) if (!this.quotas.has(key)) this.buckets.delete(key);
  }

  /** Forgets a federation (terminated): its quota override and its bucket. */
  delete(federationId: string): void {
    this.quotas.delete(federationId);
    this.buckets.delete(federationId);
  }
}

/** The error a throttled sender gets: wire code `rate_limited` with `retryAfterMs` (capped as on the wire). */
export function rateLimitedError(retryAfterMs: number): ProtocolError {
  const capped = Math.min(Math.max(0, Math.ceil(retryAfterMs)), LIMITS.retryAfterMs);
  return new ProtocolError('rate_limited', `rate limit exceeded; retry after ${capped} ms`, {
    retryAfterMs: capped,
  });
}
