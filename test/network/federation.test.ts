import type { Hub } from '@fmp/hub';
import { DeliveryError, type IncomingMessage, type MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type Member, newcomerScore, nodeFor, startHub, until, type World } from './fixtures.js';

describe('two nodes on one hub', () => {
  let world: World;
  let hub: Hub;
  let url: string;
  let acme: Member;
  let mit: Member;
  let a: MeshNode;
  let b: MeshNode;
  const nodes: MeshNode[] = [];

  beforeAll(async () => {
    world = await createWorld();
    ({ hub, url } = await startHub(world));
    acme = await world.member('did:mesh:enterprise:acme-001');
    mit = await world.member('did:mesh:academic:mit-001');
    a = nodeFor(world, acme, url);
    b = nodeFor(world, mit, url, { policy: { acceptCapabilities: ['ml.inference'] } });
    nodes.push(a, b);
    await a.start();
    await b.start();
  });

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await hub.stop();
  });

  it('authenticates and discovers', async () => {
    expect(a.connected).toBe(true);
    expect(a.trustScore).toBeCloseTo(newcomerScore(85), 0);
    const found = await a.discover({ capabilities: ['ml.inference'] });
    expect(found.map((m) => m.meshId).sort()).toEqual([acme.did, mit.did].sort());
    expect(found[0]?.homeHub).toBe(world.hub.did);
  });

  it('federates over the wire and exchanges sealed messages both ways', async () => {
    const got: IncomingMessage[] = [];
    const offB = b.onMessage((m) => {
      got.push(m);
    });
    const gotA: IncomingMessage[] = [];
    const offA = a.onMessage((m) => {
      gotA.push(m);
    });
    const fed = await a.federate(mit.did, {
      capabilities: ['ml.inference'],
      purpose: 'research',
      ttlSeconds: 3600,
    });
    expect(fed.status).toBe('active');
    expect(fed.peer).toBe(mit.did);
    await until(
      () => b.federations().some((f) => f.federationId === fed.federationId),
      5000,
      'responder session',
    );

    const receipt = await a.send(
      fed.federationId,
      'agent.task.request',
      { task: 'summarize' },
      { priority: 'high' },
    );
    expect(receipt.attempts).toBe(1);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      source: acme.did,
      type: 'agent.task.request',
      data: { task: 'summarize' },
      priority: 'high',
      route: [world.hub.did],
    });
    await b.send(fed.federationId, 'agent.task.result', { summary: 'ok' });
    expect(gotA[0]).toMatchObject({ source: mit.did, data: { summary: 'ok' } });
    expect(hub.routes().find((r) => r.federationId === fed.federationId)?.route).toBe(
      `${acme.did}:${mit.did}`,
    );
    offA();
    offB();
  });

  it('refuses a federation by policy with its reason', async () => {
    await expect(
      a.federate(mit.did, { capabilities: ['data.export'], purpose: 'exfiltrate', ttlSeconds: 60 }),
    ).rejects.toMatchObject({
      wireCode: 'handshake_rejected',
      reason: expect.stringContaining('data.export'),
    });
  });

  it('terminates from either side and both ends learn it', async () => {
    const fed = await a.federate(mit.did, {
      capabilities: ['ml.inference'],
      purpose: 'short',
      ttlSeconds: 600,
    });
    await until(
      () => b.federations().some((f) => f.federationId === fed.federationId && f.usable),
      5000,
      'b session',
    );
    await b.terminate(fed.federationId, 'done');
    await until(
      () => a.federations().find((f) => f.federationId === fed.federationId)?.status === 'terminated',
    );
    await expect(a.send(fed.federationId, 'agent.task.request', {})).rejects.toMatchObject({
      code: 'unknown_federation',
    });
  });

  it('expires a federation when its ttl runs out (both ends told)', async () => {
    const fed = await a.federate(mit.did, {
      capabilities: ['ml.inference'],
      purpose: 'brief',
      ttlSeconds: 1,
    });
    await until(
      () => b.federations().find((f) => f.federationId === fed.federationId)?.status === 'expired',
      5000,
    );
    await until(
      () => a.federations().find((f) => f.federationId === fed.federationId)?.status === 'expired',
      5000,
    );
    // The hub tells both ends, then drops the row once the expiry is persisted.
    await until(() => !hub.federations().some((f) => f.federationId === fed.federationId), 5000);
    expect(hub.federations().some((f) => f.federationId === fed.federationId)).toBe(false);
  });
});

describe('a receiver whose replay window is full', () => {
  let world: World;
  let hub: Hub;
  const nodes: MeshNode[] = [];

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await hub?.stop();
  });

  it('refuses new messages with rate_limited and hands each accepted one over once', async () => {
    world = await createWorld();
    let url: string;
    ({ hub, url } = await startHub(world));
    const src = await world.member('did:mesh:enterprise:acme-001');
    const dst = await world.member('did:mesh:academic:mit-001');
    const a = nodeFor(world, src, url, { maxSendAttempts: 1 });
    const b = nodeFor(world, dst, url, {
      replayCapacity: 2,
      policy: { acceptCapabilities: ['ml.inference'] },
    });
    nodes.push(a, b);
    await a.start();
    await b.start();
    const got: unknown[] = [];
    b.onMessage((m) => {
      got.push(m.data);
    });
    const fed = await a.federate(dst.did, { capabilities: ['ml.inference'], purpose: 'research' });
    await until(() => b.federations().some((f) => f.federationId === fed.federationId), 5000, 'session');
    await a.send(fed.federationId, 'agent.task.request', { n: 1 });
    await a.send(fed.federationId, 'agent.task.request', { n: 2 });
    const third = await a.send(fed.federationId, 'agent.task.request', { n: 3 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(third).toBeInstanceOf(DeliveryError);
    expect((third as DeliveryError).wireCode).toBe('rate_limited');
    expect(got).toEqual([{ n: 1 }, { n: 2 }]);
  });
});
