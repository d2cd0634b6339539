/**
 * The ledger benchmark: in-memory appends per second through TransparencyLog (group commits over
 * MemoryLogStorage) and inclusion proof verifications per second at a large tree size.
 */
import { ed25519 } from '@fmp/core';
import { TransparencyLog } from './log.js';
import { verifyConsistency, verifyInclusion } from './merkle.js';

export interface LedgerBenchResult {
  leaves: number;
  appendsPerSecond: number;
  proofs: number;
  proofVerificationsPerSecond: number;
  /** Mean time of one inclusion proof verification, in milliseconds. */
  proofVerifyMs: number;
  consistencyVerificationsPerSecond: number;
}

/**
 * Appends `leaves` entries of 128 bytes, `concurrency` appends in flight at a time, then verifies
 * `proofs` inclusion proofs for random leaves against the full tree's root (proof generation is not
 * timed) and as many consistency proofs from random older sizes.
 */
export async function benchLedger(
  options: { leaves?: number; proofs?: number; concurrency?: number } = {},
): Promise<LedgerBenchResult> {
  const leaves = options.leaves ?? 1_000_000;
  const proofs = options.proofs ?? 10_000;
  const concurrency = options.concurrency ?? 1000;
  const log = await TransparencyLog.open({
    origin: 'bench.fmp.example/ledger',
    keyPair: ed25519.keyPairFromSeed(new Uint8Array(32).fill(7)),
  });
  const entry = (i: number): Uint8Array => {
    const e = new Uint8Array(128);
    new DataView(e.buffer).setFloat64(0, i);
    return e;
  };

  let t0 = performance.now();
  for (let i = 0; i < leaves; i += concurrency) {
    const batch: Promise<number>[] = [];
    for (let j = i; j < Math.min(leaves, i + concurrency); j++) batch.push(log.append(entry(j)));
    await Promise.all(batch);
  }
  const appendMs = performance.now() - t0;

  const size = log.size;
  const root = log.rootHash();
  let seed = 0x5eed;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const cases = Array.from({ length: proofs }, () => {
    const index = rand(size);
    return { index, leaf: log.leafHash(index), proof: log.inclusionProof(index, size) };
  });
  t0 = performance.now();
  for (const c of cases) {
    if (!verifyInclusion(c.leaf, c.index, size, c.proof, root)) throw new Error('benchmark proof failed');
  }
  const verifyMs = performance.now() - t0;

  const consistency = Array.from({ length: proofs }, () => {
    const from = 1 + rand(size - 1);
    return { from, root: log.rootHash(from), proof: log.consistencyProof(from, size) };
  });
  t0 = performance.now();
  for (const c of consistency) {
    if (!verifyConsistency(c.from, size, c.root, root, c.proof)) throw new Error('benchmark proof failed');
  }
  const consistencyMs = performance.now() - t0;

  return {
    leaves: size,
    appendsPerSecond: Math.round(leaves / (appendMs / 1000)),
    proofs,
    proofVerificationsPerSecond: Math.round(proofs / (verifyMs / 1000)),
    proofVerifyMs: verifyMs / proofs,
    consistencyVerificationsPerSecond: Math.round(proofs / (consistencyMs / 1000)),
  };
}
