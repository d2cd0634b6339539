import { ValidationError } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecayingValue } from './decay.js';

const halfLife = fc.double({ min: 1, max: 1e9, noNaN: true });
const duration = fc.double({ min: 0, max: 1e10, noNaN: true });
const magnitude = fc.double({ min: 0, max: 1e9, noNaN: true });

function relClose(a: number, b: number, rel: number): boolean {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));
}

describe('DecayingValue', () => {
  it('halves every half-life, starts at 0 and snaps below the floor', () => {
    const d = new DecayingValue({ halfLifeMs: 1000 });
    expect(d.value(0)).toBe(0);
    expect(d.add(8, 5000)).toBe(8);
    expect(d.value(6000)).toBe(4);
    expect(d.value(7000)).toBe(2);
    expect(d.value(5500)).toBeCloseTo(8 / Math.SQRT2, 12);
    // 8 / 2^10 = 0.0078 < default floor 0.01
    expect(d.value(14_000)).toBeCloseTo(8 / 512, 12);
    expect(d.value(15_000)).toBe(0);
    expect(d.add(1, 15_000)).toBe(1);
  });

  it('drops what sits below the floor before adding (gossipsub semantics)', () => {
    const d = new DecayingValue({ halfLifeMs: 1000, floor: 0.01 });
    expect(d.add(0.006, 0)).toBe(0);
    expect(d.add(0.006, 0)).toBe(0);
    expect(d.add(0.02, 0)).toBe(0.02);
    expect(d.add(0, 1000)).toBe(0.01);
    expect(d.add(0.5, 1001)).toBe(0.5);
  });

  it('keeps negative values (penalties) and snaps them by magnitude', () => {
    const d = new DecayingValue({ halfLifeMs: 1000, floor: 0.5 });
    d.add(-4, 0);
    expect(d.value(1000)).toBe(-2);
    expect(d.value(3000)).toBe(-0.5);
    expect(d.value(4000)).toBe(0);
  });

  it('does not increase when the clock steps backwards', () => {
    const d = new DecayingValue({ halfLifeMs: 1000 });
    d.add(10, 10_000);
    expect(d.value(11_000)).toBe(5);
    expect(d.value(2_000)).toBe(10);
    // An add from the past decays nothing and does not move the reference time back.
    expect(d.add(1, 9_000)).toBe(11);
    expect(d.value(11_000)).toBe(5.5);
    d.add(0, 12_000);
    expect(d.add(0, 1)).toBe(2.75);
    expect(d.value(13_000)).toBe(1.375);
  });

  it('round-trips through toJSON', () => {
    const d = new DecayingValue({ halfLifeMs: 1000 });
    d.add(3, 100);
    const saved = JSON.parse(JSON.stringify(d)) as { value: number; at: number };
    expect(saved).toEqual({ value: 3, at: 100 });
    const r = new DecayingValue({ halfLifeMs: 1000 }, saved);
    expect(r.value(1100)).toBe(1.5);
    expect(new DecayingValue({ halfLifeMs: 1 }).toJSON()).toEqual({ value: 0, at: 0 });
  });

  it('refuses bad options and non-finite inputs with ValidationError', () => {
    expect(() => new DecayingValue({ halfLifeMs: 0 })).toThrow(ValidationError);
    expect(() => new DecayingValue({ halfLifeMs: -1 })).toThrow(ValidationError);
    expect(() => new DecayingValue({ halfLifeMs: Number.POSITIVE_INFINITY })).toThrow(ValidationError);
    expect(() => new DecayingValue({ halfLifeMs: 1, floor: -0.1 })).toThrow(ValidationError);
    expect(() => new DecayingValue({ halfLifeMs: 1, floor: Number.NaN })).toThrow(ValidationError);
    expect(() => new DecayingValue({ halfLifeMs: 1 }, { value: Number.NaN, at: 0 })).toThrow(ValidationError);
    const d = new DecayingValue({ halfLifeMs: 1 });
    expect(() => d.add(Number.NaN, 0)).toThrow(ValidationError);
    expect(() => d.add(1, Number.POSITIVE_INFINITY)).toThrow(ValidationError);
    expect(() => d.value(Number.NaN)).toThrow(ValidationError);
  });

  describe('properties', () => {
    it('decaying over a then b equals decaying over a + b', () => {
      fc.assert(
        fc.property(halfLife, magnitude, duration, duration, (h, v, a, b) => {
          const stepped = new DecayingValue({ halfLifeMs: h }, { value: v, at: 0 });
          stepped.add(0, a);
          const x = stepped.value(a + b);
          const y = new DecayingValue({ halfLifeMs: h }, { value: v, at: 0 }).value(a + b);
          if (x !== 0 && y !== 0) return relClose(x, y, 1e-12);
          // Only a value sitting on the floor may round to different sides of it.
          return Math.max(x, y) <= 0.01 * (1 + 1e-9);
        }),
      );
    });

    it('is exact over whole half-lives within 1e-9 relative', () => {
      const positive = fc.double({ min: 1e-6, max: 1e12, noNaN: true });
      const halvings = fc.integer({ min: 0, max: 40 });
      // Any half-life measured from 0, and whole-ms half-lives from any epoch-ms time (where
      // t0 + k * h is exact, so only the decay itself can be off).
      fc.assert(
        fc.property(fc.double({ min: 1e-3, max: 1e12, noNaN: true }), positive, halvings, (h, v, k) => {
          const d = new DecayingValue({ halfLifeMs: h, floor: 0 }, { value: v, at: 0 });
          return relClose(d.value(k * h), v / 2 ** k, 1e-9);
        }),
      );
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 2 ** 31 }),
          fc.integer({ min: 0, max: 4e12 }),
          positive,
          halvings,
          (h, t0, v, k) => {
            const d = new DecayingValue({ halfLifeMs: h, floor: 0 }, { value: v, at: t0 });
            return relClose(d.value(t0 + k * h), v / 2 ** k, 1e-9);
          },
        ),
      );
    });

    it('never goes negative under non-negative adds, whatever the clock does', () => {
      fc.assert(
        fc.property(
          halfLife,
          fc.array(fc.tuple(magnitude, fc.double({ min: -1e9, max: 1e9, noNaN: true })), { maxLength: 50 }),
          (h, ops) => {
            const d = new DecayingValue({ halfLifeMs: h });
            let t = 0;
            for (const [amount, dt] of ops) {
              t += dt;
              if (d.add(amount, t) < 0 || d.value(t + Math.abs(dt)) < 0) return false;
            }
            return true;
          },
        ),
      );
    });

    it('without adds, reading later never gives more, even after reads from the past', () => {
      fc.assert(
        fc.property(halfLife, magnitude, fc.array(duration, { maxLength: 20 }), (h, v, times) => {
          const d = new DecayingValue({ halfLifeMs: h }, { value: v, at: 0 });
          let last = d.value(0);
          for (const t of [...times].sort((x, y) => x - y)) {
            d.add(0, t - 1e6); // a stale clock in between
            const now = d.value(t);
            if (now > last) return false;
            last = now;
          }
          return true;
        }),
      );
    });
  });
});
