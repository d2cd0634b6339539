import { base64urlEncode, ed25519 } from '@fmp/core';
import { buildMeshCreate } from '@fmp/identity';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCheckpoint, signNote } from '../checkpoint.js';
import { leafHash, MerkleTree, verifyInclusion } from '../merkle.js';
import { MESH } from './amount.js';
import { decodeLeaf, encodeLeaf } from './entries.js';
import { LedgerReplayError, replayLedger } from './ledger.js';
import { drawWeighted } from './state.js';
import { DAY, testActor, testLedger } from './test-support.js';

const alice = testActor(1);
const bob = testActor(2);
const carol = testActor(3);
const hub = testActor(5);
const hub2 = testActor(6);

function genesis() {
  return {
    treasury: '1000000',
    accounts: [
      { did: alice.did, balance: '5000', stake: '1000' },
      { did: bob.did, balance: '5000', stake: '100' },
      { did: carol.did, balance: '5000', stake: '500' },
      { did: hub.did, balance: '1000', stake: '10000' },
      { did: hub2.did, balance: '0', stake: '10000' },
    ],
    coreMaintainers: [],
    auditors: [carol.did],
    keys: [],
  };
}

/** Every MESH is somewhere: balances, bonds, unbondings and the treasury add up to the genesis. */
function total(state: Awaited<ReturnType<typeof testLedger>>['ledger']['state']): bigint {
  const snap = state.snapshot() as { accounts: [string, string, string, [string, number][]][] };
  let sum = state.treasury;
  const units = (s: string) => BigInt(Math.round(Number(s) * 1e6));
  for (const [, bal, bonded, unb] of snap.accounts) {
    sum += units(bal) + units(bonded) + unb.reduce((s, [a]) => s + units(a), 0n);
  }
  return sum;
}
const GENESIS_TOTAL = (1_000_000n + 5000n * 3n + 1000n + 1000n + 100n + 500n + 20_000n) * MESH;

describe('MESH token', () => {
  it('moves tokens between accounts and refuses overdrafts, unknown actors and forged signatures', async () => {
    const w = await testLedger(genesis());
    const dave = testActor(9);
    await w.ledger.submit(alice.sign('transfer', { to: dave.did, amount: '12.5', memo: 'thanks' }, 0));
    expect(w.ledger.state.account(dave.did).balance).toBe(12_500_000n);
    await expect(
      w.ledger.submit(dave.sign('transfer', { to: alice.did, amount: '13' }, 0)),
    ).rejects.toMatchObject({
      code: 'ledger_insufficient_funds',
    });
    const forged = { ...alice.sign('transfer', { to: dave.did, amount: '1' }, 1), actor: bob.did };
    await expect(w.ledger.submit(forged)).rejects.toMatchObject({ code: 'ledger_bad_signature' });
    await expect(w.ledger.submit({ v: 1, type: 'transfer' })).rejects.toMatchObject({
      code: 'validation_failed',
    });
    await expect(
      w.ledger.submit(alice.sign('transfer', { to: dave.did, amount: '1' }, 5)),
    ).rejects.toMatchObject({ code: 'ledger_bad_sequence' });
    expect(total(w.ledger.state)).toBe(GENESIS_TOTAL);
  });

  it('charges compute at 100 MESH an hour, 0.1% of it to the hubs on the route', async () => {
    const w = await testLedger(genesis());
    await w.ledger.submit(
      alice.sign(
        'compute.payment',
        { provider: bob.did, computeMs: 1_800_000, route: [hub.did, hub2.did], calls: 42 },
        0,
      ),
    );
    const s = w.ledger.state;
    expect(s.account(alice.did).balance).toBe(4950n * MESH);
    expect(s.account(bob.did).balance).toBe(5000n * MESH + 50n * MESH - 50_000n);
    expect(s.account(hub.did).balance).toBe(1000n * MESH + 25_000n);
    expect(s.account(hub2.did).balance).toBe(25_000n);
  });

  it('pays 10 MESH per attestation, once per pair and period, within the budget', async () => {
    const w = await testLedger({ ...genesis(), params: { attestationRewardsPerPeriod: 2 } });
    const dave = testActor(9);
    await w.ledger.submit(
      alice.sign('attestation', { subject: bob.did, claim: 'verified-peer', score: 90 }, 0),
    );
    await w.ledger.submit(alice.sign('attestation', { subject: bob.did, claim: 'verified-peer' }, 1));
    await w.ledger.submit(alice.sign('attestation', { subject: carol.did, claim: 'verified-peer' }, 2));
    await w.ledger.submit(alice.sign('attestation', { subject: hub.did, claim: 'verified-peer' }, 3));
    expect(w.ledger.state.account(alice.did).balance).toBe(5020n * MESH);
    await expect(
      w.ledger.submit(dave.sign('attestation', { subject: bob.did, claim: 'x' }, 0)),
    ).rejects.toMatchObject({ code: 'ledger_insufficient_stake' });
    w.advance(31 * DAY);
    await w.ledger.submit(alice.sign('attestation', { subject: bob.did, claim: 'verified-peer' }, 4));
    expect(w.ledger.state.account(alice.did).balance).toBe(5030n * MESH);
  });

  it('rewards 1% APY on stake for availability above 99.9%, reported by a hub', async () => {
    const w = await testLedger(genesis());
    const t0 = w.clock.now;
    w.advance(365 * DAY);
    const report = { subject: alice.did, from: t0, to: t0 + 365 * DAY, availabilityPpm: 999_500 };
    await expect(w.ledger.submit(bob.sign('uptime.report', report, 0))).rejects.toMatchObject({
      code: 'ledger_not_allowed',
    });
    await w.ledger.submit(hub.sign('uptime.report', report, 0));
    expect(w.ledger.state.account(alice.did).balance).toBe(5010n * MESH);
    await expect(w.ledger.submit(hub.sign('uptime.report', report, 1))).rejects.toMatchObject({
      code: 'ledger_duplicate',
    });
    await w.ledger.submit(
      hub.sign(
        'uptime.report',
        { subject: bob.did, from: t0, to: t0 + 365 * DAY, availabilityPpm: 998_000 },
        1,
      ),
    );
    expect(w.ledger.state.account(bob.did).balance).toBe(5000n * MESH);
  });
});

describe('stakes', () => {
  it('bonds, reports the tier, unbonds over the unbonding period', async () => {
    const w = await testLedger(genesis());
    await w.ledger.submit(bob.sign('stake.bond', { amount: '900' }, 0));
    expect(w.ledger.state.account(bob.did).tier).toBe('certified');
    await w.ledger.submit(bob.sign('stake.unbond', { amount: '1000' }, 1));
    expect(w.ledger.state.account(bob.did)).toMatchObject({ bonded: 0n, tier: 'none' });
    await expect(
      w.ledger.submit(bob.sign('transfer', { to: alice.did, amount: '4200' }, 2)),
    ).rejects.toMatchObject({ code: 'ledger_insufficient_funds' });
    w.advance(21 * DAY);
    await w.ledger.submit(bob.sign('transfer', { to: alice.did, amount: '4200' }, 2));
    expect(w.ledger.state.account(bob.did).balance).toBe(4100n * MESH + 0n - 4200n * MESH + 1000n * MESH);
    expect(total(w.ledger.state)).toBe(GENESIS_TOTAL);
  });

  it('slashes a hub that equivocated, once per fault period, including stake being unbonded', async () => {
    const w = await testLedger(genesis());
    await w.ledger.submit(hub.sign('stake.unbond', { amount: '4000' }, 0));
    // Two checkpoints of one size with different roots, both signed by the hub's log key.
    const origin = 'hub.example/log';
    const a = new MerkleTree();
    const b = new MerkleTree();
    a.appendEntry(new Uint8Array([1]));
    b.appendEntry(new Uint8Array([2]));
    const note = (t: MerkleTree) =>
      signNote(formatCheckpoint({ origin, size: 1, rootHash: t.rootHash() }), {
        name: origin,
        keyPair: hub.keyPair,
      });
    const evidence = { kind: 'fork' as const, origin, first: note(a), second: note(b), consistencyProof: [] };
    await expect(
      w.ledger.submit(
        alice.sign(
          'slash.equivocation',
          { offender: hub.did, evidence: { ...evidence, second: note(a) } },
          0,
        ),
      ),
    ).rejects.toMatchObject({ code: 'ledger_invalid_evidence' });
    const treasury = w.ledger.state.treasury;
    await w.ledger.submit(alice.sign('slash.equivocation', { offender: hub.did, evidence }, 0));
    const acct = w.ledger.state.account(hub.did);
    // 50% of 10,000 (6,000 bonded + 4,000 unbonding): 5,000, bonded first.
    expect(acct.bonded).toBe(1000n * MESH);
    expect(acct.unbonding[0]!.amount).toBe(4000n * MESH);
    expect(w.ledger.state.treasury - treasury).toBe(5000n * MESH);
    await expect(
      w.ledger.submit(bob.sign('slash.equivocation', { offender: hub.did, evidence }, 0)),
    ).rejects.toMatchObject({ code: 'ledger_duplicate' });
    expect(total(w.ledger.state)).toBe(GENESIS_TOTAL);
  });
});

describe('disputes and certifications', () => {
  it('draws arbitrators by stake from the tree root, and a majority ruling slashes', async () => {
    const w = await testLedger(genesis());
    const r = await w.ledger.submit(
      alice.sign(
        'dispute.open',
        { respondent: bob.did, claim: 'kept data past retention', evidence: ['audit:42'], slashBps: 2000 },
        0,
      ),
    );
    const d = w.ledger.state.dispute(r.created!)!;
    expect(d.arbitrators).toHaveLength(3);
    expect(d.arbitrators).not.toContain(alice.did);
    expect(d.arbitrators).not.toContain(bob.did);
    // Anyone recomputes the draw from the published seed and the stakes.
    const pool = [carol, hub, hub2]
      .map((a) => ({ did: a.did, weight: w.ledger.state.stakeOf(a.did) }))
      .sort((x, y) => (x.did < y.did ? -1 : 1));
    expect(drawWeighted(pool, 3, d.seed)).toEqual(d.arbitrators);
    await expect(w.ledger.submit(bob.sign('stake.unbond', { amount: '100' }, 0))).rejects.toMatchObject({
      code: 'ledger_stake_frozen',
    });
    await expect(
      w.ledger.submit(alice.sign('dispute.rule', { dispute: d.id, decision: 'uphold', slashBps: 9000 }, 1)),
    ).rejects.toMatchObject({ code: 'ledger_not_allowed' });
    const byDid = new Map([carol, hub, hub2].map((a) => [a.did, a]));
    const [a1, a2] = d.arbitrators.map((x) => byDid.get(x)!);
    await w.ledger.submit(a1!.sign('dispute.rule', { dispute: d.id, decision: 'uphold', slashBps: 9000 }, 0));
    await w.ledger.submit(a2!.sign('dispute.rule', { dispute: d.id, decision: 'uphold', slashBps: 1000 }, 0));
    expect(d.status).toBe('upheld');
    // Median of (1000, 9000) rounded down = 1000 bps of bob's 100 bonded.
    expect(d.slashed).toBe(10n * MESH);
    expect(w.ledger.state.stakeOf(bob.did)).toBe(90n * MESH);
  });

  it('lets auditors certify and revoke, nobody else', async () => {
    const w = await testLedger(genesis());
    const expires = w.clock.now + 365 * DAY;
    await expect(
      w.ledger.submit(alice.sign('cert.issue', { subject: bob.did, standard: 'SOC2', expires }, 0)),
    ).rejects.toMatchObject({ code: 'ledger_not_allowed' });
    await w.ledger.submit(carol.sign('cert.issue', { subject: bob.did, standard: 'SOC2', expires }, 0));
    expect(w.ledger.state.certifications(bob.did).map((c) => c.standard)).toEqual(['SOC2']);
    w.advance(366 * DAY);
    await w.ledger.tick();
    expect(w.ledger.state.certifications(bob.did)).toEqual([]);
  });
});

describe('identities and the log', () => {
  it('carries did:mesh operations and accepts entries signed by a did:mesh key', async () => {
    const w = await testLedger(genesis());
    const key = ed25519.keyPairFromSeed(new Uint8Array(32).fill(40));
    const next = ed25519.keyPairFromSeed(new Uint8Array(32).fill(41));
    const did = 'did:mesh:enterprise:acme-001';
    const op = buildMeshCreate({
      did,
      key,
      nextPublicKey: next.publicKey,
      timestamp: new Date(w.clock.now).toISOString(),
    });
    await w.ledger.submit({ type: 'did:mesh-operation', op });
    await expect(w.ledger.submit({ type: 'did:mesh-operation', op })).rejects.toMatchObject({
      code: 'ledger_invalid_did_operation',
    });
    await w.ledger.submit(alice.sign('transfer', { to: did, amount: '10' }, 0));
    const acme = { did, keyPair: key };
    const { signEntry } = await import('./entries.js');
    await w.ledger.submit(
      signEntry({ type: 'transfer', actor: did, seq: 0, body: { to: bob.did, amount: '4' } }, acme.keyPair),
    );
    expect(w.ledger.state.account(did).balance).toBe(6n * MESH);
  });

  it('a tampered leaf fails its inclusion proof and the replay', async () => {
    const w = await testLedger(genesis());
    await w.ledger.submit(alice.sign('transfer', { to: bob.did, amount: '1' }, 0));
    await w.ledger.flush();
    const leaves = await w.storage.leafRange(0, 2);
    const proof = w.ledger.log.inclusionProof(1, 2);
    const root = w.ledger.log.rootHash();
    expect(verifyInclusion(leafHash(leaves[1]!), 1, 2, proof, root)).toBe(true);
    const leaf = decodeLeaf(leaves[1]!);
    const tampered = encodeLeaf({
      ...leaf,
      entry: { ...leaf.entry, body: { to: bob.did, amount: '1000' } } as never,
    });
    expect(verifyInclusion(leafHash(tampered), 1, 2, proof, root)).toBe(false);
    expect(() => replayLedger([leaves[0]!, tampered])).toThrow(LedgerReplayError);
    // A leaf re-encoded non-canonically is refused too (one entry, one leaf hash).
    const spaced = new TextEncoder().encode(
      JSON.stringify(JSON.parse(new TextDecoder().decode(leaves[1])), null, 1),
    );
    expect(() => replayLedger([leaves[0]!, spaced])).toThrow(/canonical/);
  });

  it('refuses a genesis for another operator key or ledger name', async () => {
    const w = await testLedger(genesis());
    const leaves = await w.storage.leafRange(0, 1);
    expect(() => replayLedger(leaves, { operatorKey: alice.keyPair.publicKey })).toThrow(/operator key/);
    expect(() => replayLedger(leaves, { ledger: 'other' })).toThrow(/genesis of/);
    expect(replayLedger(leaves, { operatorKey: w.operator.keyPair.publicKey }).size).toBe(1);
    expect(base64urlEncode(new Uint8Array(0))).toBe('');
  });
});

describe('replay (property)', () => {
  const actors = [alice, bob, carol, hub];
  type Op = { who: number; kind: 'transfer' | 'bond' | 'unbond' | 'wait'; to: number; amount: number };
  const op: fc.Arbitrary<Op> = fc.record({
    who: fc.integer({ min: 0, max: 3 }),
    kind: fc.constantFrom('transfer', 'bond', 'unbond', 'wait'),
    to: fc.integer({ min: 0, max: 3 }),
    amount: fc.integer({ min: 1, max: 8000 }),
  });

  it('any mix of accepted and refused entries: the replay has the live state root and no MESH appears or vanishes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const w = await testLedger(genesis());
        const seqs = [0, 0, 0, 0];
        for (const o of ops) {
          const a = actors[o.who]!;
          const amount = String(o.amount);
          const entry =
            o.kind === 'transfer'
              ? a.sign('transfer', { to: actors[o.to]!.did, amount }, seqs[o.who])
              : o.kind === 'bond'
                ? a.sign('stake.bond', { amount }, seqs[o.who])
                : o.kind === 'unbond'
                  ? a.sign('stake.unbond', { amount }, seqs[o.who])
                  : undefined;
          if (!entry) {
            w.advance(7 * DAY);
            continue;
          }
          const ok = await w.ledger.submit(entry).then(
            () => true,
            () => false,
          );
          if (ok) seqs[o.who]!++;
        }
        await w.ledger.flush();
        expect(total(w.ledger.state)).toBe(GENESIS_TOTAL);
        const leaves = await w.storage.leafRange(0, await w.storage.size());
        expect(replayLedger(leaves).stateRoot()).toBe(w.ledger.state.stateRoot());
      }),
      { numRuns: 40 },
    );
  });
});
