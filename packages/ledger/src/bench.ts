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

export interface GovernanceBenchResult {
  voters: number;
  /** Signed entries the sequencer took per second (funding transfers and ballots, verified and applied). */
  entriesPerSecond: number;
  /** Leaves replayed (every signature checked) and the ballots tallied from them. */
  replayedLeaves: number;
  /** Time to verify and tally every ballot from the log alone (tallyFromLog over the whole log). */
  tallyMs: number;
  ballotsPerSecond: number;
  /** The recomputed tally equals the live one. */
  matches: boolean;
}

/**
 * `voters` accounts are funded by transfers, one proposal goes to a vote, each voter signs a ballot,
 * then the tally is recomputed from the log's leaves alone (signatures, weights at the snapshot).
 */
export async function benchGovernance(options: { voters?: number } = {}): Promise<GovernanceBenchResult> {
  // Imported here: the state machine pulls in the identity package, which the Merkle bench does not need.
  const { Ledger } = await import('./state/ledger.js');
  const { signEntry } = await import('./state/entries.js');
  const { tallyFromLog } = await import('./state/tally.js');
  const { didKeyFromEd25519PublicKey } = await import('@fmp/identity');
  const voters = options.voters ?? 100_000;
  const DAY = 86_400_000;
  const party = (i: number) => {
    const seed = new Uint8Array(32);
    new DataView(seed.buffer).setUint32(0, i + 1);
    const keyPair = ed25519.keyPairFromSeed(seed);
    return { did: didKeyFromEd25519PublicKey(keyPair.publicKey), keyPair };
  };
  const operator = party(0xfffffff0);
  const whale = party(0xfffffff1);
  const clock = { now: Date.UTC(2026, 0, 1) };
  const ledger = await Ledger.open({
    origin: 'bench.fmp.example/governance',
    operator,
    now: () => clock.now,
    genesis: {
      treasury: '0',
      accounts: [{ did: whale.did, balance: String(voters * 10 + 1000), stake: '1000' }],
      coreMaintainers: [],
      auditors: [],
      keys: [],
      params: { quorumBps: 100 },
    },
  });
  const people = Array.from({ length: voters }, (_, i) => party(i));
  let submitted = 0;
  const t0 = performance.now();
  let seq = 0;
  const batch = async (entries: ReturnType<typeof signEntry>[]) => {
    await Promise.all(entries.map((e) => ledger.submit(e)));
    submitted += entries.length;
  };
  for (let i = 0; i < voters; i += 1000) {
    await batch(
      people
        .slice(i, i + 1000)
        .map((p) =>
          signEntry(
            { type: 'transfer', actor: whale.did, seq: seq++, body: { to: p.did, amount: '10' } },
            whale.keyPair,
          ),
        ),
    );
  }
  clock.now += 1000;
  const proposal = await ledger.submit(
    signEntry(
      {
        type: 'gov.propose',
        actor: whale.did,
        seq: seq++,
        body: { title: 'bench', description: '', action: { kind: 'parameters', changes: { maxHops: 4 } } },
      },
      whale.keyPair,
    ),
  );
  const id = proposal.created!;
  clock.now += 21 * DAY + 1;
  for (let i = 0; i < voters; i += 1000) {
    await batch(
      people.slice(i, i + 1000).map((p, j) =>
        signEntry(
          {
            type: 'gov.vote',
            actor: p.did,
            seq: 0,
            body: { proposal: id, choice: (i + j) % 3 === 0 ? 'against' : 'for' },
          },
          p.keyPair,
        ),
      ),
    );
  }
  const applyMs = performance.now() - t0;
  clock.now += 7 * DAY;
  await ledger.tick();
  await ledger.flush();
  const leaves = await collect(ledger.log);
  const t1 = performance.now();
  const tally = tallyFromLog(leaves, id);
  const tallyMs = performance.now() - t1;
  const live = ledger.state.proposal(id)!;
  return {
    voters,
    entriesPerSecond: Math.round(submitted / (applyMs / 1000)),
    replayedLeaves: leaves.length,
    tallyMs: Math.round(tallyMs),
    ballotsPerSecond: Math.round(voters / (tallyMs / 1000)),
    matches: tally.for === live.for && tally.against === live.against && tally.ballots === live.ballots.size,
  };
}

async function collect(log: TransparencyLog): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let start = 0; start < log.size; start += 1000)
    out.push(...(await log.entries(start, Math.min(log.size, start + 1000))));
  return out;
}
