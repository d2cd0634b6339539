import { describe, expect, it } from 'vitest';
import { cosignatureVerifier, verifyNote } from '../checkpoint.js';
import { MemoryLogStorage } from '../log.js';
import { verifyEquivocationEvidence } from '../witness.js';
import type { Ledger } from './ledger.js';
import { LedgerMirrorError, LedgerReplica, type LedgerSource } from './replica.js';
import { testActor, testLedger } from './test-support.js';

const alice = testActor(1);
const bob = testActor(2);
const witnessKey = testActor(7).keyPair;

function sourceOf(ledger: Ledger, tamper?: (leaves: Uint8Array[]) => Uint8Array[]): LedgerSource {
  return {
    checkpoint: async () => ledger.log.checkpoint(),
    leaves: async (start, end) => {
      const leaves = await ledger.log.entries(start, Math.min(end, start + 3));
      return tamper ? tamper(leaves) : leaves;
    },
    consistencyProof: async (from, to) => ledger.log.consistencyProof(from, to),
  };
}

async function sequencer() {
  return testLedger({
    treasury: '0',
    accounts: [{ did: alice.did, balance: '1000' }],
    coreMaintainers: [],
    auditors: [],
    keys: [],
  });
}

describe('LedgerReplica', () => {
  it('follows the sequencer in pages, cosigns its checkpoints and reaches the same state root', async () => {
    const s = await sequencer();
    for (let i = 0; i < 7; i++)
      await s.ledger.submit(alice.sign('transfer', { to: bob.did, amount: '1' }, i));
    await s.ledger.flush();
    const storage = new MemoryLogStorage();
    const replica = await LedgerReplica.open({
      origin: s.ledger.log.origin,
      operatorKey: s.operator.keyPair.publicKey,
      storage,
      witness: { name: 'witness.test/w1', keyPair: witnessKey, now: () => Date.now() },
    });
    const applied: number[] = [];
    replica.onApplied((a) => applied.push(a.index));
    expect(await replica.sync(sourceOf(s.ledger))).toBe(8);
    expect(applied).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(replica.state.stateRoot()).toBe(s.ledger.state.stateRoot());
    const cosigned = verifyNote(replica.checkpoint!, [
      cosignatureVerifier('witness.test/w1', witnessKey.publicKey),
    ]);
    expect(cosigned.verified).toHaveLength(1);
    // Reopened from its storage: the same state, and it goes on from there.
    await s.ledger.submit(alice.sign('transfer', { to: bob.did, amount: '1' }, 7));
    const again = await LedgerReplica.open({
      origin: s.ledger.log.origin,
      operatorKey: s.operator.keyPair.publicKey,
      storage,
    });
    expect(again.size).toBe(8);
    expect(await again.sync(sourceOf(s.ledger))).toBe(9);
    expect(again.state.stateRoot()).toBe(s.ledger.state.stateRoot());
  });

  it('refuses entries that do not hash to the signed checkpoint, before applying any', async () => {
    const s = await sequencer();
    await s.ledger.submit(alice.sign('transfer', { to: bob.did, amount: '1' }, 0));
    await s.ledger.flush();
    const replica = await LedgerReplica.open({
      origin: s.ledger.log.origin,
      operatorKey: s.operator.keyPair.publicKey,
    });
    const swapped = sourceOf(s.ledger, (leaves) => leaves.map((l) => l.slice()).reverse());
    await expect(replica.sync(swapped)).rejects.toThrow(LedgerMirrorError);
    expect(replica.size).toBe(0);
    expect(replica.state.size).toBe(0);
  });

  it('refuses a checkpoint signed by another key', async () => {
    const s = await sequencer();
    const replica = await LedgerReplica.open({
      origin: s.ledger.log.origin,
      operatorKey: alice.keyPair.publicKey,
    });
    await expect(replica.sync(sourceOf(s.ledger))).rejects.toThrow(/not signed by the ledger operator/);
  });

  it('catches a sequencer that shows two different histories, with evidence anyone can check', async () => {
    const s = await sequencer();
    await s.ledger.submit(alice.sign('transfer', { to: bob.did, amount: '1' }, 0));
    await s.ledger.flush();
    const replica = await LedgerReplica.open({
      origin: s.ledger.log.origin,
      operatorKey: s.operator.keyPair.publicKey,
      witness: { name: 'witness.test/w1', keyPair: witnessKey, now: () => Date.now() },
    });
    await replica.sync(sourceOf(s.ledger));
    // The same operator key and genesis time, another entry at index 1: a fork of the log.
    const fork = await testLedger(
      {
        treasury: '0',
        accounts: [{ did: alice.did, balance: '1000' }],
        coreMaintainers: [],
        auditors: [],
        keys: [],
      },
      s.clock.now - 0,
    );
    expect(fork.operator.did).toBe(s.operator.did);
    await fork.ledger.submit(alice.sign('transfer', { to: bob.did, amount: '2' }, 0));
    await fork.ledger.flush();
    await expect(replica.sync(sourceOf(fork.ledger))).rejects.toThrow(/equivocated/);
    const ev = replica.evidence!;
    expect(ev.kind).toBe('fork');
    expect(verifyEquivocationEvidence(ev, s.operator.keyPair.publicKey)).toBe(true);
    await expect(replica.sync(sourceOf(s.ledger))).rejects.toThrow(/stopped/);
  });
});
