/**
 * Federation lifecycle across two hubs A (the source's, coordinating) and C (the target's): the
 * path reaches both ends, status changes decided at C (credential revoked / restored, operator,
 * Terminate) reach A's table through a signed FederationStatusUpdate, renewals from either end
 * keep both hubs in step, and forged FederationAnnounce / FederationStatusUpdate frames from an
 * allowed but rogue peer hub are refused and change nothing.
 */
import { type Ed25519KeyPair, ed25519, type FederationStatusValue, multibaseEncode } from '@fmp/core';
import { type HubStore, memoryHubStore } from '@fmp/hub';
import type { FederationInfo, IncomingMessage, MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { federationStatusUpdateDigest } from '../../packages/hub/src/lifecycle.js';
import {
  type AnnouncedFederation,
  federationAnnounceDigest,
  PeerLinks,
} from '../../packages/hub/src/peering/index.js';
import { createWorld, type Identity, type Member, nodeFor, silent, until, type World } from './fixtures.js';
import { hubIdentity, linkedTo, type RunningHub, routeTo, startPeerHub } from './multi-hub.js';

describe('federation lifecycle across two hubs', () => {
  let world: World;
  let A: RunningHub;
  let C: RunningHub;
  let storeA: HubStore;
  let storeC: HubStore;
  let rogueId: Identity;
  let rogue: PeerLinks;
  let alice: Member;
  let carol: Member;
  let a: MeshNode;
  let c: MeshNode;
  const atC: IncomingMessage[] = [];

  beforeAll(async () => {
    world = await createWorld();
    const [ia, ic] = [hubIdentity('a'), hubIdentity('c')];
    rogueId = hubIdentity('rogue');
    storeA = memoryHubStore();
    storeC = memoryHubStore();
    C = await startPeerHub(world, ic, {
      allowedPeers: [ia.did, rogueId.did],
      store: storeC,
      adminToken: 'c-admin-token-0123456789',
    });
    A = await startPeerHub(world, ia, { peers: [{ did: ic.did, url: C.url }], store: storeA });
    await until(linkedTo(C.hub, ia.did), 10_000, 'A and C linked');
    alice = await world.member('did:mesh:enterprise:alice-001');
    carol = await world.member('did:mesh:academic:carol-001');
    a = nodeFor(world, alice, A.url, { renewal: { auto: 'off' } });
    c = nodeFor(world, carol, C.url, { renewal: { auto: 'off' } });
    c.onMessage((m) => {
      atC.push(m);
    });
    await a.start();
    await c.start();
    await until(routeTo(A.hub, carol.did), 10_000, 'A routes to carol');
    await until(routeTo(C.hub, alice.did), 10_000, 'C routes to alice');

    // An allowed peer of C that is neither end of any federation: it can authenticate, not forge.
    rogue = new PeerLinks({
      self: { did: rogueId.did, keyPair: rogueId.keyPair, verificationMethod: rogueId.vm },
      resolveKey: async (vm) => {
        if (vm === ic.vm) return ic.keyPair.publicKey;
        throw new Error(`unknown key ${vm}`);
      },
      peers: [{ did: ic.did, url: `${C.url}/v1/hub` }],
      onFrame: () => undefined,
      onUp: () => undefined,
      onDown: () => undefined,
      selfLog: () => [rogueId.op],
      reconnect: { baseMs: 100, maxMs: 500 },
      pingIntervalMs: 200,
      now: Date.now,
      logger: silent,
    });
    rogue.start();
    await until(() => rogue.isUp(ic.did), 10_000, 'rogue linked to C');
  });

  afterAll(async () => {
    await rogue?.stop();
    await a?.stop();
    await c?.stop();
    for (const h of [A, C]) await h?.hub.stop();
  });

  const statusAt = (hub: RunningHub, id: string) =>
    hub.hub.federations().find((f) => f.federationId === id)?.status;
  const nodeStatus = (n: MeshNode, id: string) => n.federations().find((f) => f.federationId === id)?.status;

  async function federated(): Promise<FederationInfo> {
    const fed = await a.federate(carol.did, {
      capabilities: ['ml.inference'],
      purpose: 'two hubs',
      ttlSeconds: 3600,
    });
    await until(
      () => c.federations().some((f) => f.federationId === fed.federationId && f.usable),
      5000,
      'c keyed',
    );
    await until(() => statusAt(C, fed.federationId) === 'active', 5000, 'C holds it');
    return fed;
  }

  async function everywhere(id: string, status: FederationStatusValue, what: string): Promise<void> {
    await until(
      () =>
        nodeStatus(a, id) === status &&
        nodeStatus(c, id) === status &&
        (status === 'active' || status === 'suspended'
          ? statusAt(A, id) === status && statusAt(C, id) === status
          : true),
      10_000,
      what,
    );
    if (status === 'terminated' || status === 'expired') {
      await until(
        async () =>
          (await storeA.federations.get(id))?.status === status &&
          (await storeC.federations.get(id))?.status === status,
        10_000,
        `${what} (stores)`,
      );
      expect(statusAt(A, id)).toBeUndefined();
      expect(statusAt(C, id)).toBeUndefined();
    }
  }

  it('reports the path (both hubs) to both ends', async () => {
    const fed = await federated();
    expect(fed.path).toEqual([A.id.did, C.id.did]);
    expect(c.federations().find((f) => f.federationId === fed.federationId)?.path).toEqual([
      A.id.did,
      C.id.did,
    ]);
  });

  it('revoking the target credential suspends it on both hubs and both nodes; restoring resumes', async () => {
    const fed = await federated();
    await world.statusList.revoke(carol.statusIndex!);
    await everywhere(fed.federationId, 'suspended', 'suspended everywhere');
    expect(A.hub.federations().find((f) => f.federationId === fed.federationId)?.statusReason).toBe(
      'credential_revoked',
    );
    await expect(a.send(fed.federationId, 'agent.task.request', {})).rejects.toMatchObject({
      code: 'unknown_federation',
    });
    await world.statusList.unrevoke(carol.statusIndex!);
    await everywhere(fed.federationId, 'active', 'active again everywhere');
    const r = await a.send(fed.federationId, 'agent.task.request', { resumed: true });
    await until(() => atC.some((m) => m.messageId === r.messageId), 5000);
  });

  it("the target hub's operator suspends and resumes; both hubs agree", async () => {
    const fed = await federated();
    const admin = (action: string) =>
      fetch(`${C.httpUrl}/v1/admin/federations/${fed.federationId}/${action}`, {
        method: 'POST',
        headers: { authorization: 'Bearer c-admin-token-0123456789', 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'operator check' }),
      });
    expect((await admin('suspend')).status).toBe(200);
    await everywhere(fed.federationId, 'suspended', 'operator suspension everywhere');
    expect((await admin('resume')).status).toBe(200);
    await everywhere(fed.federationId, 'active', 'operator resume everywhere');
  });

  it('renewals from either end keep one federation on both hubs', async () => {
    const fed = await federated();
    const r1 = await a.renew(fed.federationId);
    expect(r1.federationId).toBe(fed.federationId);
    expect(r1.path).toEqual([A.id.did, C.id.did]);
    const hubsAgree = (handshakeId: string | undefined) => () =>
      [A, C].every((h) => {
        const row = h.hub.federations().find((f) => f.federationId === fed.federationId);
        return row?.status === 'active' && row.handshakeId === handshakeId;
      });
    await until(hubsAgree(r1.handshakeId), 5000, 'both hubs hold the renewal');
    // The target renews: coordinated by C this time, A learns it from C's signed status update.
    const r2 = await c.renew(fed.federationId);
    expect(r2.federationId).toBe(fed.federationId);
    await until(hubsAgree(r2.handshakeId), 5000, 'both hubs hold the target renewal');
    expect(A.hub.federations().find((f) => f.federationId === fed.federationId)?.expiresAt).toBe(
      r2.expiresAt,
    );
    await until(
      () => a.federations().find((f) => f.federationId === fed.federationId)?.handshakeId === r2.handshakeId,
      5000,
    );
    const m = await a.send(fed.federationId, 'agent.task.request', { renewed: 2 });
    await until(() => atC.filter((x) => x.messageId === m.messageId).length === 1, 5000);
  });

  it('forged FederationAnnounce and FederationStatusUpdate frames are refused and change nothing', async () => {
    const fed = await federated();
    const row = C.hub.federations().find((f) => f.federationId === fed.federationId)!;
    const federation: AnnouncedFederation = {
      federationId: row.federationId,
      handshakeId: row.handshakeId,
      sourceMeshId: row.sourceMeshId,
      targetMeshId: row.targetMeshId,
      status: 'terminated',
      statusReason: 'forged',
      capabilities: [...row.capabilities],
      purpose: row.purpose,
      routingEndpoint: row.routingEndpoint,
      path: [...row.path],
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      updatedAt: Date.now(),
    };
    const announce = (coordinator: string, f: AnnouncedFederation, vm: string, key: Ed25519KeyPair) => {
      const unsigned = { coordinator, federation: f, verificationMethod: vm };
      return {
        type: 'FederationAnnounce',
        ...unsigned,
        signature: multibaseEncode(ed25519.sign(federationAnnounceDigest(unsigned), key)),
      };
    };
    const relay = (fromHub: string, frame: Record<string, unknown>) =>
      rogue.send(
        C.id.did,
        { type: 'Relay', toMeshId: carol.did, fromHub, toHub: C.id.did, frame: frame as never },
        'critical',
      );
    const before = C.hub.federations().find((f) => f.federationId === fed.federationId);
    const refusedBefore = await refusals();
    // 1. Claims A as coordinator and origin, signed with the rogue's key: bad signature.
    expect(relay(A.id.did, announce(A.id.did, federation, A.id.vm, rogueId.keyPair))).toBe(true);
    // 2. Correctly signed by the rogue, but the rogue is not the coordinator of the path.
    expect(relay(rogueId.did, announce(rogueId.did, federation, rogueId.vm, rogueId.keyPair))).toBe(true);
    // 3. The rogue rewrites the path to coordinate it itself: the federation is A's, refused.
    const hijack = { ...federation, path: [rogueId.did, C.id.did] };
    expect(relay(rogueId.did, announce(rogueId.did, hijack, rogueId.vm, rogueId.keyPair))).toBe(true);
    // 4. A status update signed by the rogue, which is not an end hub of the federation.
    const update = {
      hub: rogueId.did,
      federationId: fed.federationId,
      handshakeId: row.handshakeId,
      status: 'suspended' as const,
      reason: 'forged',
      expiresAt: row.expiresAt,
      updatedAt: Date.now(),
      verificationMethod: rogueId.vm,
    };
    const signedUpdate = {
      type: 'FederationStatusUpdate',
      ...update,
      signature: multibaseEncode(ed25519.sign(federationStatusUpdateDigest(update), rogueId.keyPair)),
    };
    expect(relay(rogueId.did, signedUpdate)).toBe(true);
    // 5. The same claiming to be from A (the real other end), still signed by the rogue.
    const asA = { ...update, hub: A.id.did, verificationMethod: A.id.vm };
    const forgedA = {
      type: 'FederationStatusUpdate',
      ...asA,
      signature: multibaseEncode(ed25519.sign(federationStatusUpdateDigest(asA), rogueId.keyPair)),
    };
    expect(relay(A.id.did, forgedA)).toBe(true);

    await until(async () => (await refusals()) >= refusedBefore + 5, 5000, 'five refusals counted');
    expect(C.hub.federations().find((f) => f.federationId === fed.federationId)).toEqual(before);
    expect(nodeStatus(c, fed.federationId)).toBe('active');
    const m = await a.send(fed.federationId, 'agent.task.request', { still: 'fine' });
    await until(() => atC.some((x) => x.messageId === m.messageId), 5000);
  });

  it('terminating from the target side terminates it everywhere', async () => {
    const fed = await federated();
    await c.terminate(fed.federationId, 'target is done');
    await everywhere(fed.federationId, 'terminated', 'terminated everywhere');
  });

  /** Refusals C counted (error metric for unauthorized / invalid_signature frames). */
  async function refusals(): Promise<number> {
    const text = await (await fetch(`${C.httpUrl}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (/^fmp_hub_frame_errors_total\{.*code="(unauthorized|invalid_signature)"/.test(line)) {
        sum += Number(line.split(' ').at(-1));
      }
    }
    return sum;
  }
});
