/**
 * What the hub persists, as small interfaces the store package (@fmp/store) implements: federation
 * records, mesh records and per-mesh uptime. `memoryHubStore()` keeps them in bounded maps for
 * tests and ephemeral hubs. The hub keeps its hot state (active federations, live sessions) in
 * memory and writes through, so routing never waits on storage.
 */
import { type FederationStatusValue, FmpError } from '@fmp/core';

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
}

export interface MeshStore {
  get(meshId: string): Promise<MeshRow | undefined>;
  put(row: MeshRow): Promise<void>;
  list(): Promise<MeshRow[]>;
}

export interface UptimeStore {
  sessionOpened(meshId: string, at: number): Promise<void>;
  sessionClosed(meshId: string, at: number): Promise<void>;
  uptime(meshId: string, now: number): Promise<UptimeRow | undefined>;
}

export interface HubStore {
  readonly federations: FederationStore;
  readonly meshes: MeshStore;
  readonly uptime: UptimeStore;
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

/** In-memory HubStore, bounded per table (default 100,000 rows). */
export function memoryHubStore(options: { maxRows?: number } = {}): HubStore {
  const limit = options.maxRows ?? 100_000;
  const federations = new Map<string, FederationRow>();
  const meshes = new Map<string, MeshRow>();
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
    },
    meshes: {
      async get(id) {
        return meshes.get(id);
      },
      async put(row) {
        bounded(meshes, row.meshId, { ...row }, limit, 'meshes');
      },
      async list() {
        return [...meshes.values()];
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
  };
}
