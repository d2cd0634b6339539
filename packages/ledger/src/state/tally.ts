/**
 * The tally anyone can recompute: replay the log, collect every ballot on the proposal that the
 * ledger accepted (each one's signature checked on the way), and weigh each at the snapshot.
 */
import { FmpError } from '@fmp/core';
import { decodeLeaf, type SignedEntry } from './entries.js';
import { LedgerState, type LedgerStateOptions } from './state.js';

export interface Tally {
  readonly proposal: string;
  readonly ballots: number;
  readonly for: bigint;
  readonly against: bigint;
  readonly abstain: bigint;
  /** Voting supply at the snapshot. */
  readonly eligible: bigint;
  /** Undefined while the vote is open (the quorum that applies is the one at its close). */
  readonly quorumReached: boolean | undefined;
}

export class UnknownProposalError extends FmpError {
  constructor(id: string) {
    super('ledger_unknown_proposal', `the log holds no proposal ${id}`);
  }
}

export function tallyFromLog(
  leaves: Iterable<Uint8Array>,
  proposalId: string,
  options: LedgerStateOptions = {},
): Tally {
  const state = new LedgerState(options);
  // Each ballot is weighed as it is replayed: the voter's holdings just before the vote opened.
  const ballots = new Map<string, { choice: 'for' | 'against' | 'abstain'; weight: bigint }>();
  for (const bytes of leaves) {
    const leaf = decodeLeaf(bytes);
    state.apply(leaf, bytes);
    const p = state.proposal(proposalId);
    const { entry } = leaf;
    if (entry.type === 'gov.vote') {
      const vote = entry as SignedEntry<'gov.vote'>;
      if (vote.body.proposal === proposalId && p) {
        ballots.set(vote.actor, { choice: vote.body.choice, weight: state.votesAt(vote.actor, p.voteStart) });
      }
    }
  }
  const p = state.proposal(proposalId);
  if (!p) throw new UnknownProposalError(proposalId);
  const sums = { for: 0n, against: 0n, abstain: 0n };
  for (const { choice, weight } of ballots.values()) sums[choice] += weight;
  // The voting supply at the snapshot: as the ledger fixed it when the vote closed, or read now.
  const eligible = p.eligible ?? state.supplyAt(p.voteStart);
  const cast = sums.for + sums.against + sums.abstain;
  return {
    proposal: proposalId,
    ballots: ballots.size,
    ...sums,
    eligible,
    quorumReached:
      p.quorumBps === undefined
        ? undefined
        : eligible > 0n && cast * 10_000n >= eligible * BigInt(p.quorumBps),
  };
}
