/**
 * Federation renewal on one hub (issue #3 lifecycle): a fresh handshake that names the federation
 * it renews keeps the federation id, extends expiresAt, switches both ends to new session keys and
 * is persisted; messages keep flowing across the switch, each delivered once. Renewing an expired
 * federation, or someone else's, is refused.
 */
import { randomUUID } from 'node:crypto';
import { encodeMultikey, x25519 } from '@fmp/core';
import { type Hub, type HubStore, memoryHubStore } from '@fmp/hub';
import {
  FederationFailedError,
  type FederationStatusEvent,
  type IncomingMessage,
  type MeshNode,
  UnknownFederationError,
} from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createWorld, type Member, nodeFor, startHub, until, type World } from './fixtures.js';
import { type RawClient, rawAuthenticated } from './raw-client.js';

/** An InitiateFederation a real node would not send: it renews `renews` on behalf of `member`. */
function renewalInitiate(member: Member, targetMeshId: string, renews: string) {
  return {
    type: 'InitiateFederation',
    handshakeId: randomUUID(),
    sourceMeshId: member.did,
    targetMeshId,
    credentials: member.credential,
    capabilities: ['ml.inference'],
    ephemeralPublicKey: encodeMultikey('x25519-pub', x25519.generateKeyPair().publicKey),
    renews,
  };
}

async function rejectFor(raw: RawClient, frame: { handshakeId: string }): Promise<Record<string, unknown>> {
  raw.send(frame);
  return raw.next((f) => f.type === 'HandshakeReject' && f.handshakeId === frame.handshakeId);
}

describe('federation renewal on one hub', () => {
  let world: World;
  let hub: Hub;
  let store: HubStore;
  let url: string;
  let acme: Member;
  let mit: Member;
  let evil: Member;
  let a: MeshNode;
  let b: MeshNode;
  const atA: IncomingMessage[] = [];
  const atB: IncomingMessage[] = [];
  const statusA: FederationStatusEvent[] = [];
  const statusB: FederationStatusEvent[] = [];

  beforeAll(async () => {
    world = await createWorld();
    store = memoryHubStore();
    ({ hub, url } = await startHub(world, { store }));
    acme = await world.member('did:mesh:enterprise:acme-001');
    mit = await world.member('did:mesh:academic:mit-001');
    evil = await world.member('did:mesh:enterprise:evil-001');
    // Manual renewals only here; the automatic schedule has its own test below.
    a = nodeFor(world, acme, url, { renewal: { auto: 'off' } });
    b = nodeFor(world, mit, url, { renewal: { auto: 'off' } });
    a.onMessage((m) => {
      atA.push(m);
    });
    b.onMessage((m) => {
      atB.push(m);
    });
    a.onStatus((e) => statusA.push(e));
    b.onStatus((e) => statusB.push(e));
    await a.start();
    await b.start();
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await hub?.stop();
  });

  async function federated(ttlSeconds = 3600) {
    const fed = await a.federate(mit.did, { capabilities: ['ml.inference'], purpose: 'renewal', ttlSeconds });
    await until(() => b.federations().some((f) => f.federationId === fed.federationId && f.usable), 5000);
    return fed;
  }

  it('keeps the id, extends expiresAt, switches keys, persists; traffic crosses it once each', async () => {
    const fed = await federated(3600);
    expect(fed.path).toEqual([world.hub.did]);
    const before = hub.federations().find((f) => f.federationId === fed.federationId)!;
    const sends: Promise<{ messageId: string }>[] = [];
    for (let i = 0; i < 20; i++) sends.push(a.send(fed.federationId, 'agent.task.request', { i }));
    // Renew while those are in flight, and keep sending during and after it, both ways.
    const renewal = a.renew(fed.federationId);
    for (let i = 20; i < 40; i++) sends.push(a.send(fed.federationId, 'agent.task.request', { i }));
    const renewed = await renewal;
    for (let i = 40; i < 60; i++) sends.push(a.send(fed.federationId, 'agent.task.request', { i }));
    const back = await b.send(fed.federationId, 'agent.task.result', { ok: true });
    const receipts = await Promise.all(sends);

    expect(renewed.federationId).toBe(fed.federationId);
    expect(renewed.status).toBe('active');
    expect(renewed.usable).toBe(true);
    expect(renewed.handshakeId).toBeDefined();
    expect(renewed.handshakeId).not.toBe(fed.handshakeId);
    expect(renewed.expiresAt).toBeGreaterThanOrEqual(fed.expiresAt);
    // Every message delivered exactly once.
    const ids = receipts.map((r) => r.messageId).sort();
    const got = atB.filter((m) => m.federationId === fed.federationId).map((m) => m.messageId);
    expect(got.slice().sort()).toEqual(ids);
    expect(new Set(got).size).toBe(got.length);
    await until(() => atA.some((m) => m.messageId === back.messageId), 5000, 'reply at acme');

    // The target switched to the same new session.
    await until(
      () =>
        b.federations().find((f) => f.federationId === fed.federationId)?.handshakeId === renewed.handshakeId,
      5000,
      'target re-keyed',
    );
    // The hub kept one federation: same id, new handshake and expiry, active, persisted.
    const after = hub.federations().find((f) => f.federationId === fed.federationId)!;
    expect(after).toMatchObject({
      status: 'active',
      handshakeId: renewed.handshakeId,
      expiresAt: renewed.expiresAt,
    });
    expect(after.handshakeId).not.toBe(before.handshakeId);
    expect(after.createdAt).toBe(before.createdAt);
    expect(
      hub.federations().filter((f) => f.sourceMeshId === acme.did && f.purpose === 'renewal'),
    ).toHaveLength(1);
    // Written within the hub's federationWriteDelayMs (10 ms) of the renewal.
    await vi.waitFor(
      async () =>
        expect(await store.federations.get(fed.federationId)).toMatchObject({
          handshakeId: renewed.handshakeId,
          expiresAt: renewed.expiresAt,
          status: 'active',
        }),
      { timeout: 2_000 },
    );
    expect(statusA).toContainEqual({ federationId: fed.federationId, status: 'active', reason: 'renewed' });
    expect(statusB).toContainEqual({ federationId: fed.federationId, status: 'active', reason: 'renewed' });

    // After the switch the new keys carry traffic both ways.
    const more = await a.send(fed.federationId, 'agent.task.request', { after: true });
    expect(atB.filter((m) => m.messageId === more.messageId)).toHaveLength(1);
  });

  it('either end may renew: the target renews too', async () => {
    const fed = await federated(3600);
    const renewed = await b.renew(fed.federationId);
    expect(renewed).toMatchObject({ federationId: fed.federationId, role: 'responder', status: 'active' });
    await until(
      () =>
        a.federations().find((f) => f.federationId === fed.federationId)?.handshakeId === renewed.handshakeId,
      5000,
      'initiator re-keyed',
    );
    const r = await b.send(fed.federationId, 'agent.task.result', { from: 'target' });
    await until(() => atA.some((m) => m.messageId === r.messageId), 5000);
  });

  it('renews automatically at the configured fraction of the lifetime', async () => {
    const auto = nodeFor(world, await world.member('did:mesh:ngo:auto-001'), url, {
      renewal: { at: 0.4, overlapMs: 500 },
    });
    await auto.start();
    try {
      const fed = await auto.federate(mit.did, {
        capabilities: ['ml.inference'],
        purpose: 'auto',
        ttlSeconds: 3,
      });
      await until(
        () =>
          auto.federations().find((f) => f.federationId === fed.federationId)?.handshakeId !==
          fed.handshakeId,
        10_000,
        'automatic renewal',
      );
      // Past the original expiry the federation is still the same one, active and usable.
      await until(() => Date.now() > fed.expiresAt + 200, 10_000, 'original expiry passed');
      const now = auto.federations().find((f) => f.federationId === fed.federationId)!;
      expect(now).toMatchObject({ status: 'active', usable: true });
      expect(now.expiresAt).toBeGreaterThan(fed.expiresAt);
      expect(hub.federations().find((f) => f.federationId === fed.federationId)?.status).toBe('active');
      const r = await auto.send(fed.federationId, 'agent.task.request', { late: true });
      await until(() => atB.some((m) => m.messageId === r.messageId), 5000);
    } finally {
      await auto.stop();
    }
  });

  it('a federation that is not renewed expires as before, and cannot be renewed afterwards', async () => {
    const fed = await federated(1);
    await until(
      () => a.federations().find((f) => f.federationId === fed.federationId)?.status === 'expired',
      5000,
    );
    await until(
      () => b.federations().find((f) => f.federationId === fed.federationId)?.status === 'expired',
      5000,
    );
    await expect(a.renew(fed.federationId)).rejects.toBeInstanceOf(FederationFailedError);
    await expect(a.renew(fed.federationId)).rejects.toMatchObject({ wireCode: 'expired' });
    expect(hub.federations().some((f) => f.federationId === fed.federationId)).toBe(false);
    expect((await store.federations.get(fed.federationId))?.status).toBe('expired');
  });

  it('a third party cannot renew someone else federation; the hub refuses an expired one', async () => {
    const fed = await federated(3600);
    const before = hub.federations().find((f) => f.federationId === fed.federationId)!;
    await expect(nodeFor(world, evil, url).renew(fed.federationId)).rejects.toBeInstanceOf(
      UnknownFederationError,
    );
    const raw = await rawAuthenticated(url, evil);
    try {
      // Toward either party of the federation: evil is not one of them.
      expect(await rejectFor(raw, renewalInitiate(evil, mit.did, fed.federationId))).toMatchObject({
        code: 'unknown_federation',
      });
      expect(await rejectFor(raw, renewalInitiate(evil, acme.did, fed.federationId))).toMatchObject({
        code: 'unknown_federation',
      });
      // A renewal naming an id that does not exist at all.
      expect(await rejectFor(raw, renewalInitiate(evil, mit.did, randomUUID()))).toMatchObject({
        code: 'unknown_federation',
      });
    } finally {
      raw.close();
    }
    expect(hub.federations().find((f) => f.federationId === fed.federationId)).toEqual(before);

    // The hub itself refuses to renew an expired federation (not only the node's own check).
    const short = await federated(1);
    await until(() => !hub.federations().some((f) => f.federationId === short.federationId), 5000);
    const rawAcme = await rawAuthenticated(url, acme);
    try {
      expect(await rejectFor(rawAcme, renewalInitiate(acme, mit.did, short.federationId))).toMatchObject({
        code: 'expired',
      });
    } finally {
      rawAcme.close();
    }
    expect((await store.federations.get(short.federationId))?.status).toBe('expired');
  });
});
