/**
 * A replica of another hub's ledger: it fetches the sequencer's signed checkpoint, cosigns it as a
 * witness only if it is consistent with the last one it saw, then fetches the new leaves, checks
 * that they hash to that checkpoint's root before applying any, replays them into its own state and
 * keeps them in its own storage. Reads (balances, proposals, parameters) are then served locally, and
 * the hub applies parameter changes from its replica exactly as the sequencer's hub does.
 */
import { constantTimeEqual, type Ed25519KeyPair, FmpError } from '@fmp/core';
import { type Checkpoint, formatNote, logVerifier, parseNote, verifyCheckpoint } from '../checkpoint.js';
import { type LogStorage, MemoryLogStorage } from '../log.js';
import { MerkleTree, verifyConsistency } from '../merkle.js';
import { type EquivocationEvidence, Witness } from '../witness.js';
import { type Applied, LedgerState } from './state.js';

/** What the replica needs from the sequencer (HTTP in a hub; direct calls in tests). */
export interface LedgerSource {
  checkpoint(): Promise<string>;
  /** Leaves [start, end) exactly as the log holds them (may return fewer; at least one). */
  leaves(start: number, end: number): Promise<Uint8Array[]>;
  consistencyProof(from: number, to: number): Promise<Uint8Array[]>;
}

export interface LedgerReplicaOptions {
  readonly origin: string;
  /** The sequencer's checkpoint key (pinned). */
  readonly operatorKey: Uint8Array;
  readonly storage?: LogStorage;
  /** Cosigns the checkpoints it verified, under this witness name and key. */
  readonly witness?: { readonly name: string; readonly keyPair: Ed25519KeyPair; readonly now: () => number };
}

/** The sequencer served something a faithful log cannot: the replica stops following it. */
export class LedgerMirrorError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ledger_mirror_failed', message, options);
  }
}

export class LedgerReplica {
  readonly origin: string;
  readonly state: LedgerState;
  readonly #storage: LogStorage;
  readonly #tree = new MerkleTree();
  readonly #witness: Witness | undefined;
  readonly #verifier;
  readonly #listeners = new Set<(a: Applied) => void>();
  #checkpoint: { note: string; checkpoint: Checkpoint; cosigned?: string } | undefined;
  #evidence: EquivocationEvidence | undefined;
  #syncing: Promise<number> | undefined;

  private constructor(options: LedgerReplicaOptions, storage: LogStorage) {
    this.origin = options.origin;
    this.#storage = storage;
    this.#verifier = logVerifier(options.origin, options.operatorKey);
    this.state = new LedgerState({ ledger: options.origin, operatorKey: options.operatorKey });
    if (options.witness) {
      this.#witness = new Witness({
        name: options.witness.name,
        keyPair: options.witness.keyPair,
        now: () => Math.floor(options.witness!.now() / 1000),
        logs: [{ origin: options.origin, publicKey: options.operatorKey }],
      });
    }
  }

  static async open(options: LedgerReplicaOptions): Promise<LedgerReplica> {
    const r = new LedgerReplica(options, options.storage ?? new MemoryLogStorage());
    const size = await r.#storage.size();
    for (let start = 0; start < size; start += 1000) {
      for (const leaf of await r.#storage.leafRange(start, Math.min(size, start + 1000))) {
        r.state.applyLeaf(leaf);
        r.#tree.appendEntry(leaf);
      }
    }
    return r;
  }

  get size(): number {
    return this.#tree.size;
  }
  /** The latest sequencer checkpoint this replica verified (and cosigned, when it is a witness). */
  get checkpoint(): string | undefined {
    return this.#checkpoint?.cosigned ?? this.#checkpoint?.note;
  }
  /** Set once the sequencer was caught equivocating; the replica then stops. */
  get evidence(): EquivocationEvidence | undefined {
    return this.#evidence;
  }
  get witnessVerifier() {
    return this.#witness?.verifier;
  }

  onApplied(listener: (a: Applied) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  inclusionProof(index: number, size = this.size): Uint8Array[] {
    return this.#tree.inclusionProof(index, size);
  }
  consistencyProof(from: number, to = this.size): Uint8Array[] {
    return this.#tree.consistencyProof(from, to);
  }
  rootHash(size = this.size): Uint8Array {
    return this.#tree.rootHash(size);
  }
  entries(start: number, end: number): Promise<Uint8Array[]> {
    return this.#storage.leafRange(start, end);
  }

  /** Catches up with the source; resolves with the new size. One sync at a time. */
  sync(source: LedgerSource): Promise<number> {
    this.#syncing ??= this.#sync(source).finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  async #sync(source: LedgerSource): Promise<number> {
    if (this.#evidence) throw new LedgerMirrorError(`${this.origin} equivocated; this replica stopped`);
    const served = await source.checkpoint();
    let checkpoint: Checkpoint;
    let note: string;
    try {
      checkpoint = verifyCheckpoint(served, this.#verifier).checkpoint;
      // Only the log's own signature is kept and cosigned (a served note may carry other witnesses').
      const parsed = parseNote(served);
      note = formatNote({
        text: parsed.text,
        signatures: parsed.signatures.filter((s) => s.name === this.origin),
      });
    } catch (cause) {
      throw new LedgerMirrorError('the checkpoint is not signed by the ledger operator', { cause });
    }
    const from = this.size;
    if (checkpoint.size < from) {
      throw new LedgerMirrorError(`the ledger shrank from ${from} to ${checkpoint.size} entries`);
    }
    let cosigned: string | undefined;
    if (this.#witness) {
      // A proof from the size this witness last cosigned (0 after a restart: nothing to link).
      const last = this.#witness.latest(this.origin)?.checkpoint.size ?? 0;
      const proof =
        last > 0 && checkpoint.size > last ? await source.consistencyProof(last, checkpoint.size) : [];
      const witnessed = this.#witness.cosign(note, proof);
      if (!witnessed.ok) {
        this.#evidence = witnessed.evidence;
        throw new LedgerMirrorError(`${this.origin} equivocated (${witnessed.evidence.kind})`);
      }
      cosigned = witnessed.note;
    }
    let size = from;
    while (size < checkpoint.size) {
      const leaves = await source.leaves(size, Math.min(checkpoint.size, size + 1000));
      if (leaves.length === 0) throw new LedgerMirrorError(`the ledger served no entries from ${size}`);
      const next = size + leaves.length;
      if (next > checkpoint.size)
        throw new LedgerMirrorError('the ledger served entries past its checkpoint');
      // The new leaves must lead to the checkpoint's tree before any of them is applied.
      const root = this.state.rootAfter(leaves);
      const linked =
        next === checkpoint.size
          ? constantTimeEqual(root, checkpoint.rootHash)
          : verifyConsistency(
              next,
              checkpoint.size,
              root,
              checkpoint.rootHash,
              await source.consistencyProof(next, checkpoint.size),
            );
      if (!linked)
        throw new LedgerMirrorError(`entries ${size}..${next - 1} do not match the signed checkpoint`);
      for (const leaf of leaves) {
        let applied: Applied;
        try {
          applied = this.state.applyLeaf(leaf);
        } catch (cause) {
          throw new LedgerMirrorError(`entry ${this.state.size} of ${this.origin} does not apply`, { cause });
        }
        this.#tree.appendEntry(leaf);
        for (const l of this.#listeners) {
          try {
            l(applied);
          } catch {
            // A listener's failure is its own.
          }
        }
      }
      await this.#storage.appendBatch(leaves);
      size = next;
    }
    this.#checkpoint = { note, checkpoint, ...(cosigned ? { cosigned } : {}) };
    return size;
  }
}
