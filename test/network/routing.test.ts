import { randomUUID } from 'node:crypto';
import {
  createEnvelope,
  createInitiator,
  EARLY_RESPONSE_FEATURE,
  ed25519Signer,
  randomBytes,
  signEnvelope,
} from '@fmp/core';
import type { Hub } from '@fmp/hub';
import { DeliveryError, type FederationInfo, type IncomingMessage, type MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type Member, nodeFor, startHub, until, type World } from './fixtures.js';
import { type Partition, partitionable } from './proxy.js';
import { rawAuthenticated } from './raw-client.js';

describe('routing, queueing and lifecycle', () => {
  let world: World;
  let hub: Hub;
  let url: string;
  let acme: Member;
  let mit: Member;
  let a: MeshNode;
  let b: MeshNode;
  let proxy: Partition;
  let fed: FederationInfo;
  const received: IncomingMessage[] = [];

  beforeAll(async () => {
    world = await createWorld();
    ({ hub, url } = await startHub(world, { limits: { queueTtlMs: 400 } }));
    proxy = await partitionable(url);
    acme = await world.member('did:mesh:enterprise:acme-001');
    mit = await world.member('did:mesh:academic:mit-001');
    a = nodeFor(world, acme, url, { sendTimeoutMs: 2_000 });
    // b reaches the hub through a proxy the tests can cut. Its receipts wait for slow handlers up
    // to 10 s (the default is 20 ms), so the dedup test below sees a's 2 s resend.
    b = nodeFor(world, mit, proxy.url, { hubHttpUrl: url.replace('ws', 'http'), receiptWithinMs: 10_000 });
    await a.start();
    await b.start();
    b.onMessage((m) => {
      received.push(m);
    });
    fed = await a.federate(mit.did, { capabilities: ['ml.inference'], purpose: 'routing', ttlSeconds: 3600 });
    await until(() => b.federations().some((f) => f.federationId === fed.federationId && f.usable));
  });

  afterAll(async () => {
    await a.stop();
    await b.stop();
    await proxy.close();
    await hub.stop();
  });

  it('gives one federation by id as federations() lists it, at both ends', () => {
    for (const node of [a, b]) {
      expect(node.federation(fed.federationId)).toEqual(
        node.federations().find((f) => f.federationId === fed.federationId),
      );
      expect(node.federation(fed.federationId)?.status).toBe('active');
      expect(node.federation(randomUUID())).toBeUndefined();
    }
  });

  it('delivers a resent message once (dedup by messageId)', async () => {
    const slow = createWorldNodeWithSlowHandler();
    const receipt = await slow.run();
    expect(receipt.attempts).toBeGreaterThanOrEqual(2);
    expect(slow.seen()).toBe(1);
  });

  // A sender whose first receipt is late: it resends the same bytes; the target sees it once.
  function createWorldNodeWithSlowHandler() {
    let count = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    return {
      seen: () => count,
      run: async () => {
        const off = b.onMessage(async (m) => {
          if (m.type !== 'test.slow') return;
          count++;
          await gate;
        });
        const delivered = async () =>
          (await hub.metrics.messages.get()).values.find(
            (v) => v.labels.outcome === 'delivered' && v.labels.priority === 'normal',
          )?.value ?? 0;
        const baseline = await delivered();
        const sending = a.send(fed.federationId, 'test.slow', { n: 1 });
        // a resends after its 2 s timeout while the handler still holds the first copy.
        await until(async () => (await delivered()) >= baseline + 2, 10_000, 'a resend');
        release();
        const receipt = await sending;
        off();
        return receipt;
      },
    };
  }

  it('queues for an offline target and delivers on reconnect', async () => {
    const before = received.length;
    proxy.cut();
    await until(
      async () => !(await a.discover()).some((m) => m.meshId === mit.did),
      5000,
      'b offline at the hub',
    );
    const sending = a.send(fed.federationId, 'agent.task.request', { queued: true });
    await new Promise((r) => setTimeout(r, 100));
    proxy.heal();
    const receipt = await sending;
    expect(receipt.messageId).toBeDefined();
    expect(received.slice(before).map((m) => m.data)).toEqual([{ queued: true }]);
  });

  it('reports unreachable to the source when the queue TTL runs out', async () => {
    proxy.cut();
    await until(
      async () => !(await a.discover()).some((m) => m.meshId === mit.did),
      5000,
      'b offline at the hub',
    );
    const err = await a.send(fed.federationId, 'agent.task.request', { lost: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).wireCode).toBe('unreachable');
    proxy.heal();
    await until(() => b.connected, 5000, 'b back');
  });

  it('rejects unknown federations, spoofed sources, hop overflow and loops with typed errors', async () => {
    // A second link for acme replaces a's session; a reconnects afterwards by itself.
    const raw = await rawAuthenticated(url, acme);
    const envelope = (over: Record<string, unknown>) =>
      signEnvelope(
        {
          ...createEnvelope(
            {
              type: 'agent.task.request',
              federationId: fed.federationId,
              sourceMeshId: acme.did,
              targetMeshId: mit.did,
              payload: { type: 'agent.task.request', data: {} },
              maxHops: 2,
            },
            { now: Date.now },
          ),
          ...over,
        } as never,
        acme.keyPair,
      );
    const cases: [Record<string, unknown>, string][] = [
      [{ federationId: randomUUID() }, 'unknown_federation'],
      [{ sourceMeshId: mit.did, targetMeshId: acme.did }, 'unauthorized'],
      [{ hopCount: 2, route: ['did:mesh:hub:a', 'did:mesh:hub:b'] }, 'hop_limit_exceeded'],
      [{ hopCount: 1, route: [world.hub.did] }, 'routing_loop'],
      [{ timestamp: Date.now() - 60 * 60_000 }, 'clock_skew'],
    ];
    for (const [over, code] of cases) {
      const env = envelope(over);
      raw.send(env);
      const error = await raw.next((f) => f.type === 'error' && f.inReplyTo === env.messageId);
      expect(error.code).toBe(code);
    }
    raw.close();
    await until(() => a.connected, 5000, 'a back');
  });

  it('answers a replayed ChallengeResponse with a typed error and completes the first', async () => {
    const raw = await rawAuthenticated(url, acme);
    const initiator = createInitiator(
      { now: Date.now, randomBytes, resolveAuthenticationKey: async () => mit.keyPair.publicKey },
      {
        meshId: acme.did,
        signer: ed25519Signer(acme.vm, acme.keyPair),
        credential: acme.credential as never,
      },
    );
    const initiate = initiator.start({
      targetMeshId: mit.did,
      capabilities: ['ml.inference'],
      metadata: { ttl: 60, purpose: 'replay' },
    });
    raw.send(initiate);
    const challenge = await raw.next((f) => f.type === 'Challenge');
    const response = await initiator.onChallenge(challenge);
    raw.send(response);
    raw.send(response);
    const error = await raw.next((f) => f.type === 'error' && f.inReplyTo === initiate.handshakeId);
    expect(['out_of_order', 'unknown_handshake']).toContain(error.code);
    const established = await raw.next((f) => f.type === 'FederationEstablished');
    expect(established.handshakeId).toBe(initiate.handshakeId);
    raw.close();
    await until(() => a.connected, 5000, 'a back');
  });

  it('takes an early response (the Hello nonce as the challenge) and refuses it replayed or on another link', async () => {
    // A mesh of its own, so a's session is left alone.
    const early = await world.member('did:mesh:enterprise:early-001');
    const raw = await rawAuthenticated(url, early);
    expect(raw.hello.features).toContain(EARLY_RESPONSE_FEATURE);
    const initiator = createInitiator(
      { now: Date.now, randomBytes, resolveAuthenticationKey: async () => mit.keyPair.publicKey },
      {
        meshId: early.did,
        signer: ed25519Signer(early.vm, early.keyPair),
        credential: early.credential as never,
      },
    );
    const start = {
      targetMeshId: mit.did,
      capabilities: ['ml.inference'],
      metadata: { ttl: 60, purpose: 'early' },
    };
    const initiate = await initiator.startEarly(start, raw.hello.nonce);
    raw.send(initiate);
    // No Challenge: the hub went to the target at once, and the federation is established.
    const established = await raw.next((f) => f.type === 'FederationEstablished' || f.type === 'Challenge');
    expect(established).toMatchObject({ type: 'FederationEstablished', handshakeId: initiate.handshakeId });
    const { confirm } = await initiator.onEstablished(established);
    raw.send(confirm);
    await until(
      () => b.federation(established.federationId as string)?.usable === true,
      5000,
      'target session',
    );
    // The same initiation again on this link: its handshakeId is spent.
    raw.send(initiate);
    const replayed = await raw.next((f) => f.type === 'error' || f.type === 'HandshakeReject');
    expect(replayed.code).toBe('replay_detected');
    raw.close();
    // A fresh initiation answered to the old link's nonce, on a new link: not made for it.
    const other = await rawAuthenticated(url, early);
    other.send(await initiator.startEarly(start, raw.hello.nonce));
    const refused = await other.next((f) => f.type === 'error' || f.type === 'HandshakeReject');
    expect(refused.code).toBe('replay_detected');
    other.close();
  });

  it('still runs the four phases with a node that does not send early responses', async () => {
    const classic = nodeFor(world, await world.member('did:mesh:ngo:classic-001'), url, {
      earlyHandshake: false,
    });
    await classic.start();
    try {
      const info = await classic.federate(mit.did, {
        capabilities: ['ml.inference'],
        purpose: 'classic',
        ttlSeconds: 60,
      });
      expect(info.status).toBe('active');
    } finally {
      await classic.stop();
    }
  });

  it('suspends a federation when a credential is revoked, and resumes it when restored', async () => {
    const statuses: string[] = [];
    const off = a.onStatus((e) => {
      if (e.federationId === fed.federationId) statuses.push(`${e.status}:${e.reason}`);
    });
    await world.statusList.revoke(mit.statusIndex!);
    await until(() => statuses.includes('suspended:credential_revoked'), 5000, 'suspension');
    const refused = await a.send(fed.federationId, 'agent.task.request', {}).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'unknown_federation' });
    await until(
      () => b.federations().find((f) => f.federationId === fed.federationId)?.status === 'suspended',
      5000,
      'suspension at the target',
    );
    await world.statusList.unrevoke(mit.statusIndex!);
    await until(() => statuses.includes('active:resumed'), 5000, 'resumption');
    await a.send(fed.federationId, 'agent.task.request', { after: 'resume' });
    off();
  });
});
