/**
 * The transparency log: entries go to a `LogStorage` in group commits (every append waiting while
 * a write is in flight shares the next write), and only acknowledged entries enter the Merkle tree,
 * so a checkpoint never covers an entry that could be lost in a crash.
 */
import { type Ed25519KeyPair, FmpError, ValidationError } from '@fmp/core';
import {
  ed25519NoteSigner,
  formatCheckpoint,
  logVerifier,
  type NoteSigner,
  type NoteVerifier,
  signNote,
} from './checkpoint.js';
import { MerkleTree } from './merkle.js';

/** Where leaves live. Implementations must make `appendBatch` atomic and durable before resolving. */
export interface LogStorage {
  /** Appends `leaves` at the end of the log, all or nothing; resolves once they survive a crash. */
  appendBatch(leaves: readonly Uint8Array[]): Promise<void>;
  /** The leaves [start, end) exactly as appended. */
  leafRange(start: number, end: number): Promise<Uint8Array[]>;
  size(): Promise<number>;
}

/** Storage in memory: for tests and benchmarks (nothing here survives the process). */
export class MemoryLogStorage implements LogStorage {
  readonly #leaves: Uint8Array[] = [];

  async appendBatch(leaves: readonly Uint8Array[]): Promise<void> {
    for (const leaf of leaves) this.#leaves.push(leaf.slice());
  }

  async leafRange(start: number, end: number): Promise<Uint8Array[]> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw new ValidationError(`invalid leaf range [${start}, ${end})`);
    }
    if (end > this.#leaves.length)
      throw new ValidationError(`leaf range ends past the log size ${this.#leaves.length}`);
    return this.#leaves.slice(start, end).map((l) => l.slice());
  }

  async size(): Promise<number> {
    return this.#leaves.length;
  }
}

/** Too many appends are waiting for storage: back off and retry. */
export class LogBusyError extends FmpError {
  constructor(limit: number) {
    super('log_busy', `the log has ${limit} appends pending; retry later`);
  }
}

/** A storage write failed. The log stops accepting appends; reopen it from storage to resume. */
export class LogWriteError extends FmpError {
  constructor(options?: { cause?: unknown }) {
    super('log_write_failed', 'writing to the log storage failed; the log must be reopened', options);
  }
}

export interface TransparencyLogOptions {
  /** The log's origin line, also the key name of its checkpoint signatures. */
  origin: string;
  keyPair: Ed25519KeyPair;
  /** Defaults to a fresh MemoryLogStorage. */
  storage?: LogStorage;
  /** Appends waiting for storage at once (default 65,536). */
  maxPending?: number;
  /** Leaves per storage write (default 4,096). */
  maxBatch?: number;
  /** Largest entry in bytes (default 1 MiB). */
  maxEntryBytes?: number;
  /** Most entries one `entries()` call returns (default 1,000). */
  maxRange?: number;
}

interface Pending {
  readonly entry: Uint8Array;
  readonly resolve: (index: number) => void;
  readonly reject: (error: unknown) => void;
}

// Leaves read per storage call when a log is reopened.
const LOAD_CHUNK = 10_000;

export class TransparencyLog {
  readonly origin: string;
  /** What clients and witnesses use to check this log's checkpoints. */
  readonly verifier: NoteVerifier;
  readonly publicKey: Uint8Array;
  readonly #signer: NoteSigner;
  readonly #storage: LogStorage;
  readonly #tree = new MerkleTree();
  readonly #maxPending: number;
  readonly #maxBatch: number;
  readonly #maxEntryBytes: number;
  readonly #maxRange: number;
  #pending: Pending[] = [];
  #draining: Promise<void> | undefined;
  #failed: LogWriteError | undefined;
  #checkpoint: { size: number; note: string } | undefined;

  private constructor(options: TransparencyLogOptions, storage: LogStorage) {
    this.origin = options.origin;
    this.#signer = ed25519NoteSigner(options.origin, options.keyPair);
    this.verifier = logVerifier(options.origin, options.keyPair.publicKey);
    this.publicKey = options.keyPair.publicKey.slice();
    this.#storage = storage;
    this.#maxPending = positive(options.maxPending ?? 65_536, 'maxPending');
    this.#maxBatch = positive(options.maxBatch ?? 4096, 'maxBatch');
    this.#maxEntryBytes = positive(options.maxEntryBytes ?? 1024 * 1024, 'maxEntryBytes');
    this.#maxRange = positive(options.maxRange ?? 1000, 'maxRange');
  }

  /** Opens a log over its storage, rebuilding the tree from the stored leaves. */
  static async open(options: TransparencyLogOptions): Promise<TransparencyLog> {
    const log = new TransparencyLog(options, options.storage ?? new MemoryLogStorage());
    // Validates the origin as a checkpoint line before anything is appended.
    formatCheckpoint({ origin: options.origin, size: 0, rootHash: log.#tree.rootHash() });
    const size = await log.#storage.size();
    for (let start = 0; start < size; start += LOAD_CHUNK) {
      const leaves = await log.#storage.leafRange(start, Math.min(size, start + LOAD_CHUNK));
      for (const leaf of leaves) log.#tree.appendEntry(leaf);
    }
    return log;
  }

  /** The number of durable entries (what checkpoints and proofs cover). */
  get size(): number {
    return this.#tree.size;
  }

  /** Appends an entry; resolves with its index once storage has it durably. */
  append(entry: Uint8Array): Promise<number> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (!(entry instanceof Uint8Array))
      return Promise.reject(new ValidationError('a log entry must be bytes'));
    if (entry.length > this.#maxEntryBytes) {
      return Promise.reject(new ValidationError(`a log entry is at most ${this.#maxEntryBytes} bytes`));
    }
    if (this.#pending.length >= this.#maxPending) return Promise.reject(new LogBusyError(this.#maxPending));
    return new Promise<number>((resolve, reject) => {
      this.#pending.push({ entry: entry.slice(), resolve, reject });
      // Start a writer at the end of this tick, so appends made together share one write.
      this.#draining ??= Promise.resolve().then(() => this.#drain());
    });
  }

  /** Resolves once every append made so far is written (or has failed). */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0, this.#maxBatch);
        try {
          await this.#storage.appendBatch(batch.map((p) => p.entry));
        } catch (cause) {
          // The storage state is unknown after a failed write: stop rather than guess indexes.
          this.#failed = new LogWriteError({ cause });
          for (const p of [...batch, ...this.#pending.splice(0)]) p.reject(this.#failed);
          return;
        }
        for (const p of batch) p.resolve(this.#tree.appendEntry(p.entry));
      }
    } finally {
      this.#draining = undefined;
    }
  }

  /** The root hash at `size` (default: the current size). */
  rootHash(size: number = this.size): Uint8Array {
    return this.#tree.rootHash(size);
  }

  /** A checkpoint of the current size, signed by the log key (a C2SP signed note). */
  checkpoint(): string {
    const size = this.size;
    if (this.#checkpoint?.size !== size) {
      const text = formatCheckpoint({ origin: this.origin, size, rootHash: this.#tree.rootHash(size) });
      this.#checkpoint = { size, note: signNote(text, this.#signer) };
    }
    return this.#checkpoint.note;
  }

  inclusionProof(index: number, size: number = this.size): Uint8Array[] {
    return this.#tree.inclusionProof(index, size);
  }

  consistencyProof(from: number, to: number = this.size): Uint8Array[] {
    return this.#tree.consistencyProof(from, to);
  }

  leafHash(index: number): Uint8Array {
    return this.#tree.leafHash(index);
  }

  /** The durable entries [start, end), at most `maxRange` of them. */
  async entries(start: number, end: number): Promise<Uint8Array[]> {
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start < 0 ||
      end < start ||
      end > this.size
    ) {
      throw new ValidationError(`entry range [${start}, ${end}) must lie within [0, ${this.size})`);
    }
    if (end - start > this.#maxRange)
      throw new ValidationError(`at most ${this.#maxRange} entries per request`);
    return this.#storage.leafRange(start, end);
  }
}

function positive(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new ValidationError(`${what} must be a positive integer`);
  return n;
}
