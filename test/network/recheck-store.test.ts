/**
 * The hub's periodic credential re-check reads the credential a session authenticated with from
 * its store (the hub's memory keeps only the verification cache's key). When the store failed to
 * keep it, the session holds the text itself, so a revocation is still seen.
 */
import { type Hub, type HubStore, memoryHubStore } from '@fmp/hub';
import type { FederationInfo, MeshNode } from '@fmp/node';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorld, nodeFor, startHub, until } from './fixtures.js';

async function revocationSuspends(store: HubStore): Promise<void> {
  const world = await createWorld();
  const { hub, url } = await startHub(world, { store, credentialRecheckMs: 50 });
  const acme = await world.member('did:mesh:enterprise:acme-001');
  const mit = await world.member('did:mesh:academic:mit-001');
  const a = nodeFor(world, acme, url);
  const b = nodeFor(world, mit, url);
  running.push({ hub, nodes: [a, b] });
  await a.start();
  await b.start();
  const fed: FederationInfo = await a.federate(mit.did, {
    capabilities: ['ml.inference'],
    purpose: 'recheck',
    ttlSeconds: 3600,
  });
  const statuses: string[] = [];
  a.onStatus((e) => {
    if (e.federationId === fed.federationId) statuses.push(`${e.status}:${e.reason}`);
  });
  await world.statusList.revoke(mit.statusIndex!);
  await until(() => statuses.includes('suspended:credential_revoked'), 5000, 'suspension');
  await world.statusList.unrevoke(mit.statusIndex!);
  await until(() => statuses.includes('active:resumed'), 5000, 'resumption');
}

const running: { hub: Hub; nodes: MeshNode[] }[] = [];

afterEach(async () => {
  for (const { hub, nodes } of running.splice(0)) {
    for (const n of nodes) await n.stop();
    await hub.stop();
  }
});

describe('credential re-check and the store', () => {
  it('reads the credential back from the store when its cached check is gone (a revocation)', async () => {
    const store = memoryHubStore();
    const reads: string[] = [];
    const credential = store.meshes.credential.bind(store.meshes);
    await revocationSuspends({
      ...store,
      meshes: {
        ...store.meshes,
        credential: async (meshId) => {
          reads.push(meshId);
          return credential(meshId);
        },
      },
    });
    expect(reads).toContain('did:mesh:academic:mit-001');
  });

  it('still sees a revocation when the store failed to keep the credential', async () => {
    const store = memoryHubStore();
    await revocationSuspends({
      ...store,
      meshes: {
        ...store.meshes,
        put: async () => {
          throw new Error('disk full');
        },
        credential: async () => undefined,
      },
    });
  });
});
