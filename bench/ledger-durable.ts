/**
 * Durable ledger appends (issue 7; goal >= 2,000 durable appends/s with batching): a TransparencyLog
 * over the SQLite store (a file in a temp dir, the store's defaults: WAL, each commit fdatasynced
 * before its writers are answered), an append acknowledged only once its storage write is on disk. Many appenders at once, so appends
 * share writes (the figure the goal is about), and one appender alone (an fsync per append) beside
 * it. The raw SQLite batched-insert baseline is benchBaselines' (bench/network.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ed25519 } from '@fmp/core';
import { type LogStorage, TransparencyLog } from '@fmp/ledger';
import { openStore } from '@fmp/store';
import { percentiles } from './lib.js';

export interface LedgerDurableBench {
  /** Timed appends (after a warm-up) and the appenders issuing them, each waiting for its ack. */
  readonly appends: number;
  readonly concurrency: number;
  readonly entryBytes: number;
  readonly appendsPerSec: number;
  /** Leaves per storage write (one transaction, one fsync each). */
  readonly batches: {
    readonly count: number;
    readonly mean: number;
    readonly p50: number;
    readonly max: number;
  };
  /** From append() to its index, ms. */
  readonly ackLatency: { readonly p50Ms: number; readonly p99Ms: number };
  /** One appender alone: every append is its own write. */
  readonly sequentialAppendsPerSec: number;
  /** The reopened log rebuilt the same root from the stored leaves. */
  readonly reopenedSameRoot: boolean;
}

const ORIGIN = 'fmp.ledger/did:mesh:hub:bench';

/** About the size of a hub's did:mesh operation entry (RFC 8785 JSON, a key and a signature). */
function entry(i: number): Uint8Array {
  const op = {
    type: 'did:mesh-operation',
    op: {
      did: `did:mesh:enterprise:bench-${i}`,
      seq: 0,
      publicKeyMultibase: `z6Mk${'x'.repeat(44)}`,
      nextKeyHash: 'h'.repeat(64),
      timestamp: '2025-06-01T00:00:00.000Z',
      signature: 's'.repeat(86),
    },
  };
  return new TextEncoder().encode(JSON.stringify(op));
}

async function closedLoop(log: TransparencyLog, concurrency: number, n: number, from: number) {
  const samples: number[] = [];
  let next = from;
  const end = from + n;
  const worker = async () => {
    while (next < end) {
      const e = entry(next++);
      const t = performance.now();
      await log.append(e);
      samples.push(performance.now() - t);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { seconds: (performance.now() - start) / 1000, samples };
}

export async function benchLedgerDurable({ quick }: { quick: boolean }): Promise<LedgerDurableBench> {
  const dir = mkdtempSync(join(tmpdir(), 'fmp-bench-ledger-'));
  const path = join(dir, 'hub.db');
  const keyPair = ed25519.keyPairFromSeed(new Uint8Array(32).fill(3));
  const n = quick ? 10_000 : 50_000;
  const concurrency = 512;
  const sequential = quick ? 200 : 1000;
  const store = await openStore({ kind: 'sqlite', path });
  try {
    const storage = store.ledgerLogs.open(ORIGIN);
    const sizes: number[] = [];
    const counting: LogStorage = {
      size: () => storage.size(),
      leafRange: (start, end) => storage.leafRange(start, end),
      appendBatch(leaves) {
        sizes.push(leaves.length);
        return storage.appendBatch(leaves);
      },
    };
    const log = await TransparencyLog.open({ origin: ORIGIN, keyPair, storage: counting });
    await closedLoop(log, concurrency, 2000, 0); // warm-up
    sizes.length = 0;
    const run = await closedLoop(log, concurrency, n, 2000);
    const batchSizes = [...sizes].sort((a, b) => a - b);
    const latency = percentiles(run.samples);
    const alone = await closedLoop(log, 1, sequential, 2000 + n);
    const root = log.rootHash();
    const size = log.size;
    await store.close();

    const again = await openStore({ kind: 'sqlite', path });
    try {
      const reopened = await TransparencyLog.open({
        origin: ORIGIN,
        keyPair,
        storage: again.ledgerLogs.open(ORIGIN),
      });
      const sameRoot = reopened.size === size && Buffer.from(reopened.rootHash()).equals(Buffer.from(root));
      return {
        appends: n,
        concurrency,
        entryBytes: entry(0).length,
        appendsPerSec: Math.round(n / run.seconds),
        batches: {
          count: batchSizes.length,
          mean: Math.round((n / batchSizes.length) * 10) / 10,
          p50: batchSizes[Math.floor(batchSizes.length / 2)] ?? 0,
          max: batchSizes.at(-1) ?? 0,
        },
        ackLatency: { p50Ms: latency.p50Ms, p99Ms: latency.p99Ms },
        sequentialAppendsPerSec: Math.round(sequential / alone.seconds),
        reopenedSameRoot: sameRoot,
      };
    } finally {
      await again.close();
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
