import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteStore } from '@fmp/store';
import { afterAll, describe, expect, it } from 'vitest';
import type { FederationRow } from './persistence.js';
import { hubStoreFrom } from './store-adapter.js';

const dir = mkdtempSync(join(tmpdir(), 'fmp-hub-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const T0 = 1_730_246_400_000;

function federation(over: Partial<FederationRow> = {}): FederationRow {
  return {
    federationId: randomUUID(),
    handshakeId: randomUUID(),
    sourceMeshId: 'did:mesh:enterprise:acme-001',
    targetMeshId: 'did:mesh:academic:mit-001',
    status: 'active',
    capabilities: ['ml.inference'],
    purpose: 'research-collab',
    minTrustScore: undefined,
    routingEndpoint: 'ws://127.0.0.1:1/fed/x',
    path: ['did:mesh:hub:eu'],
    createdAt: T0,
    expiresAt: T0 + 3_600_000,
    updatedAt: T0,
    statusReason: undefined,
    ...over,
  };
}

describe('hubStoreFrom (SQLite)', () => {
  it('maps insert-or-replace writes onto store transitions and survives a reopen', async () => {
    const path = join(dir, 'hub.db');
    let store = sqliteStore({ path });
    await store.open();
    let hubStore = hubStoreFrom(store);
    const f = federation();
    await hubStore.federations.put(f);
    await hubStore.federations.put({
      ...f,
      status: 'suspended',
      statusReason: 'trust below minimum',
      updatedAt: T0 + 1,
    });
    await hubStore.federations.put({
      ...f,
      status: 'suspended',
      expiresAt: T0 + 7_200_000,
      updatedAt: T0 + 2,
    });
    await hubStore.meshes.put({
      meshId: 'did:mesh:enterprise:acme-001',
      region: 'na',
      capabilities: ['ml.inference'],
      homeHub: 'did:mesh:hub:eu',
      credentialIssuer: 'did:mesh:authority:foundation',
      credentialExpiresAt: T0 + 86_400_000,
      trustScore: 85,
      firstSeenAt: T0,
      lastSeenAt: T0,
    });
    await hubStore.uptime.sessionOpened('did:mesh:enterprise:acme-001', T0);
    await hubStore.uptime.sessionClosed('did:mesh:enterprise:acme-001', T0 + 60_000);
    await hubStore.close?.();

    store = sqliteStore({ path });
    await store.open();
    hubStore = hubStoreFrom(store);
    expect(await hubStore.federations.get(f.federationId)).toMatchObject({
      status: 'suspended',
      statusReason: 'trust below minimum',
      expiresAt: T0 + 7_200_000,
      minTrustScore: 0,
    });
    expect(await hubStore.federations.get(randomUUID())).toBeUndefined();
    expect((await hubStore.federations.list({ status: 'suspended' })).map((r) => r.federationId)).toEqual([
      f.federationId,
    ]);
    expect(await hubStore.federations.list({ meshId: 'did:mesh:academic:mit-001' })).toHaveLength(1);
    expect((await hubStore.meshes.list()).map((m) => m.meshId)).toEqual(['did:mesh:enterprise:acme-001']);
    expect(await hubStore.uptime.uptime('did:mesh:enterprise:acme-001', T0 + 120_000)).toMatchObject({
      connectedMs: 60_000,
      sessions: 1,
    });
    await hubStore.close?.();
  });
});
