/** Federations: the hub's routing entries and their lifecycle (one implementation, both dialects). */
import { type Kysely, type Selectable, sql } from 'kysely';
import { z } from 'zod';
import type { Context } from './context.js';
import { parseJsonColumn } from './context.js';
import {
  AlreadyExistsError,
  fromRow,
  InvalidTransitionError,
  NotFoundError,
  ValidationError,
  validate,
} from './errors.js';
import type { Database, FederationsTable } from './schema-sql.js';
import {
  FederationStatusSchema,
  federationIdSchema,
  limitSchema,
  meshDidSchema,
  reasonSchema,
  StoredFederationSchema,
  timestampSchema,
} from './schemas.js';
import type {
  FederationListOptions,
  FederationPageOptions,
  FederationStatus,
  FederationStore,
  StoredFederation,
} from './types.js';

const NEXT: Readonly<Record<FederationStatus, readonly FederationStatus[]>> = {
  active: ['suspended', 'expired', 'terminated'],
  suspended: ['active', 'expired', 'terminated'],
  expired: [],
  terminated: [],
};

/** The federation state machine: active <-> suspended; either -> expired | terminated; the last two are final. */
export function canTransition(from: FederationStatus, to: FederationStatus): boolean {
  return NEXT[from].includes(to);
}

const ListOptionsSchema = z.strictObject({
  status: FederationStatusSchema.optional(),
  limit: limitSchema(100_000).optional(),
});
const LimitOnlySchema = z.strictObject({ limit: limitSchema(100_000).optional() });
const PageOptionsSchema = z.strictObject({
  statuses: z.array(FederationStatusSchema).min(1).max(4).optional(),
  after: federationIdSchema.optional(),
  limit: limitSchema(100_000).optional(),
});

function toRow(f: StoredFederation): FederationsTable {
  return {
    federation_id: f.federationId,
    handshake_id: f.handshakeId,
    source_mesh_id: f.sourceMeshId,
    target_mesh_id: f.targetMeshId,
    status: f.status,
    capabilities: JSON.stringify(f.capabilities),
    purpose: f.purpose,
    min_trust_score: f.minTrustScore,
    routing_endpoint: f.routingEndpoint,
    path: JSON.stringify(f.path),
    created_at: f.createdAt,
    expires_at: f.expiresAt,
    updated_at: f.updatedAt,
    status_reason: f.statusReason ?? null,
  };
}

function fromFederationRow(row: Selectable<FederationsTable>): StoredFederation {
  return fromRow(
    StoredFederationSchema,
    {
      federationId: row.federation_id,
      handshakeId: row.handshake_id,
      sourceMeshId: row.source_mesh_id,
      targetMeshId: row.target_mesh_id,
      status: row.status,
      capabilities: parseJsonColumn(row.capabilities, 'capabilities'),
      purpose: row.purpose,
      minTrustScore: Number(row.min_trust_score),
      routingEndpoint: row.routing_endpoint,
      path: parseJsonColumn(row.path, 'path'),
      createdAt: Number(row.created_at),
      expiresAt: Number(row.expires_at),
      updatedAt: Number(row.updated_at),
      ...(row.status_reason === null ? {} : { statusReason: row.status_reason }),
    },
    'federation',
  );
}

function notBefore(at: number, f: StoredFederation, field: string): void {
  if (at < f.createdAt) {
    throw new ValidationError(`${field} is before the federation was created`, [
      { path: field, message: `must be >= createdAt (${f.createdAt})` },
    ]);
  }
}

export function federationStore(ctx: Context): FederationStore {
  /** The current row, locked against other hub processes until the batch commits (PostgreSQL). */
  const lock = async (db: Kysely<Database>, id: string): Promise<StoredFederation> => {
    const row = await db
      .selectFrom('federations')
      .selectAll()
      .where('federation_id', '=', id)
      .$if(ctx.dialect === 'postgres', (q) => q.forUpdate())
      .executeTakeFirst();
    if (!row) throw new NotFoundError('federation', id);
    return fromFederationRow(row);
  };

  return {
    async put(input) {
      const federation = validate(StoredFederationSchema, input, 'federation');
      if (federation.expiresAt <= federation.createdAt) {
        throw new ValidationError('invalid federation', [
          { path: 'expiresAt', message: 'must be after createdAt' },
        ]);
      }
      const row = toRow(federation);
      return ctx.write(async (db) => {
        // DO NOTHING, not an error: a unique violation would abort the whole batch on PostgreSQL.
        const result = await db
          .insertInto('federations')
          .values(row)
          .onConflict((oc) => oc.column('federation_id').doNothing())
          .executeTakeFirst();
        if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) {
          throw new AlreadyExistsError('federation', federation.federationId);
        }
      });
    },

    async get(federationId) {
      const id = validate(federationIdSchema, federationId, 'federation id');
      const row = await ctx.read((db) =>
        db.selectFrom('federations').selectAll().where('federation_id', '=', id).executeTakeFirst(),
      );
      if (!row) throw new NotFoundError('federation', id);
      return fromFederationRow(row);
    },

    async setStatus(federationId, status, reason, at) {
      const id = validate(federationIdSchema, federationId, 'federation id');
      const to = validate(FederationStatusSchema, status, 'federation status');
      const why = validate(reasonSchema, reason, 'status reason');
      const when = validate(timestampSchema, at, 'time');
      return ctx.write(async (db) => {
        const current = await lock(db, id);
        if (!canTransition(current.status, to)) throw new InvalidTransitionError(id, current.status, to);
        notBefore(when, current, 'at');
        await db
          .updateTable('federations')
          .set({ status: to, status_reason: why, updated_at: when })
          .where('federation_id', '=', id)
          .execute();
        return { ...current, status: to, statusReason: why, updatedAt: when };
      });
    },

    async renew(federationId, expiresAt, at = Date.now()) {
      const id = validate(federationIdSchema, federationId, 'federation id');
      const until = validate(timestampSchema, expiresAt, 'expiresAt');
      const when = validate(timestampSchema, at, 'time');
      return ctx.write(async (db) => {
        const current = await lock(db, id);
        if (current.status !== 'active' && current.status !== 'suspended') {
          throw new InvalidTransitionError(id, current.status, 'renewed');
        }
        notBefore(when, current, 'at');
        if (until <= current.createdAt) {
          throw new ValidationError('invalid renewal', [
            { path: 'expiresAt', message: 'must be after createdAt' },
          ]);
        }
        await db
          .updateTable('federations')
          .set({ expires_at: until, updated_at: when })
          .where('federation_id', '=', id)
          .execute();
        return { ...current, expiresAt: until, updatedAt: when };
      });
    },

    async listByMesh(meshDid, options: FederationListOptions = {}) {
      const did = validate(meshDidSchema, meshDid, 'mesh DID');
      const { status, limit = 1000 } = validate(ListOptionsSchema, options, 'list options');
      const rows = await ctx.read((db) =>
        db
          .selectFrom('federations')
          .selectAll()
          .where((eb) => eb.or([eb('source_mesh_id', '=', did), eb('target_mesh_id', '=', did)]))
          .$if(status !== undefined, (q) => q.where('status', '=', status!))
          .orderBy('created_at')
          .orderBy('federation_id')
          .limit(limit)
          .execute(),
      );
      return rows.map(fromFederationRow);
    },

    async list(options: FederationListOptions = {}) {
      const { status, limit = 100_000 } = validate(ListOptionsSchema, options, 'list options');
      const rows = await ctx.read((db) =>
        db
          .selectFrom('federations')
          .selectAll()
          .$if(status !== undefined, (q) => q.where('status', '=', status!))
          .orderBy('created_at')
          .orderBy('federation_id')
          .limit(limit)
          .execute(),
      );
      return rows.map(fromFederationRow);
    },

    async listActive(now, options = {}) {
      const t = validate(timestampSchema, now, 'time');
      const { limit = 100_000 } = validate(LimitOnlySchema, options, 'list options');
      const rows = await ctx.read((db) =>
        db
          .selectFrom('federations')
          .selectAll()
          .where('status', '=', 'active')
          .where('expires_at', '>', t)
          .orderBy('expires_at')
          .orderBy('federation_id')
          .limit(limit)
          .execute(),
      );
      return rows.map(fromFederationRow);
    },

    async listPage(options: FederationPageOptions = {}) {
      const { statuses, after, limit = 1000 } = validate(PageOptionsSchema, options, 'page options');
      // Keyset on the primary key: each page is a range scan of its index, however deep (OFFSET
      // would rescan every earlier page). One row more than the page tells whether another follows.
      // SQLite would rather take the (status, expires_at) index and sort every row left for each
      // page (quadratic over a restore); `+status` keeps that index out. PostgreSQL picks the key.
      const status = ctx.dialect === 'sqlite' ? sql<FederationStatus>`+status` : sql.ref('status');
      const rows = await ctx.read((db) =>
        db
          .selectFrom('federations')
          .selectAll()
          .$if(statuses !== undefined, (q) => q.where(status, 'in', statuses!))
          .$if(after !== undefined, (q) => q.where('federation_id', '>', after!))
          .orderBy('federation_id')
          .limit(limit + 1)
          .execute(),
      );
      const more = rows.length > limit;
      const federations = (more ? rows.slice(0, limit) : rows).map(fromFederationRow);
      return { federations, next: more ? federations.at(-1)!.federationId : undefined };
    },

    async expireDue(now, options = {}) {
      const t = validate(timestampSchema, now, 'time');
      const { limit = 10_000 } = validate(LimitOnlySchema, options, 'expire options');
      return ctx.write(async (db) => {
        const due = await db
          .selectFrom('federations')
          .select('federation_id')
          .where('status', 'in', ['active', 'suspended'])
          .where('expires_at', '<=', t)
          .orderBy('expires_at')
          .limit(limit)
          .$if(ctx.dialect === 'postgres', (q) => q.forUpdate())
          .execute();
        if (due.length === 0) return [];
        const expired = await db
          .updateTable('federations')
          .set({ status: 'expired', status_reason: 'expired', updated_at: t })
          .where(
            'federation_id',
            'in',
            due.map((r) => r.federation_id),
          )
          .where('status', 'in', ['active', 'suspended'])
          .returning('federation_id')
          .execute();
        return expired.map((r) => r.federation_id);
      });
    },

    async count(options = {}) {
      const { status } = validate(
        z.strictObject({ status: FederationStatusSchema.optional() }),
        options,
        'count options',
      );
      const row = await ctx.read((db) =>
        db
          .selectFrom('federations')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .$if(status !== undefined, (q) => q.where('status', '=', status!))
          .executeTakeFirstOrThrow(),
      );
      return Number(row.n);
    },
  };
}
