/**
 * The ledger state: balances, stakes, did:mesh identities, roles, certifications, proposals,
 * ballots, emergency patches, disputes and parameters, as a deterministic replay of the log's leaves
 * (docs/ledger.md). `apply` checks a leaf completely before it changes anything, so a refused entry
 * leaves no trace; two replays of the same leaves reach the same `stateRoot()`.
 *
 * Time is the leaf's `time` (the sequencer's clock): stage ends, unbonding, terms and reward periods
 * are all read from it, never from the machine running the replay.
 */
import {
  base64urlDecode,
  canonicalBytes,
  constantTimeEqual,
  decodeMultikey,
  ed25519,
  FmpError,
  hexEncode,
  sha256,
  utf8,
} from '@fmp/core';
import { ed25519PublicKeyFromDidKey, MeshLedger } from '@fmp/identity';
import { CompactRange, leafHash } from '../merkle.js';
import { verifyEquivocationEvidence } from '../witness.js';
import { bpsOf, formatMesh, parseMesh } from './amount.js';
import {
  decodeLeaf,
  emergencyApprovalBytes,
  type LedgerLeaf,
  type ProposalAction,
  type SignedEntry,
  type SignedEntryType,
  verifyEntrySignature,
} from './entries.js';
import {
  applyParamChanges,
  checkEmergencyBounds,
  DEFAULT_PARAMS,
  type ParamChanges,
  type Params,
} from './params.js';

/** An entry the ledger refuses. `code` says why (stable, snake_case). */
export class LedgerRejectedError extends FmpError {}

const reject = (code: string, message: string) => new LedgerRejectedError(`ledger_${code}`, message);

const YEAR_MS = 365 * 86_400_000;
/** Bounds on what the state holds, so a flood of entries cannot exhaust memory. */
export const LEDGER_LIMITS = {
  accounts: 2_000_000,
  openProposals: 1_000,
  ballotsPerProposal: 2_000_000,
  openDisputes: 10_000,
  certifications: 1_000_000,
  unbondingPerAccount: 64,
};

export interface Unbonding {
  amount: bigint;
  releaseAt: number;
}

interface Account {
  balance: bigint;
  bonded: bigint;
  unbonding: Unbonding[];
  /** The next `seq` this actor may sign. */
  seq: number;
  /** Voting power (balance + bonded) after each change: [time, votes]. */
  history: [number, bigint][];
  /** Attestation rewards in the current period. */
  rewardPeriod: number;
  rewardsInPeriod: number;
  /** Subjects whose attestation earned a reward in the current period. */
  rewarded: string[];
  /** End of the last uptime period rewarded. */
  uptimeTo: number;
}

export type ProposalStatus =
  | 'draft'
  | 'review'
  | 'vote'
  | 'rejected'
  | 'defeated'
  | 'implementing'
  | 'implemented'
  | 'failed'
  | 'rolled-back';

export interface Proposal {
  readonly id: string;
  readonly kind: ProposalAction['kind'] | 'ratify';
  readonly proposer: string;
  readonly title: string;
  readonly description: string;
  readonly action: ProposalAction | { kind: 'ratify'; patch: string; changes: ParamChanges };
  readonly createdAt: number;
  readonly reviewStart: number;
  readonly voteStart: number;
  readonly voteEnd: number;
  /** When the action takes effect once passed (end of the staged rollout). */
  readonly effectiveAt: number;
  status: ProposalStatus;
  reviews: Map<string, 'approve' | 'reject'>;
  ballots: Map<string, { choice: 'for' | 'against' | 'abstain'; weight: bigint }>;
  for: bigint;
  against: bigint;
  abstain: bigint;
  /** Voting supply at the snapshot, and the quorum that applied (set when the vote closes). */
  eligible: bigint | undefined;
  quorumBps: number | undefined;
  quorumReached: boolean | undefined;
  reason: string | undefined;
}

interface Patch {
  readonly id: string;
  readonly changes: ParamChanges;
  readonly previous: ParamChanges;
  readonly proposal: string;
  status: 'active' | 'ratified' | 'rolled-back';
}

export interface Dispute {
  readonly id: string;
  readonly claimant: string;
  readonly respondent: string;
  readonly claim: string;
  readonly evidence: readonly string[];
  readonly requestedBps: number;
  readonly openedAt: number;
  readonly deadline: number;
  readonly seed: string;
  readonly arbitrators: readonly string[];
  rulings: Map<string, { decision: 'uphold' | 'dismiss'; slashBps: number }>;
  status: 'open' | 'upheld' | 'dismissed' | 'expired';
  slashed: bigint;
}

export interface Certification {
  readonly subject: string;
  readonly standard: string;
  readonly auditor: string;
  readonly issuedAt: number;
  readonly expires: number;
}

/** What `apply` did, for listeners (the hub applies parameter changes, logs transfers). */
export interface Applied {
  readonly index: number;
  readonly time: number;
  readonly type: string;
  readonly actor: string | undefined;
  /** Set when the parameters changed while applying this leaf (a proposal, a patch, a rollback). */
  readonly params?: Params;
  /** Ids created by the entry (a proposal or a dispute). */
  readonly created?: string;
}

export interface LedgerStateOptions {
  /** The ledger name a genesis must carry (default: whatever the genesis says). */
  readonly ledger?: string;
  /** The operator key the genesis must name (pins the log to its key). */
  readonly operatorKey?: Uint8Array;
}

export class LedgerState {
  #ledgerName: string | undefined;
  #operator: { did: string; key: Uint8Array } | undefined;
  #time = 0;
  #treasury = 0n;
  /** Sum of balances + bonded over accounts: the voting supply. [time, supply] after each change. */
  #supplyHistory: [number, bigint][] = [[0, 0n]];
  #supply = 0n;
  #params: Params = { ...DEFAULT_PARAMS };
  readonly #accounts = new Map<string, Account>();
  readonly #keys = new Map<string, Uint8Array>();
  /** The did:mesh DIDs the log created (for the state root). */
  readonly #meshDids = new Set<string>();
  readonly #didKeys = new Map<string, Uint8Array>();
  readonly #mesh: MeshLedger;
  readonly #maintainers = new Map<string, number>();
  readonly #auditors = new Set<string>();
  readonly #certs = new Map<string, Certification>();
  /** The certification keys of each subject (discovery reads a subject's certifications often). */
  readonly #certsBySubject = new Map<string, Set<string>>();
  readonly #proposals = new Map<string, Proposal>();
  readonly #open = new Set<string>();
  readonly #patches = new Map<string, Patch>();
  readonly #patchNonces = new Set<string>();
  readonly #disputes = new Map<string, Dispute>();
  readonly #openDisputes = new Set<string>();
  /** `${offender}|${fault}` -> time of the last slash, for once-per-fault-period. */
  readonly #faults = new Map<string, number>();
  readonly #range = new CompactRange();
  readonly #options: LedgerStateOptions;
  #paramsChanged = false;
  #rootCache: { size: number; root: string } | undefined;

  constructor(options: LedgerStateOptions = {}) {
    this.#options = options;
    // The operations are the log's own leaves: the state keeps only what checks the next one.
    this.#mesh = new MeshLedger({ now: () => this.#time, retainOperations: false });
  }

  // --------------------------------------------------------------------------------------------
  // Reading
  // --------------------------------------------------------------------------------------------

  get size(): number {
    return this.#range.size;
  }
  get time(): number {
    return this.#time;
  }
  get ledgerName(): string | undefined {
    return this.#ledgerName;
  }
  get operator(): string | undefined {
    return this.#operator?.did;
  }
  get params(): Params {
    return structuredClone(this.#params);
  }
  get treasury(): bigint {
    return this.#treasury;
  }
  get supply(): bigint {
    return this.#supply;
  }
  /** The did:mesh registry as replayed from the log. */
  get mesh(): MeshLedger {
    return this.#mesh;
  }
  /** The root of the log's tree up to the last applied leaf. */
  rootHash(): Uint8Array {
    return this.#range.rootHash();
  }

  /** The root the tree would have with `leaves` appended (nothing is applied). */
  rootAfter(leaves: readonly Uint8Array[]): Uint8Array {
    const range = this.#range.clone();
    for (const leaf of leaves) range.append(leafHash(leaf));
    return range.rootHash();
  }

  account(did: string): {
    did: string;
    balance: bigint;
    bonded: bigint;
    unbonding: readonly Unbonding[];
    nextSeq: number;
    tier: 'none' | 'entry' | 'certified' | 'hub';
  } {
    const a = this.#accounts.get(did);
    const bonded = a?.bonded ?? 0n;
    return {
      did,
      balance: a?.balance ?? 0n,
      bonded,
      unbonding: (a?.unbonding ?? []).map((u) => ({ ...u })),
      nextSeq: a?.seq ?? 0,
      tier: this.#tier(bonded),
    };
  }

  /** Bonded stake (what the trust engine reads). */
  stakeOf(did: string): bigint {
    return this.#accounts.get(did)?.bonded ?? 0n;
  }

  /** Voting power of `did` at the snapshot `time`: the last value set strictly before it. */
  votesAt(did: string, time: number): bigint {
    const h = this.#accounts.get(did)?.history;
    return h ? valueBefore(h, time) : 0n;
  }

  /** The voting supply (balances and bonded stake, treasury excluded) strictly before `time`. */
  supplyAt(time: number): bigint {
    return valueBefore(this.#supplyHistory, time);
  }

  isCoreMaintainer(did: string, at = this.#time): boolean {
    const end = this.#maintainers.get(did);
    return end !== undefined && end > at;
  }
  coreMaintainers(): { did: string; termEnd: number }[] {
    return [...this.#maintainers]
      .filter(([, end]) => end > this.#time)
      .map(([did, termEnd]) => ({ did, termEnd }))
      .sort((a, b) => cmp(a.did, b.did));
  }
  auditors(): string[] {
    return [...this.#auditors].sort(cmp);
  }

  /** The subject's certifications still valid at `at` (default: the ledger time). */
  certifications(subject: string, at = this.#time): Certification[] {
    return [...(this.#certsBySubject.get(subject) ?? [])]
      .map((k) => this.#certs.get(k)!)
      .filter((c) => c.expires > at)
      .sort((a, b) => cmp(a.standard, b.standard));
  }

  proposal(id: string): Proposal | undefined {
    return this.#proposals.get(id);
  }
  proposals(): Proposal[] {
    return [...this.#proposals.values()].sort((a, b) => idOrder(a.id, b.id));
  }
  /** The stage a proposal is in at `time` (the status, with draft/review/vote read from the clock). */
  stageOf(p: Proposal, time = this.#time): ProposalStatus {
    if (p.status !== 'draft' && p.status !== 'review' && p.status !== 'vote') return p.status;
    if (time < p.reviewStart) return 'draft';
    if (time < p.voteStart) return 'review';
    return 'vote';
  }
  dispute(id: string): Dispute | undefined {
    return this.#disputes.get(id);
  }
  disputes(): Dispute[] {
    return [...this.#disputes.values()].sort((a, b) => idOrder(a.id, b.id));
  }
  patches(): Patch[] {
    return [...this.#patches.values()];
  }

  /** The next moment something falls due (a stage end, a rollout, a rollback, a ruling deadline). */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    // Everything still open is due after the last leaf: each leaf processes what fell due by then.
    const consider = (t: number) => {
      if (next === undefined || t < next) next = t;
    };
    for (const id of this.#open) {
      const p = this.#proposals.get(id)!;
      if (p.status === 'implementing') consider(p.effectiveAt);
      else if (p.status === 'draft') consider(p.voteStart);
      else consider(p.voteEnd);
    }
    for (const id of this.#openDisputes) consider(this.#disputes.get(id)!.deadline);
    return next;
  }

  /**
   * A digest of the whole state (hex SHA-256 of its RFC 8785 JSON): equal for the live ledger and
   * for any replay of the same leaves.
   */
  stateRoot(): string {
    // Only `apply` changes the state, and each apply adds a leaf: the size keys the cache.
    if (this.#rootCache?.size !== this.size) {
      this.#rootCache = { size: this.size, root: hexEncode(sha256(canonicalBytes(this.snapshot()))) };
    }
    return this.#rootCache.root;
  }

  /** The state as plain JSON, every collection sorted (what `stateRoot` hashes). */
  snapshot(): Record<string, unknown> {
    const m = (v: bigint) => formatMesh(v);
    return {
      ledger: this.#ledgerName ?? null,
      operator: this.#operator?.did ?? null,
      size: this.size,
      time: this.#time,
      treasury: m(this.#treasury),
      supply: m(this.#supply),
      params: this.#params,
      accounts: [...this.#accounts.entries()]
        .sort(([a], [b]) => cmp(a, b))
        .map(([did, a]) => [
          did,
          m(a.balance),
          m(a.bonded),
          a.unbonding.map((u) => [m(u.amount), u.releaseAt]),
          a.seq,
          a.rewardPeriod,
          a.rewardsInPeriod,
          a.rewarded,
          a.uptimeTo,
        ]),
      keys: [...this.#keys.entries()].sort(([a], [b]) => cmp(a, b)).map(([d, k]) => [d, hexEncode(k)]),
      dids: [...this.#meshDids].sort(cmp).map((d) => [d, this.#mesh.get(d)?.head ?? null]),
      maintainers: [...this.#maintainers.entries()].sort(([a], [b]) => cmp(a, b)),
      auditors: this.auditors(),
      certifications: [...this.#certs.values()].sort((a, b) =>
        cmp(`${a.subject}|${a.standard}`, `${b.subject}|${b.standard}`),
      ),
      proposals: this.proposals().map((p) => ({
        ...p,
        reviews: [...p.reviews.entries()].sort(([a], [b]) => cmp(a, b)),
        ballots: [...p.ballots.entries()]
          .sort(([a], [b]) => cmp(a, b))
          .map(([v, b]) => [v, b.choice, m(b.weight)]),
        for: m(p.for),
        against: m(p.against),
        abstain: m(p.abstain),
        eligible: p.eligible === undefined ? null : m(p.eligible),
        quorumBps: p.quorumBps ?? null,
        quorumReached: p.quorumReached ?? null,
        reason: p.reason ?? null,
      })),
      patches: [...this.#patches.values()].sort((a, b) => idOrder(a.id, b.id)),
      patchNonces: [...this.#patchNonces].sort(cmp),
      disputes: this.disputes().map((d) => ({
        ...d,
        rulings: [...d.rulings.entries()].sort(([a], [b]) => cmp(a, b)),
        slashed: m(d.slashed),
      })),
      faults: [...this.#faults.entries()].sort(([a], [b]) => cmp(a, b)),
    };
  }

  // --------------------------------------------------------------------------------------------
  // Applying leaves
  // --------------------------------------------------------------------------------------------

  /** Decodes and applies one leaf (its exact bytes); throws LedgerRejectedError or ValidationError. */
  applyLeaf(bytes: Uint8Array): Applied {
    const leaf = decodeLeaf(bytes);
    return this.#apply(leaf, bytes);
  }

  /** Applies a decoded leaf (the sequencer's path: it already holds the entry). */
  apply(leaf: LedgerLeaf, bytes: Uint8Array): Applied {
    return this.#apply(leaf, bytes);
  }

  /**
   * Checks `leaf` against the state without applying it (what a sequencer does before accepting an
   * entry). Throws what `apply` would throw.
   */
  check(leaf: LedgerLeaf): void {
    this.#validate(leaf);
  }

  #apply(leaf: LedgerLeaf, bytes: Uint8Array): Applied {
    const validated = this.#validate(leaf);
    const index = this.size;
    // From here on nothing throws: the leaf joins the log and its effects are applied in full.
    this.#time = leaf.time;
    this.#range.append(leafHash(bytes));
    this.#paramsChanged = false;
    this.#advance(leaf.time);
    const created = validated.commit(index);
    const params = this.#paramsChanged ? this.params : undefined;
    return {
      index,
      time: leaf.time,
      type: leaf.entry.type,
      actor: 'actor' in leaf.entry ? leaf.entry.actor : undefined,
      ...(params ? { params } : {}),
      ...(created ? { created } : {}),
    };
  }

  /**
   * Everything that could refuse the leaf, run on the state as it will be when the leaf applies
   * (deadlines up to `leaf.time` processed first on a dry basis where they matter).
   */
  #validate(leaf: LedgerLeaf): { commit: (index: number) => string | undefined } {
    if (!Number.isSafeInteger(leaf.time) || leaf.time < this.#time) {
      throw reject('bad_time', `leaf time ${leaf.time} is before the ledger time ${this.#time}`);
    }
    const entry = leaf.entry;
    if (this.size === 0) {
      if (entry.type !== 'genesis') throw reject('no_genesis', 'the first entry must be the genesis');
    } else if (entry.type === 'genesis') {
      throw reject('duplicate_genesis', 'the ledger already has its genesis');
    }
    if (entry.type === 'did:mesh-operation') {
      const checked = (() => {
        const saved = this.#time;
        this.#time = leaf.time;
        try {
          return this.#mesh.check(entry.op);
        } catch (err) {
          throw reject('invalid_did_operation', (err as Error).message);
        } finally {
          this.#time = saved;
        }
      })();
      return {
        commit: () => {
          this.#mesh.commit(checked);
          this.#meshDids.add(checked.op.did);
          return undefined;
        },
      };
    }
    const signed = entry as SignedEntry;
    if (signed.type === 'genesis') return this.#genesis(signed as SignedEntry<'genesis'>, leaf.time);

    const key = this.#keyOf(signed.actor);
    if (!key) throw reject('unknown_actor', `the ledger knows no key for ${signed.actor}`);
    if (!verifyEntrySignature(signed, key, leaf.signing)) {
      throw reject('bad_signature', `the signature of ${signed.actor}'s entry does not verify`);
    }
    const account = this.#accounts.get(signed.actor);
    const expected = account?.seq ?? 0;
    if (signed.seq !== expected) {
      throw reject(
        signed.seq < expected ? 'replayed' : 'bad_sequence',
        `${signed.actor}'s next entry is seq ${expected}, not ${signed.seq}`,
      );
    }
    const handler = this.#handlers[signed.type as Exclude<SignedEntryType, 'genesis'>];
    const commit = handler(signed as never, leaf.time);
    return {
      commit: (index) => {
        this.#acct(signed.actor).seq = expected + 1;
        return commit(index);
      },
    };
  }

  // Each handler checks (throws) and returns the commit (never throws).
  readonly #handlers: {
    [T in Exclude<SignedEntryType, 'genesis'>]: (
      e: SignedEntry<T>,
      time: number,
    ) => (index: number) => string | undefined;
  } = {
    tick: (e) => {
      if (e.actor !== this.#operator?.did) throw reject('not_allowed', 'only the ledger operator ticks');
      return () => undefined;
    },

    transfer: (e, time) => {
      const amount = parseMesh(e.body.amount);
      if (e.body.to === e.actor) throw reject('invalid_entry', 'a transfer to oneself');
      this.#needBalance(e.actor, amount, time);
      this.#needRoom(e.body.to);
      return () => {
        this.#move(e.actor, e.body.to, amount);
        return undefined;
      };
    },

    'stake.bond': (e, time) => {
      const amount = parseMesh(e.body.amount);
      this.#needBalance(e.actor, amount, time);
      return () => {
        this.#release(e.actor);
        const a = this.#acct(e.actor);
        a.balance -= amount;
        a.bonded += amount;
        return undefined;
      };
    },

    'stake.unbond': (e, time) => {
      const amount = parseMesh(e.body.amount);
      const a = this.#accounts.get(e.actor);
      if (!a || a.bonded < amount) throw reject('insufficient_stake', `${e.actor} has not bonded that much`);
      for (const id of this.#openDisputes) {
        if (this.#disputes.get(id)!.respondent === e.actor) {
          throw reject('stake_frozen', `${e.actor}'s stake is frozen while dispute ${id} is open`);
        }
      }
      if (a.unbonding.filter((u) => u.releaseAt > time).length >= LEDGER_LIMITS.unbondingPerAccount) {
        throw reject('limit', 'too many unbondings in progress');
      }
      return () => {
        const acc = this.#acct(e.actor);
        acc.bonded -= amount;
        acc.unbonding.push({ amount, releaseAt: time + this.#params.unbondingMs });
        this.#recordVotes(e.actor);
        return undefined;
      };
    },

    'slash.equivocation': (e, time) => {
      const key = this.#keyOf(e.body.offender);
      if (!key) throw reject('unknown_actor', `the ledger knows no key for ${e.body.offender}`);
      const ev = e.body.evidence;
      let proof: Uint8Array[];
      try {
        proof = ev.consistencyProof.map((h) => base64urlDecode(h));
      } catch {
        throw reject('invalid_entry', 'the consistency proof is not base64url');
      }
      if (!verifyEquivocationEvidence({ ...ev, consistencyProof: proof }, key)) {
        throw reject('invalid_evidence', `the evidence does not prove that ${e.body.offender} equivocated`);
      }
      this.#needFaultFree(e.body.offender, 'equivocation', time);
      return () => {
        this.#slash(e.body.offender, this.#params.equivocationSlashBps, time);
        this.#faults.set(`${e.body.offender}|equivocation`, time);
        return undefined;
      };
    },

    attestation: (e, time) => {
      if (e.body.subject === e.actor) throw reject('invalid_entry', 'an attestation of oneself');
      if (this.stakeOf(e.actor) < parseMesh(this.#params.entryStake)) {
        throw reject('insufficient_stake', 'attesters need the entry stake');
      }
      return () => {
        const period = Math.floor(time / this.#params.attestationRewardPeriodMs);
        const a = this.#acct(e.actor);
        if (a.rewardPeriod !== period) {
          a.rewardPeriod = period;
          a.rewardsInPeriod = 0;
          a.rewarded = [];
        }
        // Rewarded once per pair and period, within the attester's budget, while the treasury lasts;
        // what an account remembers is this period's subjects only (at most the budget).
        if (
          !a.rewarded.includes(e.body.subject) &&
          a.rewardsInPeriod < this.#params.attestationRewardsPerPeriod
        ) {
          const reward = min(parseMesh(this.#params.attestationReward), this.#treasury);
          if (reward > 0n) {
            a.rewarded.push(e.body.subject);
            a.rewardsInPeriod++;
            this.#fromTreasury(e.actor, reward);
          }
        }
        return undefined;
      };
    },

    'compute.payment': (e, time) => {
      if (e.body.provider === e.actor) throw reject('invalid_entry', 'a payment to oneself');
      const price = (parseMesh(this.#params.computePricePerHour) * BigInt(e.body.computeMs)) / 3_600_000n;
      if (price <= 0n) throw reject('invalid_entry', 'the compute time is too short to price');
      this.#needBalance(e.actor, price, time);
      const hubs = [...new Set(e.body.route)];
      for (const h of [e.body.provider, ...hubs]) this.#needRoom(h);
      return () => {
        const fee = bpsOf(price, this.#params.facilitationFeeBps);
        this.#move(e.actor, e.body.provider, price - fee);
        if (hubs.length === 0) {
          this.#toTreasury(e.actor, fee);
        } else {
          const share = fee / BigInt(hubs.length);
          hubs.forEach((h, i) => {
            this.#move(e.actor, h, i === 0 ? fee - share * BigInt(hubs.length - 1) : share);
          });
        }
        return undefined;
      };
    },

    'uptime.report': (e, time) => {
      const { subject, from, to, availabilityPpm } = e.body;
      if (subject === e.actor) throw reject('invalid_entry', 'a hub does not report its own uptime');
      if (this.stakeOf(e.actor) < parseMesh(this.#params.hubStake)) {
        throw reject('not_allowed', 'uptime is reported by hubs with the hub stake');
      }
      if (!(from < to) || to > time || to - from > YEAR_MS) {
        throw reject('invalid_entry', 'an uptime period must end by now and last at most a year');
      }
      if (from < (this.#accounts.get(subject)?.uptimeTo ?? 0)) {
        throw reject('duplicate', `${subject}'s uptime up to that time was already reported`);
      }
      return () => {
        const acc = this.#acct(subject);
        acc.uptimeTo = to;
        if (availabilityPpm >= this.#params.uptimeThresholdPpm) {
          const reward =
            (acc.bonded * BigInt(this.#params.uptimeApyBps) * BigInt(to - from)) /
            (10_000n * BigInt(YEAR_MS));
          this.#fromTreasury(subject, min(reward, this.#treasury));
        }
        return undefined;
      };
    },

    'gov.propose': (e, time) => {
      if (this.#open.size >= LEDGER_LIMITS.openProposals) throw reject('limit', 'too many open proposals');
      if (this.stakeOf(e.actor) < parseMesh(this.#params.proposalMinStake)) {
        throw reject('insufficient_stake', `proposals need ${this.#params.proposalMinStake} MESH bonded`);
      }
      const action = e.body.action;
      const p = this.#params;
      let rollout = 0;
      if (action.kind !== 'text') {
        rollout = action.rolloutMs ?? p.implementationMinMs;
        if (rollout < p.implementationMinMs || rollout > p.implementationMaxMs) {
          throw reject(
            'invalid_entry',
            `the rollout must last between ${p.implementationMinMs} and ${p.implementationMaxMs} ms`,
          );
        }
      }
      if (action.kind === 'parameters') {
        try {
          applyParamChanges(p, action.changes as ParamChanges);
        } catch (err) {
          throw reject('invalid_entry', (err as Error).message);
        }
      }
      return (index) => {
        const id = `P-${index}`;
        const reviewStart = time + p.draftMs;
        const voteStart = reviewStart + p.reviewMs;
        const voteEnd = voteStart + p.voteMs;
        this.#proposals.set(
          id,
          newProposal({
            id,
            kind: action.kind,
            proposer: e.actor,
            title: e.body.title,
            description: e.body.description,
            action,
            createdAt: time,
            reviewStart,
            voteStart,
            voteEnd,
            effectiveAt: voteEnd + rollout,
          }),
        );
        this.#open.add(id);
        return id;
      };
    },

    'gov.review': (e, time) => {
      const p = this.#needProposal(e.body.proposal);
      if (!this.isCoreMaintainer(e.actor, time))
        throw reject('not_allowed', 'reviews come from core maintainers');
      if (p.kind === 'ratify' || this.stageOf(p, time) !== 'review') {
        throw reject('wrong_stage', `proposal ${p.id} is not in review`);
      }
      if (p.reviews.has(e.actor)) throw reject('duplicate', `${e.actor} already reviewed ${p.id}`);
      return () => {
        p.reviews.set(e.actor, e.body.verdict);
        return undefined;
      };
    },

    'gov.vote': (e, time) => {
      const p = this.#needProposal(e.body.proposal);
      if (this.stageOf(this.#dryAdvanced(p, time), time) !== 'vote' || time >= p.voteEnd) {
        throw reject('wrong_stage', `proposal ${p.id} is not open for votes`);
      }
      if (p.ballots.has(e.actor)) throw reject('duplicate', `${e.actor} already voted on ${p.id}`);
      if (p.ballots.size >= LEDGER_LIMITS.ballotsPerProposal) throw reject('limit', 'too many ballots');
      const weight = this.votesAt(e.actor, p.voteStart);
      if (weight <= 0n) throw reject('no_voting_power', `${e.actor} held no MESH when the vote opened`);
      return () => {
        p.ballots.set(e.actor, { choice: e.body.choice, weight });
        p[e.body.choice] += weight;
        return undefined;
      };
    },

    'gov.emergency': (e, time) => {
      if (!this.isCoreMaintainer(e.actor, time)) {
        throw reject('not_allowed', 'emergency patches come from core maintainers');
      }
      if (this.#patchNonces.has(e.body.nonce))
        throw reject('replayed', 'this emergency patch was already applied');
      const changes = e.body.changes as ParamChanges;
      try {
        checkEmergencyBounds(this.#params, changes);
        applyParamChanges(this.#params, changes);
      } catch (err) {
        throw reject('invalid_entry', (err as Error).message);
      }
      // The submitter signs the entry; every other approval signs the patch itself.
      const approvers = new Set([e.actor]);
      const message = emergencyApprovalBytes(this.#ledgerName ?? '', e.body);
      for (const a of e.body.approvals) {
        if (!this.isCoreMaintainer(a.did, time))
          throw reject('not_allowed', `${a.did} is not a core maintainer`);
        const key = this.#keyOf(a.did);
        let ok = false;
        try {
          ok = !!key && ed25519.verify(base64urlDecode(a.sig), message, key);
        } catch {
          ok = false;
        }
        if (!ok) throw reject('bad_signature', `${a.did}'s approval does not verify`);
        approvers.add(a.did);
      }
      if (approvers.size < this.#params.emergencyThreshold) {
        throw reject(
          'not_allowed',
          `an emergency patch needs ${this.#params.emergencyThreshold} core maintainers, it has ${approvers.size}`,
        );
      }
      return (index) => {
        const id = `E-${index}`;
        const proposalId = `P-${index}`;
        const previous = Object.fromEntries(
          Object.keys(changes).map((k) => [k, structuredClone(this.#params[k as keyof Params])]),
        ) as ParamChanges;
        this.#setParams(applyParamChanges(this.#params, changes));
        this.#patchNonces.add(e.body.nonce);
        this.#patches.set(id, { id, changes, previous, proposal: proposalId, status: 'active' });
        // Ratification: a token vote that opens at once and closes after emergencyRatifyMs.
        const end = time + this.#params.emergencyRatifyMs;
        this.#proposals.set(
          proposalId,
          newProposal({
            id: proposalId,
            kind: 'ratify',
            proposer: e.actor,
            title: `Ratify emergency patch ${id}`,
            description: e.body.reason,
            action: { kind: 'ratify', patch: id, changes },
            createdAt: time,
            reviewStart: time,
            voteStart: time,
            voteEnd: end,
            effectiveAt: end,
          }),
        );
        this.#open.add(proposalId);
        return id;
      };
    },

    'dispute.open': (e, time) => {
      if (e.body.respondent === e.actor) throw reject('invalid_entry', 'a dispute against oneself');
      if (this.#openDisputes.size >= LEDGER_LIMITS.openDisputes)
        throw reject('limit', 'too many open disputes');
      if (this.stakeOf(e.actor) < parseMesh(this.#params.entryStake)) {
        throw reject('insufficient_stake', 'opening a dispute needs the entry stake');
      }
      const candidates = this.#arbitratorPool([e.actor, e.body.respondent]);
      if (candidates.length === 0) throw reject('no_arbitrators', 'no staked account can arbitrate');
      return (index) => {
        const id = `D-${index}`;
        // The seed is the tree root including this entry: public, and fixed before anyone can
        // know which entry comes next.
        const seed = hexEncode(sha256(Buffer.concat([this.#range.rootHash(), utf8(id)])));
        const arbitrators = drawWeighted(candidates, this.#params.arbitratorsPerDispute, seed);
        this.#disputes.set(id, {
          id,
          claimant: e.actor,
          respondent: e.body.respondent,
          claim: e.body.claim,
          evidence: e.body.evidence,
          requestedBps: e.body.slashBps,
          openedAt: time,
          deadline: time + this.#params.disputeRulingMs,
          seed,
          arbitrators,
          rulings: new Map(),
          status: 'open',
          slashed: 0n,
        });
        this.#openDisputes.add(id);
        return id;
      };
    },

    'dispute.rule': (e, time) => {
      const d = this.#disputes.get(e.body.dispute);
      if (!d) throw reject('unknown', `no dispute ${e.body.dispute}`);
      if (d.status !== 'open' || time >= d.deadline) throw reject('wrong_stage', `dispute ${d.id} is closed`);
      if (!d.arbitrators.includes(e.actor))
        throw reject('not_allowed', `${e.actor} was not drawn for ${d.id}`);
      if (d.rulings.has(e.actor)) throw reject('duplicate', `${e.actor} already ruled on ${d.id}`);
      if (e.body.decision === 'uphold' && e.body.slashBps === undefined) {
        throw reject('invalid_entry', 'an upheld dispute names slashBps');
      }
      if (e.body.decision === 'uphold') this.#needFaultFree(d.respondent, 'dispute', time);
      return () => {
        d.rulings.set(e.actor, { decision: e.body.decision, slashBps: e.body.slashBps ?? 0 });
        this.#settleDispute(d, time);
        return undefined;
      };
    },

    'cert.issue': (e, time) => {
      if (!this.#auditors.has(e.actor))
        throw reject('not_allowed', 'certifications come from compliance auditors');
      if (e.body.expires <= time) throw reject('invalid_entry', 'the certification has already expired');
      const key = `${e.body.subject}|${e.body.standard}`;
      if (!this.#certs.has(key) && this.#certs.size >= LEDGER_LIMITS.certifications) {
        throw reject('limit', 'too many certifications');
      }
      return () => {
        const keys = this.#certsBySubject.get(e.body.subject) ?? new Set<string>();
        this.#certsBySubject.set(e.body.subject, keys);
        keys.add(key);
        this.#certs.set(key, {
          subject: e.body.subject,
          standard: e.body.standard,
          auditor: e.actor,
          issuedAt: time,
          expires: e.body.expires,
        });
        return undefined;
      };
    },

    'cert.revoke': (e) => {
      if (!this.#auditors.has(e.actor)) throw reject('not_allowed', 'certifications are revoked by auditors');
      const key = `${e.body.subject}|${e.body.standard}`;
      if (!this.#certs.has(key)) throw reject('unknown', `${e.body.subject} holds no ${e.body.standard}`);
      return () => {
        this.#certs.delete(key);
        const keys = this.#certsBySubject.get(e.body.subject);
        keys?.delete(key);
        if (keys?.size === 0) this.#certsBySubject.delete(e.body.subject);
        return undefined;
      };
    },
  };

  #genesis(e: SignedEntry<'genesis'>, time: number): { commit: () => undefined } {
    const g = e.body;
    if (this.#options.ledger !== undefined && g.ledger !== this.#options.ledger) {
      throw reject('wrong_ledger', `this is the genesis of "${g.ledger}", not "${this.#options.ledger}"`);
    }
    let key: Uint8Array;
    try {
      const decoded = decodeMultikey(g.operatorKey);
      if (decoded.codec !== 'ed25519-pub') throw new Error('not an Ed25519 key');
      key = decoded.key;
    } catch (err) {
      throw reject('invalid_entry', `operatorKey: ${(err as Error).message}`);
    }
    if (this.#options.operatorKey && !constantTimeEqual(this.#options.operatorKey, key)) {
      throw reject('wrong_operator', 'the genesis names another operator key than this log');
    }
    if (e.seq !== 0) throw reject('bad_sequence', 'the genesis is seq 0');
    if (!verifyEntrySignature(e, key)) throw reject('bad_signature', 'the genesis signature does not verify');
    const params = (() => {
      try {
        return applyParamChanges(DEFAULT_PARAMS, (g.params ?? {}) as ParamChanges);
      } catch (err) {
        throw reject('invalid_entry', (err as Error).message);
      }
    })();
    const keys = g.keys.map((k) => {
      try {
        const d = decodeMultikey(k.key);
        if (d.codec !== 'ed25519-pub') throw new Error('not an Ed25519 key');
        return [k.did, d.key] as const;
      } catch (err) {
        throw reject('invalid_entry', `keys: ${k.did}: ${(err as Error).message}`);
      }
    });
    const seen = new Set<string>();
    for (const a of g.accounts) {
      if (seen.has(a.did)) throw reject('invalid_entry', `genesis names ${a.did} twice`);
      seen.add(a.did);
    }
    return {
      commit: () => {
        this.#ledgerName = g.ledger;
        this.#operator = { did: e.actor, key };
        this.#keys.set(e.actor, key);
        for (const [d, k] of keys) this.#keys.set(d, k);
        this.#params = params;
        this.#treasury = parseMesh(g.treasury);
        for (const a of g.accounts) {
          const acc = this.#acct(a.did);
          acc.balance = parseMesh(a.balance);
          acc.bonded = parseMesh(a.stake ?? '0');
          this.#recordVotes(a.did);
        }
        this.#acct(e.actor).seq = 1;
        for (const m of g.coreMaintainers) this.#maintainers.set(m, time + params.coreMaintainerTermMs);
        for (const a of g.auditors) this.#auditors.add(a);
        this.#paramsChanged = true;
        return undefined;
      },
    };
  }

  // --------------------------------------------------------------------------------------------
  // Deadlines: run at each leaf's time, before its entry
  // --------------------------------------------------------------------------------------------

  #advance(time: number): void {
    const due: { at: number; id: string; run: () => void }[] = [];
    for (const id of this.#open) {
      const p = this.#proposals.get(id)!;
      if (p.status === 'implementing') {
        if (p.effectiveAt <= time) due.push({ at: p.effectiveAt, id, run: () => this.#implement(p) });
        continue;
      }
      if (p.kind !== 'ratify' && p.voteStart <= time && p.status === 'draft') {
        due.push({ at: p.voteStart, id, run: () => this.#closeReview(p) });
      }
      if (p.voteEnd <= time) due.push({ at: p.voteEnd, id, run: () => this.#closeVote(p, time) });
    }
    for (const id of this.#openDisputes) {
      const d = this.#disputes.get(id)!;
      if (d.deadline <= time) {
        due.push({
          at: d.deadline,
          id,
          run: () => {
            d.status = 'expired';
            this.#openDisputes.delete(id);
          },
        });
      }
    }
    // Deterministic order: by due time, then id.
    due.sort((a, b) => a.at - b.at || idOrder(a.id, b.id));
    for (const d of due) d.run();
  }

  /** A copy of `p` with the review closed if due by `time` (for checks before the leaf applies). */
  #dryAdvanced(p: Proposal, time: number): Proposal {
    if (p.status === 'draft' && p.kind !== 'ratify' && p.voteStart <= time && rejectedInReview(p)) {
      return { ...p, status: 'rejected' };
    }
    return p;
  }

  #closeReview(p: Proposal): void {
    if (rejectedInReview(p)) {
      p.status = 'rejected';
      p.reason = 'rejected by the core maintainers in review';
      this.#open.delete(p.id);
    } else {
      p.status = 'vote';
    }
  }

  #closeVote(p: Proposal, time: number): void {
    if (p.status === 'rejected') return;
    if (p.status === 'draft') {
      this.#closeReview(p);
      if ((p.status as ProposalStatus) !== 'vote') return;
    }
    const eligible = valueBefore(this.#supplyHistory, p.voteStart);
    const cast = p.for + p.against + p.abstain;
    p.eligible = eligible;
    p.quorumBps = this.#params.quorumBps;
    p.quorumReached = eligible > 0n && cast * 10_000n >= eligible * BigInt(this.#params.quorumBps);
    const approved = p.for * 10_000n > (p.for + p.against) * BigInt(this.#params.approvalBps);
    if (!p.quorumReached || !approved) {
      p.status = p.kind === 'ratify' ? 'rolled-back' : 'defeated';
      p.reason = !p.quorumReached ? 'quorum not reached' : 'not approved';
      this.#open.delete(p.id);
      if (p.kind === 'ratify') this.#rollback(p);
      return;
    }
    if (p.kind === 'ratify') {
      p.status = 'implemented';
      this.#open.delete(p.id);
      const patch = this.#patches.get((p.action as { patch: string }).patch);
      if (patch) patch.status = 'ratified';
      return;
    }
    p.status = 'implementing';
    if (p.effectiveAt <= time) this.#implement(p);
  }

  #rollback(p: Proposal): void {
    const patch = this.#patches.get((p.action as { patch: string }).patch);
    if (!patch) return;
    patch.status = 'rolled-back';
    try {
      this.#setParams(applyParamChanges(this.#params, patch.previous));
    } catch {
      // The previous values were valid when the patch applied; a later change made them
      // inconsistent. The current values stay, and the record says so.
      p.reason = 'quorum or approval missing; rollback impossible, parameters changed since';
    }
  }

  #implement(p: Proposal): void {
    this.#open.delete(p.id);
    const a = p.action;
    try {
      switch (a.kind) {
        case 'parameters':
          this.#setParams(applyParamChanges(this.#params, a.changes as ParamChanges));
          break;
        case 'grant': {
          const amount = parseMesh(a.amount);
          if (amount > this.#treasury) throw new Error('the treasury holds less than the grant');
          this.#fromTreasury(a.to, amount);
          break;
        }
        case 'election':
          for (const m of a.members)
            this.#maintainers.set(m, p.effectiveAt + this.#params.coreMaintainerTermMs);
          break;
        case 'appointment':
          for (const d of a.remove) this.#auditors.delete(d);
          for (const d of a.add) this.#auditors.add(d);
          break;
        default:
          break;
      }
      p.status = 'implemented';
    } catch (err) {
      p.status = 'failed';
      p.reason = (err as Error).message;
    }
  }

  #settleDispute(d: Dispute, time: number): void {
    const majority = Math.floor(d.arbitrators.length / 2) + 1;
    const rulings = [...d.rulings.values()];
    const upheld = rulings.filter((r) => r.decision === 'uphold');
    if (upheld.length >= majority) {
      // The median of the upholding arbitrators' amounts, capped by the parameter.
      const amounts = upheld.map((r) => r.slashBps).sort((a, b) => a - b);
      const bps = Math.min(amounts[Math.floor((amounts.length - 1) / 2)]!, this.#params.maxDisputeSlashBps);
      d.slashed = this.#slash(d.respondent, bps, time);
      this.#faults.set(`${d.respondent}|dispute`, time);
      d.status = 'upheld';
      this.#openDisputes.delete(d.id);
    } else if (rulings.length - upheld.length >= majority) {
      d.status = 'dismissed';
      this.#openDisputes.delete(d.id);
    }
  }

  // --------------------------------------------------------------------------------------------
  // Helpers
  // --------------------------------------------------------------------------------------------

  #keyOf(did: string): Uint8Array | undefined {
    const pinned = this.#keys.get(did);
    if (pinned) return pinned;
    if (did.startsWith('did:key:')) {
      let key = this.#didKeys.get(did);
      if (!key) {
        try {
          key = ed25519PublicKeyFromDidKey(did);
        } catch {
          return undefined;
        }
        // A small cache: decoding the multibase key is a good part of checking a signed entry.
        if (this.#didKeys.size >= 100_000) this.#didKeys.clear();
        this.#didKeys.set(did, key);
      }
      return key;
    }
    if (did.startsWith('did:mesh:')) {
      const s = this.#mesh.get(did);
      if (!s || s.deactivated) return undefined;
      return decodeMultikey(s.signingKey).key;
    }
    return undefined;
  }

  #tier(bonded: bigint): 'none' | 'entry' | 'certified' | 'hub' {
    const p = this.#params;
    if (bonded >= parseMesh(p.hubStake)) return 'hub';
    if (bonded >= parseMesh(p.certifiedStake)) return 'certified';
    if (bonded >= parseMesh(p.entryStake)) return 'entry';
    return 'none';
  }

  #acct(did: string): Account {
    let a = this.#accounts.get(did);
    if (!a) {
      a = {
        balance: 0n,
        bonded: 0n,
        unbonding: [],
        seq: 0,
        history: [],
        rewardPeriod: -1,
        rewardsInPeriod: 0,
        rewarded: [],
        uptimeTo: 0,
      };
      this.#accounts.set(did, a);
    }
    return a;
  }

  #needRoom(did: string): void {
    if (!this.#accounts.has(did) && this.#accounts.size >= LEDGER_LIMITS.accounts) {
      throw reject('limit', 'the ledger holds its maximum number of accounts');
    }
  }

  /** Matured unbondings count as balance: they are released on the account's next use. */
  #needBalance(did: string, amount: bigint, time: number): void {
    const a = this.#accounts.get(did);
    const matured = (a?.unbonding ?? [])
      .filter((u) => u.releaseAt <= time)
      .reduce((s, u) => s + u.amount, 0n);
    if ((a?.balance ?? 0n) + matured < amount) {
      throw reject('insufficient_funds', `${did} holds less than ${formatMesh(amount)} MESH`);
    }
  }

  #release(did: string): void {
    const a = this.#accounts.get(did);
    if (!a || a.unbonding.length === 0) return;
    const keep = a.unbonding.filter((u) => u.releaseAt > this.#time);
    if (keep.length === a.unbonding.length) return;
    for (const u of a.unbonding) if (u.releaseAt <= this.#time) a.balance += u.amount;
    a.unbonding = keep;
    this.#recordVotes(did);
  }

  #move(from: string, to: string, amount: bigint): void {
    if (amount <= 0n) return;
    this.#release(from);
    this.#acct(from).balance -= amount;
    this.#acct(to).balance += amount;
    this.#recordVotes(from);
    this.#recordVotes(to);
  }

  #fromTreasury(to: string, amount: bigint): void {
    if (amount <= 0n) return;
    this.#treasury -= amount;
    this.#acct(to).balance += amount;
    this.#recordVotes(to);
  }

  #toTreasury(from: string, amount: bigint): void {
    if (amount <= 0n) return;
    this.#release(from);
    this.#acct(from).balance -= amount;
    this.#treasury += amount;
    this.#recordVotes(from);
  }

  /** Slashes `bps` of bonded and unbonding stake (bonded first) into the treasury. */
  #slash(did: string, bps: number, time: number): bigint {
    const a = this.#accounts.get(did);
    if (!a) return 0n;
    const live = a.unbonding.filter((u) => u.releaseAt > time);
    const total = a.bonded + live.reduce((s, u) => s + u.amount, 0n);
    let due = bpsOf(total, bps);
    const slashed = due;
    const fromBonded = min(due, a.bonded);
    a.bonded -= fromBonded;
    due -= fromBonded;
    for (const u of live) {
      if (due <= 0n) break;
      const cut = min(due, u.amount);
      u.amount -= cut;
      due -= cut;
    }
    a.unbonding = a.unbonding.filter((u) => u.amount > 0n);
    this.#treasury += slashed;
    this.#recordVotes(did);
    return slashed;
  }

  #needFaultFree(did: string, fault: string, time: number): void {
    const last = this.#faults.get(`${did}|${fault}`);
    if (last !== undefined && time - last < this.#params.faultPeriodMs) {
      throw reject('duplicate', `${did} was already slashed for ${fault} in this fault period`);
    }
  }

  #needProposal(id: string): Proposal {
    const p = this.#proposals.get(id);
    if (!p) throw reject('unknown', `no proposal ${id}`);
    return p;
  }

  #arbitratorPool(exclude: string[]): { did: string; weight: bigint }[] {
    const minStake = parseMesh(this.#params.arbitratorMinStake);
    return [...this.#accounts.entries()]
      .filter(([d, a]) => a.bonded > 0n && a.bonded >= minStake && !exclude.includes(d))
      .map(([did, a]) => ({ did, weight: a.bonded }))
      .sort((a, b) => cmp(a.did, b.did));
  }

  #setParams(next: Params): void {
    this.#params = next;
    this.#paramsChanged = true;
  }

  /** Appends the account's voting power (and the supply) to their histories when it changed. */
  #recordVotes(did: string): void {
    const a = this.#acct(did);
    const votes = a.balance + a.bonded;
    const last = a.history.at(-1);
    const before = last?.[1] ?? 0n;
    if (votes === before) return;
    if (last && last[0] === this.#time) last[1] = votes;
    else a.history.push([this.#time, votes]);
    this.#supply += votes - before;
    const s = this.#supplyHistory.at(-1)!;
    if (s[0] === this.#time) s[1] = this.#supply;
    else this.#supplyHistory.push([this.#time, this.#supply]);
    const floor = this.#snapshotFloor();
    prune(a.history, floor);
    prune(this.#supplyHistory, floor);
  }

  /**
   * The earliest snapshot an open proposal will read (its vote start); values older than the last one
   * before it are never read again, so histories stay as short as the open votes need. (The
   * histories are not part of the state root; `tallyFromLog` weighs each ballot as it replays it.)
   */
  #snapshotFloor(): number {
    // Never past now: a proposal opened at this instant (an emergency ratification) reads the value
    // before it.
    let floor = this.#time;
    for (const id of this.#open) {
      const p = this.#proposals.get(id)!;
      if (p.status !== 'implementing' && p.voteStart < floor) floor = p.voteStart;
    }
    return floor;
  }
}

function newProposal(
  p: Omit<
    Proposal,
    | 'status'
    | 'reviews'
    | 'ballots'
    | 'for'
    | 'against'
    | 'abstain'
    | 'eligible'
    | 'quorumBps'
    | 'quorumReached'
    | 'reason'
  >,
): Proposal {
  return {
    ...p,
    status: p.kind === 'ratify' ? 'vote' : 'draft',
    reviews: new Map(),
    ballots: new Map(),
    for: 0n,
    against: 0n,
    abstain: 0n,
    eligible: undefined,
    quorumBps: undefined,
    quorumReached: undefined,
    reason: undefined,
  };
}

function rejectedInReview(p: Proposal): boolean {
  let approve = 0;
  let rejectCount = 0;
  for (const v of p.reviews.values()) v === 'approve' ? approve++ : rejectCount++;
  return rejectCount > approve;
}

/** Drops the entries older than the last one before `floor` (the one a snapshot at `floor` reads). */
function prune(history: [number, bigint][], floor: number): void {
  let drop = 0;
  while (drop + 1 < history.length && history[drop + 1]![0] < floor) drop++;
  if (drop > 0) history.splice(0, drop);
}

/** The value of a [time, value] history strictly before `time` (0 before the first entry). */
function valueBefore(history: readonly [number, bigint][], time: number): bigint {
  let lo = 0;
  let hi = history.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (history[mid]![0] < time) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0n : history[lo - 1]![1];
}

/**
 * Draws `count` distinct candidates, each with probability proportional to its weight, from a
 * stream of SHA-256(seed || counter) values anyone can recompute.
 */
export function drawWeighted(
  candidates: readonly { did: string; weight: bigint }[],
  count: number,
  seedHex: string,
): string[] {
  const pool = [...candidates];
  const out: string[] = [];
  let counter = 0;
  while (out.length < count && pool.length > 0) {
    const total = pool.reduce((s, c) => s + c.weight, 0n);
    const r = BigInt(`0x${hexEncode(sha256(utf8(`${seedHex}:${counter++}`)))}`) % total;
    let acc = 0n;
    const i = pool.findIndex((c) => {
      acc += c.weight;
      return r < acc;
    });
    out.push(pool[i]!.did);
    pool.splice(i, 1);
  }
  return out;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "P-9" before "P-10": ids sort by their index. */
function idOrder(a: string, b: string): number {
  return Number(a.slice(2)) - Number(b.slice(2)) || cmp(a, b);
}
