/**
 * The seam for per-federation rate limiting (spec 6.3). `simpleRateLimiter` is a placeholder token
 * bucket per key with a bounded key table; the QoS module's limiter implements the same
 * interface and replaces it through `HubOptions.rateLimiter`.
 */
export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

export interface RateLimiter {
  /** Takes one token for `key` (a federation id, a client address). */
  take(key: string, now: number): RateDecision;
  /** Forgets a key (federation ended). */
  forget?(key: string): void;
}

export interface RateLimitOptions {
  readonly messagesPerSec: number;
  readonly burst: number;
  /** Keys tracked at once; the least recently used bucket is dropped beyond it. */
  readonly maxKeys?: number;
}

export function simpleRateLimiter(options: RateLimitOptions): RateLimiter {
  const rate = options.messagesPerSec / 1000;
  const burst = Math.max(1, options.burst);
  const maxKeys = options.maxKeys ?? 100_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key, now) {
      let b = buckets.get(key);
      if (b) {
        buckets.delete(key);
        b.tokens = Math.min(burst, b.tokens + Math.max(0, now - b.at) * rate);
        b.at = now;
      } else {
        b = { tokens: burst, at: now };
        // Dropping the oldest bucket refills it: a bounded table cannot be used to lock a key out.
        if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value as string);
      }
      buckets.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { ok: true };
      }
      const retryAfterMs = rate > 0 ? Math.ceil((1 - b.tokens) / rate) : 60_000;
      return { ok: false, retryAfterMs };
    },
    forget(key) {
      buckets.delete(key);
    },
  };
}
