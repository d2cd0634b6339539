/**
 * A HubStore over @fmp/store (SQLite by default, PostgreSQL in cluster mode). The hub keeps hot
 * state in memory and writes through; this maps its insert-or-replace writes onto the store's
 * explicit transitions (put, setStatus, renew) so the store can keep enforcing them.
 */
import { ValidationError } from '@fmp/core';
import { AlreadyExistsError, NotFoundError, type Store, type StoredFederation } from '@fmp/store';
import type { FederationRow, HubStore, MeshRow } from './persistence.js';

/** A credential without an expiration date: the last millisecond a Date can hold (8.64e15). */
export const NEVER_EXPIRES = 8.64e15;

function toRow(f: StoredFederation): FederationRow {
  return { ...f, minTrustScore: f.minTrustScore, statusReason: f.statusReason };
}

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

export function hubStoreFrom(store: Store): HubStore {
  return {
    federations: {
      async get(id) {
        const f = await orUndefined(store.federations.get(id));
        return f && toRow(f);
      },
      async put(row) {
        // Most puts are a new federation (one per handshake): insert first, without a read.
        const { statusReason, minTrustScore, ...rest } = row;
        try {
          await store.federations.put({
            ...rest,
            minTrustScore: minTrustScore ?? 0,
            ...(statusReason !== undefined ? { statusReason } : {}),
          });
          return;
        } catch (err) {
          if (!(err instanceof AlreadyExistsError)) throw err;
        }
        const current = await store.federations.get(row.federationId);
        if (current.status !== row.status) {
          await store.federations.setStatus(
            row.federationId,
            row.status,
            row.statusReason ?? row.status,
            row.updatedAt,
          );
        }
        if (current.expiresAt !== row.expiresAt && (row.status === 'active' || row.status === 'suspended')) {
          await store.federations.renew(row.federationId, row.expiresAt, row.updatedAt);
        }
      },
      async list(filter = {}) {
        const rows = filter.meshId
          ? await store.federations.listByMesh(filter.meshId, {
              ...(filter.status ? { status: filter.status } : {}),
              limit: 100_000,
            })
          : await store.federations.list(filter.status ? { status: filter.status } : {});
        return rows.map(toRow);
      },
      async listPage(options) {
        const page = await store.federations.listPage(options);
        return { rows: page.federations.map(toRow), next: page.next };
      },
    },
    meshes: {
      async get(meshId) {
        return orUndefined(store.meshes.get(meshId)) as Promise<MeshRow | undefined>;
      },
      async put(row, credential) {
        // Only meshes with a verified credential are registered, so the issuer is always known; a
        // credential without an expiration date is stored as never expiring: the latest instant a
        // timestamp may name (a Date's limit; Number.MAX_SAFE_INTEGER is past it and was refused,
        // so such meshes were never stored).
        if (row.credentialIssuer === undefined) {
          throw new ValidationError('a mesh is stored only with the issuer of its verified credential', [
            { path: 'credentialIssuer', message: 'missing' },
          ]);
        }
        await store.meshes.upsert(
          {
            ...row,
            credentialIssuer: row.credentialIssuer,
            credentialExpiresAt: row.credentialExpiresAt ?? NEVER_EXPIRES,
          },
          credential === undefined ? undefined : { credential },
        );
      },
      async list() {
        return store.meshes.list({ limit: 1000 });
      },
      async credential(meshId) {
        return orUndefined(store.meshes.credential(meshId));
      },
    },
    uptime: {
      async sessionOpened(meshId, at) {
        await store.meshes.sessionOpened(meshId, at);
      },
      async sessionClosed(meshId, at) {
        await store.meshes.sessionClosed(meshId, at);
      },
      async uptime(meshId, now) {
        const mesh = await orUndefined(store.meshes.get(meshId));
        if (!mesh) return undefined;
        const report = await store.meshes.uptime(meshId, { since: mesh.firstSeenAt, now });
        return {
          meshId,
          connectedMs: report.connectedMs,
          sessions: report.sessions,
          firstSeenAt: mesh.firstSeenAt,
          online: mesh.lastSeenAt >= now,
        };
      },
    },
    // Same shapes as @fmp/store's TrustStore: its validation and typed errors reach the caller as they are.
    trust: {
      putSubjects: (rows) => store.trust.putSubjects(rows),
      putEdges: (rows) => store.trust.putEdges(rows),
      putAttestations: (rows) => store.trust.putAttestations(rows),
      deleteExpiredAttestations: (now) => store.trust.deleteExpiredAttestations(now),
      load: (options) => store.trust.load(options),
      count: () => store.trust.count(),
    },
    close: () => store.close(),
  };
}
