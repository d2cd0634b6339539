/**
 * Where the audit log keeps its entries. @fmp/store implements this (`store.audit`, SQLite or
 * PostgreSQL); memoryAuditStorage() is the in-process one for tests and storeless nodes.
 */
import { didSchema, FmpError, TimestampMsSchema } from '@fmp/core';
import { z } from 'zod';
import type { AuditEntry, ChainHead } from './chain.js';
import { auditIdSchema, auditKindSchema, GENESIS_HASH, MAX_AUDIT_STRING } from './chain.js';

/** Entries one query returns at most. */
export const MAX_QUERY_LIMIT = 10_000;

/** Filters for AuditStorage.query. Results are in seq order. */
export interface AuditQuery {
  readonly federationId?: string;
  /** Entries where this DID is the actor or the subject. */
  readonly mesh?: string;
  /** at >= since. */
  readonly since?: number;
  /** at < until. */
  readonly until?: number;
  readonly kind?: string;
  /** Only entries after this seq (for paging). */
  readonly afterSeq?: number;
  /** At most 10,000. */
  readonly limit: number;
}

export const auditQuerySchema = z.strictObject({
  federationId: auditIdSchema(256).optional(),
  mesh: didSchema.max(MAX_AUDIT_STRING).optional(),
  since: TimestampMsSchema.optional(),
  until: TimestampMsSchema.optional(),
  kind: auditKindSchema.optional(),
  afterSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.number().int().min(1).max(MAX_QUERY_LIMIT),
});

export interface AuditStorage {
  /**
   * Writes the entries in one transaction, all or none. They must continue the stored chain: the
   * first has the stored head's seq + 1 and its hash as prevHash, the rest follow one by one. A
   * batch that does not (a seq already taken, a gap, another writer got there first) is refused
   * with an error and nothing is written: an entry is never overwritten.
   *
   * Resolves once the batch is durable. `onWritten`, when given, is called once the batch has
   * committed (a crash of this process keeps it; a power loss may not until it resolves); a
   * storage whose commits are durable at once calls it just before resolving. It is never called
   * for a batch that fails to commit.
   */
  appendBatch(entries: readonly AuditEntry[], onWritten?: () => void): Promise<void>;
  /** The last entry's seq and hash; undefined when empty. */
  head(): Promise<ChainHead | undefined>;
  /** Up to `limit` entries with seq >= fromSeq, in seq order. */
  range(fromSeq: number, limit: number): Promise<AuditEntry[]>;
  query(q: AuditQuery): Promise<AuditEntry[]>;
}

/** A batch does not continue the stored chain (the memory storage's refusal). */
export class AuditConflictError extends FmpError {
  constructor(message: string) {
    super('audit_conflict', message);
  }
}

/** The memory storage is full. */
export class AuditStorageFullError extends FmpError {
  readonly limit: number;
  constructor(limit: number) {
    super('audit_storage_full', `the in-memory audit storage holds its maximum of ${limit} entries`);
    this.limit = limit;
  }
}

export interface MemoryAuditStorageOptions {
  /** Default 1,000,000. */
  readonly maxEntries?: number;
  /**
   * Awaited after a batch is written and before it counts as durable: a disk that has not synced
   * yet, for tests of what waits for durable entries. Default: durable at once.
   */
  readonly beforeDurable?: () => Promise<void> | void;
}

export interface MemoryAuditStorage extends AuditStorage {
  /** The stored entries themselves (tests tamper with them to show verify catches it). */
  readonly entries: AuditEntry[];
}

/** Entries kept in process memory, copied in and out like a database would. */
export function memoryAuditStorage(options: MemoryAuditStorageOptions = {}): MemoryAuditStorage {
  const maxEntries = options.maxEntries ?? 1_000_000;
  const entries: AuditEntry[] = [];
  const matches = (e: AuditEntry, q: AuditQuery) =>
    (q.federationId === undefined || e.federationId === q.federationId) &&
    (q.mesh === undefined || e.actor === q.mesh || e.subject === q.mesh) &&
    (q.since === undefined || e.at >= q.since) &&
    (q.until === undefined || e.at < q.until) &&
    (q.kind === undefined || e.kind === q.kind) &&
    (q.afterSeq === undefined || e.seq > q.afterSeq);
  return {
    entries,
    async appendBatch(batch, onWritten) {
      const last = entries[entries.length - 1];
      let seq = last?.seq ?? 0;
      let prevHash = last?.hash ?? GENESIS_HASH;
      for (const e of batch) {
        if (e.seq !== seq + 1 || e.prevHash !== prevHash) {
          throw new AuditConflictError(
            `entry ${e.seq} does not continue the stored chain (expected seq ${seq + 1} after ${prevHash})`,
          );
        }
        seq = e.seq;
        prevHash = e.hash;
      }
      if (entries.length + batch.length > maxEntries) throw new AuditStorageFullError(maxEntries);
      for (const e of batch) entries.push(structuredClone(e) as AuditEntry);
      onWritten?.();
      await options.beforeDurable?.();
    },
    async head() {
      const last = entries[entries.length - 1];
      return last && { seq: last.seq, hash: last.hash };
    },
    async range(fromSeq, limit) {
      // Entries are stored in seq order; find the first with seq >= fromSeq.
      let lo = 0;
      let hi = entries.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (entries[mid]!.seq < fromSeq) lo = mid + 1;
        else hi = mid;
      }
      return entries.slice(lo, lo + limit).map((e) => structuredClone(e) as AuditEntry);
    },
    async query(q) {
      const out: AuditEntry[] = [];
      for (const e of entries) {
        if (out.length >= q.limit) break;
        if (matches(e, q)) out.push(structuredClone(e) as AuditEntry);
      }
      return out;
    },
  };
}
