/**
 * The did:mesh registry: a MeshLedger backed by a MeshOperationStore. Appends are serialised;
 * an operation is applied to the in-memory state only after the store made it durable.
 */

import { NotImplementedError } from '@fmp/core';
import {
  MeshForkError,
  MeshLogCorruptError,
  MeshRegistryClosedError,
  MeshRegistryError,
  MeshStoreError,
} from './errors.js';
import {
  type CheckedMeshOperation,
  type MeshDidState,
  MeshLedger,
  type MeshLedgerOptions,
  verifyMeshLog,
} from './ledger.js';
import { operationsThrough } from './method.js';
import { hashMeshOperation, type MeshHead, type MeshOperation, parseMeshOperation } from './operations.js';
import { type MeshOperationStore, memoryMeshStore } from './store.js';

export interface MeshRegistryOptions extends MeshLedgerOptions {
  /** Default: a fresh in-memory store. */
  readonly store?: MeshOperationStore;
}

export interface MeshAppendResult {
  readonly did: string;
  readonly head: MeshHead;
  readonly state: MeshDidState;
}

/** Which earlier state: the operation `seq`, or the last operation at or before `time` (ms). */
export interface MeshVersion {
  readonly seq?: number;
  readonly time?: number;
}

/** Read access the did:mesh resolver needs (a remote registry client can implement it too). */
export interface MeshRegistryReader {
  state(did: string): MeshDidState | undefined;
  /** An earlier state (historic resolution); undefined when the DID has no such version. */
  stateAt?(did: string, version: MeshVersion): MeshDidState | undefined;
}

const MAX_LISTENERS = 64;

export class MeshRegistry implements MeshRegistryReader {
  readonly #ledger: MeshLedger;
  readonly #store: MeshOperationStore;
  readonly #options: MeshLedgerOptions;
  readonly #listeners = new Set<(did: string, state: MeshDidState) => void>();
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  #storeFailed: MeshStoreError | undefined;

  private constructor(ledger: MeshLedger, store: MeshOperationStore, options: MeshLedgerOptions) {
    this.#ledger = ledger;
    this.#store = store;
    this.#options = options;
  }

  /**
   * Loads the store and re-verifies every operation from scratch. A log that does not verify
   * fails with MeshLogCorruptError (its `cause` is the specific error).
   */
  static async open(options: MeshRegistryOptions = {}): Promise<MeshRegistry> {
    const store = options.store ?? memoryMeshStore();
    const raw = await store.load();
    const ledger = new MeshLedger(options);
    for (let i = 0; i < raw.length; i++) {
      try {
        ledger.apply(raw[i]);
      } catch (cause) {
        await store.close().catch(() => {});
        if (!(cause instanceof MeshRegistryError)) throw cause;
        throw new MeshLogCorruptError(`stored operation ${i + 1} does not verify: ${cause.message}`, i + 1, {
          cause,
        });
      }
    }
    return new MeshRegistry(ledger, store, options);
  }

  /** Number of DIDs. */
  get size(): number {
    return this.#ledger.size;
  }

  state(did: string): MeshDidState | undefined {
    return this.#ledger.get(did);
  }

  history(did: string): MeshOperation[] {
    return this.#ledger.history(did);
  }

  /**
   * The DID's state as it was after operation `version.seq`, or after its last operation stamped at
   * or before `version.time`: its operations up to there, replayed and verified again from scratch
   * (a few of them per DID, each a signature check). Undefined when there is no such version (before
   * the create, past the head). A registry opened with `retainOperations: false` keeps no history:
   * NotImplementedError.
   */
  stateAt(did: string, version: MeshVersion): MeshDidState | undefined {
    const ops = this.#ledger.history(did);
    if (ops.length === 0) {
      if (this.#ledger.get(did)) {
        throw new NotImplementedError('this registry keeps no operation history (retainOperations: false)');
      }
      return undefined;
    }
    const n = operationsThrough(ops, version);
    return n === 0 ? undefined : verifyMeshLog(ops.slice(0, n), this.#options).get(did);
  }

  /** Every operation in acceptance order, as plain JSON values (for backup, sync, audit). */
  exportLog(): MeshOperation[] {
    return structuredClone([...this.#ledger.log()]);
  }

  /** Checks an operation against the current state without appending it. */
  validate(op: unknown): CheckedMeshOperation {
    return this.#ledger.check(op);
  }

  /**
   * Validates and durably appends one operation. Throws the specific MeshRegistryError subclass
   * (signature, chain, rotated key, commitment, deactivated, duplicate create, ...).
   */
  append(op: unknown): Promise<MeshAppendResult> {
    return this.#serialised(() => this.#appendNow(op));
  }

  /**
   * Merges an exported log (from a backup or a peer hub). Operations already held are skipped;
   * a different operation at a held position is an equivocation (MeshForkError). The merge stops
   * at the first invalid operation; those before it stay appended.
   */
  importLog(ops: readonly unknown[]): Promise<{ appended: number; skipped: number }> {
    return this.#serialised(async () => {
      let appended = 0;
      let skipped = 0;
      for (const raw of ops) {
        const op = parseMeshOperation(raw);
        const held = this.#ledger.operationAt(op.did, op.seq);
        if (held) {
          if (hashMeshOperation(held) !== hashMeshOperation(op)) {
            throw new MeshForkError(`${op.did} seq ${op.seq}: conflicts with the operation already held`);
          }
          skipped++;
          continue;
        }
        await this.#appendNow(op);
        appended++;
      }
      return { appended, skipped };
    });
  }

  /** Called after each accepted operation (e.g. to invalidate a resolver cache). Returns an unsubscribe. */
  onAppend(listener: (did: string, state: MeshDidState) => void): () => void {
    if (this.#listeners.size >= MAX_LISTENERS) {
      throw new MeshStoreError(`at most ${MAX_LISTENERS} append listeners`);
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tail.catch(() => {});
    await this.#store.close();
  }

  /** A fresh, fully re-verified copy of this registry's log in memory (audit). */
  verify(): MeshLedger {
    const ledger = new MeshLedger(this.#options);
    for (const op of this.#ledger.log()) ledger.apply(op);
    return ledger;
  }

  async #appendNow(op: unknown): Promise<MeshAppendResult> {
    if (this.#closed) throw new MeshRegistryClosedError();
    if (this.#storeFailed) {
      throw new MeshStoreError('an earlier write failed; reopen the registry', { cause: this.#storeFailed });
    }
    const checked = this.#ledger.check(op);
    try {
      await this.#store.append(checked.op);
    } catch (cause) {
      // A failed write may have left a partial line: stop writing until the log is reopened and replayed.
      this.#storeFailed =
        cause instanceof MeshStoreError ? cause : new MeshStoreError('store append failed', { cause });
      throw this.#storeFailed;
    }
    this.#ledger.commit(checked);
    for (const listener of this.#listeners) {
      try {
        listener(checked.op.did, checked.state);
      } catch {
        // A listener's failure must not undo or hide a durable append.
      }
    }
    return { did: checked.op.did, head: checked.state.head, state: checked.state };
  }

  #serialised<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task);
    this.#tail = run.catch(() => {});
    return run;
  }
}
