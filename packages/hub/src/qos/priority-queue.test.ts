import { ValidationError } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PriorityQueue, QOS_CLASSES, type QosClass } from './priority-queue.js';

function clock(start = 1000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('PriorityQueue', () => {
  it('serves critical > high > normal > low, FIFO within a class', () => {
    const c = clock();
    const q = new PriorityQueue<string>({ maxItems: 100, ttlMs: 10_000, now: c.now });
    q.push('low-1', 'low');
    q.push('normal-1', 'normal');
    q.push('crit-1', 'critical');
    q.push('high-1', 'high');
    q.push('crit-2', 'critical');
    q.push('low-2', 'low');
    expect(q.counts()).toEqual({ critical: 2, high: 1, normal: 1, low: 2 });
    expect(q.peek()).toBe('crit-1');
    const out: string[] = [];
    for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x);
    expect(out).toEqual(['crit-1', 'crit-2', 'high-1', 'normal-1', 'low-1', 'low-2']);
    expect(q.size).toBe(0);
  });

  it('refuses a push when full in items or bytes, leaving the queue unchanged', () => {
    const c = clock();
    const q = new PriorityQueue<number>({ maxItems: 2, maxBytes: 100, ttlMs: 10_000, now: c.now });
    expect(q.push(1, 'normal', 60)).toBe(true);
    expect(q.push(2, 'normal', 60)).toBe(false); // bytes
    expect(q.push(3, 'normal', 101)).toBe(false); // larger than maxBytes
    expect(q.push(4, 'low', 40)).toBe(true);
    expect(q.push(5, 'critical', 0)).toBe(false); // items
    expect(q.size).toBe(2);
    expect(q.bytes).toBe(100);
    expect(q.shift()).toBe(1);
    expect(q.bytes).toBe(40);
  });

  it('hands expired items to onExpired, never to shift', () => {
    const c = clock();
    const expired: string[] = [];
    const q = new PriorityQueue<string>({
      maxItems: 10,
      ttlMs: 100,
      now: c.now,
      onExpired: (item) => expired.push(item),
    });
    q.push('old-critical', 'critical');
    q.push('old-low', 'low');
    c.advance(60);
    q.push('fresh-low', 'low');
    c.advance(50);
    expect(q.shift()).toBe('fresh-low');
    expect(expired).toEqual(['old-critical', 'old-low']);
    expect(q.size).toBe(0);
  });

  it('drainExpired drops every expired item and frees space for a push', () => {
    const c = clock();
    const expired: number[] = [];
    const q = new PriorityQueue<number>({
      maxItems: 2,
      ttlMs: 100,
      now: c.now,
      onExpired: (i) => expired.push(i),
    });
    q.push(1, 'high');
    q.push(2, 'low');
    c.advance(100);
    expect(q.push(3, 'normal')).toBe(true); // full, but both held items expired
    expect(expired).toEqual([1, 2]);
    expect(q.drainExpired()).toBe(0);
    c.advance(100);
    expect(q.drainExpired()).toBe(1);
    expect(expired).toEqual([1, 2, 3]);
  });

  it('reports how long each shifted item waited', () => {
    const c = clock();
    const q = new PriorityQueue<string>({ maxItems: 10, ttlMs: 10_000, now: c.now });
    q.push('a', 'high', 7);
    c.advance(42);
    const e = q.shiftEntry();
    expect(e).toMatchObject({ item: 'a', priority: 'high', sizeBytes: 7, waitedMs: 42 });
  });

  it('with evictLowerOnFull, a higher class evicts the newest lowest-class item (reported)', () => {
    const c = clock();
    const evicted: string[] = [];
    const q = new PriorityQueue<string>({
      maxItems: 3,
      ttlMs: 10_000,
      now: c.now,
      evictLowerOnFull: true,
      onEvicted: (i) => evicted.push(i),
    });
    q.push('low-1', 'low');
    q.push('low-2', 'low');
    q.push('normal-1', 'normal');
    expect(q.push('crit', 'critical')).toBe(true);
    expect(evicted).toEqual(['low-2']);
    expect(q.push('low-3', 'low')).toBe(false); // nothing lower than low
    expect(q.push('normal-2', 'normal')).toBe(true);
    expect(evicted).toEqual(['low-2', 'low-1']);
    expect([q.shift(), q.shift(), q.shift()]).toEqual(['crit', 'normal-1', 'normal-2']);
  });

  it('aging mode serves a starving lower class once its head waited agingMs', () => {
    const c = clock();
    const q = new PriorityQueue<string>({ maxItems: 100, ttlMs: 100_000, now: c.now, agingMs: 500 });
    q.push('low', 'low');
    q.push('crit-1', 'critical');
    expect(q.shift()).toBe('crit-1');
    c.advance(600);
    q.push('crit-2', 'critical');
    expect(q.shift()).toBe('low');
    expect(q.shift()).toBe('crit-2');
  });

  it('rejects bad options and arguments with ValidationError', () => {
    const c = clock();
    expect(() => new PriorityQueue({ maxItems: 0, ttlMs: 1, now: c.now })).toThrow(ValidationError);
    expect(() => new PriorityQueue({ maxItems: 1, ttlMs: -1, now: c.now })).toThrow(ValidationError);
    const q = new PriorityQueue<number>({ maxItems: 1, ttlMs: 1, now: c.now });
    expect(() => q.push(1, 'urgent' as QosClass)).toThrow(ValidationError);
    expect(() => q.push(1, 'low', -5)).toThrow(ValidationError);
  });

  it('property: every pushed item is shifted, expired, evicted or still held; order is strict by class', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('push' as const),
        priority: fc.constantFrom(...QOS_CLASSES),
        size: fc.nat(50),
      }),
      fc.record({ kind: fc.constant('shift' as const) }),
      fc.record({ kind: fc.constant('tick' as const), ms: fc.nat(80) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.boolean(), (ops, evict) => {
        const c = clock();
        const gone = new Set<number>();
        const q = new PriorityQueue<number>({
          maxItems: 8,
          maxBytes: 200,
          ttlMs: 100,
          now: c.now,
          evictLowerOnFull: evict,
          onExpired: (i) => gone.add(i),
          onEvicted: (i) => gone.add(i),
        });
        let next = 0;
        const accepted = new Map<number, QosClass>();
        const shifted = new Set<number>();
        for (const o of ops) {
          if (o.kind === 'push') {
            const id = next++;
            if (q.push(id, o.priority, o.size)) accepted.set(id, o.priority);
          } else if (o.kind === 'tick') {
            c.advance(o.ms);
          } else {
            const before = q.counts();
            const e = q.shiftEntry();
            if (e) {
              shifted.add(e.item);
              expect(e.waitedMs).toBeLessThan(100);
              // Nothing of a higher class was live when this one was served.
              const after = q.counts();
              for (const cls of QOS_CLASSES) {
                if (cls === e.priority) break;
                expect(after[cls]).toBe(0);
              }
              expect(before[e.priority]).toBeGreaterThan(0);
            }
          }
          expect(q.size).toBeLessThanOrEqual(8);
          expect(q.bytes).toBeLessThanOrEqual(200);
        }
        const held = new Set(q.clear().map((e) => e.item));
        for (const id of accepted.keys()) {
          const fates = [shifted.has(id), gone.has(id), held.has(id)].filter(Boolean).length;
          expect(fates).toBe(1);
        }
      }),
    );
  });
});
