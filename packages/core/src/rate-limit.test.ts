import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { RateLimiter, rateLimitedError, TokenBucket } from './rate-limit.js';
import { encodeErrorFrame } from './wire/frame.js';

function clock(start = 0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TokenBucket', () => {
  it('allows a burst, then refuses with the time until enough tokens are back', () => {
    const c = clock();
    const b = new TokenBucket({ ratePerSec: 10, burst: 3, now: c.now });
    expect([b.take(), b.take(), b.take()]).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(b.take()).toEqual({ ok: false, retryAfterMs: 100 });
    c.advance(50);
    expect(b.take()).toEqual({ ok: false, retryAfterMs: 50 });
    c.advance(50);
    expect(b.take()).toEqual({ ok: true });
    expect(b.take(2)).toEqual({ ok: false, retryAfterMs: 200 });
  });

  it('never holds more than burst and ignores a clock stepping back', () => {
    const c = clock(10_000);
    const b = new TokenBucket({ ratePerSec: 1000, burst: 5, now: c.now });
    c.advance(60_000);
    expect(b.tokens()).toBe(5);
    b.take(5);
    c.advance(-5000);
    expect(b.tokens()).toBe(0);
    expect(b.take().ok).toBe(false);
  });

  it('refuses impossible requests and bad quotas with ValidationError', () => {
    const c = clock();
    expect(() => new TokenBucket({ ratePerSec: 0, burst: 1, now: c.now })).toThrow(ValidationError);
    expect(() => new TokenBucket({ ratePerSec: 1, burst: 0.5, now: c.now })).toThrow(ValidationError);
    const b = new TokenBucket({ ratePerSec: 1, burst: 2, now: c.now });
    expect(() => b.take(3)).toThrow(ValidationError);
    expect(() => b.take(0)).toThrow(ValidationError);
  });
});

describe('RateLimiter', () => {
  it('isolates federations: a flooding one is throttled while another passes every request', () => {
    const c = clock();
    const limiter = new RateLimiter({
      defaultQuota: { ratePerSec: 100, burst: 20 },
      maxKeys: 100,
      now: c.now,
    });
    let floodOk = 0;
    let floodRefused = 0;
    let quietOk = 0;
    let minRetry = Number.POSITIVE_INFINITY;
    // 1 s of traffic in 1 ms steps: the flooder sends 50 per ms, the quiet federation 1 per 20 ms.
    for (let ms = 0; ms < 1000; ms++) {
      for (let i = 0; i < 50; i++) {
        const r = limiter.check('flood');
        if (r.ok) floodOk++;
        else {
          floodRefused++;
          minRetry = Math.min(minRetry, r.retryAfterMs);
        }
      }
      if (ms % 20 === 0 && limiter.check('quiet').ok) quietOk++;
      c.advance(1);
    }
    expect(quietOk).toBe(50);
    expect(minRetry).toBeGreaterThanOrEqual(1);
    // Burst plus one second at 100/s, give or take the token refilled on the last step.
    expect(floodOk).toBeGreaterThanOrEqual(119);
    expect(floodOk).toBeLessThanOrEqual(121);
    expect(floodRefused).toBe(50_000 - floodOk);
  });

  it('applies per-federation quotas and lets them change', () => {
    const c = clock();
    const limiter = new RateLimiter({
      defaultQuota: { ratePerSec: 1, burst: 1 },
      quotas: new Map([['gold', { ratePerSec: 1, burst: 3 }]]),
      maxKeys: 10,
      now: c.now,
    });
    expect([1, 2, 3, 4].map(() => limiter.check('gold').ok)).toEqual([true, true, true, false]);
    expect([1, 2].map(() => limiter.check('basic').ok)).toEqual([true, false]);
    limiter.setQuota('basic', { ratePerSec: 1, burst: 2 });
    expect([1, 2, 3].map(() => limiter.check('basic').ok)).toEqual([true, true, false]);
  });

  it('keeps at most maxKeys buckets, forgetting the least recently used', () => {
    const c = clock();
    const limiter = new RateLimiter({ defaultQuota: { ratePerSec: 1, burst: 1 }, maxKeys: 3, now: c.now });
    limiter.check('a');
    limiter.check('b');
    limiter.check('c');
    limiter.check('a'); // a is now most recent; b is the oldest
    limiter.check('d');
    expect(limiter.size).toBe(3);
    expect(limiter.check('a').ok).toBe(false); // a kept its (empty) bucket
    expect(limiter.check('b').ok).toBe(true); // b was forgotten: a fresh bucket
  });

  it('fits the hub RateLimiter seam (take/forget)', () => {
    const c = clock();
    const limiter = new RateLimiter({ defaultQuota: { ratePerSec: 1, burst: 1 }, maxKeys: 10, now: c.now });
    const seam: { take(key: string, now: number): { ok: boolean }; forget?(key: string): void } = limiter;
    expect(seam.take('f', c.now()).ok).toBe(true);
    expect(seam.take('f', c.now()).ok).toBe(false);
    seam.forget?.('f');
    expect(seam.take('f', c.now()).ok).toBe(true);
  });

  it('rateLimitedError becomes a rate_limited error frame with retryAfterMs', () => {
    expect(encodeErrorFrame(rateLimitedError(1234.2))).toMatchObject({
      type: 'error',
      code: 'rate_limited',
      retryAfterMs: 1235,
    });
  });
});
