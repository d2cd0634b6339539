/**
 * The audit log: appends records to the hash chain with group commit. Appends made in the same
 * tick, and those arriving while a batch is being written, share the next batch: one
 * appendBatch (one transaction, one fsync) for all of them. An append resolves only after its
 * batch is durable, so an acknowledged entry survives a crash. On the way there a storage may say
 * that a batch is written (committed, so a crash of this process keeps it) before it is durable
 * (on disk, so a power loss keeps it too): callers that ask hear of both (append's onWritten), and
 * the next batch starts as soon as the previous one is written.
 *
 * One AuditLog writes a given storage at a time. A second writer (another process on the same
 * PostgreSQL database) cannot fork the chain: the storage refuses a batch that does not continue
 * the stored head, its appends fail, and the log re-reads the head before its next batch.
 */
import { FmpError, ValidationError, zodIssues } from '@fmp/core';
import { z } from 'zod';
import {
  type AuditEntry,
  type AuditRecord,
  type ChainHead,
  chainRecords,
  parseAuditRecord,
  type VerifyResult,
} from './chain.js';
import { type AuditQuery, type AuditStorage, auditQuerySchema } from './storage.js';
import { type ExportOptions, exportJsonl, type VerifyStorageOptions, verifyStorage } from './verify.js';

/** Too many appends are waiting for their batch: back off and retry. */
export class AuditBusyError extends FmpError {
  readonly limit: number;
  constructor(limit: number) {
    super('audit_busy', `more than ${limit} audit appends are waiting; retry later`);
    this.limit = limit;
  }
}

/** The log was closed: no more appends. */
export class AuditClosedError extends FmpError {
  constructor() {
    super('audit_closed', 'the audit log is closed');
  }
}

export interface AuditLogOptions {
  /** Entries per batch (one appendBatch, one transaction). Default 4,096, at most 10,000. */
  readonly maxBatch?: number;
  /** Appends waiting for a batch before AuditBusyError. Default 100,000, at most 10,000,000. */
  readonly maxPending?: number;
}

const OptionsSchema = z.strictObject({
  maxBatch: z.number().int().min(1).max(10_000).optional(),
  maxPending: z.number().int().min(1).max(10_000_000).optional(),
});

export interface AuditLogStats {
  /** appendBatch calls made (committed or failed). */
  readonly batches: number;
  /** Entries durably appended since open. */
  readonly appended: number;
  /** Appends waiting for a batch. */
  readonly pending: number;
}

interface Pending {
  readonly record: AuditRecord;
  readonly resolve: (entry: AuditEntry) => void;
  readonly reject: (error: unknown) => void;
  readonly onWritten: ((entry: AuditEntry) => void) | undefined;
}

/** A parse's value, or ValidationError listing its issues. */
function parsed<T>(result: z.ZodSafeParseResult<T>, what: string): T {
  if (result.success) return result.data;
  throw new ValidationError(`invalid ${what}`, zodIssues(result.error), { cause: result.error });
}

export class AuditLog {
  readonly #storage: AuditStorage;
  readonly #maxBatch: number;
  readonly #maxPending: number;
  /** The last written entry: what the next batch chains from. */
  #head: ChainHead | undefined;
  /** After a failed batch the stored head is unknown (it may have committed): read it again. */
  #resync = false;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  /** The last written batch's way to durable (settles after the ones before it). */
  #syncing: Promise<void> = Promise.resolve();
  #closed = false;
  #batches = 0;
  #appended = 0;

  private constructor(storage: AuditStorage, head: ChainHead | undefined, options: AuditLogOptions) {
    this.#storage = storage;
    this.#head = head;
    this.#maxBatch = options.maxBatch ?? 4096;
    this.#maxPending = options.maxPending ?? 100_000;
  }

  /** Opens the log over `storage` (reads its head; the storage must already be open). */
  static async open(storage: AuditStorage, options: AuditLogOptions = {}): Promise<AuditLog> {
    const o = parsed(OptionsSchema.safeParse(options), 'audit log options');
    return new AuditLog(storage, await storage.head(), o);
  }

  /** The last durable entry's seq and hash (undefined while the log is empty). */
  get head(): ChainHead | undefined {
    return this.#head;
  }

  stats(): AuditLogStats {
    return { batches: this.#batches, appended: this.#appended, pending: this.#queue.length };
  }

  /**
   * Appends a record; resolves with its entry once the batch carrying it is durable. Rejects with
   * ValidationError (bad record, nothing queued), AuditBusyError (queue full), AuditClosedError,
   * or the storage's error when its batch failed (then nothing of that batch was written, unless
   * the failure came after the commit, e.g. a connection lost while committing, or the storage
   * failed to make a written batch durable). `onWritten`, when given, is called with the entry once
   * its batch is written, before or when it is durable (never when the batch failed to commit).
   */
  append(record: AuditRecord, onWritten?: (entry: AuditEntry) => void): Promise<AuditEntry> {
    if (this.#closed) return Promise.reject(new AuditClosedError());
    if (this.#queue.length >= this.#maxPending) return Promise.reject(new AuditBusyError(this.#maxPending));
    let valid: AuditRecord;
    try {
      valid = parsed(parseAuditRecord(record), 'audit record');
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<AuditEntry>((resolve, reject) => {
      this.#queue.push({ record: valid, resolve, reject, onWritten });
      // setImmediate, not a microtask: appends issued after an await in the same tick join the batch.
      this.#flushing ??= new Promise<void>((done) => setImmediate(() => this.#drain().finally(done)));
    });
  }

  /** Waits until every append made so far has settled. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    await this.#syncing;
  }

  /** Refuses new appends and waits for the queued ones. Does not close the storage. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  /** Verifies the whole stored log; without `options.head`, against this log's own durable head. */
  verify(options: VerifyStorageOptions = {}): Promise<VerifyResult> {
    const head = options.head ?? this.#head;
    return verifyStorage(this.#storage, { ...options, ...(head ? { head } : {}) });
  }

  /** Durable entries matching `q`, in seq order. */
  query(q: AuditQuery): Promise<AuditEntry[]> {
    try {
      return this.#storage.query(parsed(auditQuerySchema.safeParse(q), 'audit query'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Durable entries as JSON Lines (see exportJsonl in verify.ts). */
  exportJsonl(write: (line: string) => void | Promise<void>, options: ExportOptions = {}): Promise<number> {
    return exportJsonl(this.#storage, write, options);
  }

  /** A batch is written: the next one chains from it, and its callers hear it (once). */
  #written(batch: readonly Pending[], entries: readonly AuditEntry[]): void {
    const last = entries[entries.length - 1]!;
    if (this.#head && this.#head.seq >= last.seq) return;
    this.#head = { seq: last.seq, hash: last.hash };
    this.#appended += entries.length;
    batch.forEach((p, i) => {
      try {
        p.onWritten?.(entries[i]!);
      } catch {
        // A caller's callback must not fail the storage's write.
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      if (this.#resync) {
        try {
          this.#head = await this.#storage.head();
          this.#resync = false;
        } catch (error) {
          for (const p of batch) p.reject(error);
          continue;
        }
      }
      // Seqs and hashes are assigned here, in append order, from the last written entry: a batch
      // that fails to commit leaves nothing to roll back, and the next one chains from the stored head.
      let entries: AuditEntry[];
      let durable: Promise<void>;
      try {
        entries = chainRecords(
          this.#head,
          batch.map((p) => p.record),
        );
        this.#batches++;
        const chained = entries;
        let written!: () => void;
        const committed = new Promise<void>((resolve) => {
          // Callers hear it from within the storage's call: a message waiting for its entry goes
          // on without further turns.
          written = () => {
            this.#written(batch, chained);
            resolve();
          };
        });
        durable = this.#storage.appendBatch(entries, written);
        // On to the next batch once this one is written: its entries chain from these.
        await Promise.race([committed, durable]);
      } catch (error) {
        this.#resync = true;
        for (const p of batch) p.reject(error);
        continue;
      }
      this.#written(batch, entries); // a storage that did not say so before it resolved
      // Written but not durable fails only when the storage cannot sync any more (it fails every
      // later batch too): these callers hear it; the chain in storage is intact. Batches resolve
      // in order: an entry is reported durable only after every entry before it.
      const previous = this.#syncing;
      this.#syncing = durable
        .then(() => previous)
        .then(
          () => {
            batch.forEach((p, i) => {
              p.resolve(entries[i]!);
            });
          },
          (error: unknown) => {
            for (const p of batch) p.reject(error);
          },
        );
    }
    this.#flushing = undefined;
  }
}
