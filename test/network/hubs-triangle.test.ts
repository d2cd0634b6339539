/**
 * A triangle of hubs: A – C direct (through a proxy the test can cut), and A – B – C. Traffic from
 * a node on A to a node on C takes the direct link; when it is cut mid-traffic, it re-routes over B
 * without losing a message or delivering one twice.
 */
import type { FederationInfo, IncomingMessage, MeshNode } from '@fmp/node';
import { DeliveryError } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type Member, nodeFor, until, type World } from './fixtures.js';
import { hubIdentity, linkedTo, type RunningHub, routeTo, startPeerHub } from './multi-hub.js';
import { type Partition, partitionable } from './proxy.js';

describe('three hubs in a triangle', () => {
  let world: World;
  let A: RunningHub;
  let B: RunningHub;
  let C: RunningHub;
  let proxy: Partition;
  let alice: Member;
  let carol: Member;
  let a: MeshNode;
  let c: MeshNode;
  let fed: FederationInfo;
  const atC: IncomingMessage[] = [];

  beforeAll(async () => {
    world = await createWorld();
    const [ia, ib, ic] = [hubIdentity('a'), hubIdentity('b'), hubIdentity('c')];
    C = await startPeerHub(world, ic, { allowedPeers: [ia.did, ib.did] });
    proxy = await partitionable(C.url);
    B = await startPeerHub(world, ib, { peers: [{ did: ic.did, url: C.url }], allowedPeers: [ia.did] });
    A = await startPeerHub(world, ia, {
      peers: [
        { did: ib.did, url: B.url },
        { did: ic.did, url: proxy.url },
      ],
    });
    await until(linkedTo(A.hub, ib.did, ic.did), 10_000, 'A linked');
    await until(linkedTo(B.hub, ic.did), 10_000, 'B linked to C');
    alice = await world.member('did:mesh:enterprise:alice-001');
    carol = await world.member('did:mesh:academic:carol-001');
    a = nodeFor(world, alice, A.url, { sendTimeoutMs: 1_000, maxSendAttempts: 5 });
    c = nodeFor(world, carol, C.url);
    c.onMessage((m) => {
      atC.push(m);
    });
    await a.start();
    await c.start();
    await until(routeTo(A.hub, carol.did, 2), 10_000, 'A routes to carol directly');
  });

  afterAll(async () => {
    await a?.stop();
    await c?.stop();
    for (const h of [A, B, C]) await h?.hub.stop();
    await proxy?.close();
  });

  it('takes the direct link and keeps the other path as an alternative', async () => {
    fed = await a.federate(carol.did, {
      capabilities: ['ml.inference'],
      purpose: 'triangle',
      ttlSeconds: 3600,
    });
    await until(() => A.hub.federations().some((f) => f.federationId === fed.federationId), 5000, 'stored');
    expect(A.hub.federations().find((f) => f.federationId === fed.federationId)?.path).toEqual([
      A.id.did,
      C.id.did,
    ]);
    const row = A.hub.peerRoutes().find((r) => r.meshId === carol.did);
    expect(row).toMatchObject({ nextHop: C.id.did, path: [A.id.did, C.id.did], hops: 2, alternatives: 1 });
    await until(() => c.federations().some((f) => f.federationId === fed.federationId && f.usable), 5000);
    const r = await a.send(fed.federationId, 'agent.task.request', { first: true });
    await until(() => atC.some((m) => m.messageId === r.messageId), 5000);
    expect(atC.find((m) => m.messageId === r.messageId)?.route).toEqual([A.id.did, C.id.did]);
  });

  it('re-routes over B when the direct link is cut mid-traffic: every message arrives once', async () => {
    const outcomes: string[] = [];
    let stop = false;
    let sent = 0;
    const loop = (async () => {
      while (!stop && sent < 400) {
        sent++;
        try {
          await a.send(fed.federationId, 'agent.task.request', { n: sent });
          outcomes.push('delivered');
        } catch (e) {
          outcomes.push(e instanceof DeliveryError ? e.wireCode : String(e));
        }
      }
    })();
    await until(() => outcomes.length >= 10, 10_000, 'traffic on the direct link');
    proxy.cut();
    await until(
      () => A.hub.peerRoutes().find((r) => r.meshId === carol.did)?.nextHop === B.id.did,
      10_000,
      'reroute',
    );
    const after = outcomes.length;
    await until(() => outcomes.length >= after + 10, 10_000, 'traffic over B');
    stop = true;
    await loop;
    expect(outcomes.filter((o) => o !== 'delivered')).toEqual([]);
    const ids = atC.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(atC.at(-1)?.route).toEqual([A.id.did, B.id.did, C.id.did]);
    expect(A.hub.peerRoutes().find((r) => r.meshId === carol.did)?.path).toEqual([
      A.id.did,
      B.id.did,
      C.id.did,
    ]);
  });
});
