/**
 * Mesh links over gRPC (`/fmp.v1.Link/Connect`): a node on the hub's gRPC listener federates and
 * exchanges sealed, signed messages with a node on its WebSocket endpoint; bad frames over gRPC
 * get the same typed error frames; a node whose gRPC link is cut reconnects by itself.
 */
import { connectGrpcLink, type GrpcLinkSocket, loadGrpc } from '@fmp/core/grpc';
import type { Hub } from '@fmp/hub';
import type { MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, nodeFor, startHub, until, type World } from './fixtures.js';
import { hubIdentity, linkedTo, routeTo, startPeerHub } from './multi-hub.js';

const MAX_FRAME = 64 * 1024;

/** The frames a raw gRPC client receives (batches split). */
function framesOf(link: GrpcLinkSocket): Record<string, unknown>[] {
  const frames: Record<string, unknown>[] = [];
  link.on('message', (data: Buffer) => {
    const parsed = JSON.parse(data.toString('utf8')) as unknown;
    for (const f of Array.isArray(parsed) ? parsed : [parsed]) frames.push(f as Record<string, unknown>);
  });
  return frames;
}

const closeOf = (link: GrpcLinkSocket) =>
  new Promise<[number, string]>((resolve) =>
    link.once('close', (code: number, reason: Buffer) => resolve([code, reason.toString()])),
  );

describe('mesh links over gRPC', () => {
  let world: World;
  let hub: Hub;
  let httpUrl: string;
  let grpcUrl: string;
  let overGrpc: MeshNode;
  let overWs: MeshNode;
  const links: GrpcLinkSocket[] = [];

  beforeAll(async () => {
    await loadGrpc();
    world = await createWorld();
    let url: string;
    ({ hub, url, httpUrl } = await startHub(world, { grpcPort: 0, limits: { maxFrameBytes: MAX_FRAME } }));
    grpcUrl = hub.grpcUrl!;
    expect(grpcUrl).toMatch(/^grpc:\/\/127\.0\.0\.1:\d+$/);
    const a = await world.member('did:mesh:enterprise:grpc-a-001');
    const b = await world.member('did:mesh:academic:grpc-b-001');
    overGrpc = nodeFor(world, a, grpcUrl, { hubHttpUrl: httpUrl });
    overWs = nodeFor(world, b, url);
    await overGrpc.start();
    await overWs.start();
  });

  afterAll(async () => {
    for (const l of links) l.terminate();
    await overGrpc?.stop();
    await overWs?.stop();
    await hub?.stop();
  });

  it('a node on gRPC federates with a node on WebSocket; messages cross both ways, verified and opened', async () => {
    expect(overGrpc.connected).toBe(true);
    const toGrpc: unknown[] = [];
    const toWs: unknown[] = [];
    overGrpc.onMessage((m) => {
      toGrpc.push(m.data);
    });
    overWs.onMessage((m) => {
      toWs.push(m.data);
    });
    const fed = await overGrpc.federate(overWs.did, {
      capabilities: ['ml.inference'],
      purpose: 'grpc transport test',
      ttlSeconds: 600,
    });
    expect(fed.status).toBe('active');
    await until(() => overWs.federations().some((f) => f.federationId === fed.federationId && f.usable));
    const receipts = await Promise.all(
      [1, 2, 3].map((n) => overGrpc.send(fed.federationId, 'test.grpc', { n, text: 'über gRPC' })),
    );
    expect(receipts.map((r) => r.messageId)).toHaveLength(3);
    await until(() => toWs.length === 3);
    expect(toWs).toEqual(expect.arrayContaining([1, 2, 3].map((n) => ({ n, text: 'über gRPC' }))));
    await overWs.send(fed.federationId, 'test.reply', { ok: true });
    await until(() => toGrpc.length === 1);
    expect(toGrpc[0]).toEqual({ ok: true });
  });

  it('the hub speaks first (Hello) and answers a malformed frame with a typed error, not a crash', async () => {
    const link = connectGrpcLink(grpcUrl, { maxMessageBytes: 4 * MAX_FRAME });
    links.push(link);
    const frames = framesOf(link);
    await until(() => frames.some((f) => f.type === 'Hello'));
    const hello = frames.find((f) => f.type === 'Hello')!;
    expect(hello.hubDid).toBe(hub.did);
    link.send('{"type":"Authenticate","this is":"not a valid frame"');
    await until(() => frames.some((f) => f.type === 'error'));
    expect(frames.find((f) => f.type === 'error')).toMatchObject({ code: 'malformed_frame' });
    link.send(`{"type":"Ping","pad":"${'x'.repeat(MAX_FRAME)}"}`);
    await until(() => frames.some((f) => f.type === 'error' && f.code === 'message_too_large'));
  });

  it('a message past twice the frame limit cuts the stream (1009); the hub goes on serving', async () => {
    const link = connectGrpcLink(grpcUrl, { maxMessageBytes: 4 * MAX_FRAME });
    links.push(link);
    link.on('error', () => {});
    const frames = framesOf(link);
    await until(() => frames.some((f) => f.type === 'Hello'));
    const closed = closeOf(link);
    link.send(`{"pad":"${'x'.repeat(3 * MAX_FRAME)}"}`);
    expect((await closed)[0]).toBe(1009);
    expect(overGrpc.connected).toBe(true);
  });

  it('a link that never authenticates is closed by the hub with its reason', async () => {
    const quick = await startHub(world, { grpcPort: 0, limits: { authTimeoutMs: 200 } });
    try {
      const link = connectGrpcLink(quick.hub.grpcUrl!, { maxMessageBytes: 4 * MAX_FRAME });
      links.push(link);
      const closed = closeOf(link);
      const [code, reason] = await closed;
      expect(code).toBeGreaterThanOrEqual(4000);
      expect(reason).toBe('authentication timeout');
    } finally {
      await quick.hub.stop();
    }
  });

  it('a node whose gRPC link drops reconnects and authenticates again', async () => {
    const own = await startHub(world, { grpcPort: 0 });
    const member = await world.member('did:mesh:ngo:grpc-c-001');
    const node = nodeFor(world, member, own.hub.grpcUrl!, { hubHttpUrl: own.httpUrl });
    try {
      await node.start();
      expect(node.connected).toBe(true);
      // The hub goes away (every link cut) and comes back on the same gRPC port.
      const fixed = Number(new URL(own.hub.grpcUrl!.replace('grpc:', 'http:')).port);
      await own.hub.stop();
      await until(() => !node.connected);
      const again = await startHub(world, { grpcPort: fixed });
      try {
        await until(() => node.connected, 15_000);
        expect(again.hub.grpcUrl).toBe(`grpc://127.0.0.1:${fixed}`);
      } finally {
        await node.stop();
        await again.hub.stop();
      }
    } finally {
      await node.stop();
    }
  });

  it('two hubs peer over gRPC: a federation and its messages cross the hub link', async () => {
    const ia = hubIdentity('grpc-na');
    const ib = hubIdentity('grpc-eu');
    const B = await startPeerHub(world, ib, { grpcPort: 0, allowedPeers: [ia.did] });
    const A = await startPeerHub(world, ia, { peers: [{ did: ib.did, url: B.hub.grpcUrl! }] });
    const a = await world.member('did:mesh:enterprise:grpc-peer-a-001');
    const b = await world.member('did:mesh:academic:grpc-peer-b-001');
    const na = nodeFor(world, a, A.url);
    const nb = nodeFor(world, b, B.hub.grpcUrl!, { hubHttpUrl: B.httpUrl });
    try {
      await until(linkedTo(A.hub, ib.did));
      await until(linkedTo(B.hub, ia.did));
      await na.start();
      await nb.start();
      await until(routeTo(A.hub, b.did));
      const got: unknown[] = [];
      nb.onMessage((m) => {
        got.push(m.data);
      });
      const fed = await na.federate(b.did, {
        capabilities: ['ml.inference'],
        purpose: 'grpc peering',
        ttlSeconds: 600,
      });
      expect(fed.status).toBe('active');
      await until(() => nb.federations().some((f) => f.federationId === fed.federationId && f.usable));
      await na.send(fed.federationId, 'test.peer', { over: 'grpc hub link' });
      await until(() => got.length === 1);
      expect(got[0]).toEqual({ over: 'grpc hub link' });
      // The hub link drops (B goes away): A sees its peer down rather than hanging on it.
      await nb.stop();
      await B.hub.stop();
      await until(() => !A.hub.connectedPeers().includes(ib.did));
    } finally {
      await na.stop();
      await nb.stop();
      await A.hub.stop();
      await B.hub.stop();
    }
  });

  it('a hub that does not peer closes a hub link offered over gRPC (1008)', async () => {
    const link = connectGrpcLink(grpcUrl, { maxMessageBytes: 4 * MAX_FRAME, kind: 'hub' });
    links.push(link);
    expect(await closeOf(link)).toEqual([1008, 'not accepting hub links']);
  });
});
