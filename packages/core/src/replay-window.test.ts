import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplayWindow } from './replay-window.js';

const HORIZON = 6 * 60_000;
const T0 = 1_780_000_000_000;

describe('ReplayWindow', () => {
  it('remembers an id until its expiry, then forgets it', () => {
    const w = new ReplayWindow({ capacity: 10, horizonMs: HORIZON });
    const id = randomUUID();
    expect(w.has(id, T0)).toBe(false);
    expect(w.add(id, T0 + 60_000, T0)).toBe(true);
    expect(w.has(id, T0)).toBe(true);
    expect(w.has(id, T0 + 59_999)).toBe(true);
    // Forgotten once its time slice has passed: never before its expiry, at most a slice after.
    expect(w.has(id, T0 + 60_000 + w.spanMs)).toBe(false);
    expect(w.size).toBe(0);
  });

  it('treats the two cases of a UUID as one id', () => {
    const w = new ReplayWindow({ capacity: 10, horizonMs: HORIZON });
    const id = '6F1C2E0A-8D44-4C5B-9E7A-1F2D3C4B5A69';
    w.add(id, T0 + 1000, T0);
    expect(w.has(id.toLowerCase(), T0)).toBe(true);
    expect(w.has('00000000-0000-0000-0000-000000000000', T0)).toBe(false);
  });

  it('keeps 64 bits of an id: two ids folding to the same fingerprint count as one (the documented trade-off)', () => {
    const w = new ReplayWindow({ capacity: 10, horizonMs: HORIZON });
    w.add('00000001-0000-4000-8000-000000000000', T0 + 1000, T0);
    // Words 0 and 2 both differ by 1: hi = w0 ^ w2 and lo = w1 ^ w3 are unchanged.
    expect(w.has('00000000-0000-4000-8000-000100000000', T0)).toBe(true);
    expect(w.has('00000002-0000-4000-8000-000000000000', T0)).toBe(false);
  });

  it('refuses new ids when full, and takes them again once slices expire', () => {
    const w = new ReplayWindow({ capacity: 3, horizonMs: HORIZON });
    for (let i = 0; i < 3; i++) expect(w.add(randomUUID(), T0 + 1000, T0)).toBe(true);
    const again = randomUUID();
    expect(w.add(again, T0 + 1000, T0)).toBe(false);
    expect(w.has(again, T0)).toBe(false);
    expect(w.add(again, T0 + 2 * w.spanMs, T0 + 1000 + w.spanMs)).toBe(true);
    expect(w.size).toBe(1);
  });

  it('counts an id added twice once', () => {
    const w = new ReplayWindow({ capacity: 1, horizonMs: HORIZON });
    const id = randomUUID();
    expect(w.add(id, T0 + 1000, T0)).toBe(true);
    expect(w.add(id, T0 + 1000, T0)).toBe(true);
    expect(w.size).toBe(1);
  });

  it('rejects what it cannot hold correctly', () => {
    expect(() => new ReplayWindow({ capacity: 0, horizonMs: HORIZON })).toThrow(RangeError);
    expect(() => new ReplayWindow({ capacity: 1, horizonMs: 0.5 })).toThrow(RangeError);
    const w = new ReplayWindow({ capacity: 10, horizonMs: HORIZON });
    expect(() => w.add('not-a-uuid', T0 + 1, T0)).toThrow(RangeError);
    expect(() => w.add(`${randomUUID()}x`, T0 + 1, T0)).toThrow(RangeError);
    expect(() => w.add(randomUUID(), T0 + HORIZON + 1, T0)).toThrow(RangeError);
    expect(() => w.add(randomUUID(), Number.NaN, T0)).toThrow(RangeError);
    expect(w.has('6f1c2e0a_8d44-4c5b-9e7a-1f2d3c4b5a69', T0)).toBe(false);
  });

  it('holds a million ids in about 16 MB, growing as they come', () => {
    const w = new ReplayWindow({ capacity: 1_000_000, horizonMs: HORIZON });
    const small = w.bytes;
    let refused = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const hex = i.toString(16).padStart(12, '0');
      if (!w.add(`6f1c2e0a-8d44-4c5b-9e7a-${hex}`, T0 + 1000 + (i % 300_000), T0)) refused++;
    }
    expect(refused).toBe(0);
    expect(w.size).toBe(1_000_000);
    expect(w.has('6f1c2e0a-8d44-4c5b-9e7a-0000000f4240', T0)).toBe(false); // 1,000,000: never added
    expect(w.has('6f1c2e0a-8d44-4c5b-9e7a-0000000f423f', T0)).toBe(true);
    expect(small).toBeLessThan(64 * 1024);
    expect(w.bytes).toBeLessThan(24 * 1024 * 1024); // 16 bytes per id here (15.7 MB measured)
  });

  it('property: answers as a map of id -> expiry does (never forgets early, forgets within a slice)', () => {
    const ids = Array.from({ length: 12 }, () => randomUUID());
    const step = fc.oneof(
      fc.record({
        op: fc.constant('add' as const),
        id: fc.nat(11),
        ttl: fc.integer({ min: 1, max: HORIZON }),
      }),
      fc.record({ op: fc.constant('has' as const), id: fc.nat(11) }),
      fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: HORIZON }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), fc.integer({ min: 1, max: 8 }), (steps, capacity) => {
        const w = new ReplayWindow({ capacity, horizonMs: HORIZON });
        const model = new Map<string, number>(); // id -> expiry asked for
        let now = T0;
        const live = () => [...model.values()].filter((e) => e > now).length;
        for (const s of steps) {
          if (s.op === 'tick') now += s.ms;
          else if (s.op === 'add') {
            const id = ids[s.id]!;
            const expiry = now + s.ttl;
            const known = w.has(id, now);
            const ok = w.add(id, expiry, now);
            if (known) expect(ok).toBe(true);
            // Full only when the ids it holds (at most a slice past their expiry) fill it.
            if (!ok) expect(w.size).toBe(capacity);
            if (ok && !known) model.set(id, expiry);
          } else {
            const id = ids[s.id]!;
            const expiry = model.get(id);
            const seen = w.has(id, now);
            if (expiry !== undefined && expiry > now) expect(seen).toBe(true);
            if (expiry === undefined || expiry + w.spanMs <= now) expect(seen).toBe(false);
          }
          expect(w.size).toBeGreaterThanOrEqual(Math.min(live(), capacity));
        }
      }),
      { numRuns: 300 },
    );
  });
});
