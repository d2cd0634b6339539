import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createHubMetrics } from './metrics.js';

const PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
const OUTCOMES = ['delivered', 'queued', 'rejected'] as const;

/** Plain prom-client metrics with the same definitions, as the reference. */
function reference() {
  const registers = [new Registry()];
  return {
    messages: new Counter({
      name: 'fmp_hub_messages_total',
      help: 'm',
      labelNames: ['priority', 'outcome'],
      registers,
    }),
    queueSeconds: new Histogram({
      name: 'fmp_hub_queue_seconds',
      help: 'q',
      labelNames: ['priority', 'link'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.2, 1, 5, 30],
      registers,
    }),
  };
}

const sorted = <T extends { labels: object }>(values: T[]) =>
  values
    .map((v) => ({ ...v, labels: { ...v.labels, hub: undefined } }))
    .sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));

describe('hot-path metrics', () => {
  it('count and observe exactly as prom-client does, across reads and resets', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant('inc' as const),
              priority: fc.constantFrom(...PRIORITIES),
              outcome: fc.constantFrom(...OUTCOMES),
              value: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
            }),
            fc.record({
              kind: fc.constant('observe' as const),
              priority: fc.constantFrom(...PRIORITIES),
              link: fc.constantFrom('node', 'peer'),
              value: fc.double({ min: 0, max: 60, noNaN: true }),
            }),
            fc.constant({ kind: 'read' as const }),
            fc.constant({ kind: 'reset' as const }),
          ),
          { maxLength: 60 },
        ),
        async (ops) => {
          const hub = createHubMetrics({ hub: 'did:mesh:hub:t' });
          const ref = reference();
          for (const op of ops) {
            if (op.kind === 'inc') {
              hub.messages.inc({ priority: op.priority, outcome: op.outcome }, op.value);
              ref.messages.inc({ priority: op.priority, outcome: op.outcome }, op.value);
            } else if (op.kind === 'observe') {
              hub.queueSeconds.observe({ priority: op.priority, link: op.link }, op.value);
              ref.queueSeconds.observe({ priority: op.priority, link: op.link }, op.value);
            } else if (op.kind === 'read') {
              await hub.messages.get();
              await hub.queueSeconds.get();
            } else {
              hub.queueSeconds.reset();
              ref.queueSeconds.reset();
            }
          }
          const nonZero = <T extends { value: number }>(v: T[]) => v.filter((x) => x.value !== 0);
          expect(sorted(nonZero((await hub.messages.get()).values))).toEqual(
            sorted(nonZero((await ref.messages.get()).values)),
          );
          const hist = (await hub.queueSeconds.get()).values;
          const refHist = (await ref.queueSeconds.get()).values;
          expect(sorted(hist).map((v) => ({ ...v, value: Math.round(v.value * 1e9) }))).toEqual(
            sorted(refHist).map((v) => ({ ...v, value: Math.round(v.value * 1e9) })),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('still refuses labels the metric does not have', () => {
    const hub = createHubMetrics({ hub: 'did:mesh:hub:t' });
    expect(() => hub.messages.inc({ nope: 'x' } as never)).toThrow();
    expect(() => hub.queueSeconds.observe({ nope: 'x' } as never, 1)).toThrow();
    expect(() => hub.messages.inc({ priority: 'low', outcome: 'queued' }, -1)).toThrow();
  });
});
