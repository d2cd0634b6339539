/**
 * Meshes attached to this hub (what discovery lists) and their connection history (what the trust
 * engine reads as uptime). Closed sessions are kept per mesh up to `maxSessionsPerMesh`; older
 * ones are folded into counters on the mesh row, so the history stays bounded.
 */
import { type Kysely, type Selectable, sql } from 'kysely';
import { z } from 'zod';
import type { Context } from './context.js';
import { parseJsonColumn } from './context.js';
import { fromRow, NotFoundError, validate } from './errors.js';
import type { Database, MeshesTable } from './schema-sql.js';
import {
  MeshListOptionsSchema,
  meshDidSchema,
  StoredMeshSchema,
  timestampSchema,
  UptimeWindowSchema,
} from './schemas.js';
import type { MeshStore, StoredMesh, UptimeReport } from './types.js';

/** Longest credential text a mesh row keeps (a link frame is at most 1 MiB; credentials are ~1-3 KB). */
export const MAX_MESH_CREDENTIAL_CHARS = 1024 * 1024;
const credentialSchema = z.string().min(2).max(MAX_MESH_CREDENTIAL_CHARS);

/** The columns of a StoredMesh (not the credential text, read only by `credential`). */
const MESH_COLUMNS = [
  'mesh_id',
  'region',
  'capabilities',
  'home_hub',
  'credential_issuer',
  'credential_expires_at',
  'trust_score',
  'first_seen_at',
  'last_seen_at',
] as const;

function fromMeshRow(row: Pick<Selectable<MeshesTable>, (typeof MESH_COLUMNS)[number]>): StoredMesh {
  return fromRow(
    StoredMeshSchema,
    {
      meshId: row.mesh_id,
      region: row.region,
      capabilities: parseJsonColumn(row.capabilities, 'capabilities'),
      homeHub: row.home_hub,
      credentialIssuer: row.credential_issuer,
      credentialExpiresAt: Number(row.credential_expires_at),
      trustScore: Number(row.trust_score),
      firstSeenAt: Number(row.first_seen_at),
      lastSeenAt: Number(row.last_seen_at),
    },
    'mesh',
  );
}

const clamp = (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi);

export function meshStore(ctx: Context): MeshStore {
  const lockMesh = async (db: Kysely<Database>, meshId: string) => {
    const row = await db
      .selectFrom('meshes')
      .select(['mesh_id', 'last_seen_at'])
      .where('mesh_id', '=', meshId)
      .$if(ctx.dialect === 'postgres', (q) => q.forUpdate())
      .executeTakeFirst();
    if (!row) throw new NotFoundError('mesh', meshId);
    return { lastSeenAt: Number(row.last_seen_at) };
  };

  const close = async (db: Kysely<Database>, id: number, closedAt: number) => {
    await db.updateTable('mesh_sessions').set({ closed_at: closedAt }).where('id', '=', id).execute();
  };

  const touch = async (db: Kysely<Database>, meshId: string, at: number, lastSeenAt: number) => {
    if (at > lastSeenAt) {
      await db.updateTable('meshes').set({ last_seen_at: at }).where('mesh_id', '=', meshId).execute();
    }
  };

  /** Folds the oldest closed sessions beyond the bound into the mesh row's counters. */
  const fold = async (db: Kysely<Database>, meshId: string) => {
    const { n } = await db
      .selectFrom('mesh_sessions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('mesh_id', '=', meshId)
      .where('closed_at', 'is not', null)
      .executeTakeFirstOrThrow();
    const excess = Number(n) - ctx.maxSessionsPerMesh;
    if (excess <= 0) return;
    const old = await db
      .selectFrom('mesh_sessions')
      .select(['id', 'opened_at', 'closed_at'])
      .where('mesh_id', '=', meshId)
      .where('closed_at', 'is not', null)
      .orderBy('opened_at')
      .orderBy('id')
      .limit(excess)
      .execute();
    let connected = 0;
    let from = Number.POSITIVE_INFINITY;
    let until = 0;
    for (const s of old) {
      const opened = Number(s.opened_at);
      const closed = Number(s.closed_at);
      connected += closed - opened;
      from = Math.min(from, opened);
      until = Math.max(until, closed);
    }
    await db
      .deleteFrom('mesh_sessions')
      .where(
        'id',
        'in',
        old.map((s) => s.id),
      )
      .execute();
    await db
      .updateTable('meshes')
      .set({
        folded_sessions: sql`folded_sessions + ${old.length}`,
        folded_connected_ms: sql`folded_connected_ms + ${connected}`,
        folded_from: sql`coalesce(case when folded_from < ${from} then folded_from end, ${from})`,
        folded_until: sql`coalesce(case when folded_until > ${until} then folded_until end, ${until})`,
      })
      .where('mesh_id', '=', meshId)
      .execute();
  };

  return {
    async upsert(input, options) {
      const mesh = validate(StoredMeshSchema, input, 'mesh');
      const credential =
        options?.credential === undefined
          ? undefined
          : validate(credentialSchema, options.credential, 'credential');
      return ctx.write(async (db) => {
        await db
          .insertInto('meshes')
          .values({
            mesh_id: mesh.meshId,
            region: mesh.region,
            capabilities: JSON.stringify(mesh.capabilities),
            home_hub: mesh.homeHub,
            credential_issuer: mesh.credentialIssuer,
            credential_expires_at: mesh.credentialExpiresAt,
            trust_score: mesh.trustScore,
            first_seen_at: mesh.firstSeenAt,
            last_seen_at: mesh.lastSeenAt,
            credential: credential ?? null,
          })
          .onConflict((oc) =>
            oc.column('mesh_id').doUpdateSet((eb) => ({
              ...(credential === undefined ? {} : { credential: eb.ref('excluded.credential') }),
              region: eb.ref('excluded.region'),
              capabilities: eb.ref('excluded.capabilities'),
              home_hub: eb.ref('excluded.home_hub'),
              credential_issuer: eb.ref('excluded.credential_issuer'),
              credential_expires_at: eb.ref('excluded.credential_expires_at'),
              trust_score: eb.ref('excluded.trust_score'),
              // The earliest first sighting and the latest last sighting win.
              first_seen_at: sql`case when meshes.first_seen_at < excluded.first_seen_at then meshes.first_seen_at else excluded.first_seen_at end`,
              last_seen_at: sql`case when meshes.last_seen_at > excluded.last_seen_at then meshes.last_seen_at else excluded.last_seen_at end`,
            })),
          )
          .execute();
        await db.deleteFrom('mesh_capabilities').where('mesh_id', '=', mesh.meshId).execute();
        if (mesh.capabilities.length > 0) {
          await db
            .insertInto('mesh_capabilities')
            .values(mesh.capabilities.map((capability) => ({ mesh_id: mesh.meshId, capability })))
            .execute();
        }
      });
    },

    async get(meshId) {
      const id = validate(meshDidSchema, meshId, 'mesh DID');
      const row = await ctx.read((db) =>
        db.selectFrom('meshes').select(MESH_COLUMNS).where('mesh_id', '=', id).executeTakeFirst(),
      );
      if (!row) throw new NotFoundError('mesh', id);
      return fromMeshRow(row);
    },

    async credential(meshId) {
      const id = validate(meshDidSchema, meshId, 'mesh DID');
      const row = await ctx.read((db) =>
        db.selectFrom('meshes').select('credential').where('mesh_id', '=', id).executeTakeFirst(),
      );
      if (!row) throw new NotFoundError('mesh', id);
      return row.credential ?? undefined;
    },

    async list(options) {
      const o = validate(MeshListOptionsSchema, options, 'mesh list options');
      const wanted = [...new Set([...(o.capability ? [o.capability] : []), ...(o.capabilities ?? [])])];
      const rows = await ctx.read((db) => {
        let q = db.selectFrom('meshes').select(MESH_COLUMNS);
        if (o.region !== undefined) q = q.where('region', '=', o.region);
        if (o.minTrustScore !== undefined) q = q.where('trust_score', '>=', o.minTrustScore);
        if (o.credentialValidAt !== undefined) q = q.where('credential_expires_at', '>', o.credentialValidAt);
        for (const capability of wanted) {
          q = q.where('mesh_id', 'in', (eb) =>
            eb.selectFrom('mesh_capabilities').select('mesh_id').where('capability', '=', capability),
          );
        }
        return q.orderBy('trust_score', 'desc').orderBy('mesh_id').limit(o.limit).execute();
      });
      return rows.map(fromMeshRow);
    },

    async sessionOpened(meshId, at) {
      const id = validate(meshDidSchema, meshId, 'mesh DID');
      const t = validate(timestampSchema, at, 'time');
      return ctx.write(async (db) => {
        const mesh = await lockMesh(db, id);
        const open = await db
          .selectFrom('mesh_sessions')
          .select(['id', 'opened_at'])
          .where('mesh_id', '=', id)
          .where('closed_at', 'is', null)
          .execute();
        for (const s of open) {
          // Left open by a crash: the last sighting is the best evidence of when it ended.
          const opened = Number(s.opened_at);
          await close(db, s.id, clamp(mesh.lastSeenAt, opened, Math.max(opened, t)));
        }
        await db.insertInto('mesh_sessions').values({ mesh_id: id, opened_at: t, closed_at: null }).execute();
        await touch(db, id, t, mesh.lastSeenAt);
        if (open.length > 0) await fold(db, id);
      });
    },

    async sessionClosed(meshId, at) {
      const id = validate(meshDidSchema, meshId, 'mesh DID');
      const t = validate(timestampSchema, at, 'time');
      return ctx.write(async (db) => {
        const mesh = await lockMesh(db, id);
        const open = await db
          .selectFrom('mesh_sessions')
          .select(['id', 'opened_at'])
          .where('mesh_id', '=', id)
          .where('closed_at', 'is', null)
          .execute();
        if (open.length === 0) return false;
        for (const s of open) await close(db, s.id, Math.max(t, Number(s.opened_at)));
        await touch(db, id, t, mesh.lastSeenAt);
        await fold(db, id);
        return true;
      });
    },

    async uptime(meshId, window) {
      const id = validate(meshDidSchema, meshId, 'mesh DID');
      const { since, now } = validate(UptimeWindowSchema, window, 'uptime window');
      const { mesh, sessions } = await ctx.read(async (db) => {
        const mesh = await db
          .selectFrom('meshes')
          .select(['folded_sessions', 'folded_connected_ms', 'folded_from', 'folded_until'])
          .where('mesh_id', '=', id)
          .executeTakeFirst();
        const sessions = mesh
          ? await db
              .selectFrom('mesh_sessions')
              .select(['opened_at', 'closed_at'])
              .where('mesh_id', '=', id)
              .where('opened_at', '<=', now)
              .where((eb) => eb.or([eb('closed_at', 'is', null), eb('closed_at', '>=', since)]))
              .execute()
          : [];
        return { mesh, sessions };
      });
      if (!mesh) throw new NotFoundError('mesh', id);
      return computeUptime(
        since,
        now,
        sessions.map((s) => [Number(s.opened_at), s.closed_at === null ? null : Number(s.closed_at)]),
        {
          sessions: Number(mesh.folded_sessions),
          connectedMs: Number(mesh.folded_connected_ms),
          from: mesh.folded_from === null ? null : Number(mesh.folded_from),
          until: mesh.folded_until === null ? null : Number(mesh.folded_until),
        },
      );
    },
  };
}

export interface FoldedSessions {
  readonly sessions: number;
  readonly connectedMs: number;
  readonly from: number | null;
  readonly until: number | null;
}

/** Connected time inside [since, now] from raw intervals (exact) plus the folded aggregate (prorated). */
export function computeUptime(
  since: number,
  now: number,
  intervals: readonly (readonly [number, number | null])[],
  folded: FoldedSessions,
): UptimeReport {
  const totalMs = now - since;
  let connectedMs = 0;
  let sessions = 0;
  for (const [opened, closed] of intervals) {
    const end = Math.min(closed ?? now, now);
    const start = Math.max(opened, since);
    if (opened > now || end < since) continue;
    sessions++;
    connectedMs += Math.max(0, end - start);
  }
  let estimated = false;
  if (folded.sessions > 0 && folded.from !== null && folded.until !== null) {
    const span = folded.until - folded.from;
    const overlap = Math.max(0, Math.min(now, folded.until) - Math.max(since, folded.from));
    const covered = since <= folded.from && now >= folded.until;
    const share = covered ? 1 : span > 0 ? overlap / span : 0;
    if (share > 0) {
      estimated = share < 1;
      connectedMs += Math.round(folded.connectedMs * share);
      sessions += Math.round(folded.sessions * share);
    }
  }
  connectedMs = Math.min(connectedMs, totalMs);
  return { connectedMs, totalMs, ratio: totalMs > 0 ? connectedMs / totalMs : 0, sessions, estimated };
}
