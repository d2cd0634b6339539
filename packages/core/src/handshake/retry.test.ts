import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { ExpiringSet } from './replay.js';
import { DEFAULT_RETRY_POLICY, nextRetryDelayMs, retryDelayMs } from './retry.js';

describe('retry policy (spec 3.3)', () => {
  it('backs off 2^n seconds, capped at 60 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 1000].map((n) => retryDelayMs(n))).toEqual([
      2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000,
    ]);
  });

  it('retries at most 3 times, and only transient failures', () => {
    expect([0, 1, 2, 3, 4].map((a) => nextRetryDelayMs(a, 'handshake_timeout'))).toEqual([
      2_000,
      4_000,
      8_000,
      undefined,
      undefined,
    ]);
    expect(nextRetryDelayMs(0, 'invalid_signature')).toBeUndefined();
    expect(nextRetryDelayMs(0, 'handshake_rejected')).toBeUndefined();
    expect(nextRetryDelayMs(0, 'trust_too_low')).toBeUndefined();
    expect(nextRetryDelayMs(1, 'too_many_handshakes')).toBe(4_000);
  });

  it('has the spec defaults and rejects nonsense', () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({
      timeoutMs: 5_000,
      baseDelayMs: 1_000,
      maxDelayMs: 60_000,
      maxRetries: 3,
    });
    expect(() => retryDelayMs(0)).toThrow(ValidationError);
    expect(() => retryDelayMs(1.5)).toThrow(ValidationError);
    expect(nextRetryDelayMs(-1, 'handshake_timeout')).toBeUndefined();
  });
});

describe('ExpiringSet', () => {
  it('remembers values until they expire', () => {
    const set = new ExpiringSet(10);
    expect(set.add('a', 100, 0)).toBe(true);
    expect(set.has('a', 99)).toBe(true);
    expect(set.has('a', 100)).toBe(false);
    expect(set.size).toBe(0);
  });

  it('refuses new values when full of live ones, and makes room from expired ones', () => {
    const set = new ExpiringSet(2);
    set.add('a', 100, 0);
    set.add('b', 200, 0);
    expect(set.add('c', 300, 50)).toBe(false);
    expect(set.has('a', 50)).toBe(true);
    expect(set.add('c', 300, 150)).toBe(true);
    expect(set.has('a', 150)).toBe(false);
    expect(set.has('c', 150)).toBe(true);
    expect(set.size).toBe(2);
  });

  it('finds expired entries out of insertion order', () => {
    const set = new ExpiringSet(3);
    set.add('long', 1_000, 0);
    set.add('short', 10, 0);
    set.add('mid', 500, 0);
    expect(set.add('new', 600, 20)).toBe(true);
    expect(set.has('long', 20)).toBe(true);
    expect(set.has('short', 20)).toBe(false);
  });

  it('when full, looks for out-of-order expired entries at most once a second', () => {
    const set = new ExpiringSet(3);
    set.add('long', 10_000, 0);
    set.add('short', 10, 0);
    set.add('mid', 5_000, 0);
    expect(set.add('x', 9_000, 5)).toBe(false); // scanned: nothing expired yet
    expect(set.add('x', 9_000, 20)).toBe(false); // 'short' expired, but the last scan was 15 ms ago
    expect(set.add('x', 9_000, 1_005)).toBe(true); // a second later: scanned again, room made
    expect(set.has('short', 1_005)).toBe(false);
  });

  it('requires a positive capacity', () => {
    expect(() => new ExpiringSet(0)).toThrow(RangeError);
  });
});
