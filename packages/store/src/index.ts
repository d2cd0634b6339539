/**
 * @fmp/store: persistence for hubs. SQLite (one file, the default) or PostgreSQL (cluster mode)
 * behind one `Store` interface: the did:mesh operation log, federations and attached meshes with
 * their uptime, the trust state, the audit trail and the leaves of verifiable logs. Concurrent
 * writes are group-committed; every record is validated with zod.
 *
 * @example
 * ```ts
 * import { MeshRegistry } from '@fmp/identity';
 * import { sqliteStore } from '@fmp/store';
 *
 * const store = sqliteStore({ path: 'data/hub.db' });
 * await store.open(); // runs migrations
 * const registry = await MeshRegistry.open({ store: store.meshOperations });
 * await store.federations.put(federation); // durable once it resolves
 * await store.federations.setStatus(federation.federationId, 'suspended', 'credential revoked', Date.now());
 * const restored = await store.federations.listActive(Date.now());
 * await registry.close();
 * await store.close();
 * ```
 * Cluster mode: `const store = await openStore({ kind: 'postgres', url: 'postgres://hub@db:5432/fmp' })`.
 */
import { z } from 'zod';
import { validate } from './errors.js';
import { type PostgresStoreOptions, postgresStore } from './postgres.js';
import { type SqliteStoreOptions, sqliteStore } from './sqlite.js';
import type { Store } from './types.js';

export { AuditConflictError, MAX_AUDIT_BATCH } from './audit.js';
export {
  AlreadyExistsError,
  InvalidTransitionError,
  LedgerConflictError,
  NotFoundError,
  StoreClosedError,
  StoreCorruptError,
  StoreError,
  StoreOverloadedError,
  ValidationError,
} from './errors.js';
export { canTransition } from './federations.js';
export { MAX_LEDGER_BATCH, MAX_LEDGER_LEAF_BYTES, MAX_LEDGER_RANGE } from './ledger.js';
export { MAX_MESH_CREDENTIAL_CHARS } from './meshes.js';
export { type PostgresStoreOptions, postgresStore } from './postgres.js';
export { FEDERATION_STATUSES, StoredFederationSchema, StoredMeshSchema } from './schemas.js';
export { type SqliteStoreOptions, sqliteStore } from './sqlite.js';
export type * from './types.js';

export type StoreConfig =
  | ({ readonly kind: 'sqlite' } & SqliteStoreOptions)
  | ({ readonly kind: 'postgres' } & PostgresStoreOptions);

const StoreConfigSchema = z.discriminatedUnion('kind', [
  z.looseObject({ kind: z.literal('sqlite'), path: z.string() }),
  z.looseObject({ kind: z.literal('postgres'), url: z.string() }),
]);

/** Builds the store a config names (each factory validates its options) and opens it. */
export async function openStore(config: StoreConfig): Promise<Store> {
  const { kind, ...options } = validate(StoreConfigSchema, config, 'store config') as StoreConfig;
  const store =
    kind === 'sqlite'
      ? sqliteStore(options as SqliteStoreOptions)
      : postgresStore(options as PostgresStoreOptions);
  await store.open();
  return store;
}
