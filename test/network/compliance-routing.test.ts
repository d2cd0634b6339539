/**
 * Compliance-aware routing (issue #6): two paths of equal length from hub A (eu) to hub C (eu), one
 * through B in North America (preferred by default), one through D in the EU. A message restricted
 * to `["eu"]` only ever takes the EU path; when that path is gone, the sender gets a clear
 * `compliance_denied` error, never a detour outside the EU.
 */
import type { ComplianceContext } from '@fmp/core';
import { DeliveryError, type FederationInfo, type IncomingMessage, type MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type Member, nodeFor, until, type World } from './fixtures.js';
import { hubIdentity, linkedTo, type RunningHub, routeTo, startPeerHub } from './multi-hub.js';

describe('routing around a hub outside the allowed regions', () => {
  let world: World;
  let A: RunningHub;
  let B: RunningHub;
  let C: RunningHub;
  let D: RunningHub;
  let alice: Member;
  let carol: Member;
  let a: MeshNode;
  let c: MeshNode;
  let fed: FederationInfo;
  const atC: IncomingMessage[] = [];
  const eu: ComplianceContext = {
    dataClassification: 'personal-identifiable',
    processingBasis: 'contract',
    geographicRestrictions: ['eu'],
    auditTrail: true,
  };

  beforeAll(async () => {
    world = await createWorld();
    // Names order the peers: with equal hops and latency, A prefers b-na over d-eu.
    const [ia, ib, ic, id] = [
      hubIdentity('a-eu'),
      hubIdentity('b-na'),
      hubIdentity('c-eu'),
      hubIdentity('d-eu'),
    ];
    C = await startPeerHub(world, ic, { region: 'eu-central', allowedPeers: [ib.did, id.did] });
    B = await startPeerHub(world, ib, {
      region: 'na',
      peers: [{ did: ic.did, url: C.url }],
      allowedPeers: [ia.did],
    });
    D = await startPeerHub(world, id, {
      region: 'eu-west',
      peers: [{ did: ic.did, url: C.url }],
      allowedPeers: [ia.did],
    });
    A = await startPeerHub(world, ia, {
      region: 'eu-west',
      peers: [
        { did: ib.did, url: B.url },
        { did: id.did, url: D.url },
      ],
    });
    await until(linkedTo(A.hub, ib.did, id.did), 10_000, 'A linked');
    await until(linkedTo(C.hub, ib.did, id.did), 10_000, 'C linked');
    alice = await world.member('did:mesh:enterprise:alice-001');
    carol = await world.member('did:mesh:academic:carol-001');
    a = nodeFor(world, alice, A.url, { sendTimeoutMs: 1_000, maxSendAttempts: 2 });
    c = nodeFor(world, carol, C.url);
    c.onMessage((m) => {
      atC.push(m);
    });
    await a.start();
    await c.start();
    await until(routeTo(A.hub, carol.did, 3), 10_000, 'A routes to carol');
    await until(
      () => A.hub.peerRoutes().some((r) => r.meshId === carol.did && r.alternatives >= 1),
      10_000,
      'both paths known',
    );
    fed = await a.federate(carol.did, { capabilities: ['ml.inference'], purpose: 'eu only' });
  }, 60_000);

  afterAll(async () => {
    await a?.stop();
    await c?.stop();
    for (const h of [A, B, C, D]) await h?.hub.stop();
  });

  it('announces each hub region along the path', () => {
    const row = A.hub.peerRoutes().find((r) => r.meshId === carol.did)!;
    expect(row.nextHop).toBe(B.id.did); // the default best path goes through North America
  });

  it('sends unrestricted messages on the best path, restricted ones only through EU hubs', async () => {
    await a.send(fed.federationId, 'agent.notification', { n: 1 });
    const restrictedReceipt = await a.send(
      fed.federationId,
      'agent.notification',
      { n: 2 },
      { complianceContext: eu },
    );
    await until(() => atC.length >= 2, 10_000, 'both delivered');
    const free = atC.find((m) => (m.data as { n: number }).n === 1)!;
    const restricted = atC.find((m) => (m.data as { n: number }).n === 2)!;
    expect(free.route).toContain(B.id.did);
    expect(restricted.route).toEqual([A.id.did, D.id.did, C.id.did]);
    expect(restricted.complianceContext?.geographicRestrictions).toEqual(['eu']);
    // Spec 7.3: hub A explains why it did not take its best path.
    const res = await fetch(`${A.httpUrl}/v1/explanations/${restrictedReceipt.messageId}`);
    const why = (await res.json()) as { decision: string; explanation: { reasoning: string } };
    expect(why.decision).toBe('allow');
    expect(why.explanation.reasoning).toMatch(
      /instead of the best path through .*b-na.*geographicRestrictions eu/,
    );
  });

  it('refuses a message restricted to a region its target is not in', async () => {
    const err = await a
      .send(
        fed.federationId,
        'agent.notification',
        { n: 3 },
        { complianceContext: { ...eu, geographicRestrictions: ['ca'] } },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).wireCode).toBe('compliance_denied');
    expect((err as DeliveryError).message).toMatch(/eu-west, outside/);
  });

  it('when no compliant path is left, the sender gets compliance_denied (no detour)', async () => {
    await D.hub.stop();
    await until(
      () =>
        A.hub
          .peerRoutes()
          .some((r) => r.meshId === carol.did && r.nextHop === B.id.did && r.alternatives === 0),
      10_000,
      'only the NA path left',
    );
    const before = atC.length;
    const err = await a
      .send(fed.federationId, 'agent.notification', { n: 4 }, { complianceContext: eu })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).wireCode).toBe('compliance_denied');
    expect((err as DeliveryError).message).toContain('through hubs in eu only');
    // Unrestricted traffic still flows through North America.
    await a.send(fed.federationId, 'agent.notification', { n: 5 });
    await until(() => atC.length > before, 10_000, 'unrestricted delivered');
    expect(atC.some((m) => (m.data as { n: number }).n === 4)).toBe(false);
  });
});
