/** The dialect-independent Store: lifecycle, migrations, the write queue, the aggregates. */
import { type Kysely, Migrator } from 'kysely';
import { auditStore, vaultStore } from './audit.js';
import type { AuditWriter } from './audit-writer.js';
import type { Checkpointer } from './checkpointer.js';
import type { Context } from './context.js';
import { guardRead } from './context.js';
import { StoreClosedError, StoreError, validate } from './errors.js';
import { federationStore } from './federations.js';
import { ledgerLogStore } from './ledger.js';
import { meshOperationStore } from './mesh-operations.js';
import { meshStore } from './meshes.js';
import { WriteQueue } from './queue.js';
import { type Database, type Dialect, migrations } from './schema-sql.js';
import { StoreOptionsSchema } from './schemas.js';
import { trustStore } from './trust.js';
import type { Store, StoreOptions } from './types.js';
import type { WalSync } from './wal-sync.js';

export interface Backend {
  readonly dialect: Dialect;
  /** Opens the connection (file or pool). */
  connect(): Promise<Kysely<Database>>;
  /** Where the Migrator keeps its own tables (PostgreSQL schema isolation). */
  readonly migrationTableSchema?: string;
  /** Makes the main connection's commits durable off the event loop (a SQLite file). */
  durability?(): WalSync | undefined;
  /**
   * A writer for audit appends off the main thread (after migrations), when the backend has one;
   * `durability` is the store's own (its syncs cover the audit's commits on the same file too).
   */
  auditWriter?(maxPending: number, durability: WalSync | undefined): AuditWriter | undefined;
  /** Checkpoints the main connection's WAL off the event loop (a SQLite file), told of its commits. */
  checkpointer?(): Checkpointer | undefined;
}

export function createStore(backend: Backend, options: StoreOptions = {}): Store {
  const tuning = validate(StoreOptionsSchema, options, 'store options');
  let db: Kysely<Database> | undefined;
  let queue: WriteQueue | undefined;
  let durability: WalSync | undefined;
  let checkpointer: Checkpointer | undefined;
  let auditWriter: AuditWriter | undefined;
  let auditWriterTried = false;
  let state: 'new' | 'opening' | 'open' | 'closed' = 'new';
  let opening: Promise<void> | undefined;

  const ctx: Context = {
    dialect: backend.dialect,
    maxSessionsPerMesh: tuning.maxSessionsPerMesh ?? 256,
    read(run) {
      if (state !== 'open' || !db) return Promise.reject(new StoreClosedError());
      const conn = db;
      return guardRead(() => run(conn));
    },
    write(run) {
      if (state !== 'open' || !queue) return Promise.reject(new StoreClosedError());
      return queue.enqueue(run);
    },
    get auditWriter() {
      if (state !== 'open') return undefined;
      // Started on the first audit append: a hub's store, which audits nothing, needs no thread.
      if (!auditWriter && !auditWriterTried) {
        auditWriterTried = true;
        try {
          auditWriter = backend.auditWriter?.(tuning.maxPendingWrites ?? 10_000, durability);
        } catch (cause) {
          throw new StoreError(`cannot start the ${backend.dialect} store's audit writer`, { cause });
        }
      }
      return auditWriter;
    },
  };

  const start = async () => {
    let conn: Kysely<Database>;
    try {
      conn = await backend.connect();
    } catch (cause) {
      throw new StoreError(`cannot open the ${backend.dialect} store`, { cause });
    }
    const migrator = new Migrator({
      db: conn,
      provider: migrations(backend.dialect),
      ...(backend.migrationTableSchema ? { migrationTableSchema: backend.migrationTableSchema } : {}),
    });
    let error: unknown;
    for (let attempt = 0; ; attempt++) {
      ({ error } = await migrator.migrateToLatest().catch((e: unknown) => ({ error: e })));
      if (!error || attempt >= 5 || !schemaDroppedMeanwhile(error)) break;
      await new Promise((r) => setTimeout(r, 25 * (attempt + 1)));
    }
    if (error) {
      await conn.destroy().catch(() => {});
      throw new StoreError(`migrating the ${backend.dialect} store failed`, { cause: error });
    }
    const sync = backend.durability?.();
    try {
      await sync?.sync(); // the migrations' commits
    } catch (error) {
      await sync?.close().catch(() => {});
      await conn.destroy().catch(() => {});
      throw error;
    }
    durability = sync;
    db = conn;
    const checkpoints = backend.checkpointer?.();
    checkpointer = checkpoints;
    queue = new WriteQueue(conn, backend.dialect, {
      maxPending: tuning.maxPendingWrites ?? 10_000,
      maxBatch: tuning.maxBatchSize ?? 256,
      ...(sync ? { durable: () => sync.sync() } : {}),
      ...(checkpoints ? { committed: (writes: number) => checkpoints.committed(writes) } : {}),
    });
    state = 'open';
  };

  return {
    kind: backend.dialect,
    open() {
      if (state === 'open') return Promise.resolve();
      if (state === 'closed') {
        return Promise.reject(new StoreClosedError('a closed store cannot be reopened; create a new one'));
      }
      if (!opening) {
        state = 'opening';
        opening = start().catch((error: unknown) => {
          opening = undefined;
          state = 'new';
          throw error;
        });
      }
      return opening;
    },
    async close() {
      if (state === 'opening') await opening?.catch(() => {});
      if (state === 'closed') return;
      state = 'closed';
      // Queued writes still commit; reads were refused from here on.
      await queue?.close();
      await checkpointer?.close();
      // The audit writer's syncs go through `durability`: it closes first.
      await auditWriter?.close();
      await durability?.close().catch(() => {});
      await db?.destroy().catch(() => {});
      db = undefined;
    },
    meshOperations: meshOperationStore(ctx),
    federations: federationStore(ctx),
    meshes: meshStore(ctx),
    trust: trustStore(ctx),
    audit: auditStore(ctx),
    vault: vaultStore(ctx),
    ledgerLogs: ledgerLogStore(ctx),
    stats() {
      return {
        transactions: (queue?.transactions ?? 0) + (auditWriter?.transactions ?? 0),
        writes: (queue?.writes ?? 0) + (auditWriter?.writes ?? 0),
        pending: queue?.pending ?? 0,
        syncs: durability?.syncs ?? 0,
        checkpoints: checkpointer?.checkpoints ?? 0,
      };
    },
  };
}

/**
 * The migrator checks for its table by introspecting every schema on the server; a schema another
 * client drops meanwhile (other hubs' or tests' schemas) fails that query with 3F000 naming the
 * dropped schema. That is not our failure: the check is retried (a few times, then it is reported).
 */
function schemaDroppedMeanwhile(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === '3F000';
}
