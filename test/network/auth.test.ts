import type { Hub } from '@fmp/hub';
import { NodeAuthenticationError } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createWorld,
  identity,
  type Member,
  newcomerScore,
  nodeFor,
  startHub,
  type World,
} from './fixtures.js';
import { authenticateFrame, rawConnect } from './raw-client.js';

describe('node authentication', () => {
  let world: World;
  let hub: Hub;
  let url: string;
  let httpUrl: string;

  beforeAll(async () => {
    world = await createWorld();
    ({ hub, url, httpUrl } = await startHub(world, { limits: { maxFrameBytes: 16 * 1024 } }));
  });
  afterAll(async () => {
    await hub.stop();
  });

  async function refused(member: Member, frame?: (c: Awaited<ReturnType<typeof rawConnect>>) => unknown) {
    const client = await rawConnect(url);
    client.send(frame ? frame(client) : authenticateFrame(client, member));
    const error = await client.next((f) => f.type === 'error');
    const { code } = await client.closed;
    expect(code).toBe(4001);
    return error;
  }

  it('accepts a node with a valid signature and credential', async () => {
    const member = await world.member('did:mesh:enterprise:good-001', { trustLevel: 70 });
    const node = nodeFor(world, member, url);
    await node.start();
    expect(node.trustScore).toBeCloseTo(newcomerScore(70), 0);
    await node.stop();
  });

  it('rejects a wrong signature', async () => {
    const member = await world.member('did:mesh:enterprise:sig-001');
    const error = await refused(member, (c) =>
      authenticateFrame(c, member, { keyPair: world.issuer.keyPair }),
    );
    expect(error.code).toBe('invalid_signature');
  });

  it('rejects a credential from an untrusted issuer', async () => {
    const rogue = identity('did:mesh:authority:rogue');
    await hub.registry.append(rogue.op);
    const member = await world.member('did:mesh:enterprise:untrusted-001', {
      issuer: rogue,
      revocable: false,
    });
    const node = nodeFor(world, member, url);
    const err = await node.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeAuthenticationError);
    expect((err as NodeAuthenticationError).wireCode).toBe('credential_invalid');
  });

  it('rejects an expired credential', async () => {
    const member = await world.member('did:mesh:enterprise:expired-001', {
      issuedAt: new Date(Date.now() - 86_400_000),
      validUntil: new Date(Date.now() - 1000),
    });
    const error = await refused(member);
    expect(error.code).toBe('expired');
  });

  it('rejects a revoked credential', async () => {
    const member = await world.member('did:mesh:enterprise:revoked-001');
    await world.statusList.revoke(member.statusIndex!);
    const error = await refused(member);
    expect(error.code).toBe('credential_revoked');
  });

  it('rejects a stale timestamp and a foreign nonce', async () => {
    const member = await world.member('did:mesh:enterprise:stale-001');
    const stale = await refused(member, (c) =>
      authenticateFrame(c, member, { timestamp: Date.now() - 10 * 60_000 }),
    );
    expect(stale.code).toBe('clock_skew');
    // A signed Authenticate replayed on another link carries the old link's nonce.
    const first = await rawConnect(url);
    const captured = authenticateFrame(first, member);
    first.close();
    const replay = await refused(member, () => captured);
    expect(replay.code).toBe('replay_detected');
  });

  it('answers malformed and oversized frames with typed errors and stays up', async () => {
    const client = await rawConnect(url);
    client.sendRaw('not json');
    expect((await client.next((f) => f.type === 'error')).code).toBe('malformed_frame');
    client.sendRaw(JSON.stringify({ type: 'Authenticate', x: 1 }));
    expect((await client.next((f) => f.type === 'error')).code).toBe('malformed_frame');
    client.sendRaw(JSON.stringify({ type: 'discovery.query', pad: 'x'.repeat(20 * 1024) }));
    expect((await client.next((f) => f.type === 'error')).code).toBe('message_too_large');
    // Frames before authentication are refused, not processed.
    client.send({ type: 'discovery.query', requestId: crypto.randomUUID(), query: {} });
    expect((await client.next((f) => f.type === 'error')).code).toBe('unauthorized');
    // Far beyond the limit, ws itself drops the link (1009).
    client.sendRaw('x'.repeat(64 * 1024));
    expect((await client.closed).code).toBe(1009);
    const health = await fetch(`${httpUrl}/healthz`);
    expect(health.status).toBe(200);
    const member = await world.member('did:mesh:enterprise:after-001');
    const node = nodeFor(world, member, url);
    await node.start();
    expect(node.connected).toBe(true);
    await node.stop();
  });
});
