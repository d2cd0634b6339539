/**
 * What the hub persists, as small interfaces the store package (@fmp/store) implements: federation
 * records, mesh records, per-mesh uptime and the trust engine's state. `memoryHubStore()` keeps
 * them in bounded maps for tests and ephemeral hubs. The hub keeps its hot state (active
 * federations, live sessions) in memory and writes through, so routing never waits on storage.
 */
import { type FederationStatusValue, FmpError, ValidationError } from '@fmp/core';
import type { TrustAttestationRow, TrustEdgeRow, TrustStore, TrustSubjectRow } from '@fmp/store';

export interface FederationRow {
  readonly federationId: string;
  readonly handshakeId: string;
  readonly sourceMeshId: string;
  readonly targetMeshId: string;
  readonly status: FederationStatusValue;
  readonly capabilities: readonly string[];
  readonly purpose: string;
  /** What the initiator required of the target's trust score (spec 3.1); suspension below it. */
  readonly minTrustScore: number | undefined;
  readonly routingEndpoint: string;
  /** Hub DIDs on the path between the two ends (one hub: [hubDid]). */
  readonly path: readonly string[];
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly updatedAt: number;
  readonly statusReason: string | undefined;
}

export interface MeshRow {
  readonly meshId: string;
  readonly region: string;
  readonly capabilities: readonly string[];
  readonly homeHub: string;
  readonly credentialIssuer: string | undefined;
  readonly credentialExpiresAt: number | undefined;
  readonly trustScore: number;
  readonly firstSeenAt: number;
  readonly lastSeenAt: number;
}

export interface UptimeRow {
  readonly meshId: string;
  /** Milliseconds connected in closed sessions plus the open one up to `now`. */
  readonly connectedMs: number;
  readonly sessions: number;
  readonly firstSeenAt: number;
  readonly online: boolean;
}

export interface FederationStore {
  get(federationId: string): Promise<FederationRow | undefined>;
  /** Inserts or replaces. */
  put(row: FederationRow): Promise<void>;
  list(filter?: { status?: FederationStatusValue; meshId?: string }): Promise<FederationRow[]>;
  /**
   * One page of federations (of `statuses`, default all) in federationId order, after the id
   * `after`; `next` is the id to continue after, undefined on the last page. What a hub restores
   * at start, however many rows there are.
   */
  listPage(options: FederationPageOptions): Promise<FederationPage>;
}

export interface FederationPageOptions {
  readonly statuses?: readonly FederationStatusValue[];
  readonly after?: string;
  /** Default 1,000; at most 100,000. */
  readonly limit?: number;
}

export interface FederationPage {
  readonly rows: FederationRow[];
  readonly next: string | undefined;
}

export interface MeshStore {
  get(meshId: string): Promise<MeshRow | undefined>;
  /**
   * Inserts or replaces; with `credential` (the credential the mesh authenticated with, canonical
   * JSON) also keeps that, for the periodic re-check (`credential`), so the hub's memory need not.
   */
  put(row: MeshRow, credential?: string): Promise<void>;
  list(): Promise<MeshRow[]>;
  /** The credential text the last put with one kept; undefined for none or an unknown mesh. */
  credential(meshId: string): Promise<string | undefined>;
}

export interface UptimeStore {
  sessionOpened(meshId: string, at: number): Promise<void>;
  sessionClosed(meshId: string, at: number): Promise<void>;
  uptime(meshId: string, now: number): Promise<UptimeRow | undefined>;
}

// The trust engine's state: the store package's own row and aggregate types (hubStoreFrom passes
// them straight through; memoryHubStore implements them in memory).
export type { TrustAttestationRow, TrustEdgeRow, TrustStore, TrustSubjectRow };

export interface HubStore {
  readonly federations: FederationStore;
  readonly meshes: MeshStore;
  readonly uptime: UptimeStore;
  /** The trust engine's state; absent when the hub's store keeps none (the engine then starts empty). */
  readonly trust?: TrustStore;
  close?(): Promise<void>;
}

/** Thrown when a bounded in-memory table is full. */
export class StoreFullError extends FmpError {
  constructor(what: string, limit: number) {
    super('store_full', `${what}: at most ${limit} rows`);
  }
}

function bounded<K, V>(map: Map<K, V>, key: K, value: V, limit: number, what: string): void {
  if (!map.has(key) && map.size >= limit) throw new StoreFullError(what, limit);
  map.set(key, value);
}

/** Rows `load` returns per table when the caller sets no limit (as @fmp/store). */
const DEFAULT_TRUST_LOAD_LIMIT = 100_000;

/** A copy through JSON, as a database would give it back (and safe from the caller's later edits). */
const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Upserts `rows` into `map` only if all new keys fit: a call is all or nothing. */
function putAll<R>(
  map: Map<string, R>,
  rows: readonly R[],
  key: (row: R) => string,
  limit: number,
  what: string,
) {
  const copies = new Map<string, R>();
  for (const row of rows) copies.set(key(row), viaJson(row));
  let added = 0;
  for (const k of copies.keys()) if (!map.has(k)) added++;
  if (map.size + added > limit) throw new StoreFullError(what, limit);
  for (const [k, row] of copies) map.set(k, row);
}

/** The `limit` greatest rows by `order` (descending), ties broken by key. */
function newest<R>(
  rows: Iterable<R>,
  order: (row: R) => number,
  key: (row: R) => string,
  limit: number,
): R[] {
  return [...rows]
    .sort((a, b) => order(b) - order(a) || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
    .slice(0, limit)
    .map(viaJson);
}

function memoryTrustStore(limit: number): TrustStore {
  const subjects = new Map<string, TrustSubjectRow>();
  const edges = new Map<string, TrustEdgeRow>();
  const attestations = new Map<string, TrustAttestationRow>();
  const edgeKey = (e: TrustEdgeRow) => JSON.stringify([e.from, e.to]);
  return {
    async putSubjects(rows) {
      putAll(subjects, rows, (r) => r.did, limit, 'trust subjects');
    },
    async putEdges(rows) {
      putAll(edges, rows, edgeKey, limit, 'trust edges');
    },
    async putAttestations(rows) {
      putAll(attestations, rows, (r) => r.id, limit, 'trust attestations');
    },
    async deleteExpiredAttestations(now) {
      let deleted = 0;
      for (const [id, a] of attestations) {
        if (a.expiresAt <= now) {
          attestations.delete(id);
          deleted++;
        }
      }
      return deleted;
    },
    async load(options = {}) {
      const n = options.limit ?? DEFAULT_TRUST_LOAD_LIMIT;
      if (!Number.isSafeInteger(n) || n < 1) {
        throw new ValidationError('invalid load options', [{ path: 'limit', message: 'a positive integer' }]);
      }
      return {
        subjects: newest(
          subjects.values(),
          (r) => r.updatedAt,
          (r) => r.did,
          n,
        ),
        edges: newest(edges.values(), (r) => r.updatedAt, edgeKey, n),
        attestations: newest(
          attestations.values(),
          (r) => r.expiresAt,
          (r) => r.id,
          n,
        ),
      };
    },
    async count() {
      return { subjects: subjects.size, edges: edges.size, attestations: attestations.size };
    },
  };
}

/**
 * In-memory HubStore, bounded per table: `maxRows` (default 100,000); the trust tables
 * `maxTrustRows` each (default `maxRows`), since a trust graph may outgrow the federation bound.
 */
export function memoryHubStore(options: { maxRows?: number; maxTrustRows?: number } = {}): HubStore {
  const limit = options.maxRows ?? 100_000;
  const federations = new Map<string, FederationRow>();
  const meshes = new Map<string, MeshRow>();
  const credentials = new Map<string, string>();
  const uptime = new Map<
    string,
    { connectedMs: number; sessions: number; openSince: number | undefined; firstSeenAt: number }
  >();
  return {
    federations: {
      async get(id) {
        return federations.get(id);
      },
      async put(row) {
        bounded(federations, row.federationId, { ...row }, limit, 'federations');
      },
      async list(filter = {}) {
        return [...federations.values()].filter(
          (f) =>
            (filter.status === undefined || f.status === filter.status) &&
            (filter.meshId === undefined ||
              f.sourceMeshId === filter.meshId ||
              f.targetMeshId === filter.meshId),
        );
      },
      async listPage(options) {
        const limit = options.limit ?? 1_000;
        if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100_000) {
          throw new ValidationError('invalid page options', [
            { path: 'limit', message: 'an integer from 1 to 100,000' },
          ]);
        }
        const { after, statuses } = options;
        // A sort per page: this store holds at most maxRows (100,000 by default).
        const ids: string[] = [];
        for (const f of federations.values()) {
          if ((after === undefined || f.federationId > after) && (!statuses || statuses.includes(f.status)))
            ids.push(f.federationId);
        }
        ids.sort();
        const rows = ids.slice(0, limit).map((id) => ({ ...federations.get(id)! }));
        return { rows, next: ids.length > limit ? rows.at(-1)!.federationId : undefined };
      },
    },
    meshes: {
      async get(id) {
        return meshes.get(id);
      },
      async put(row, credential) {
        bounded(meshes, row.meshId, { ...row }, limit, 'meshes');
        if (credential !== undefined) credentials.set(row.meshId, credential);
      },
      async list() {
        return [...meshes.values()];
      },
      async credential(meshId) {
        return credentials.get(meshId);
      },
    },
    uptime: {
      async sessionOpened(meshId, at) {
        const row = uptime.get(meshId) ?? {
          connectedMs: 0,
          sessions: 0,
          openSince: undefined,
          firstSeenAt: at,
        };
        // A session replaced without a close (crash) counts up to the new open.
        if (row.openSince !== undefined) row.connectedMs += Math.max(0, at - row.openSince);
        row.openSince = at;
        row.sessions += 1;
        bounded(uptime, meshId, row, limit, 'uptime');
      },
      async sessionClosed(meshId, at) {
        const row = uptime.get(meshId);
        if (!row || row.openSince === undefined) return;
        row.connectedMs += Math.max(0, at - row.openSince);
        row.openSince = undefined;
      },
      async uptime(meshId, now) {
        const row = uptime.get(meshId);
        if (!row) return undefined;
        const open = row.openSince === undefined ? 0 : Math.max(0, now - row.openSince);
        return {
          meshId,
          connectedMs: row.connectedMs + open,
          sessions: row.sessions,
          firstSeenAt: row.firstSeenAt,
          online: row.openSince !== undefined,
        };
      },
    },
    trust: memoryTrustStore(options.maxTrustRows ?? limit),
  };
}
