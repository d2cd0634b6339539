/**
 * Measurement helpers. Every figure is reported beside a baseline measured in the same run,
 * because this machine is shared and noisy: ratios travel better than absolute numbers.
 */
import { performance } from 'node:perf_hooks';

export interface Throughput {
  opsPerSec: number;
  n: number;
}

export interface Latency {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  n: number;
}

/** Calls fn in batches until minMs has elapsed (after a warm-up) and returns operations per second. */
export function throughput(fn: () => unknown, minMs: number): Throughput {
  for (let i = 0; i < 200; i++) fn();
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    elapsed = performance.now() - start;
  }
  return { opsPerSec: Math.round((n / elapsed) * 1000), n };
}

export async function throughputAsync(fn: () => Promise<unknown>, minMs: number): Promise<Throughput> {
  for (let i = 0; i < 50; i++) await fn();
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 20; i++) await fn();
    n += 20;
    elapsed = performance.now() - start;
  }
  return { opsPerSec: Math.round((n / elapsed) * 1000), n };
}

export function percentiles(samplesMs: number[]): Latency {
  const s = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  const round = (x: number) => Math.round(x * 10_000) / 10_000;
  return { p50Ms: round(at(0.5)), p95Ms: round(at(0.95)), p99Ms: round(at(0.99)), n: s.length };
}

/** Times each call of fn(i) individually, i = 0..n-1, after `warmup` untimed calls. */
export async function latency(n: number, fn: (i: number) => unknown, warmup = 100): Promise<Latency> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const samples = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    samples[i] = performance.now() - t;
  }
  return percentiles(samples);
}
