/**
 * Spec 5.3, the entry stake: a hub with `ledger.requireEntryStake` opens sessions only for meshes with
 * the entry stake (a governance parameter) bonded on its ledger.
 */
import type { Hub } from '@fmp/hub';
import { type MeshNode, NodeAuthenticationError } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type Member, nodeFor, startHub, type World } from './fixtures.js';

describe('a hub that requires the entry stake', () => {
  let world: World;
  let hub: Hub;
  let url: string;
  let staked: Member;
  let unstaked: Member;
  const nodes: MeshNode[] = [];

  beforeAll(async () => {
    world = await createWorld();
    staked = await world.member('did:mesh:enterprise:acme-001');
    unstaked = await world.member('did:mesh:academic:mit-001');
    ({ hub, url } = await startHub(world, {
      ledger: {
        requireEntryStake: true,
        genesis: {
          treasury: '0',
          accounts: [
            { did: staked.did, balance: '0', stake: '100' },
            { did: unstaked.did, balance: '5000', stake: '99.999999' },
          ],
          coreMaintainers: [],
          auditors: [],
          keys: [],
        },
      },
    }));
  });

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await hub?.stop();
  });

  it('lets a mesh with 100 MESH bonded in, and refuses one with less, saying why', async () => {
    const ok = nodeFor(world, staked, url);
    nodes.push(ok);
    await ok.start();
    const refused = nodeFor(world, unstaked, url);
    nodes.push(refused);
    const err = await refused.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeAuthenticationError);
    expect((err as NodeAuthenticationError).wireCode).toBe('policy_denied');
    expect((err as Error).message).toMatch(/entry stake: 100 MESH/);
  });
});
