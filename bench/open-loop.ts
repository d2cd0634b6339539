/**
 * An open-loop load generator: operations start at a fixed rate, on schedule, whether or not the
 * earlier ones have finished (a closed loop, which waits, hides queueing: it slows down with the
 * system under test). Each latency runs from the operation's scheduled start, so a generator or a
 * system that falls behind shows as latency, not as a lower rate (no coordinated omission).
 */
import { performance } from 'node:perf_hooks';

export interface OpenLoopResult {
  /** Operations started (ratePerSec * durationMs / 1000). */
  issued: number;
  /** (Not `ok`: the workers' answers use that key.) */
  succeeded: number;
  failed: number;
  /** Latencies of the successful operations, ms, per kind. */
  samplesMs: Record<string, number[]>;
  /** Failures per kind and error code (`kind:code`). */
  errors: Record<string, number>;
  /** From the first scheduled start to the last completion. */
  elapsedMs: number;
  /** How late the generator started its most delayed operation (its own lag, part of latency). */
  maxStartLagMs: number;
}

/** The wire code of a failure (typed errors carry one), else its class name. */
export function failureCode(err: unknown): string {
  const e = err as { wireCode?: unknown; code?: unknown; name?: unknown } | undefined;
  const code = e?.wireCode ?? e?.code ?? e?.name;
  return typeof code === 'string' ? code : 'error';
}

export async function openLoop(options: {
  ratePerSec: number;
  durationMs: number;
  /** The kind of operation k (0, 1, ...): its latencies and errors are kept apart. */
  kindOf(k: number): string;
  run(k: number, kind: string): Promise<void>;
}): Promise<OpenLoopResult> {
  const { ratePerSec, durationMs } = options;
  const total = Math.max(1, Math.floor((ratePerSec * durationMs) / 1000));
  const interval = 1000 / ratePerSec;
  const samplesMs: Record<string, number[]> = {};
  const errors: Record<string, number> = {};
  let succeeded = 0;
  let failed = 0;
  let maxStartLagMs = 0;
  let lastDone = 0;
  const running: Promise<void>[] = [];
  const start = performance.now();
  const launch = (k: number, scheduled: number) => {
    const kind = options.kindOf(k);
    maxStartLagMs = Math.max(maxStartLagMs, performance.now() - scheduled);
    running.push(
      options.run(k, kind).then(
        () => {
          const done = performance.now();
          lastDone = Math.max(lastDone, done);
          samplesMs[kind] ??= [];
          samplesMs[kind].push(done - scheduled);
          succeeded++;
        },
        (err: unknown) => {
          lastDone = Math.max(lastDone, performance.now());
          const key = `${kind}:${failureCode(err)}`;
          errors[key] = (errors[key] ?? 0) + 1;
          failed++;
        },
      ),
    );
  };
  await new Promise<void>((resolve) => {
    let k = 0;
    const tick = () => {
      const now = performance.now();
      // Every operation whose time has come starts now (a late timer starts several at once).
      while (k < total && start + k * interval <= now) {
        launch(k, start + k * interval);
        k++;
      }
      if (k >= total) resolve();
      else setTimeout(tick, Math.max(0, start + k * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(running);
  return {
    issued: total,
    succeeded,
    failed,
    samplesMs,
    errors,
    elapsedMs: Math.max(lastDone, start + durationMs) - start,
    maxStartLagMs: Math.round(maxStartLagMs * 100) / 100,
  };
}
