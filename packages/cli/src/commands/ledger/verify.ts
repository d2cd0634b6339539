/**
 * What `fmp ledger checkpoint|verify|proof` and `fmp gov tally` check, trusting the hub for nothing
 * but availability: the checkpoint's signature (the log's key pinned with `--key`, or read from the
 * DID in the checkpoint's origin), the leaves against the signed root, the state replayed from the
 * leaves against the hub's, and ballots recounted from the log.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeMultikey, FmpError } from '@fmp/core';
import { ed25519PublicKeyFromDidKey } from '@fmp/identity';
import {
  CompactRange,
  cosignatureTime,
  cosignatureVerifier,
  decodeLeaf,
  formatMesh,
  type LedgerLeaf,
  LedgerReplayError,
  type LedgerState,
  leafHash,
  logVerifier,
  NoteError,
  NoteMalformedError,
  NoteUnknownKeyError,
  parseCheckpoint,
  parseNote,
  replayLedger,
  type Tally,
  tallyFromLog,
  UnknownProposalError,
  verifyInclusion,
  verifyNote,
} from '@fmp/ledger';
import { UsageError } from '../../errors.js';
import {
  ENTRIES_PAGE,
  type LedgerClient,
  LedgerClientError,
  LedgerHubError,
  type ProposalView,
} from './client.js';

/** The log and what the hub says disagree (a bad root, proof or tally): exit status 1. */
export class LedgerMismatchError extends FmpError {
  constructor(message: string) {
    super('ledger_mismatch', message);
  }
}

export const ORIGIN_PREFIX = 'fmp.ledger/';
const WITNESS_PREFIX = 'fmp.witness/';
/** Largest log `verify` and `tally` download (every leaf is held in memory for the replay). */
export const MAX_LEAVES = 5_000_000;

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

export interface Witness {
  readonly name: string;
  /** POSIX seconds the witness says it cosigned at. */
  readonly time: number | undefined;
  /** `verified` with the witness DID's key; `unknown_key` when that key could not be had. */
  readonly status: 'verified' | 'bad_signature' | 'unknown_key';
}

export interface CheckedCheckpoint {
  readonly note: string;
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** The log's key that verified the signature, and where it came from. */
  readonly key: Uint8Array;
  readonly keySource: string;
  readonly witnesses: readonly Witness[];
}

interface KeyCandidate {
  readonly key: Uint8Array;
  readonly source: string;
}

/** The Ed25519 keys of a DID: derived for did:key, from the hub's resolver otherwise. */
async function keysOf(client: LedgerClient, did: string): Promise<KeyCandidate[]> {
  if (did.startsWith('did:key:')) return [{ key: ed25519PublicKeyFromDidKey(did), source: did }];
  let result: Awaited<ReturnType<LedgerClient['resolve']>>;
  try {
    result = await client.resolve(did);
  } catch (err) {
    if (err instanceof LedgerHubError && err.status === 404) {
      throw new NoteUnknownKeyError(`the hub cannot resolve ${did}; pin the log's key with --key`);
    }
    throw err;
  }
  const out: KeyCandidate[] = [];
  for (const vm of result.didDocument?.verificationMethod ?? []) {
    if (!vm.publicKeyMultibase) continue;
    try {
      const { codec, key } = decodeMultikey(vm.publicKeyMultibase);
      if (codec === 'ed25519-pub') out.push({ key, source: vm.id });
    } catch {
      // Not a key we can use (another codec, or garbage): the other methods may still do.
    }
  }
  return out;
}

/** Fetches the hub's checkpoint and verifies it; throws a NoteError when it does not verify. */
export async function fetchCheckpoint(client: LedgerClient, pinnedKey?: string): Promise<CheckedCheckpoint> {
  const note = await client.checkpoint();
  const parsed = parseNote(note);
  const { origin } = parseCheckpoint(parsed);
  let candidates: KeyCandidate[];
  if (pinnedKey !== undefined) {
    let decoded: ReturnType<typeof decodeMultikey>;
    try {
      decoded = decodeMultikey(pinnedKey);
    } catch (cause) {
      throw new UsageError(`--key: not a multikey (${(cause as Error).message})`);
    }
    if (decoded.codec !== 'ed25519-pub') throw new UsageError('--key must be an Ed25519 public multikey');
    candidates = [{ key: decoded.key, source: '--key' }];
  } else {
    if (!origin.startsWith(ORIGIN_PREFIX)) {
      throw new NoteMalformedError(
        `checkpoint origin "${origin}" does not name a hub (${ORIGIN_PREFIX}<did>); pin the key with --key`,
      );
    }
    candidates = await keysOf(client, origin.slice(ORIGIN_PREFIX.length));
  }
  const verifiers = candidates.map((c) => ({ ...c, verifier: logVerifier(origin, c.key) }));
  const verified = verifyNote(
    parsed,
    verifiers.map((v) => v.verifier),
  );
  const used = verifiers.find((v) => v.verifier === verified.verified[0]!.verifier)!;
  const checkpoint = parseCheckpoint(verified);
  const witnesses = await checkWitnesses(client, parsed, origin);
  return {
    note,
    origin,
    size: checkpoint.size,
    rootHash: checkpoint.rootHash,
    key: used.key,
    keySource: used.source,
    witnesses,
  };
}

async function checkWitnesses(
  client: LedgerClient,
  note: ReturnType<typeof parseNote>,
  origin: string,
): Promise<Witness[]> {
  const text = new TextEncoder().encode(note.text);
  const out: Witness[] = [];
  for (const sig of note.signatures) {
    if (sig.name === origin) continue;
    let keys: KeyCandidate[] = [];
    if (sig.name.startsWith(WITNESS_PREFIX)) {
      keys = await keysOf(client, sig.name.slice(WITNESS_PREFIX.length)).catch(() => []);
    }
    const verifier = keys.map((k) => cosignatureVerifier(sig.name, k.key)).find((v) => v.keyId === sig.keyId);
    out.push({
      name: sig.name,
      time: cosignatureTime(sig),
      status: !verifier ? 'unknown_key' : verifier.verify(text, sig.signature) ? 'verified' : 'bad_signature',
    });
  }
  return out;
}

/** Appends the leaves [leaves.length, to) to `leaves`, page by page, checking their order. */
export async function downloadLeaves(client: LedgerClient, leaves: Uint8Array[], to: number): Promise<void> {
  if (to > MAX_LEAVES) throw new LedgerClientError(`the log holds ${to} entries, more than ${MAX_LEAVES}`);
  while (leaves.length < to) {
    const start = leaves.length;
    const page = await client.entries(start, Math.min(to, start + ENTRIES_PAGE));
    if (page.entries.length === 0) {
      throw new LedgerClientError(
        `the hub served no entries from ${start} (it says its size is ${page.size})`,
      );
    }
    for (const [i, e] of page.entries.entries()) {
      if (e.index !== start + i) throw new LedgerClientError('the hub served entries out of order');
      if (leaves.length < to) leaves.push(new Uint8Array(Buffer.from(e.leaf, 'base64')));
    }
  }
}

/** MTH of the first `n` leaves (RFC 9162). */
export function rootOf(leaves: readonly Uint8Array[], n: number): Uint8Array {
  const range = new CompactRange();
  for (let i = 0; i < n; i++) range.append(leafHash(leaves[i]!));
  return range.rootHash();
}

// ---------------------------------------------------------------------------------------------
// fmp ledger verify

export interface Check {
  readonly check: 'checkpoint' | 'tree' | 'replay' | 'state';
  readonly ok: boolean;
  readonly detail: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly hub: string;
  readonly origin?: string;
  readonly checkpointSize?: number;
  readonly rootHash?: string;
  /** Leaves replayed, and the state root they give (the hub's beside it). */
  readonly replayedSize?: number;
  readonly stateRoot?: string;
  readonly hubStateRoot?: string;
  readonly counts?: {
    readonly entries: number;
    readonly byType: Record<string, number>;
    readonly proposals: number;
    readonly disputes: number;
  };
  readonly checks: readonly Check[];
}

/** How often `verify` and `tally` take a fresh look when the live ledger moved while they read it. */
const ATTEMPTS = 3;
const SETTLE_MS = 250;

export async function verifyLedger(client: LedgerClient, pinnedKey?: string): Promise<VerifyReport> {
  const checks: Check[] = [];
  const fail = (extra: Partial<VerifyReport> = {}): VerifyReport => ({
    ok: false,
    hub: client.base,
    ...extra,
    checks,
  });
  let cp: CheckedCheckpoint;
  try {
    cp = await fetchCheckpoint(client, pinnedKey);
  } catch (err) {
    if (!(err instanceof NoteError)) throw err;
    checks.push({ check: 'checkpoint', ok: false, detail: `${err.code}: ${err.message}` });
    return fail();
  }
  checks.push({
    check: 'checkpoint',
    ok: true,
    detail: `${cp.origin} size ${cp.size}, signed by ${cp.keySource}`,
  });
  const base = { origin: cp.origin, checkpointSize: cp.size, rootHash: b64(cp.rootHash) };

  const leaves: Uint8Array[] = [];
  await downloadLeaves(client, leaves, cp.size);
  const root = rootOf(leaves, cp.size);
  const treeOk = Buffer.compare(root, cp.rootHash) === 0;
  checks.push({
    check: 'tree',
    ok: treeOk,
    detail: treeOk
      ? `${cp.size} leaves hash to the checkpoint's root`
      : `${cp.size} leaves hash to ${b64(root)}, the checkpoint says ${b64(cp.rootHash)}`,
  });

  let state: LedgerState | undefined;
  let replayed = 0;
  let replayError: string | undefined;
  let last: { size: number; stateRoot: string; rootHash: string } | undefined;
  let stateCheck: Check | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const hub = await client.state();
    if (hub.origin !== cp.origin) {
      stateCheck = {
        check: 'state',
        ok: false,
        detail: `the hub's ledger is ${hub.origin}, not ${cp.origin}`,
      };
      break;
    }
    // Settled: the hub's state did not move since the last look, so a difference is real.
    const settled = last !== undefined && last.size === hub.size && last.stateRoot === hub.stateRoot;
    last = hub;
    await downloadLeaves(client, leaves, hub.size);
    if (hub.size < replayed) {
      stateCheck = { check: 'state', ok: false, detail: `the hub's size went back to ${hub.size}` };
      break;
    }
    if (replayError === undefined) {
      try {
        if (!state)
          state = replayLedger(leaves.slice(0, hub.size), { ledger: cp.origin, operatorKey: cp.key });
        else for (let i = replayed; i < hub.size; i++) state.applyLeaf(leaves[i]!);
      } catch (err) {
        replayError =
          err instanceof LedgerReplayError
            ? err.message
            : `leaf ${state ? state.size : '?'} does not apply: ${(err as Error).message}`;
      }
      replayed = replayError === undefined ? hub.size : replayed;
    }
    if (replayError !== undefined) break;
    const ourRoot = b64(rootOf(leaves, hub.size));
    const stateOk = state!.stateRoot() === hub.stateRoot && ourRoot === hub.rootHash;
    stateCheck = {
      check: 'state',
      ok: stateOk,
      detail: stateOk
        ? `the replay of ${hub.size} leaves gives the hub's state root`
        : ourRoot !== hub.rootHash
          ? `${hub.size} leaves hash to ${ourRoot}, the hub says ${hub.rootHash}`
          : `the replay of ${hub.size} leaves gives ${state!.stateRoot()}, the hub says ${hub.stateRoot}`,
    };
    if (stateOk || settled || attempt === ATTEMPTS) break;
    await sleep(SETTLE_MS);
  }
  checks.push(
    replayError === undefined
      ? { check: 'replay', ok: state !== undefined, detail: `${replayed} leaves apply` }
      : { check: 'replay', ok: false, detail: replayError },
  );
  if (stateCheck) checks.push(stateCheck);

  const byType: Record<string, number> = {};
  for (const bytes of leaves) {
    let type = 'invalid';
    try {
      type = decodeLeaf(bytes).entry.type;
    } catch {
      // Counted as invalid: the replay check says which leaf and why.
    }
    byType[type] = (byType[type] ?? 0) + 1;
  }
  const ok = checks.every((c) => c.ok) && checks.length === 4;
  return {
    ok,
    hub: client.base,
    ...base,
    replayedSize: replayed,
    ...(state && replayError === undefined ? { stateRoot: state.stateRoot() } : {}),
    ...(last ? { hubStateRoot: last.stateRoot } : {}),
    counts: {
      entries: leaves.length,
      byType,
      proposals: state?.proposals().length ?? 0,
      disputes: state?.disputes().length ?? 0,
    },
    checks,
  };
}

// ---------------------------------------------------------------------------------------------
// fmp ledger proof

export interface ProofReport {
  readonly ok: boolean;
  readonly index: number;
  readonly size: number;
  readonly rootHash: string;
  readonly leafHash: string;
  readonly proof: readonly string[];
  readonly leaf: string;
  /** The entry as the leaf's bytes say (not as the hub's JSON says). */
  readonly decoded?: LedgerLeaf;
  readonly problem?: string;
}

export async function proveEntry(
  client: LedgerClient,
  index: number,
  pinnedKey?: string,
): Promise<ProofReport> {
  const cp = await fetchCheckpoint(client, pinnedKey);
  if (index >= cp.size) {
    throw new UsageError(`entry ${index} is not in the checkpoint (size ${cp.size})`);
  }
  const leaves: Uint8Array[] = [];
  const page = await client.entries(index, index + 1);
  const served = page.entries[0];
  if (!served || served.index !== index) throw new LedgerClientError(`the hub did not serve entry ${index}`);
  leaves.push(new Uint8Array(Buffer.from(served.leaf, 'base64')));
  const { hashes } = await client.inclusionProof(index, cp.size);
  const proof = hashes.map((h) => new Uint8Array(Buffer.from(h, 'base64')));
  const hash = leafHash(leaves[0]!);
  const included = verifyInclusion(hash, index, cp.size, proof, cp.rootHash);
  let decoded: LedgerLeaf | undefined;
  let problem: string | undefined;
  try {
    decoded = decodeLeaf(leaves[0]!);
  } catch (err) {
    problem = `the leaf does not decode: ${(err as Error).message}`;
  }
  if (!included) problem = `the inclusion proof does not lead to the checkpoint's root`;
  return {
    ok: included && decoded !== undefined,
    index,
    size: cp.size,
    rootHash: b64(cp.rootHash),
    leafHash: b64(hash),
    proof: hashes,
    leaf: served.leaf,
    ...(decoded ? { decoded } : {}),
    ...(problem ? { problem } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// fmp gov tally

export interface TallyFigures {
  readonly ballots: number;
  readonly for: string;
  readonly against: string;
  readonly abstain: string;
  readonly eligible?: string;
  readonly quorumReached: boolean | null;
}

export interface TallyReport {
  readonly agree: boolean;
  readonly proposal: string;
  readonly leaves: number;
  readonly recomputed: TallyFigures;
  readonly hub: TallyFigures;
  readonly differences: readonly string[];
}

function figuresOfTally(t: Tally): TallyFigures {
  return {
    ballots: t.ballots,
    for: formatMesh(t.for),
    against: formatMesh(t.against),
    abstain: formatMesh(t.abstain),
    eligible: formatMesh(t.eligible),
    quorumReached: t.quorumReached ?? null,
  };
}

function figuresOfHub(p: ProposalView): TallyFigures {
  return {
    ballots: p.ballots,
    for: p.for,
    against: p.against,
    abstain: p.abstain,
    ...(p.eligible !== undefined ? { eligible: p.eligible } : {}),
    quorumReached: p.quorumReached,
  };
}

function differences(ours: TallyFigures, hub: TallyFigures): string[] {
  const out: string[] = [];
  for (const k of ['ballots', 'for', 'against', 'abstain', 'quorumReached'] as const) {
    if (ours[k] !== hub[k]) out.push(`${k}: log ${String(ours[k])}, hub ${String(hub[k])}`);
  }
  // The hub states the voting supply once the vote has closed.
  if (hub.eligible !== undefined && ours.eligible !== hub.eligible) {
    out.push(`eligible: log ${ours.eligible}, hub ${hub.eligible}`);
  }
  return out;
}

/** Recounts a proposal's ballots from the checkpointed log and compares with the hub's figures. */
export async function tallyProposal(
  client: LedgerClient,
  id: string,
  pinnedKey?: string,
): Promise<TallyReport> {
  const leaves: Uint8Array[] = [];
  let report: TallyReport | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const hub = figuresOfHub(await client.proposal(id));
    const cp = await fetchCheckpoint(client, pinnedKey);
    if (cp.size < leaves.length) throw new LedgerMismatchError(`the checkpoint went back to size ${cp.size}`);
    await downloadLeaves(client, leaves, cp.size);
    if (Buffer.compare(rootOf(leaves, cp.size), cp.rootHash) !== 0) {
      throw new LedgerMismatchError(
        `the hub's entries do not hash to its checkpoint's root (size ${cp.size})`,
      );
    }
    let ours: TallyFigures | undefined;
    try {
      ours = figuresOfTally(tallyFromLog(leaves, id, { ledger: cp.origin, operatorKey: cp.key }));
    } catch (err) {
      // The hub may hold the proposal before a checkpoint covers it; a later look settles it.
      if (!(err instanceof UnknownProposalError) || attempt === ATTEMPTS) throw err;
    }
    if (ours) {
      const diff = differences(ours, hub);
      report = {
        agree: diff.length === 0,
        proposal: id,
        leaves: cp.size,
        recomputed: ours,
        hub,
        differences: diff,
      };
      if (report.agree) return report;
    }
    if (attempt < ATTEMPTS) await sleep(SETTLE_MS);
  }
  return report!;
}
