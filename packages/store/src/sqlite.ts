/** SQLite (better-sqlite3): the default, one file under the hub's data directory. */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, type SqliteDatabase, SqliteDialect } from 'kysely';
import { z } from 'zod';
import { startAuditWriter } from './audit-writer.js';
import { AUTOCHECKPOINT_FALLBACK_PAGES, startCheckpointer } from './checkpointer.js';
import { validate } from './errors.js';
import type { Database as Tables } from './schema-sql.js';
import { createStore } from './store.js';
import type { Store, StoreOptions } from './types.js';
import { walSync } from './wal-sync.js';

export interface SqliteStoreOptions extends StoreOptions {
  /** The database file (created with its directory), or ':memory:'. */
  readonly path: string;
  /** How long a writer waits for another process's lock before failing. Default 5,000 ms. */
  readonly busyTimeoutMs?: number;
  /**
   * When a commit is durable. `full` (default): it has been fsynced, so it survives a power loss.
   * `normal` (WAL's synchronous=NORMAL): it is in the operating system's hands, so it survives the
   * process crashing but a power loss or kernel crash may drop the last commits (the file stays
   * consistent); no fsync per commit (0.14-0.34 ms each on the benchmark machine's disk, 12 µs without).
   */
  readonly synchronous?: 'full' | 'normal';
}

const SqliteOptionsSchema = z.looseObject({
  path: z.string().min(1).max(4096),
  busyTimeoutMs: z.number().int().min(0).max(600_000).optional(),
  synchronous: z.enum(['full', 'normal']).optional(),
});

/**
 * WAL, durable by default: a write is acknowledged to its caller once the WAL is fsynced, so it
 * survives a power loss, not only a process crash (`synchronous: 'normal'` only fsyncs at
 * checkpoints). The fsync runs off the event loop (wal-sync.ts), one for every commit made before
 * it; the group commit batches the writes of a tick into one transaction.
 */
export function sqliteStore(options: SqliteStoreOptions): Store {
  const {
    path,
    busyTimeoutMs = 5000,
    synchronous = 'full',
  } = validate(SqliteOptionsSchema, options, 'sqlite options');
  const { maxPendingWrites, maxBatchSize, maxSessionsPerMesh } = options;
  // Every connection to the file, the audit writer thread's too, is set up the same way, but for
  // `synchronous` on the main connection (below).
  const pragmasWith = (sync: 'FULL' | 'NORMAL') => [
    'journal_mode = WAL',
    `synchronous = ${sync}`,
    `busy_timeout = ${busyTimeoutMs}`,
    'foreign_keys = ON',
    // Deleted rows are overwritten in the file: an erased vault key must not linger in free pages.
    'secure_delete = ON',
  ];
  // A file's durable commits: NORMAL on the main connection, and the write queue answers after the
  // WAL's fdatasync off the event loop (wal-sync.ts). The audit writer's thread may wait for its own.
  const offLoopSync = synchronous === 'full' && path !== ':memory:';
  const pragmas = pragmasWith(synchronous === 'full' ? 'FULL' : 'NORMAL');
  const mainPragmas = offLoopSync ? pragmasWith('NORMAL') : pragmas;
  return createStore(
    {
      dialect: 'sqlite',
      async connect() {
        if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
        const database = new Database(path);
        try {
          for (const pragma of mainPragmas) database.pragma(pragma);
          // Its checkpoints run on a thread (checkpointer.ts); this is only their bound.
          if (path !== ':memory:') database.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_FALLBACK_PAGES}`);
        } catch (error) {
          database.close();
          throw error;
        }
        return new Kysely<Tables>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
      },
      durability: () => (offLoopSync ? walSync(path) : undefined),
      // Audit appends commit (and fsync) on a thread of their own; an in-memory database is one
      // connection's alone, so its appends stay on the main one.
      auditWriter: (maxPending, durability) =>
        path === ':memory:' ? undefined : startAuditWriter(path, pragmas, maxPending, durability),
      checkpointer: () => (path === ':memory:' ? undefined : startCheckpointer(path, pragmas)),
    },
    { maxPendingWrites, maxBatchSize, maxSessionsPerMesh },
  );
}

/**
 * The connection as kysely sees it, with each statement prepared once: kysely's SQLite driver
 * prepares every query it runs, and preparing costs more than running the store's small statements
 * (an insert of a federation's row: ~80 µs of the hub's time per handshake in a profile). The store's
 * queries are a fixed set of texts; the bounds keep statements with a varying text (batched inserts
 * of different sizes) from piling up. The store never streams, so no statement is in use twice.
 */
export function withStatementCache(database: Database.Database, max = 256, maxChars = 4096): SqliteDatabase {
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => database.close(),
    prepare(sql) {
      // A multi-row insert can run to megabytes of text; its prepare is small beside its run.
      if (sql.length > maxChars) return database.prepare(sql);
      let statement = statements.get(sql);
      if (statement) {
        statements.delete(sql); // most recently used last
      } else {
        statement = database.prepare(sql);
        if (statements.size >= max) statements.delete(statements.keys().next().value as string);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}
