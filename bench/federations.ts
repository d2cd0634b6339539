/**
 * Federation state at scale (issue #8): one hub process holding 100,000 and 1,000,000 active
 * federations (quick: 10,000 and 100,000). Each count runs in a fresh process (bench/worker-federations.ts
 * describes what is measured and how), one after the other.
 *   npx tsx bench/federations.ts [--quick] [count...]   (standalone)
 */
import { killAll, startWorker } from './network.js';

export interface FederationsResult {
  count: number;
  /** Distinct meshes the federations join (one per 10 federations, at most 100,000). */
  meshes: number;
  /** JS heap per federation held (after a full GC), bytes. */
  bytesPerFederation: number;
  /** Where bytesPerFederation goes (measured at the largest count of the run). */
  breakdown?: { mapEntry: number; indexes: number; rowObject: number; arrays: number; strings: number };
  /** The per-federation rate limiter's token bucket, once the federation has carried a message. */
  bucketBytes: number;
  bytesPerFederationWithBucket: number;
  rssBytesPerFederation: number;
  /** The row as JSON text, bytes: what it holds, serialized (the baseline beside the heap figure). */
  rowJsonBytes: number;
  heapUsedMB: number;
  restoreUsPerFederation: number;
  /** Lookup by federation id in the hub's table (fresh id strings, random order), ns. */
  lookupNs: number;
  lookupFirstNs: number;
  /** The same lookups in a 1,000-entry Map (fits in cache), ns. */
  baselineLookupNs: number;
  /** The federations of one mesh, from the table's mesh index (byMesh), µs. */
  byMeshUs: number;
  /** The federations between two meshes, from the mesh index (between), µs. */
  betweenUs: number;
  /** Is there a federation between these two meshes (haveFederated, on every attestation), ms. */
  pairLookupMs: number;
  /** The federations of one mesh re-judged (reconcileMesh, over byMesh), ms. */
  meshScanMs: number;
  /** One pass over the table's rows, nothing copied (what each lookup above cost before the index), ms. */
  iterateMs: number;
  /** The hub's expiry sweep with nothing due (it runs every second; reads the expiry heap), ms. */
  sweepMs: number;
  sweepNsPerFederation: number;
  /** Federations due in the second sweep (1%). */
  expired: number;
  expirySweepMs: number;
  /** What each expiry adds to that sweep (status change, gauge, notices, store write), µs. */
  expiryUsPerFederation: number;
}

export async function benchFederations(counts: readonly number[]): Promise<FederationsResult[]> {
  const results: FederationsResult[] = [];
  const largest = Math.max(...counts);
  for (const count of counts) {
    // A million rows take about 1 GB of heap, and the measurements' own arrays more.
    const worker = startWorker(
      'worker-federations.ts',
      [String(count), ...(count === largest ? ['breakdown'] : [])],
      ['--expose-gc', '--max-old-space-size=6144'],
    );
    try {
      results.push((await worker.line((l) => l.count === count, 600_000)) as unknown as FederationsResult);
    } finally {
      await worker.stop();
    }
  }
  return results;
}

// Standalone: `npx tsx bench/federations.ts [--quick] [count...]`.
if (process.argv[1]?.endsWith('federations.ts')) {
  const counts = process.argv
    .slice(2)
    .filter((a) => /^\d+$/.test(a))
    .map(Number);
  const quick = process.argv.includes('--quick');
  try {
    const result = await benchFederations(
      counts.length > 0 ? counts : quick ? [10_000, 100_000] : [100_000, 1_000_000],
    );
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    killAll();
  }
}
