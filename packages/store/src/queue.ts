/**
 * Group commit. Writes issued in the same tick, and those arriving while a transaction is in
 * flight, run together in one transaction: one fsync (a PostgreSQL commit; SQLite's WAL sync, see
 * wal-sync.ts) then covers the whole batch. A caller's promise settles only after its transaction
 * committed and, with a `durable` step, is on disk. A caller error (ValidationError,
 * NotFoundError, ...) is raised by an operation before it writes anything, so it fails that caller
 * alone; any other error rolls the transaction back and rejects every caller in it.
 */
import { type Kysely, sql } from 'kysely';
import { asStoreError, isCallerError, StoreClosedError, StoreOverloadedError } from './errors.js';
import type { Database, Dialect } from './schema-sql.js';

/** One write. It must raise caller errors before its first write statement. */
export type WriteOperation<T> = (db: Kysely<Database>) => Promise<T>;

interface Task {
  readonly run: WriteOperation<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export interface WriteQueueOptions {
  readonly maxPending: number;
  readonly maxBatch: number;
  /**
   * When a commit is durable only once this resolves (a SQLite file: the WAL's fdatasync, see
   * wal-sync.ts): callers are answered then, and the next batch does not wait for it.
   */
  readonly durable?: () => Promise<void>;
  /** Told of each committed transaction's writes (a SQLite file's checkpointer counts them). */
  readonly committed?: (writes: number) => void;
}

export class WriteQueue {
  readonly #db: Kysely<Database>;
  readonly #begin: string;
  readonly #options: WriteQueueOptions;
  #pending: Task[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;
  /** Writes committed and waiting for `durable`; they count against maxPending. */
  #syncing = 0;
  #synced: Promise<void> = Promise.resolve();
  transactions = 0;
  writes = 0;

  constructor(db: Kysely<Database>, dialect: Dialect, options: WriteQueueOptions) {
    this.#db = db;
    // SQLite: take the write lock at BEGIN so a read-then-write never fails to upgrade it (SQLITE_BUSY
    // mid-transaction); busy_timeout then covers other processes. PostgreSQL locks rows (FOR UPDATE).
    this.#begin = dialect === 'sqlite' ? 'begin immediate' : 'begin';
    this.#options = options;
  }

  get pending(): number {
    return this.#pending.length + this.#syncing;
  }

  /** Queues a write; settles after the transaction that carries it commits or fails. */
  enqueue<T>(run: WriteOperation<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    if (this.#pending.length + this.#syncing >= this.#options.maxPending) {
      return Promise.reject(new StoreOverloadedError(this.#options.maxPending));
    }
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ run, resolve: resolve as (value: unknown) => void, reject });
      // setImmediate, not a microtask: writes issued after an await in the same tick join the batch.
      this.#draining ??= new Promise<void>((done) => setImmediate(() => this.#drain().finally(done)));
    });
  }

  /** Refuses new writes and waits for the queued ones. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#draining) await this.#draining;
    await this.#synced;
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#options.maxBatch);
      await this.#commit(batch);
    }
    this.#draining = undefined;
  }

  async #commit(batch: Task[]): Promise<void> {
    this.transactions++;
    this.writes += batch.length;
    const outcomes: Outcome[] = [];
    try {
      await this.#db.connection().execute(async (conn) => {
        await sql.raw(this.#begin).execute(conn);
        try {
          for (const task of batch) {
            try {
              outcomes.push({ ok: true, value: await task.run(conn) });
            } catch (error) {
              if (!isCallerError(error)) throw error;
              outcomes.push({ ok: false, error });
            }
          }
          await sql.raw('commit').execute(conn);
        } catch (error) {
          await sql
            .raw('rollback')
            .execute(conn)
            .catch(() => {});
          throw error;
        }
      });
    } catch (cause) {
      const error = asStoreError(cause, `a write transaction of ${batch.length} operations failed`);
      for (const task of batch) task.reject(error);
      return;
    }
    this.#options.committed?.(batch.length);
    const answer = () =>
      batch.forEach((task, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) task.resolve(outcome.value);
        else task.reject(outcome.error);
      });
    const durable = this.#options.durable;
    if (!durable) {
      answer();
      return;
    }
    this.#syncing += batch.length;
    this.#synced = durable().then(
      () => {
        this.#syncing -= batch.length;
        answer();
      },
      (cause: unknown) => {
        this.#syncing -= batch.length;
        const error = asStoreError(cause, 'a committed write could not be made durable');
        for (const task of batch) task.reject(error);
      },
    );
  }
}
