import type { Hub } from '@fmp/hub';
import { hubBackedResolver, type MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, identity, type Member, nodeFor, startHub, until, type World } from './fixtures.js';

const TOKEN = 'admin-token-0123456789abcdef';

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies, checked by the assertions
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();

describe('hub HTTP API', () => {
  let world: World;
  let hub: Hub;
  let url: string;
  let http: string;
  let acme: Member;
  let mit: Member;
  let a: MeshNode;
  let b: MeshNode;

  beforeAll(async () => {
    world = await createWorld();
    ({ hub, url, httpUrl: http } = await startHub(world, { adminToken: TOKEN }));
    acme = await world.member('did:mesh:enterprise:acme-001', { trustLevel: 90 });
    mit = await world.member('did:mesh:academic:mit-001', { trustLevel: 60 });
    a = nodeFor(world, acme, url);
    b = nodeFor(world, mit, url);
    await a.start();
    await b.start();
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
    await hub.stop();
  });

  it('serves health, readiness and metrics', async () => {
    expect(await json(fetch(`${http}/healthz`))).toEqual({ status: 'ok' });
    expect((await fetch(`${http}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toMatch(/fmp_hub_sessions\{hub="did:mesh:hub:eu-test"\} 2/);
  });

  it('resolves DIDs in the DIF shape and serves op logs', async () => {
    const own = await json(fetch(`${http}/.well-known/did.json`));
    expect(own.id).toBe(world.hub.did);
    const ok = await fetch(`${http}/1.0/identifiers/${acme.did}`);
    expect(ok.status).toBe(200);
    expect((await json(ok)).didDocument.id).toBe(acme.did);
    const missing = await fetch(`${http}/1.0/identifiers/did:mesh:enterprise:nobody`);
    expect(missing.status).toBe(404);
    expect((await json(missing)).didResolutionMetadata.error).toBe('notFound');
    // DID Core's versionId / versionTime: an earlier document, or a typed error.
    const v0 = await fetch(`${http}/1.0/identifiers/${acme.did}?versionId=0`);
    expect(v0.status).toBe(200);
    const doc0 = await json(v0);
    expect(doc0.didDocument).toEqual((await json(fetch(`${http}/1.0/identifiers/${acme.did}`))).didDocument);
    expect(doc0.didDocumentMetadata.versionId).toBe('0');
    const byTime = await fetch(
      `${http}/1.0/identifiers/${acme.did}?versionTime=${encodeURIComponent(new Date().toISOString())}`,
    );
    expect((await json(byTime)).didDocumentMetadata.versionId).toBe('0');
    const future = await fetch(`${http}/1.0/identifiers/${acme.did}?versionId=1`);
    expect(future.status).toBe(404);
    expect((await json(future)).didResolutionMetadata.error).toBe('notFound');
    const before = await fetch(`${http}/1.0/identifiers/${acme.did}?versionTime=2001-01-01T00:00:00Z`);
    expect(before.status).toBe(404);
    const bad = await fetch(`${http}/1.0/identifiers/${acme.did}?versionId=first`);
    expect(bad.status).toBe(400);
    expect((await json(bad)).didResolutionMetadata.error).toBe('invalidOptions');
    // A node resolves versions from the op log it fetches and verifies itself.
    const viaNode = hubBackedResolver({ hubHttpUrl: http });
    expect((await viaNode.resolve(acme.did, { versionId: '0' })).didDocument).toEqual(doc0.didDocument);
    expect((await viaNode.resolve(acme.did, { versionId: '1' })).didResolutionMetadata.error).toBe(
      'notFound',
    );
    expect(
      (await viaNode.resolve(acme.did, { versionTime: '2001-01-01T00:00:00Z' })).didResolutionMetadata.error,
    ).toBe('notFound');
    const log = await json(fetch(`${http}/v1/identities/${acme.did}/log`));
    expect(log.operations).toHaveLength(1);
    expect((await fetch(`${http}/v1/identities/did:mesh:enterprise:nobody/log`)).status).toBe(404);
  });

  it('accepts self-certifying operations and refuses forged ones', async () => {
    const fresh = identity('did:mesh:ngo:fresh-001');
    const post = (body: unknown) =>
      fetch(`${http}/v1/identities`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
    const ok = await post([fresh.op]);
    expect(await json(ok)).toEqual({ appended: 1, skipped: 0 });
    const forged = identity('did:mesh:ngo:forged-001');
    const bad = await post([{ ...forged.op, did: 'did:mesh:ngo:other-001' }]);
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toMatch(/^mesh_/);
    expect((await post({ not: 'an array' })).status).toBe(400);
  });

  it('answers discovery queries and lists routes', async () => {
    const all = await json(fetch(`${http}/v1/discovery?capability=ml.inference`));
    expect(all.meshes).toHaveLength(2);
    // Trust scores from the engine: acme (credential 90) about 54, mit (60) about 45.
    const trusted = await json(fetch(`${http}/v1/discovery?minTrustScore=50&region=eu`));
    expect(trusted.meshes.map((m: { meshId: string }) => m.meshId)).toEqual([acme.did]);
    expect((await fetch(`${http}/v1/discovery?minTrustScore=500`)).status).toBe(400);
    const fed = await a.federate(mit.did, {
      capabilities: ['ml.inference'],
      purpose: 'http',
      ttlSeconds: 600,
    });
    const routes = await json(fetch(`${http}/v1/routes`));
    expect(routes.routes).toContainEqual(
      expect.objectContaining({
        route: `${acme.did}:${mit.did}`,
        federationId: fed.federationId,
        path: [world.hub.did],
      }),
    );
  });

  it('guards admin endpoints with the bearer token and drives the lifecycle', async () => {
    expect((await fetch(`${http}/v1/admin/federations`)).status).toBe(401);
    expect(
      (await fetch(`${http}/v1/admin/federations`, { headers: { authorization: 'Bearer wrong' } })).status,
    ).toBe(401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const { federations } = await json(fetch(`${http}/v1/admin/federations`, { headers: auth }));
    const id = federations[0].federationId as string;
    const statuses: string[] = [];
    a.onStatus((e) => statuses.push(e.status));
    const act = (action: string) =>
      fetch(`${http}/v1/admin/federations/${id}/${action}`, { method: 'POST', headers: auth });
    expect((await act('suspend')).status).toBe(200);
    await until(() => statuses.includes('suspended'));
    expect((await act('resume')).status).toBe(200);
    await until(() => statuses.includes('active'));
    expect((await act('terminate')).status).toBe(200);
    await until(() => statuses.includes('terminated'));
    expect((await act('resume')).status).toBe(409);
    const meshes = await json(fetch(`${http}/v1/admin/meshes`, { headers: auth }));
    expect(meshes.meshes.find((m: { meshId: string }) => m.meshId === acme.did)).toMatchObject({
      online: true,
    });
    const score = meshes.meshes.find((m: { meshId: string }) => m.meshId === acme.did).trustScore;
    expect(score).toBeGreaterThan(50);
  });

  // Last: the hub closes the connection of a refused oversized upload, which fetch's pool reuses.
  it('refuses an oversized identity upload', async () => {
    const big = await fetch(`${http}/v1/identities`, {
      method: 'POST',
      body: JSON.stringify(['x'.repeat(300 * 1024)]),
    });
    expect(big.status).toBe(413);
    expect((await json(big)).error.code).toBe('payload_too_large');
  });
});
