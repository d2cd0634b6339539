/** What every aggregate receives from its Store: the connection, the write queue, the tuning. */
import type { Kysely } from 'kysely';
import type { AuditWriter } from './audit-writer.js';
import { asStoreError, StoreCorruptError } from './errors.js';
import type { WriteOperation } from './queue.js';
import type { Database, Dialect } from './schema-sql.js';

export interface Context {
  readonly dialect: Dialect;
  readonly maxSessionsPerMesh: number;
  /** Runs a read on the open connection; driver errors become StoreError. */
  read<T>(run: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Queues a write for the next group commit. */
  write<T>(run: WriteOperation<T>): Promise<T>;
  /** Where audit appends go instead of `write`, when the backend has one (a SQLite file). */
  readonly auditWriter: AuditWriter | undefined;
}

/** A JSON column value, or StoreCorruptError. */
export function parseJsonColumn(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new StoreCorruptError(`stored ${what} is not JSON`, { cause });
  }
}

export async function guardRead<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    throw asStoreError(cause, 'a read failed');
  }
}
