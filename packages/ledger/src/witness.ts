/**
 * A witness (after C2SP tlog-witness): it remembers, per log origin, the last checkpoint it
 * cosigned, and cosigns a new checkpoint only if the log signed it, the tree did not shrink and a
 * consistency proof links the two. Conflicting checkpoints become `EquivocationEvidence`: both
 * notes signed by the log, which anyone holding the log key can check (slashing evidence).
 * Cosignatures are C2SP tlog-cosignature v1 Ed25519 (type 0x04) signature lines.
 */
import { constantTimeEqual, type Ed25519KeyPair, FmpError, ValidationError } from '@fmp/core';
import {
  type Checkpoint,
  cosignatureSigner,
  cosignatureVerifier,
  logVerifier,
  type NoteSigner,
  type NoteVerifier,
  signNote,
  verifyCheckpoint,
} from './checkpoint.js';
import { EMPTY_ROOT, MAX_PROOF_HASHES, verifyConsistency } from './merkle.js';

/** The witness does not follow this log. */
export class WitnessUnknownLogError extends FmpError {
  constructor(origin: string) {
    super('witness_unknown_log', `this witness does not follow the log "${origin}"`);
  }
}

/** The checkpoint is older than the one the witness already cosigned (tlog-witness: a conflict). */
export class WitnessConflictError extends FmpError {
  readonly latestSize: number;
  constructor(size: number, latestSize: number) {
    super('witness_conflict', `checkpoint size ${size} is smaller than the witnessed size ${latestSize}`);
    this.latestSize = latestSize;
  }
}

export interface EquivocationEvidence {
  /**
   * `fork`: two checkpoints of one size with different roots; conclusive on its own.
   * `inconsistent`: the proof given for the larger checkpoint does not link it to the smaller one;
   * conclusive once the log, asked again, cannot produce a consistency proof either.
   */
  readonly kind: 'fork' | 'inconsistent';
  readonly origin: string;
  /** The signed note the witness had cosigned. */
  readonly first: string;
  /** The signed note that conflicts with it. */
  readonly second: string;
  /** The consistency proof that came with `second` (empty for a fork). */
  readonly consistencyProof: readonly Uint8Array[];
}

export type CosignResult =
  | { readonly ok: true; readonly note: string; readonly checkpoint: Checkpoint }
  | { readonly ok: false; readonly evidence: EquivocationEvidence };

export interface WitnessOptions {
  /** The witness key name, a schema-less URL such as `hub.example/witness`. */
  name: string;
  keyPair: Ed25519KeyPair;
  /** The logs this witness follows, each by its origin and its checkpoint-signing key. */
  logs: readonly { origin: string; publicKey: Uint8Array }[];
  /** POSIX time in seconds, for the cosignature timestamp. */
  now: () => number;
}

/** The most logs one witness follows: its state is one entry per log, so it stays bounded. */
export const MAX_WITNESSED_LOGS = 10_000;

interface LogState {
  readonly verifier: NoteVerifier;
  latest?: { checkpoint: Checkpoint; note: string };
}

export class Witness {
  readonly name: string;
  /** What clients configure to check this witness's cosignatures. */
  readonly verifier: NoteVerifier;
  readonly #signer: NoteSigner;
  readonly #logs = new Map<string, LogState>();

  constructor(options: WitnessOptions) {
    if (options.logs.length > MAX_WITNESSED_LOGS) {
      throw new ValidationError(`a witness follows at most ${MAX_WITNESSED_LOGS} logs`);
    }
    this.name = options.name;
    this.#signer = cosignatureSigner(options.name, options.keyPair, options.now);
    this.verifier = cosignatureVerifier(options.name, options.keyPair.publicKey);
    for (const log of options.logs) {
      // The log's key name is its origin (tlog-checkpoint: it SHOULD match).
      this.#logs.set(log.origin, { verifier: logVerifier(log.origin, log.publicKey) });
    }
  }

  /** The last checkpoint this witness cosigned for a log, if any. */
  latest(origin: string): { checkpoint: Checkpoint; note: string } | undefined {
    return this.#logs.get(origin)?.latest;
  }

  /**
   * Cosigns `note` (a checkpoint signed by the log) given a consistency proof from the last size
   * this witness cosigned to the new size. Throws on a malformed or badly signed note
   * (NoteError), an unknown log or a shrinking tree; returns evidence on equivocation.
   */
  cosign(note: string, consistencyProof: readonly Uint8Array[]): CosignResult {
    if (!Array.isArray(consistencyProof) || consistencyProof.length > MAX_PROOF_HASHES) {
      throw new ValidationError('malformed consistency proof');
    }
    const origin = originOf(note);
    const state = this.#logs.get(origin);
    if (state === undefined) throw new WitnessUnknownLogError(origin);
    const { checkpoint } = verifyCheckpoint(note, state.verifier);
    const previous = state.latest;
    const oldSize = previous?.checkpoint.size ?? 0;
    const oldRoot = previous?.checkpoint.rootHash ?? EMPTY_ROOT;
    if (checkpoint.size < oldSize) throw new WitnessConflictError(checkpoint.size, oldSize);
    if (previous !== undefined && checkpoint.size === oldSize) {
      if (!constantTimeEqual(checkpoint.rootHash, oldRoot)) {
        return { ok: false, evidence: evidence('fork', origin, previous.note, note, []) };
      }
    } else if (!verifyConsistency(oldSize, checkpoint.size, oldRoot, checkpoint.rootHash, consistencyProof)) {
      if (previous === undefined) throw new ValidationError('invalid consistency proof from the empty tree');
      return {
        ok: false,
        evidence: evidence('inconsistent', origin, previous.note, note, consistencyProof),
      };
    }
    const cosigned = signNote(note, this.#signer);
    state.latest = { checkpoint, note };
    return { ok: true, note: cosigned, checkpoint };
  }
}

/**
 * Checks evidence against the log's key: both notes are checkpoints the log signed, and they
 * conflict. A fork is conclusive here; for `inconsistent`, pass a proof fetched from the log again
 * (`freshProof`): the evidence stands if that one fails too.
 */
export function verifyEquivocationEvidence(
  ev: EquivocationEvidence,
  logPublicKey: Uint8Array,
  freshProof: readonly Uint8Array[] = ev.consistencyProof,
): boolean {
  const verifier = logVerifier(ev.origin, logPublicKey);
  let a: Checkpoint;
  let b: Checkpoint;
  try {
    a = verifyCheckpoint(ev.first, verifier).checkpoint;
    b = verifyCheckpoint(ev.second, verifier).checkpoint;
  } catch {
    return false;
  }
  if (ev.kind === 'fork') return a.size === b.size && !constantTimeEqual(a.rootHash, b.rootHash);
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  return !verifyConsistency(small.size, large.size, small.rootHash, large.rootHash, freshProof);
}

function evidence(
  kind: EquivocationEvidence['kind'],
  origin: string,
  first: string,
  second: string,
  consistencyProof: readonly Uint8Array[],
): EquivocationEvidence {
  return { kind, origin, first, second, consistencyProof: consistencyProof.map((h) => h.slice()) };
}

/** The origin line, read before verification only to pick the log's key. */
function originOf(note: string): string {
  if (typeof note !== 'string') throw new ValidationError('a checkpoint note must be a string');
  const end = note.indexOf('\n');
  return end < 0 ? note : note.slice(0, end);
}
