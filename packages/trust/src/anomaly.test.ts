import { ValidationError } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AnomalyDetector, type AnomalySignal } from './anomaly.js';
import { seededRandom } from './eigentrust-bench.js';

/** Seeded standard normal samples (Box-Muller). */
function gaussian(seed: number): () => number {
  const rand = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

describe('AnomalyDetector', () => {
  it('almost never flags stationary Gaussian noise (10,000 samples)', () => {
    const d = new AnomalyDetector({ cooldownMs: 0 }); // count every flag, not one a minute
    const noise = gaussian(1);
    const flagged: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (d.observe('did:mesh:steady', 'latency', 100 + 10 * noise(), i * 1000)) flagged.push(i);
    }
    // An exact N(0,1) exceeds 4 sigma with p = 6.3e-5; an estimated stddev makes tails heavier.
    expect(flagged.length).toBeLessThanOrEqual(10);
    const s = d.stats('did:mesh:steady', 'latency')!;
    expect(s.samples).toBe(10_000);
    expect(s.mean).toBeGreaterThan(95);
    expect(s.mean).toBeLessThan(105);
    expect(s.stddev).toBeGreaterThan(7);
    expect(s.stddev).toBeLessThan(13);
    console.log(`stationary noise: ${flagged.length} of 10,000 samples flagged at |z| > 4`);
  });

  it('flags a step change of 10 standard deviations at once', () => {
    const d = new AnomalyDetector();
    const noise = gaussian(2);
    for (let i = 0; i < 500; i++) d.observe('m', 'messageRate', 1000 + 30 * noise(), i * 1000);
    const before = d.stats('m', 'messageRate')!;
    const a = d.observe('m', 'messageRate', 1300, 500_000);
    expect(a).toBeDefined();
    expect(a).toMatchObject({ subject: 'm', signal: 'messageRate', value: 1300, at: 500_000 });
    expect(a!.mean).toBe(before.mean);
    expect(a!.stddev).toBe(before.stddev);
    expect(a!.z).toBeCloseTo((1300 - before.mean) / before.stddev, 12);
    expect(a!.z).toBeGreaterThan(6);
    // A step down is an anomaly too (negative z), in another signal with its own cooldown.
    for (let i = 0; i < 100; i++) d.observe('m', 'latency', 50 + noise(), i);
    expect(d.observe('m', 'latency', 40, 100)?.z).toBeLessThan(-4);
  });

  it('judges nothing during warm-up', () => {
    const d = new AnomalyDetector({ warmupSamples: 30 });
    for (let i = 0; i < 30; i++) {
      expect(d.observe('m', 'errorRate', i % 2 === 0 ? 0 : 1e6, i)).toBeUndefined();
    }
    const w0 = new AnomalyDetector({ warmupSamples: 0 });
    expect(w0.observe('m', 'errorRate', 5, 0)).toBeUndefined(); // no statistics yet
    expect(w0.observe('m', 'errorRate', 500, 1)).toBeDefined();
  });

  it('reports one anomaly per subject and signal per cooldown', () => {
    const d = new AnomalyDetector({ cooldownMs: 60_000 });
    const noise = gaussian(3);
    let t = 0;
    const tick = () => {
      t += 1000;
      return t;
    };
    const steady = (count: number) => {
      for (let i = 0; i < count; i++)
        expect(d.observe('m', 'latency', 100 + 10 * noise(), tick())).toBeUndefined();
    };
    steady(200);
    const first = d.observe('m', 'latency', 300, tick());
    expect(first).toBeDefined();
    steady(30);
    // Still anomalous against the statistics, but within the cooldown.
    const s = d.stats('m', 'latency')!;
    expect(Math.abs(300 - s.mean) / s.stddev).toBeGreaterThan(4);
    expect(d.observe('m', 'latency', 300, tick())).toBeUndefined();
    // Other subjects and signals have their own cooldowns.
    for (let i = 0; i < 40; i++) d.observe('other', 'latency', 100 + 10 * noise(), i * 1000);
    expect(d.observe('other', 'latency', 1000, 41_000)).toBeDefined();
    // A clock stepping back stays within the cooldown.
    expect(d.observe('m', 'latency', 5000, first!.at - 10_000)).toBeUndefined();
    steady(60);
    expect(t - first!.at).toBeGreaterThanOrEqual(60_000);
    expect(d.observe('m', 'latency', 5000, tick())).toBeDefined();
  });

  it('does not give an infinite z on jitter around a constant, but flags a real jump', () => {
    const d = new AnomalyDetector();
    for (let i = 0; i < 100; i++) d.observe('m', 'latency', 5, i);
    expect(d.stats('m', 'latency')).toEqual({ mean: 5, stddev: 0, samples: 100 });
    // Floor: 1e-9 + 0.01 * 5 = 0.05.
    expect(d.observe('m', 'latency', 5.0000001, 100)).toBeUndefined();
    expect(d.observe('m', 'latency', 5.1, 101)).toBeUndefined(); // z = 2
    const a = d.observe('m', 'latency', 6, 102)!;
    expect(a.z).toBeGreaterThan(4);
    expect(Number.isFinite(a.z)).toBe(true);
    // Around 0 the absolute floor 1e-9 applies.
    for (let i = 0; i < 100; i++) d.observe('m', 'violationRate', 0, i);
    expect(d.observe('m', 'violationRate', 1e-12, 100)).toBeUndefined();
    expect(d.observe('m', 'violationRate', 1, 101)!.z / 1e9).toBeCloseTo(1, 5);
  });

  it('computes the exponentially weighted mean and variance exactly (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 120 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (xs, alpha) => {
          const d = new AnomalyDetector({ alpha });
          for (const [i, x] of xs.entries()) d.observe('m', 'latency', x, i);
          // Direct definition: sample i's weight is a_i * prod_{k > i} (1 - a_k), a_i = max(alpha, 1/i).
          const a = xs.map((_, i) => Math.max(alpha, 1 / (i + 1)));
          const w = a.map((ai, i) => ai * a.slice(i + 1).reduce((prod, ak) => prod * (1 - ak), 1));
          const mean = xs.reduce((sum, x, i) => sum + w[i]! * x, 0);
          const variance = xs.reduce((sum, x, i) => sum + w[i]! * (x - mean) ** 2, 0);
          const s = d.stats('m', 'latency')!;
          const scale = Math.max(1, ...xs.map(Math.abs));
          return (
            s.samples === xs.length &&
            Math.abs(s.mean - mean) <= 1e-9 * scale &&
            Math.abs(s.stddev - Math.sqrt(variance)) <= 1e-6 * scale
          );
        },
      ),
    );
  });

  it('holds at most maxSubjects, forgetting the least recently seen', () => {
    const d = new AnomalyDetector({ maxSubjects: 100 });
    for (let i = 0; i < 1000; i++) {
      d.observe(`s${i}`, 'messageRate', i, i);
      d.observe('keep', 'messageRate', 1, i); // seen constantly: never the oldest
    }
    expect(d.size).toBe(100);
    expect(d.stats('keep', 'messageRate')?.samples).toBe(1000);
    expect(d.stats('s999', 'messageRate')?.samples).toBe(1);
    expect(d.stats('s0', 'messageRate')).toBeUndefined();
    expect(d.stats('s900', 'messageRate')).toBeUndefined();
    expect(d.stats('s901', 'messageRate')).toBeDefined();
    expect(d.stats('keep', 'latency')).toBeUndefined();
    expect(d.delete('keep')).toBe(true);
    expect(d.size).toBe(99);
    d.observe('keep', 'latency', 1, 0);
    expect(d.stats('keep', 'messageRate')).toBeUndefined();
  });

  it('refuses bad input and options with ValidationError', () => {
    const d = new AnomalyDetector();
    expect(() => d.observe('m', 'latency', Number.NaN, 0)).toThrow(ValidationError);
    expect(() => d.observe('m', 'latency', Number.POSITIVE_INFINITY, 0)).toThrow(ValidationError);
    expect(() => d.observe('m', 'latency', 1, Number.NaN)).toThrow(ValidationError);
    expect(() => d.observe('m', 'bogus' as AnomalySignal, 1, 0)).toThrow(ValidationError);
    expect(() => d.observe('m', 'toString' as AnomalySignal, 1, 0)).toThrow(ValidationError);
    expect(() => d.observe('', 'latency', 1, 0)).toThrow(ValidationError);
    expect(d.size).toBe(0);
    for (const bad of [
      { alpha: 0 },
      { alpha: 2 },
      { zThreshold: 0 },
      { warmupSamples: -1 },
      { warmupSamples: 1.5 },
      { cooldownMs: -1 },
      { maxSubjects: 0 },
      { minStddev: 0 },
      { minRelativeStddev: Number.NaN },
    ]) {
      expect(() => new AnomalyDetector(bad)).toThrow(ValidationError);
    }
  });
});
