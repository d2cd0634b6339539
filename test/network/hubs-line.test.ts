/**
 * Three hubs in a line A – B – C (in-process, port 0): a node on A federates with a node on C, the
 * handshake and the messages cross two hub links, discovery and routes see across them, errors for
 * hop overflow and loops come back typed, a peer that did not authenticate cannot relay, and hub B
 * stopping mid-traffic gives the source errors and the target no duplicates.
 */
import { createEnvelope, signEnvelope } from '@fmp/core';
import { DeliveryError, type FederationInfo, type IncomingMessage, type MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createWorld, type Member, newcomerScore, nodeFor, until, type World } from './fixtures.js';
import { hubIdentity, linkedTo, type RunningHub, routeTo, startPeerHub } from './multi-hub.js';
import { rawAuthenticated } from './raw-client.js';

describe('three hubs in a line A – B – C', () => {
  let world: World;
  let A: RunningHub;
  let B: RunningHub;
  let C: RunningHub;
  let alice: Member;
  let carol: Member;
  let a: MeshNode;
  let c: MeshNode;
  let fed: FederationInfo;
  const atC: IncomingMessage[] = [];
  const atA: IncomingMessage[] = [];

  beforeAll(async () => {
    world = await createWorld();
    const [ia, ib, ic] = [hubIdentity('a'), hubIdentity('b'), hubIdentity('c')];
    B = await startPeerHub(world, ib, { allowedPeers: [ia.did, ic.did] });
    A = await startPeerHub(world, ia, { peers: [{ did: ib.did, url: B.url }] });
    C = await startPeerHub(world, ic, {
      peers: [{ did: ib.did, url: B.url }],
      limits: { queueTtlMs: 1_000 },
    });
    await until(linkedTo(B.hub, ia.did, ic.did), 10_000, 'B linked to A and C');
    alice = await world.member('did:mesh:enterprise:alice-001');
    carol = await world.member('did:mesh:academic:carol-001', {
      capabilities: ['ml.inference', 'data.query'],
    });
    a = nodeFor(world, alice, A.url, { sendTimeoutMs: 1_000, maxSendAttempts: 3 });
    c = nodeFor(world, carol, C.url, { capabilities: ['ml.inference', 'data.query'] });
    a.onMessage((m) => {
      atA.push(m);
    });
    c.onMessage((m) => {
      atC.push(m);
    });
    await a.start();
    await c.start();
    await until(routeTo(A.hub, carol.did, 3), 10_000, 'A routes to carol');
    await until(routeTo(C.hub, alice.did, 3), 10_000, 'C routes to alice');
  });

  afterAll(async () => {
    await a?.stop();
    await c?.stop();
    for (const h of [A, B, C]) await h?.hub.stop();
  });

  it('discovers a mesh two hubs away, and lists learned routes with path and latency', async () => {
    const found = await a.discover({ capabilities: ['data.query'] });
    expect(found.map((m) => m.meshId)).toEqual([carol.did]);
    expect(found[0]).toMatchObject({ homeHub: C.id.did, region: 'eu' });
    // Carol's home hub C scores her; A learns the score from the route announcements.
    expect(found[0]!.trustScore).toBeCloseTo(newcomerScore(85), 0);
    const http = (await (await fetch(`${A.httpUrl}/v1/discovery?capability=data.query`)).json()) as {
      meshes: { meshId: string }[];
    };
    expect(http.meshes.map((m) => m.meshId)).toEqual([carol.did]);

    const routes = (await (await fetch(`${A.httpUrl}/v1/routes`)).json()) as {
      peers: string[];
      peerRoutes: { meshId: string; path: string[]; hops: number; latencyMs: number; kind: string }[];
    };
    expect(routes.peers).toEqual([B.id.did]);
    const toCarol = routes.peerRoutes.find((r) => r.meshId === carol.did);
    expect(toCarol).toMatchObject({ kind: 'peer', path: [A.id.did, B.id.did, C.id.did], hops: 3 });
    expect(toCarol!.latencyMs).toBeGreaterThanOrEqual(0);
    // Hubs are destinations too (an offline mesh is reached through its home hub).
    expect(routes.peerRoutes.find((r) => r.meshId === C.id.did)?.path).toEqual([
      A.id.did,
      B.id.did,
      C.id.did,
    ]);
    // Identities crossed two links: A holds carol's and C's did:mesh logs.
    expect(A.hub.registry.history(carol.did).length).toBe(1);
    expect(A.hub.registry.history(C.id.did).length).toBe(1);
  });

  it('federates across two hub links; the federation path lists the hubs crossed', async () => {
    fed = await a.federate(carol.did, { capabilities: ['ml.inference'], purpose: 'line', ttlSeconds: 3600 });
    expect(fed.status).toBe('active');
    const path = [A.id.did, B.id.did, C.id.did];
    // a resolves on FederationEstablished; the hub stores the federation on a's FederationConfirm.
    await until(() => A.hub.federations().some((f) => f.federationId === fed.federationId), 5000, 'A stores');
    expect(A.hub.federations().find((f) => f.federationId === fed.federationId)?.path).toEqual(path);
    // The target's hub learned it from A's signed FederationAnnounce; B, in between, holds nothing.
    await until(() => C.hub.federations().some((f) => f.federationId === fed.federationId), 5000, 'C knows');
    expect(C.hub.federations().find((f) => f.federationId === fed.federationId)?.path).toEqual(path);
    expect(B.hub.federations()).toEqual([]);
    const row = A.hub.routes().find((r) => r.federationId === fed.federationId);
    expect(row?.path).toEqual(path);
    await until(() => c.federations().some((f) => f.federationId === fed.federationId && f.usable), 5000);
  });

  it('carries messages both ways with receipts, crossing A, B and C', async () => {
    const receipt = await a.send(fed.federationId, 'agent.task.request', { n: 1 });
    expect(receipt.messageId).toBeDefined();
    await until(() => atC.some((m) => m.messageId === receipt.messageId), 5000, 'at carol');
    expect(atC.find((m) => m.messageId === receipt.messageId)?.route).toEqual([A.id.did, B.id.did, C.id.did]);

    const back = await c.send(fed.federationId, 'agent.task.result', { ok: true });
    await until(() => atA.some((m) => m.messageId === back.messageId), 5000, 'at alice');
    expect(atA.find((m) => m.messageId === back.messageId)?.route).toEqual([C.id.did, B.id.did, A.id.did]);
  });

  it('ends hop overflow and loops across hubs in typed errors at the source', async () => {
    // A second link for alice replaces a's session; a reconnects by itself afterwards.
    const raw = await rawAuthenticated(A.url, alice);
    const envelope = (over: Record<string, unknown>) =>
      signEnvelope(
        {
          ...createEnvelope(
            {
              type: 'agent.task.request',
              federationId: fed.federationId,
              sourceMeshId: alice.did,
              targetMeshId: carol.did,
              payload: { type: 'agent.task.request', data: {} },
              maxHops: 2,
            },
            { now: Date.now },
          ),
          ...over,
        } as never,
        alice.keyPair,
      );
    // A and B take it (hops 1, 2); C, the third hub, finds maxHops reached.
    const overflow = envelope({});
    raw.send(overflow);
    const e1 = await raw.next((f) => f.type === 'error' && f.inReplyTo === overflow.messageId);
    expect(e1.code).toBe('hop_limit_exceeded');
    // An envelope that claims to have passed C already loops when it gets there.
    const loop = envelope({ maxHops: 5, hopCount: 1, route: [C.id.did] });
    raw.send(loop);
    const e2 = await raw.next((f) => f.type === 'error' && f.inReplyTo === loop.messageId);
    expect(e2.code).toBe('routing_loop');
    raw.close();
    await until(() => a.connected, 5000, 'a back');
  });

  it('refuses relays on a hub link that did not authenticate, and unknown hubs', async () => {
    const ws = new WebSocket(`${B.url}/v1/hub`);
    const frames: Record<string, unknown>[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await until(() => frames.some((f) => f.type === 'HubHello'), 5000, 'HubHello');
    ws.send(
      JSON.stringify({ type: 'Relay', toMeshId: carol.did, fromHub: A.id.did, frame: { type: 'Delivered' } }),
    );
    expect(await closed).toBe(1008);
    expect(frames.find((f) => f.type === 'error')?.code).toBe('out_of_order');

    const intruder = hubIdentity('intruder');
    const ws2 = new WebSocket(`${B.url}/v1/hub`);
    const frames2: Record<string, unknown>[] = [];
    ws2.on('message', (d) => frames2.push(JSON.parse(d.toString()) as Record<string, unknown>));
    const closed2 = new Promise<number>((r) => ws2.on('close', (code) => r(code)));
    await new Promise((r) => ws2.once('open', r));
    ws2.send(
      JSON.stringify({
        type: 'HubHello',
        hubDid: intruder.did,
        nonce: 'A'.repeat(43),
        timestamp: Date.now(),
      }),
    );
    expect(await closed2).toBe(1008);
    expect(frames2.find((f) => f.type === 'error')?.code).toBe('unauthorized');
    expect(B.hub.connectedPeers().sort()).toEqual([A.id.did, C.id.did].sort());
  });

  it('queues at the target hub while the target is offline, then delivers', async () => {
    await c.stop();
    await until(() => !routeTo(A.hub, carol.did)(), 5000, 'carol withdrawn');
    const sending = a.send(fed.federationId, 'agent.task.request', { queued: true });
    // The message waits at C (home hub of carol), reached through the route to hub C.
    await until(
      async () => (await C.hub.metrics.offlineQueued.get()).values[0]?.value === 1,
      5000,
      'queued at C',
    );
    const err = await sending.catch((e: unknown) => e);
    // C's queue TTL (1 s) elapses before carol comes back: unreachable, relayed back to alice.
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).wireCode).toBe('unreachable');
    c = nodeFor(world, carol, C.url, { capabilities: ['ml.inference', 'data.query'] });
    c.onMessage((m) => {
      atC.push(m);
    });
    await c.start();
    await until(routeTo(A.hub, carol.did, 3), 5000, 'carol back');
    // A restarted node has no session keys: federate again.
    fed = await a.federate(carol.did, { capabilities: ['ml.inference'], purpose: 'again', ttlSeconds: 3600 });
    await until(() => c.federations().some((f) => f.federationId === fed.federationId && f.usable), 5000);
  });

  it('when hub B stops mid-traffic the source gets errors and nothing is delivered twice', async () => {
    const outcomes: string[] = [];
    let stop = false;
    const loop = (async () => {
      for (let n = 0; !stop && n < 500; n++) {
        try {
          await a.send(fed.federationId, 'agent.task.request', { n });
          outcomes.push('delivered');
        } catch (e) {
          outcomes.push(e instanceof DeliveryError ? e.wireCode : 'other');
        }
      }
    })();
    await until(() => outcomes.filter((o) => o === 'delivered').length >= 5, 10_000, 'traffic');
    await B.hub.stop();
    await until(
      () => outcomes.filter((o) => o === 'unreachable').length >= 3,
      10_000,
      'errors at the source',
    );
    stop = true;
    await loop;
    expect(outcomes.filter((o) => o !== 'delivered' && o !== 'unreachable' && o !== 'timeout')).toEqual([]);
    const ids = atC.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
