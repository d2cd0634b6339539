import { describe, expect, it } from 'vitest';
import { formatMesh, MESH } from './amount.js';
import { signEmergencyApproval } from './entries.js';
import { replayLedger } from './ledger.js';
import { tallyFromLog } from './tally.js';
import { DAY, testActor, testLedger } from './test-support.js';

const HOUR = 3_600_000;

/** Four holders: alice 4,000 MESH (1,000 bonded), bob 3,000, carol 2,000, dave 1,000; two maintainers. */
async function world() {
  const alice = testActor(1);
  const bob = testActor(2);
  const carol = testActor(3);
  const dave = testActor(4);
  const t = await testLedger({
    treasury: '100000',
    accounts: [
      { did: alice.did, balance: '3000', stake: '1000' },
      { did: bob.did, balance: '3000' },
      { did: carol.did, balance: '2000' },
      { did: dave.did, balance: '1000' },
    ],
    coreMaintainers: [alice.did, bob.did],
    auditors: [carol.did],
    keys: [],
  });
  return { ...t, alice, bob, carol, dave };
}

async function proposeMaxHops(w: Awaited<ReturnType<typeof world>>, value = 3) {
  const r = await w.ledger.submit(
    w.alice.sign('gov.propose', {
      title: `maxHops ${value}`,
      description: 'shorter routes',
      action: { kind: 'parameters', changes: { maxHops: value } },
    }),
  );
  return r.created!;
}

/** Moves the clock into the proposal's vote stage. */
function toVote(w: Awaited<ReturnType<typeof world>>) {
  w.advance(7 * DAY + 14 * DAY + 1);
}

describe('proposals', () => {
  it('runs draft, review, vote and a staged rollout, then changes the parameter', async () => {
    const w = await world();
    const id = await proposeMaxHops(w);
    expect(w.ledger.state.stageOf(w.ledger.state.proposal(id)!)).toBe('draft');
    w.advance(7 * DAY);
    await w.ledger.submit(w.bob.sign('gov.review', { proposal: id, verdict: 'approve' }));
    w.advance(14 * DAY);
    for (const v of [w.alice, w.bob, w.carol]) {
      await w.ledger.submit(v.sign('gov.vote', { proposal: id, choice: 'for' }));
    }
    await w.ledger.submit(w.dave.sign('gov.vote', { proposal: id, choice: 'against' }));
    const p = w.ledger.state.proposal(id)!;
    expect(formatMesh(p.for)).toBe('9000');
    expect(formatMesh(p.against)).toBe('1000');
    w.advance(7 * DAY);
    await w.ledger.tick();
    expect(p.status).toBe('implementing');
    expect(p.quorumReached).toBe(true);
    expect(w.ledger.state.params.maxHops).toBe(5);
    w.advance(30 * DAY);
    const t = await w.ledger.tickIfDue();
    expect(t).toBeDefined();
    expect(p.status).toBe('implemented');
    expect(w.ledger.state.params.maxHops).toBe(3);
  });

  it('refuses a double vote, and a ballot before or after the vote window', async () => {
    const w = await world();
    const id = await proposeMaxHops(w);
    w.advance(7 * DAY);
    await expect(
      w.ledger.submit(w.bob.sign('gov.vote', { proposal: id, choice: 'for' }, 0)),
    ).rejects.toMatchObject({
      code: 'ledger_wrong_stage',
    });
    w.advance(14 * DAY);
    await w.ledger.submit(w.bob.sign('gov.vote', { proposal: id, choice: 'for' }, 0));
    await expect(
      w.ledger.submit(w.bob.sign('gov.vote', { proposal: id, choice: 'against' }, 1)),
    ).rejects.toMatchObject({ code: 'ledger_duplicate' });
    w.advance(7 * DAY);
    await expect(
      w.ledger.submit(w.carol.sign('gov.vote', { proposal: id, choice: 'for' }, 0)),
    ).rejects.toMatchObject({ code: 'ledger_wrong_stage' });
  });

  it('counts the voting power held when the vote opened: later transfers and stakes do not count', async () => {
    const w = await world();
    const id = await proposeMaxHops(w);
    toVote(w);
    // dave receives 2,000 after the snapshot: still 1,000 votes; carol gave them away: still 2,000.
    await w.ledger.submit(w.carol.sign('transfer', { to: w.dave.did, amount: '2000' }));
    await w.ledger.submit(w.dave.sign('gov.vote', { proposal: id, choice: 'against' }));
    await w.ledger.submit(w.carol.sign('gov.vote', { proposal: id, choice: 'for' }));
    const p = w.ledger.state.proposal(id)!;
    expect(p.ballots.get(w.dave.did)!.weight).toBe(1000n * MESH);
    expect(p.ballots.get(w.carol.did)!.weight).toBe(2000n * MESH);
  });

  it('gives no weight to tokens that arrive, are staked, vote and are unstaked within the vote', async () => {
    const w = await world();
    const eve = testActor(9);
    const id = await proposeMaxHops(w);
    toVote(w);
    // One instant: eve gets tokens, bonds them, tries to vote, unbonds.
    await w.ledger.submit(w.bob.sign('transfer', { to: eve.did, amount: '3000' }));
    await w.ledger.submit(eve.sign('stake.bond', { amount: '3000' }));
    await expect(
      w.ledger.submit(eve.sign('gov.vote', { proposal: id, choice: 'for' })),
    ).rejects.toMatchObject({
      code: 'ledger_no_voting_power',
    });
    await w.ledger.submit(eve.sign('stake.unbond', { amount: '3000' }, 1));
    expect(w.ledger.state.proposal(id)!.ballots.size).toBe(0);
  });

  it('rejects a ballot replayed, or aimed at another proposal', async () => {
    const w = await world();
    const a = await proposeMaxHops(w, 3);
    const b = await proposeMaxHops(w, 4);
    toVote(w);
    const ballot = w.bob.sign('gov.vote', { proposal: a, choice: 'for' });
    await w.ledger.submit(ballot);
    await expect(w.ledger.submit(ballot)).rejects.toMatchObject({ code: 'ledger_replayed' });
    const moved = { ...ballot, body: { ...ballot.body, proposal: b } };
    await expect(w.ledger.submit(moved)).rejects.toMatchObject({ code: 'ledger_bad_signature' });
    const movedNextSeq = { ...moved, seq: 1 };
    await expect(w.ledger.submit(movedNextSeq)).rejects.toMatchObject({ code: 'ledger_bad_signature' });
    expect(w.ledger.state.proposal(b)!.ballots.size).toBe(0);
  });

  it('fails without quorum (60% of the supply at the snapshot)', async () => {
    const w = await world();
    const id = await proposeMaxHops(w);
    toVote(w);
    // carol's 2,000 of the 10,000 MESH held at the snapshot: 20%, under the 60% quorum.
    await w.ledger.submit(w.carol.sign('gov.vote', { proposal: id, choice: 'for' }));
    w.advance(7 * DAY);
    await w.ledger.tick();
    const p = w.ledger.state.proposal(id)!;
    expect(p.status).toBe('defeated');
    expect(p.quorumReached).toBe(false);
    expect(p.reason).toBe('quorum not reached');
  });

  it('ends in review when the core maintainers reject it', async () => {
    const w = await world();
    const id = await proposeMaxHops(w);
    w.advance(7 * DAY);
    await w.ledger.submit(w.alice.sign('gov.review', { proposal: id, verdict: 'reject' }));
    await expect(
      w.ledger.submit(w.carol.sign('gov.review', { proposal: id, verdict: 'approve' })),
    ).rejects.toMatchObject({ code: 'ledger_not_allowed' });
    w.advance(14 * DAY);
    await expect(
      w.ledger.submit(w.bob.sign('gov.vote', { proposal: id, choice: 'for' })),
    ).rejects.toMatchObject({
      code: 'ledger_wrong_stage',
    });
    await w.ledger.tick();
    expect(w.ledger.state.proposal(id)!.status).toBe('rejected');
  });

  it('pays a research grant from the treasury, and elects maintainers for two years', async () => {
    const w = await world();
    const grant = (
      await w.ledger.submit(
        w.alice.sign('gov.propose', {
          title: 'grant',
          description: 'research',
          action: { kind: 'grant', to: w.dave.did, amount: '500' },
        }),
      )
    ).created!;
    const election = (
      await w.ledger.submit(
        w.alice.sign('gov.propose', {
          title: 'elect carol',
          description: '',
          action: { kind: 'election', role: 'coreMaintainer', members: [w.carol.did] },
        }),
      )
    ).created!;
    toVote(w);
    for (const v of [w.alice, w.bob]) {
      await w.ledger.submit(v.sign('gov.vote', { proposal: grant, choice: 'for' }));
      await w.ledger.submit(v.sign('gov.vote', { proposal: election, choice: 'for' }));
    }
    w.advance(37 * DAY);
    await w.ledger.tick();
    expect(w.ledger.state.account(w.dave.did).balance).toBe(1500n * MESH);
    expect(w.ledger.state.treasury).toBe(99_500n * MESH);
    expect(w.ledger.state.isCoreMaintainer(w.carol.did)).toBe(true);
    w.advance(731 * DAY);
    await w.ledger.tick();
    expect(w.ledger.state.isCoreMaintainer(w.carol.did)).toBe(false);
  });
});

describe('emergency patches', () => {
  const patch = { nonce: 'patch-0001', reason: 'route storm', changes: { maxHops: 3 } };

  it('needs M of N maintainers and applies at once; rolled back after 72 h unless ratified', async () => {
    const w = await world();
    await expect(
      w.ledger.submit(w.alice.sign('gov.emergency', { ...patch, approvals: [] }, 0)),
    ).rejects.toMatchObject({ code: 'ledger_not_allowed' });
    const forged = signEmergencyApproval('test.example/ledger', patch, {
      did: w.bob.did,
      keyPair: w.carol.keyPair,
    });
    await expect(
      w.ledger.submit(w.alice.sign('gov.emergency', { ...patch, approvals: [forged] }, 0)),
    ).rejects.toMatchObject({ code: 'ledger_bad_signature' });
    const approval = signEmergencyApproval('test.example/ledger', patch, w.bob);
    const r = await w.ledger.submit(w.alice.sign('gov.emergency', { ...patch, approvals: [approval] }, 0));
    expect(w.ledger.state.params.maxHops).toBe(3);
    // The same approvals cannot apply the patch twice.
    await expect(
      w.ledger.submit(w.alice.sign('gov.emergency', { ...patch, approvals: [approval] }, 1)),
    ).rejects.toMatchObject({ code: 'ledger_replayed' });
    w.advance(72 * HOUR);
    await w.ledger.tickIfDue();
    expect(w.ledger.state.params.maxHops).toBe(5);
    const patchRecord = w.ledger.state.patches().find((p) => p.id === r.created)!;
    expect(patchRecord.status).toBe('rolled-back');
  });

  it('stays when the DAO ratifies it within 72 hours', async () => {
    const w = await world();
    w.advance(HOUR);
    const approval = signEmergencyApproval('test.example/ledger', patch, w.bob);
    const r = await w.ledger.submit(w.alice.sign('gov.emergency', { ...patch, approvals: [approval] }));
    const ratify = w.ledger.state.proposals().find((p) => p.kind === 'ratify')!;
    w.advance(HOUR);
    for (const v of [w.alice, w.bob])
      await w.ledger.submit(v.sign('gov.vote', { proposal: ratify.id, choice: 'for' }));
    w.advance(72 * HOUR);
    await w.ledger.tick();
    expect(w.ledger.state.params.maxHops).toBe(3);
    expect(w.ledger.state.patches().find((p) => p.id === r.created)!.status).toBe('ratified');
  });

  it('refuses changes beyond its bounds', async () => {
    const w = await world();
    const big = { nonce: 'patch-0002', reason: 'x', changes: { quorumBps: 1000 } };
    const approval = signEmergencyApproval('test.example/ledger', big, w.bob);
    await expect(
      w.ledger.submit(w.alice.sign('gov.emergency', { ...big, approvals: [approval] })),
    ).rejects.toMatchObject({ code: 'ledger_invalid_entry' });
  });
});

describe('tally and replay', () => {
  it('recomputes the tally from the log alone, and the replayed state root equals the live one', async () => {
    const w = await world();
    const id = await proposeMaxHops(w);
    toVote(w);
    await w.ledger.submit(w.alice.sign('gov.vote', { proposal: id, choice: 'for' }));
    await w.ledger.submit(w.bob.sign('gov.vote', { proposal: id, choice: 'against' }));
    await w.ledger.submit(w.dave.sign('gov.vote', { proposal: id, choice: 'abstain' }));
    w.advance(7 * DAY);
    await w.ledger.tick();
    await w.ledger.flush();
    const leaves = await w.storage.leafRange(0, await w.storage.size());
    const tally = tallyFromLog(leaves, id);
    const p = w.ledger.state.proposal(id)!;
    expect(tally).toMatchObject({ for: p.for, against: p.against, abstain: p.abstain, ballots: 3 });
    expect(tally.quorumReached).toBe(p.quorumReached);
    const replayed = replayLedger(leaves);
    expect(replayed.stateRoot()).toBe(w.ledger.state.stateRoot());
    expect(Buffer.from(replayed.rootHash())).toEqual(Buffer.from(w.ledger.log.rootHash()));
  });
});

describe('snapshots (property)', () => {
  it('weighs every ballot at what the voter held just before the vote opened, whatever moved around it', async () => {
    const { default: fc } = await import('fast-check');
    const { decodeLeaf } = await import('./entries.js');
    type Move = { from: number; to: number; amount: number; at: 'before' | 'during' };
    const move: import('fast-check').Arbitrary<Move> = fc.record({
      from: fc.integer({ min: 0, max: 3 }),
      to: fc.integer({ min: 0, max: 3 }),
      amount: fc.integer({ min: 1, max: 1500 }),
      at: fc.constantFrom('before', 'during'),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(move, { maxLength: 30 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        async (moves, votes) => {
          const w = await world();
          const people = [w.alice, w.bob, w.carol, w.dave];
          const seqs = [0, 0, 0, 0];
          const transfer = async (m: Move) => {
            if (m.from === m.to) return;
            const r = await w.ledger
              .submit(
                people[m.from]!.sign(
                  'transfer',
                  { to: people[m.to]!.did, amount: String(m.amount) },
                  seqs[m.from],
                ),
              )
              .then(
                () => true,
                () => false,
              );
            if (r) seqs[m.from]!++;
          };
          for (const m of moves.filter((x) => x.at === 'before')) {
            w.advance(DAY);
            await transfer(m);
          }
          const proposeSeq = seqs[0]!;
          seqs[0] = proposeSeq + 1;
          const id = (
            await w.ledger.submit(
              w.alice.sign(
                'gov.propose',
                { title: 't', description: '', action: { kind: 'parameters', changes: { maxHops: 4 } } },
                proposeSeq,
              ),
            )
          ).created!;
          for (const m of moves.filter((x) => x.at === 'before')) await transfer(m);
          w.advance(21 * DAY + 1);
          const during = moves.filter((x) => x.at === 'during');
          for (let i = 0; i < 4; i++) {
            if (during[i]) await transfer(during[i]!);
            if (votes[i]) {
              const ok = await w.ledger
                .submit(people[i]!.sign('gov.vote', { proposal: id, choice: 'for' }, seqs[i]))
                .then(
                  () => true,
                  () => false,
                );
              if (ok) seqs[i]!++;
            }
          }
          await w.ledger.flush();
          const leaves = await w.storage.leafRange(0, await w.storage.size());
          const p = w.ledger.state.proposal(id)!;
          // The reference: a replay of only the leaves before the vote opened.
          const before = leaves.filter((l) => decodeLeaf(l).time < p.voteStart);
          const snapshot = replayLedger(before);
          people.forEach((who, i) => {
            const a = snapshot.account(who.did);
            // A voter who held MESH has a ballot of exactly that weight; one who held none has none.
            if (votes[i]) expect(p.ballots.get(who.did)?.weight ?? 0n).toBe(a.balance + a.bonded);
          });
          const tally = tallyFromLog(leaves, id);
          expect(tally.for).toBe(p.for);
        },
      ),
      { numRuns: 25 },
    );
  });
});
