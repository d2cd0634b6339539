/**
 * A node notices a hub gone silent (no TCP error: packets dropped, a frozen process) on its own and
 * dials again, over WebSocket and over gRPC; a quiet but healthy link is kept (the node's own pings
 * are answered).
 */
import { loadGrpc } from '@fmp/core/grpc';
import type { Hub } from '@fmp/hub';
import type { MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, nodeFor, startHub, until, type World } from './fixtures.js';
import { type Partition, partitionable } from './proxy.js';

// Generous against a loaded machine: a healthy link answers the node's ping (sent at half of it) well within.
const IDLE_MS = 1500;

describe.each(['websocket', 'grpc'] as const)('a silent hub link (%s)', (transport) => {
  let world: World;
  let hub: Hub;
  let httpUrl: string;
  let proxy: Partition;
  let node: MeshNode;

  beforeAll(async () => {
    await loadGrpc();
    world = await createWorld();
    let url: string;
    // The hub's own heartbeat is far off: only the node's liveness check can notice anything.
    ({ hub, url, httpUrl } = await startHub(world, {
      grpcPort: 0,
      limits: { heartbeatMs: 600_000, idleTimeoutMs: 600_000 },
    }));
    proxy = await partitionable(transport === 'grpc' ? hub.grpcUrl! : url);
    const member = await world.member(`did:mesh:enterprise:quiet-${transport}-001`);
    node = nodeFor(
      world,
      member,
      transport === 'grpc' ? proxy.url.replace(/^ws:/, 'grpc:') : `${proxy.url}/v1/mesh`,
      { hubHttpUrl: httpUrl, hubIdleTimeoutMs: IDLE_MS, reconnectDelayMs: () => 50 },
    );
    await node.start();
  });

  afterAll(async () => {
    await node?.stop();
    await proxy?.close();
    await hub?.stop();
  });

  it('keeps a quiet, healthy link: its pings are answered', async () => {
    expect(node.connected).toBe(true);
    const end = Date.now() + 2.5 * IDLE_MS;
    while (Date.now() < end) {
      expect(node.connected).toBe(true);
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('drops a link that went silent and dials again', async () => {
    proxy.stall();
    await until(() => !node.connected, 10 * IDLE_MS);
    // The new connection goes through (only the stalled one is dead).
    await until(() => node.connected, 15_000);
  });
});

describe('a hub that never says Hello', () => {
  it('fails start() once the link has been silent for hubIdleTimeoutMs, instead of waiting forever', async () => {
    const { WebSocketServer } = await import('ws');
    const mute = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => mute.once('listening', () => r()));
    const port = (mute.address() as { port: number }).port;
    const world = await createWorld();
    const member = await world.member('did:mesh:enterprise:mute-001');
    const node = nodeFor(world, member, `ws://127.0.0.1:${port}/v1/mesh`, { hubIdleTimeoutMs: 500 });
    try {
      await expect(node.start()).rejects.toThrow(/before authentication/);
    } finally {
      await node.stop();
      for (const c of mute.clients) c.terminate();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });
});
