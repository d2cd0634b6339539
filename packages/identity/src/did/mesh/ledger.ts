/**
 * The did:mesh state machine: checks each operation against the state of its DID and applies it.
 * Pure and synchronous (no I/O); MeshRegistry adds storage and serialisation. Checking never
 * mutates, so a refused operation leaves no trace.
 */
import { constantTimeEqual, decodeMultikey, multibaseDecode } from '@fmp/core';
import {
  DID_CONTEXT_V1,
  type DidDocument,
  type DidDocumentMetadata,
  ED25519_2020_CONTEXT,
  X25519_2020_CONTEXT,
} from '../types.js';
import {
  MeshChainError,
  MeshDeactivatedError,
  MeshDuplicateCreateError,
  MeshKeyCommitmentError,
  MeshLimitError,
  MeshLogCorruptError,
  MeshOperationInvalidError,
  MeshRegistryError,
  MeshRotatedKeyError,
  MeshSignatureError,
  MeshTimestampError,
  MeshUnknownDidError,
} from './errors.js';
import {
  hashMeshOperation,
  type MeshHead,
  type MeshOperation,
  type MeshService,
  meshKeyCommitment,
  parseMeshOperation,
  verifyMeshProof,
} from './operations.js';

export interface MeshLedgerOptions {
  /** Clock for the future-skew check (ms since epoch). Default Date.now. */
  readonly now?: () => number;
  /** How far an operation's timestamp may run ahead of `now`. Default 5 minutes. */
  readonly maxFutureSkewMs?: number;
  /** Default 1,000,000. */
  readonly maxDids?: number;
  /** Default 10,000. */
  readonly maxOperationsPerDid?: number;
  /**
   * Keep every operation for `history`, `operationAt` and `log` (default true). A holder that keeps
   * the operations elsewhere (the mesh ledger's state: they are its log's leaves) turns it off and
   * keeps only what checking the next operation needs.
   */
  readonly retainOperations?: boolean;
}

/** What a resolver needs about one DID, as of its latest operation. Immutable. */
export interface MeshDidState {
  readonly did: string;
  readonly head: MeshHead;
  readonly created: string;
  /** Timestamp of the latest operation after the create. */
  readonly updated: string | undefined;
  readonly deactivated: boolean;
  /** Current Ed25519 key (multikey). */
  readonly signingKey: string;
  /** Current X25519 key agreement key (multikey). */
  readonly keyAgreementKey: string;
  /** Hash of the key that must sign the next operation; undefined once deactivated. */
  readonly nextKeyCommitment: string | undefined;
  readonly services: readonly MeshService[];
  readonly controller: readonly string[];
  /** Frozen; built when read (see MeshState). */
  readonly document: DidDocument;
  readonly documentMetadata: DidDocumentMetadata;
}

interface Entry {
  state: MeshDidState;
  keyGeneration: number;
  keyAgreementGeneration: number;
  operations: MeshOperation[];
  /** Operations applied (the length of `operations` when they are retained). */
  count: number;
  /**
   * Multikeys that have signed an operation: never allowed to sign again. Lists, not Sets: one or
   * two entries for almost every DID, and a hub holds every mesh's entry twice (two small Sets
   * were ~0.5 KB per hub session).
   */
  usedKeys: string[];
  /** Commitments of used keys: never allowed as a next-key commitment. */
  usedCommitments: string[];
}

/** A checked operation, ready for `commit`. */
export interface CheckedMeshOperation {
  readonly op: MeshOperation;
  readonly hash: string;
  readonly state: MeshDidState;
  /** @internal */
  readonly entry: Entry;
  /** @internal The revealed key and its commitment, added to the used sets on commit. */
  readonly revealed?: { readonly key: string; readonly commitment: string };
}

const DEFAULT_SKEW_MS = 5 * 60_000;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function buildDocument(
  state: Omit<MeshDidState, 'document' | 'documentMetadata'>,
  keyGeneration: number,
  keyAgreementGeneration: number,
): DidDocument {
  const did = state.did;
  if (state.deactivated) return { '@context': [DID_CONTEXT_V1], id: did };
  const keyId = `${did}#key-${keyGeneration}`;
  const document: DidDocument = {
    '@context': [DID_CONTEXT_V1, ED25519_2020_CONTEXT, X25519_2020_CONTEXT],
    id: did,
  };
  if (state.controller.length === 1) document.controller = state.controller[0]!;
  else if (state.controller.length > 1) document.controller = [...state.controller];
  document.verificationMethod = [
    { id: keyId, type: 'Ed25519VerificationKey2020', controller: did, publicKeyMultibase: state.signingKey },
  ];
  document.authentication = [keyId];
  document.assertionMethod = [keyId];
  document.keyAgreement = [
    {
      id: `${did}#key-agreement-${keyAgreementGeneration}`,
      type: 'X25519KeyAgreementKey2020',
      controller: did,
      publicKeyMultibase: state.keyAgreementKey,
    },
  ];
  if (state.services.length > 0) {
    document.service = state.services.map((s) => ({
      id: did + s.id,
      type: s.type,
      serviceEndpoint: s.serviceEndpoint,
    }));
  }
  return document;
}

function buildMetadata(state: Omit<MeshDidState, 'document' | 'documentMetadata'>): DidDocumentMetadata {
  return {
    created: state.created,
    ...(state.updated ? { updated: state.updated } : {}),
    ...(state.deactivated ? { deactivated: true } : {}),
    versionId: String(state.head.seq),
    /** Extension: the head hash a client needs to build the next operation. */
    headHash: state.head.hash,
    ...(state.nextKeyCommitment ? { nextKeyCommitment: state.nextKeyCommitment } : {}),
  };
}

/**
 * A DID's state. The DID document and its metadata are built when read (a few microseconds; the
 * resolver caches what it resolves), not held: a hub holds the state of every mesh it ever saw, in
 * its registry and again in the ledger's replica, and the two documents were a third of that.
 */
class MeshState implements MeshDidState {
  declare readonly did: string;
  declare readonly head: MeshHead;
  declare readonly created: string;
  declare readonly updated: string | undefined;
  declare readonly deactivated: boolean;
  declare readonly signingKey: string;
  declare readonly keyAgreementKey: string;
  declare readonly nextKeyCommitment: string | undefined;
  declare readonly services: readonly MeshService[];
  declare readonly controller: readonly string[];
  readonly #keyGeneration: number;
  readonly #keyAgreementGeneration: number;

  constructor(
    base: Omit<MeshDidState, 'document' | 'documentMetadata'>,
    keyGeneration: number,
    keyAgreementGeneration: number,
  ) {
    this.#keyGeneration = keyGeneration;
    this.#keyAgreementGeneration = keyAgreementGeneration;
    Object.assign(this, base);
    deepFreeze(this);
  }

  /** Frozen; a new object on each read. */
  get document(): DidDocument {
    return deepFreeze(buildDocument(this, this.#keyGeneration, this.#keyAgreementGeneration));
  }

  get documentMetadata(): DidDocumentMetadata {
    return deepFreeze(buildMetadata(this));
  }
}

function finish(
  base: Omit<MeshDidState, 'document' | 'documentMetadata'>,
  keyGeneration: number,
  keyAgreementGeneration: number,
): MeshDidState {
  return new MeshState(base, keyGeneration, keyAgreementGeneration);
}

/** One frozen empty list for every DID without controllers or services. */
const NONE: readonly never[] = Object.freeze([]);

export class MeshLedger {
  readonly #states = new Map<string, Entry>();
  readonly #log: MeshOperation[] = [];
  readonly #now: () => number;
  readonly #skew: number;
  readonly #maxDids: number;
  readonly #maxOps: number;
  readonly #retain: boolean;

  constructor(options: MeshLedgerOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#skew = options.maxFutureSkewMs ?? DEFAULT_SKEW_MS;
    this.#maxDids = options.maxDids ?? 1_000_000;
    this.#maxOps = options.maxOperationsPerDid ?? 10_000;
    this.#retain = options.retainOperations ?? true;
  }

  get size(): number {
    return this.#states.size;
  }

  get(did: string): MeshDidState | undefined {
    return this.#states.get(did)?.state;
  }

  history(did: string): MeshOperation[] {
    return [...(this.#states.get(did)?.operations ?? [])];
  }

  /** The operation at `seq` of a DID's chain, if held. */
  operationAt(did: string, seq: number): MeshOperation | undefined {
    return this.#states.get(did)?.operations[seq];
  }

  /** Every accepted operation in acceptance order (DIDs interleaved). */
  log(): readonly MeshOperation[] {
    return this.#log;
  }

  /** Validates `input` against the current state. Throws a MeshRegistryError subclass; never mutates. */
  check(input: unknown): CheckedMeshOperation {
    const op = parseMeshOperation(input);
    const time = Date.parse(op.timestamp);
    if (time > this.#now() + this.#skew) {
      throw new MeshTimestampError(`${op.did} seq ${op.seq}: timestamp ${op.timestamp} is in the future`);
    }
    const hash = hashMeshOperation(op);
    const entry = this.#states.get(op.did);
    if (op.type === 'create') {
      if (entry) throw new MeshDuplicateCreateError(`${op.did} already exists`);
      if (this.#states.size >= this.#maxDids)
        throw new MeshLimitError(`registry holds ${this.#maxDids} DIDs`);
      const usedCommitment = meshKeyCommitment(decodeMultikey(op.signingKey).key);
      if (op.nextKeyCommitment === usedCommitment) {
        throw new MeshOperationInvalidError(`${op.did}: the next key must differ from the current key`);
      }
      if (!verifyMeshProof(op)) throw new MeshSignatureError(`${op.did} create: signature does not verify`);
      const base = {
        did: op.did,
        head: { seq: 0, hash },
        created: op.timestamp,
        updated: undefined,
        deactivated: false,
        signingKey: op.signingKey,
        keyAgreementKey: op.keyAgreementKey,
        nextKeyCommitment: op.nextKeyCommitment,
        services: op.services.length === 0 ? NONE : op.services,
        controller: op.controller ?? NONE,
      };
      const next: Entry = {
        state: finish(base, 1, 1),
        keyGeneration: 1,
        keyAgreementGeneration: 1,
        operations: [],
        count: 0,
        usedKeys: [op.signingKey],
        usedCommitments: [usedCommitment],
      };
      return { op, hash, state: next.state, entry: next };
    }

    if (!entry) throw new MeshUnknownDidError(`${op.did} was never created`);
    const state = entry.state;
    if (state.deactivated) throw new MeshDeactivatedError(`${op.did} is deactivated`);
    if (op.seq !== state.head.seq + 1) {
      throw new MeshChainError('seq', `${op.did}: expected seq ${state.head.seq + 1}, got ${op.seq}`);
    }
    if (op.prev !== state.head.hash) {
      throw new MeshChainError(
        'prev',
        `${op.did} seq ${op.seq}: prev is not the hash of seq ${state.head.seq}`,
      );
    }
    if (entry.count >= this.#maxOps) {
      throw new MeshLimitError(`${op.did} has ${this.#maxOps} operations`);
    }
    const previousTime = Date.parse(state.updated ?? state.created);
    if (time < previousTime) {
      throw new MeshTimestampError(`${op.did} seq ${op.seq}: timestamp goes backwards`);
    }
    if (entry.usedKeys.includes(op.signingKey)) {
      throw new MeshRotatedKeyError(
        `${op.did} seq ${op.seq}: signed with a key already used; only the committed next key may sign`,
      );
    }
    const revealed = decodeMultikey(op.signingKey).key;
    const revealedCommitment = meshKeyCommitment(revealed);
    if (
      !state.nextKeyCommitment ||
      !constantTimeEqual(multibaseDecode(revealedCommitment), multibaseDecode(state.nextKeyCommitment))
    ) {
      throw new MeshKeyCommitmentError(
        `${op.did} seq ${op.seq}: signing key does not match the committed next key`,
      );
    }
    if (
      op.type === 'update' &&
      (op.nextKeyCommitment === revealedCommitment || entry.usedCommitments.includes(op.nextKeyCommitment))
    ) {
      throw new MeshOperationInvalidError(`${op.did} seq ${op.seq}: the next key must be a fresh key`);
    }
    if (!verifyMeshProof(op))
      throw new MeshSignatureError(`${op.did} seq ${op.seq}: signature does not verify`);

    const revealedKeys = { key: op.signingKey, commitment: revealedCommitment };
    if (op.type === 'deactivate') {
      const base = {
        ...state,
        head: { seq: op.seq, hash },
        updated: op.timestamp,
        deactivated: true,
        nextKeyCommitment: undefined,
        services: NONE,
      };
      const next: Entry = {
        ...entry,
        state: finish(base, entry.keyGeneration, entry.keyAgreementGeneration),
      };
      return { op, hash, state: next.state, entry: next, revealed: revealedKeys };
    }
    const kaChanged = op.keyAgreementKey !== undefined && op.keyAgreementKey !== state.keyAgreementKey;
    const base = {
      ...state,
      head: { seq: op.seq, hash },
      updated: op.timestamp,
      signingKey: op.signingKey,
      keyAgreementKey: op.keyAgreementKey ?? state.keyAgreementKey,
      nextKeyCommitment: op.nextKeyCommitment,
      services: op.services ?? state.services,
      controller: op.controller ?? state.controller,
    };
    const keyGeneration = entry.keyGeneration + 1;
    const keyAgreementGeneration = entry.keyAgreementGeneration + (kaChanged ? 1 : 0);
    const next: Entry = {
      ...entry,
      state: finish(base, keyGeneration, keyAgreementGeneration),
      keyGeneration,
      keyAgreementGeneration,
    };
    return { op, hash, state: next.state, entry: next, revealed: revealedKeys };
  }

  /** Applies an operation returned by `check` (on this ledger, with nothing committed in between). */
  commit(checked: CheckedMeshOperation): void {
    const current = this.#states.get(checked.op.did);
    const operations = current?.operations ?? checked.entry.operations;
    const count = current?.count ?? checked.entry.count;
    if (count !== checked.op.seq) {
      throw new MeshChainError('seq', `${checked.op.did}: stale check (the chain moved since)`);
    }
    // A DID's first operation makes a list of its size (a first push makes room for 17: 0.1 KB
    // per DID at 10,000 meshes); later ones are pushed.
    let kept = operations;
    if (this.#retain) {
      if (operations.length === 0) kept = [checked.op];
      else operations.push(checked.op);
    }
    if (checked.revealed) {
      checked.entry.usedKeys.push(checked.revealed.key);
      checked.entry.usedCommitments.push(checked.revealed.commitment);
    }
    this.#states.set(checked.op.did, { ...checked.entry, operations: kept, count: count + 1 });
    if (this.#retain) this.#log.push(checked.op);
  }

  /** check + commit. */
  apply(input: unknown): CheckedMeshOperation {
    const checked = this.check(input);
    this.commit(checked);
    return checked;
  }
}

/**
 * Re-verifies a whole exported log from scratch (every schema, chain link, key and signature).
 * Throws MeshLogCorruptError naming the first bad operation, with the specific error as `cause`.
 */
export function verifyMeshLog(ops: readonly unknown[], options: MeshLedgerOptions = {}): MeshLedger {
  const ledger = new MeshLedger(options);
  ops.forEach((op, index) => {
    try {
      ledger.apply(op);
    } catch (cause) {
      if (!(cause instanceof MeshRegistryError)) throw cause;
      throw new MeshLogCorruptError(`operation ${index} is invalid: ${cause.message}`, index + 1, { cause });
    }
  });
  return ledger;
}
