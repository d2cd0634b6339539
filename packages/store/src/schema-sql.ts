/**
 * Tables and in-code migrations (Kysely Migrator). Times are BIGINT Unix milliseconds; lists are
 * JSON text so one column type works on both SQLite and PostgreSQL.
 */
import { type Generated, type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

export interface MeshOperationsTable {
  id: Generated<number>;
  did: string;
  seq: number;
  body: string;
}

export interface FederationsTable {
  federation_id: string;
  handshake_id: string;
  source_mesh_id: string;
  target_mesh_id: string;
  status: string;
  capabilities: string;
  purpose: string;
  min_trust_score: number;
  routing_endpoint: string;
  path: string;
  created_at: number;
  expires_at: number;
  updated_at: number;
  status_reason: string | null;
}

export interface MeshesTable {
  mesh_id: string;
  region: string;
  capabilities: string;
  home_hub: string;
  credential_issuer: string;
  credential_expires_at: number;
  trust_score: number;
  first_seen_at: number;
  last_seen_at: number;
  /** Closed sessions folded out of mesh_sessions (bounded per mesh): count, time, and span. */
  folded_sessions: Generated<number>;
  folded_connected_ms: Generated<number>;
  folded_from: number | null;
  folded_until: number | null;
  /** The credential the mesh last authenticated with, canonical JSON (0005). */
  credential: string | null;
}

export interface MeshCapabilitiesTable {
  mesh_id: string;
  capability: string;
}

export interface MeshSessionsTable {
  id: Generated<number>;
  mesh_id: string;
  opened_at: number;
  closed_at: number | null;
}

/** The trust engine's state: each row's JSON object as text (written and read back verbatim). */
export interface TrustSubjectsTable {
  did: string;
  state: string;
  updated_at: number;
}

export interface TrustEdgesTable {
  from_did: string;
  to_did: string;
  state: string;
  updated_at: number;
}

export interface TrustAttestationsTable {
  id: string;
  attester: string;
  subject: string;
  body: string;
  expires_at: number;
}

/**
 * The audit chain: the fields queries filter on in columns, the rest of the entry as JSON text
 * (`body`). An entry is rebuilt from both, so every stored byte is covered by its hash.
 */
export interface AuditEntriesTable {
  seq: number;
  at: number;
  kind: string;
  actor: string;
  subject: string | null;
  federation_id: string | null;
  body: string;
  prev_hash: string;
  hash: string;
}

export interface VaultKeysTable {
  subject: string;
  key: Uint8Array;
}

export interface VaultPayloadsTable {
  action_id: string;
  subject: string;
  retain_until: number;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

/** A leaf of a named verifiable log (@fmp/ledger): its exact bytes at its index. */
export interface LedgerLeavesTable {
  log_name: string;
  idx: number;
  leaf: Uint8Array;
}

export interface Database {
  mesh_operations: MeshOperationsTable;
  federations: FederationsTable;
  meshes: MeshesTable;
  mesh_capabilities: MeshCapabilitiesTable;
  mesh_sessions: MeshSessionsTable;
  trust_subjects: TrustSubjectsTable;
  trust_edges: TrustEdgesTable;
  trust_attestations: TrustAttestationsTable;
  audit_entries: AuditEntriesTable;
  vault_keys: VaultKeysTable;
  vault_payloads: VaultPayloadsTable;
  ledger_leaves: LedgerLeavesTable;
}

function initial(dialect: Dialect): Migration {
  // Only the auto-increment key differs between the two dialects.
  const serial = (db: Kysely<unknown>, table: string) =>
    dialect === 'sqlite'
      ? db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      : db.schema.createTable(table).addColumn('id', 'bigserial', (c) => c.primaryKey());
  return {
    async up(db) {
      await serial(db, 'mesh_operations')
        .addColumn('did', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        // Two hubs sharing a database cannot both append a different op at one position (a fork).
        .addUniqueConstraint('mesh_operations_did_seq', ['did', 'seq'])
        .execute();

      await db.schema
        .createTable('federations')
        .addColumn('federation_id', 'text', (c) => c.primaryKey())
        .addColumn('handshake_id', 'text', (c) => c.notNull())
        .addColumn('source_mesh_id', 'text', (c) => c.notNull())
        .addColumn('target_mesh_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) =>
          c.notNull().check(sql`status in ('active', 'suspended', 'expired', 'terminated')`),
        )
        .addColumn('capabilities', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('min_trust_score', 'double precision', (c) => c.notNull())
        .addColumn('routing_endpoint', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('status_reason', 'text')
        .execute();
      await db.schema.createIndex('federations_source').on('federations').column('source_mesh_id').execute();
      await db.schema.createIndex('federations_target').on('federations').column('target_mesh_id').execute();
      await db.schema
        .createIndex('federations_status_expiry')
        .on('federations')
        .columns(['status', 'expires_at'])
        .execute();

      await db.schema
        .createTable('meshes')
        .addColumn('mesh_id', 'text', (c) => c.primaryKey())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('capabilities', 'text', (c) => c.notNull())
        .addColumn('home_hub', 'text', (c) => c.notNull())
        .addColumn('credential_issuer', 'text', (c) => c.notNull())
        .addColumn('credential_expires_at', 'bigint', (c) => c.notNull())
        .addColumn('trust_score', 'double precision', (c) => c.notNull())
        .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('folded_sessions', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('folded_connected_ms', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('folded_from', 'bigint')
        .addColumn('folded_until', 'bigint')
        .execute();
      await db.schema
        .createIndex('meshes_region_trust')
        .on('meshes')
        .columns(['region', 'trust_score'])
        .execute();
      await db.schema.createIndex('meshes_trust').on('meshes').column('trust_score').execute();

      await db.schema
        .createTable('mesh_capabilities')
        .addColumn('mesh_id', 'text', (c) => c.notNull().references('meshes.mesh_id').onDelete('cascade'))
        .addColumn('capability', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('mesh_capabilities_pk', ['mesh_id', 'capability'])
        .execute();
      await db.schema
        .createIndex('mesh_capabilities_capability')
        .on('mesh_capabilities')
        .columns(['capability', 'mesh_id'])
        .execute();

      await serial(db, 'mesh_sessions')
        .addColumn('mesh_id', 'text', (c) => c.notNull().references('meshes.mesh_id').onDelete('cascade'))
        .addColumn('opened_at', 'bigint', (c) => c.notNull())
        .addColumn('closed_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('mesh_sessions_mesh')
        .on('mesh_sessions')
        .columns(['mesh_id', 'opened_at'])
        .execute();
    },
    async down(db) {
      for (const table of [
        'mesh_sessions',
        'mesh_capabilities',
        'meshes',
        'federations',
        'mesh_operations',
      ]) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  };
}

/**
 * The trust engine's tables (issue 5). JSON is text in both dialects, as elsewhere: jsonb would
 * reorder keys and drop duplicates, and the engine expects its snapshots back byte for byte.
 */
const trust: Migration = {
  async up(db) {
    await db.schema
      .createTable('trust_subjects')
      .addColumn('did', 'text', (c) => c.primaryKey())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('trust_edges')
      .addColumn('from_did', 'text', (c) => c.notNull())
      .addColumn('to_did', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('trust_edges_pk', ['from_did', 'to_did'])
      .execute();

    await db.schema
      .createTable('trust_attestations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('attester', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('trust_attestations_expiry')
      .on('trust_attestations')
      .column('expires_at')
      .execute();
    await db.schema
      .createIndex('trust_attestations_subject')
      .on('trust_attestations')
      .column('subject')
      .execute();
  },
  async down(db) {
    for (const table of ['trust_attestations', 'trust_edges', 'trust_subjects']) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};

/**
 * The audit trail and the payload vault (issue 6). SQLite's seq is `integer primary key`, the
 * rowid itself: appends then write one b-tree less. Audit entries are never updated or deleted
 * by the store (retention deletes payload copies, not audit entries).
 */
function audit(dialect: Dialect): Migration {
  const bytes = dialect === 'sqlite' ? 'blob' : 'bytea';
  return {
    async up(db) {
      await db.schema
        .createTable('audit_entries')
        .addColumn('seq', dialect === 'sqlite' ? 'integer' : 'bigint', (c) =>
          c.primaryKey().check(sql`seq >= 1`),
        )
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('subject', 'text')
        .addColumn('federation_id', 'text')
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      // Queries filter on one of these and return entries in seq order. SQLite's indexes end with
      // the rowid (seq) already; PostgreSQL's get it as a second column.
      for (const column of ['federation_id', 'actor', 'subject', 'at'] as const) {
        await db.schema
          .createIndex(`audit_entries_${column}`)
          .on('audit_entries')
          .columns(dialect === 'sqlite' ? [column] : [column, 'seq'])
          .execute();
      }

      await db.schema
        .createTable('vault_keys')
        .addColumn('subject', 'text', (c) => c.primaryKey())
        .addColumn('key', bytes, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('vault_payloads')
        .addColumn('action_id', 'text', (c) => c.primaryKey())
        // No ciphertext outlives its key: deleting a key (crypto-shredding) deletes its payloads.
        .addColumn('subject', 'text', (c) => c.notNull().references('vault_keys.subject').onDelete('cascade'))
        .addColumn('retain_until', 'bigint', (c) => c.notNull())
        .addColumn('nonce', bytes, (c) => c.notNull())
        .addColumn('ciphertext', bytes, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('vault_payloads_subject').on('vault_payloads').column('subject').execute();
      await db.schema
        .createIndex('vault_payloads_retain_until')
        .on('vault_payloads')
        .column('retain_until')
        .execute();
    },
    async down(db) {
      for (const table of ['vault_payloads', 'vault_keys', 'audit_entries']) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  };
}

/**
 * Leaves of verifiable logs (issue 7), several named logs per store: a hub's own ledger and those
 * it mirrors. A leaf is kept as the exact bytes its hash covers; (log_name, idx) is the primary key,
 * so a position is never written twice. A rowid table, not WITHOUT ROWID: leaves reach 1 MiB, and
 * SQLite keeps large rows better out of the key's b-tree.
 */
function ledger(dialect: Dialect): Migration {
  return {
    async up(db) {
      await db.schema
        .createTable('ledger_leaves')
        .addColumn('log_name', 'text', (c) => c.notNull())
        .addColumn('idx', dialect === 'sqlite' ? 'integer' : 'bigint', (c) =>
          c.notNull().check(sql`idx >= 0`),
        )
        .addColumn('leaf', dialect === 'sqlite' ? 'blob' : 'bytea', (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_leaves_pk', ['log_name', 'idx'])
        .execute();
    },
    async down(db) {
      await db.schema.dropTable('ledger_leaves').ifExists().execute();
    },
  };
}

/**
 * The credential each mesh last authenticated with, for the hub's periodic re-check: kept here
 * rather than in the hub's memory (about 1 KB per mesh, 10,000 sessions a hub).
 */
const meshCredential: Migration = {
  async up(db) {
    await db.schema.alterTable('meshes').addColumn('credential', 'text').execute();
  },
  async down(db) {
    await db.schema.alterTable('meshes').dropColumn('credential').execute();
  },
};

/** Migrations live in code (no files to ship); names sort in the order they run. */
export function migrations(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      return {
        '0001_initial': initial(dialect),
        '0002_trust': trust,
        '0003_audit': audit(dialect),
        '0004_ledger': ledger(dialect),
        '0005_mesh_credential': meshCredential,
      };
    },
  };
}
