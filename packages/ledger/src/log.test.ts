import { ed25519, utf8 } from '@fmp/core';
import { describe, expect, it } from 'vitest';
import { benchLedger } from './bench.js';
import { verifyCheckpoint } from './checkpoint.js';
import { LogBusyError, type LogStorage, LogWriteError, MemoryLogStorage, TransparencyLog } from './log.js';
import { leafHash, verifyConsistency, verifyInclusion } from './merkle.js';

const ORIGIN = 'hub.example/ledger';
const keyPair = ed25519.keyPairFromSeed(new Uint8Array(32).fill(5));

/** A real MemoryLogStorage that records its writes and can hold them until released or fail. */
class ObservedStorage implements LogStorage {
  readonly inner = new MemoryLogStorage();
  readonly writes: number[] = [];
  gate: Promise<void> | undefined;
  fail = false;
  async appendBatch(leaves: readonly Uint8Array[]): Promise<void> {
    this.writes.push(leaves.length);
    if (this.gate) await this.gate;
    if (this.fail) throw new Error('disk full');
    await this.inner.appendBatch(leaves);
  }
  leafRange(start: number, end: number): Promise<Uint8Array[]> {
    return this.inner.leafRange(start, end);
  }
  size(): Promise<number> {
    return this.inner.size();
  }
}

describe('TransparencyLog', () => {
  it('group-commits concurrent appends into one storage write, indexes in call order', async () => {
    const storage = new ObservedStorage();
    const log = await TransparencyLog.open({ origin: ORIGIN, keyPair, storage });
    const indexes = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(utf8(`e${i}`))));
    expect(indexes).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(storage.writes).toEqual([100]);
    expect(log.size).toBe(100);
  });

  it('queues appends made during a write into the next batch; only written entries are covered', async () => {
    const storage = new ObservedStorage();
    const log = await TransparencyLog.open({ origin: ORIGIN, keyPair, storage, maxBatch: 3 });
    let release!: () => void;
    storage.gate = new Promise((r) => {
      release = r;
    });
    const first = log.append(utf8('a'));
    await Promise.resolve();
    await Promise.resolve();
    const later = [
      log.append(utf8('b')),
      log.append(utf8('c')),
      log.append(utf8('d')),
      log.append(utf8('e')),
    ];
    // Nothing is durable yet: the checkpoint still covers the empty tree.
    expect(log.size).toBe(0);
    expect(verifyCheckpoint(log.checkpoint(), log.verifier).checkpoint.size).toBe(0);
    storage.gate = undefined;
    release();
    expect(await first).toBe(0);
    expect(await Promise.all(later)).toEqual([1, 2, 3, 4]);
    expect(storage.writes).toEqual([1, 3, 1]);
  });

  it('bounds the pending queue', async () => {
    const log = await TransparencyLog.open({ origin: ORIGIN, keyPair, maxPending: 2 });
    const ok = [log.append(utf8('a')), log.append(utf8('b'))];
    await expect(log.append(utf8('c'))).rejects.toBeInstanceOf(LogBusyError);
    expect(await Promise.all(ok)).toEqual([0, 1]);
    expect(await log.append(utf8('c'))).toBe(2);
    await expect(log.append(new Uint8Array(2 * 1024 * 1024))).rejects.toThrow(/at most/);
  });

  it('fails every waiting append when storage fails, stops, and reopens from what was durable', async () => {
    const storage = new ObservedStorage();
    const log = await TransparencyLog.open({ origin: ORIGIN, keyPair, storage });
    await Promise.all([log.append(utf8('a')), log.append(utf8('b'))]);
    storage.fail = true;
    const failing = [log.append(utf8('c')), log.append(utf8('d'))];
    for (const f of failing) await expect(f).rejects.toBeInstanceOf(LogWriteError);
    await expect(log.append(utf8('e'))).rejects.toBeInstanceOf(LogWriteError);
    expect(log.size).toBe(2);

    storage.fail = false;
    const reopened = await TransparencyLog.open({ origin: ORIGIN, keyPair, storage });
    expect(reopened.size).toBe(2);
    expect(reopened.rootHash()).toEqual(log.rootHash());
    expect(await reopened.append(utf8('c'))).toBe(2);
  });

  it('serves checkpoints, entries and proofs that a client verifies; a tampered entry fails', async () => {
    const storage = new MemoryLogStorage();
    const log = await TransparencyLog.open({ origin: ORIGIN, keyPair, storage });
    for (let i = 0; i < 10; i++) await log.append(utf8(`entry ${i}`));
    const old = verifyCheckpoint(log.checkpoint(), log.verifier).checkpoint;
    await Promise.all(Array.from({ length: 27 }, (_, i) => log.append(utf8(`more ${i}`))));
    const { checkpoint } = verifyCheckpoint(log.checkpoint(), log.verifier);
    expect(checkpoint.size).toBe(37);

    const entries = await log.entries(0, 37);
    for (const [i, entry] of entries.entries()) {
      const proof = log.inclusionProof(i, checkpoint.size);
      expect(verifyInclusion(leafHash(entry), i, checkpoint.size, proof, checkpoint.rootHash)).toBe(true);
    }
    const tampered = utf8('entry 4!');
    expect(verifyInclusion(leafHash(tampered), 4, 37, log.inclusionProof(4, 37), checkpoint.rootHash)).toBe(
      false,
    );
    const proof = log.consistencyProof(old.size, checkpoint.size);
    expect(verifyConsistency(old.size, checkpoint.size, old.rootHash, checkpoint.rootHash, proof)).toBe(true);

    await expect(log.entries(30, 38)).rejects.toThrow(/within/);
    const small = await TransparencyLog.open({ origin: ORIGIN, keyPair, storage, maxRange: 5 });
    expect(small.size).toBe(37);
    await expect(small.entries(0, 6)).rejects.toThrow(/at most 5/);
    expect(await small.entries(0, 5)).toEqual(entries.slice(0, 5));
  });

  it('runs the benchmark at a small size', async () => {
    const r = await benchLedger({ leaves: 5000, proofs: 200, concurrency: 100 });
    expect(r.leaves).toBe(5000);
    expect(r.appendsPerSecond).toBeGreaterThan(0);
    expect(r.proofVerificationsPerSecond).toBeGreaterThan(0);
  });
});
