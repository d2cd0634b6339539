/**
 * Leaves of verifiable logs (issue 7): @fmp/ledger's LogStorage, implemented structurally (the
 * store does not import @fmp/ledger). A TransparencyLog numbers its leaves itself and acknowledges
 * an entry only once its batch resolved here, so a batch is one transaction of the write queue
 * (group-committed with every other write, durable when it resolves) and must land exactly where
 * this writer believes the log ends.
 */
import { CompiledQuery, type Kysely, sql } from 'kysely';
import { z } from 'zod';
import type { Context } from './context.js';
import {
  isCallerError,
  LedgerConflictError,
  StoreCorruptError,
  ValidationError,
  validate,
} from './errors.js';
import { isWellFormed } from './json.js';
import type { Database, Dialect } from './schema-sql.js';
import type { LedgerLogStorage, LedgerLogStore } from './types.js';

/** Largest leaf (TransparencyLog's default maxEntryBytes). */
export const MAX_LEDGER_LEAF_BYTES = 1024 * 1024;
/** Leaves per appendBatch (TransparencyLog writes at most 4,096 by default). */
export const MAX_LEDGER_BATCH = 10_000;
/** Leaves per leafRange (TransparencyLog reads 10,000 at a time when it opens). */
export const MAX_LEDGER_RANGE = 10_000;
const MAX_NAME_CHARS = 200;
/** Bound parameters per statement (SQLITE_MAX_VARIABLE_NUMBER; PostgreSQL's 16-bit count). */
const MAX_PARAMETERS: Readonly<Record<Dialect, number>> = { sqlite: 32_766, postgres: 65_535 };
/** Leaf bytes per insert statement, so a batch of large leaves goes in several statements. */
const MAX_STATEMENT_BYTES = 8 * 1024 * 1024;
const COLUMNS = 3;

// biome-ignore lint/suspicious/noControlCharactersInRegex: this is the check for them
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const NameSchema = z
  .string()
  .min(1)
  .max(MAX_NAME_CHARS)
  .refine((s) => isWellFormed.call(s), 'must be well-formed unicode')
  .refine((s) => !CONTROL.test(s), 'must not contain control characters');

const LeavesSchema = z
  .array(z.instanceof(Uint8Array, { message: 'a leaf must be a Uint8Array' }))
  .max(MAX_LEDGER_BATCH)
  .superRefine((leaves, ctx) => {
    leaves.forEach((leaf, i) => {
      if (leaf.byteLength > MAX_LEDGER_LEAF_BYTES) {
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `must be at most ${MAX_LEDGER_LEAF_BYTES} bytes`,
        });
      }
    });
  });

const position = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const RangeSchema = z
  .strictObject({ start: position, end: position })
  .refine((r) => r.end >= r.start, { message: 'end is before start', path: ['end'] })
  .refine((r) => r.end - r.start <= MAX_LEDGER_RANGE, {
    message: `at most ${MAX_LEDGER_RANGE} leaves per read`,
    path: ['end'],
  });

/** The number of leaves stored: the highest index plus one (indexes run from 0 without gaps). */
async function storedSize(db: Kysely<Database>, name: string): Promise<number> {
  const row = await db
    .selectFrom('ledger_leaves')
    .select((eb) => eb.fn.max('idx').as('last'))
    .where('log_name', '=', name)
    .executeTakeFirst();
  return row?.last === null || row?.last === undefined ? 0 : Number(row.last) + 1;
}

/** Splits leaves into insert statements under the dialect's parameter limit and MAX_STATEMENT_BYTES. */
function chunks(leaves: readonly Buffer[], dialect: Dialect): Buffer[][] {
  const perStatement = Math.floor(MAX_PARAMETERS[dialect] / COLUMNS);
  const out: Buffer[][] = [];
  let current: Buffer[] = [];
  let bytes = 0;
  for (const leaf of leaves) {
    if (current.length > 0 && (current.length >= perStatement || bytes + leaf.length > MAX_STATEMENT_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(leaf);
    bytes += leaf.length;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * One multi-row insert from index `first`. ON CONFLICT DO NOTHING rather than an error: a unique
 * violation would abort the whole PostgreSQL transaction, failing every write group-committed with it.
 */
function insertStatement(name: string, first: number, leaves: readonly Buffer[], dialect: Dialect) {
  const params: unknown[] = [];
  const tuples: string[] = [];
  leaves.forEach((leaf, i) => {
    const n = params.push(name, first + i, leaf);
    tuples.push(dialect === 'sqlite' ? '(?,?,?)' : `($${n - 2},$${n - 1},$${n})`);
  });
  return CompiledQuery.raw(
    `insert into ledger_leaves (log_name, idx, leaf) values ${tuples.join(',')} on conflict (log_name, idx) do nothing`,
    params,
  );
}

class LedgerLog implements LedgerLogStorage {
  readonly #ctx: Context;
  readonly #name: string;
  /** Where this writer takes the log to end; undefined until first seen. */
  #end: number | undefined;

  constructor(ctx: Context, name: string) {
    this.#ctx = ctx;
    this.#name = name;
  }

  async size(): Promise<number> {
    const size = await this.#ctx.read((db) => storedSize(db, this.#name));
    this.#end ??= size;
    return size;
  }

  async appendBatch(input: readonly Uint8Array[]): Promise<void> {
    // Copied now: the caller may reuse its arrays before the transaction runs.
    const leaves = validate(LeavesSchema, input, 'ledger leaves').map((leaf) => Buffer.from(leaf));
    if (leaves.length === 0) return;
    const parts = chunks(leaves, this.#ctx.dialect);
    const name = this.#name;
    // Where this batch started, once its transaction ran.
    let from: number | undefined;
    try {
      await this.#ctx.write(async (db) => {
        // Read inside the transaction: under SQLite it holds the write lock from BEGIN, so no one
        // appends between this read and the commit.
        const stored = await storedSize(db, name);
        if (this.#end !== undefined && stored !== this.#end) {
          throw new LedgerConflictError(name, this.#end, stored);
        }
        from = stored;
        // PostgreSQL: a writer in another process may have read the same size and insert the same
        // indexes; whichever commits second inserts nothing for those rows. Its batch is then undone
        // to the savepoint, so it fails alone and the writes sharing its transaction still commit.
        await sql.raw('savepoint fmp_ledger_append').execute(db);
        let inserted = 0;
        let at = stored;
        for (const part of parts) {
          const result = await db.executeQuery(insertStatement(name, at, part, this.#ctx.dialect));
          inserted += Number(result.numAffectedRows ?? 0n);
          at += part.length;
        }
        if (inserted !== leaves.length) {
          await sql.raw('rollback to savepoint fmp_ledger_append').execute(db);
          await sql.raw('release savepoint fmp_ledger_append').execute(db);
          this.#end ??= stored;
          throw new LedgerConflictError(name, stored, await storedSize(db, name));
        }
        await sql.raw('release savepoint fmp_ledger_append').execute(db);
        // Set before the commit, so a second batch of this handle in the same transaction follows it.
        this.#end = stored + leaves.length;
      });
    } catch (error) {
      // The transaction rolled back: the log ends where this batch started (and where an earlier
      // batch of this handle in the same transaction started, if any). Should it have committed
      // after all (a connection lost during COMMIT), the next batch finds more and conflicts.
      if (from !== undefined && !isCallerError(error) && this.#end !== undefined && this.#end > from) {
        this.#end = from;
      }
      throw error;
    }
  }

  async leafRange(start: number, end: number): Promise<Uint8Array[]> {
    const r = validate(RangeSchema, { start, end }, 'ledger leaf range');
    const name = this.#name;
    const rows =
      r.start === r.end
        ? []
        : await this.#ctx.read((db) =>
            db
              .selectFrom('ledger_leaves')
              .select(['idx', 'leaf'])
              .where('log_name', '=', name)
              .where('idx', '>=', r.start)
              .where('idx', '<', r.end)
              .orderBy('idx')
              .execute(),
          );
    const leaves = rows.map((row, i) => {
      if (Number(row.idx) !== r.start + i || !(row.leaf instanceof Uint8Array)) {
        throw new StoreCorruptError(`ledger log ${JSON.stringify(name)} has no leaf ${r.start + i}`);
      }
      // A copy as a plain Uint8Array (drivers return Buffers over shared pools).
      return Uint8Array.from(row.leaf);
    });
    if (leaves.length < r.end - r.start || r.start === r.end) {
      const size = await this.#ctx.read((db) => storedSize(db, name));
      if (r.end > size) {
        throw new ValidationError(`leaf range [${r.start}, ${r.end}) ends past the log size ${size}`, [
          { path: 'end', message: `must be at most ${size}` },
        ]);
      }
      if (leaves.length < r.end - r.start) {
        throw new StoreCorruptError(
          `ledger log ${JSON.stringify(name)} has no leaf ${r.start + leaves.length} below its size ${size}`,
        );
      }
    }
    return leaves;
  }
}

export function ledgerLogStore(ctx: Context): LedgerLogStore {
  return {
    open(name) {
      return new LedgerLog(ctx, validate(NameSchema, name, 'ledger log name'));
    },
  };
}
