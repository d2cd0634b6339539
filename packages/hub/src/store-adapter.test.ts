import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@fmp/core';
import { postgresStore, sqliteStore } from '@fmp/store';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryHubStore, StoreFullError, type TrustStore } from './persistence.js';
import { hubStoreFrom, NEVER_EXPIRES } from './store-adapter.js';
import { federationRow, T0 } from './test-support.js';

const dir = mkdtempSync(join(tmpdir(), 'fmp-hub-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const federation = federationRow;

describe('hubStoreFrom (SQLite)', () => {
  it('maps insert-or-replace writes onto store transitions and survives a reopen', async () => {
    const path = join(dir, 'hub.db');
    let store = sqliteStore({ path });
    await store.open();
    let hubStore = hubStoreFrom(store);
    const f = federation();
    await hubStore.federations.put(f);
    await hubStore.federations.put({
      ...f,
      status: 'suspended',
      statusReason: 'trust below minimum',
      updatedAt: T0 + 1,
    });
    await hubStore.federations.put({
      ...f,
      status: 'suspended',
      expiresAt: T0 + 7_200_000,
      updatedAt: T0 + 2,
    });
    await hubStore.meshes.put({
      meshId: 'did:mesh:enterprise:acme-001',
      region: 'na',
      capabilities: ['ml.inference'],
      homeHub: 'did:mesh:hub:eu',
      credentialIssuer: 'did:mesh:authority:foundation',
      credentialExpiresAt: T0 + 86_400_000,
      trustScore: 85,
      firstSeenAt: T0,
      lastSeenAt: T0,
    });
    await hubStore.uptime.sessionOpened('did:mesh:enterprise:acme-001', T0);
    await hubStore.uptime.sessionClosed('did:mesh:enterprise:acme-001', T0 + 60_000);
    await hubStore.close?.();

    store = sqliteStore({ path });
    await store.open();
    hubStore = hubStoreFrom(store);
    expect(await hubStore.federations.get(f.federationId)).toMatchObject({
      status: 'suspended',
      statusReason: 'trust below minimum',
      expiresAt: T0 + 7_200_000,
      minTrustScore: 0,
    });
    expect(await hubStore.federations.get(randomUUID())).toBeUndefined();
    expect((await hubStore.federations.list({ status: 'suspended' })).map((r) => r.federationId)).toEqual([
      f.federationId,
    ]);
    expect(await hubStore.federations.list({ meshId: 'did:mesh:academic:mit-001' })).toHaveLength(1);
    expect((await hubStore.meshes.list()).map((m) => m.meshId)).toEqual(['did:mesh:enterprise:acme-001']);
    expect(await hubStore.uptime.uptime('did:mesh:enterprise:acme-001', T0 + 120_000)).toMatchObject({
      connectedMs: 60_000,
      sessions: 1,
    });
    await hubStore.close?.();
  });

  it('stores a mesh whose credential never expires, with its credential and uptime', async () => {
    const store = sqliteStore({ path: join(dir, 'never.db') });
    await store.open();
    const hubStore = hubStoreFrom(store);
    const meshId = 'did:mesh:enterprise:forever-001';
    await hubStore.meshes.put(
      {
        meshId,
        region: 'eu',
        capabilities: ['ml.inference'],
        homeHub: 'did:mesh:hub:eu',
        credentialIssuer: 'did:mesh:authority:foundation',
        credentialExpiresAt: undefined,
        trustScore: 50,
        firstSeenAt: T0,
        lastSeenAt: T0,
      },
      '{"credential":"text"}',
    );
    await hubStore.uptime.sessionOpened(meshId, T0);
    expect(await hubStore.meshes.get(meshId)).toMatchObject({ credentialExpiresAt: NEVER_EXPIRES });
    expect(await hubStore.meshes.credential(meshId)).toBe('{"credential":"text"}');
    expect(await hubStore.uptime.uptime(meshId, T0 + 1000)).toMatchObject({ sessions: 1 });
    await hubStore.close?.();
  });
});

const ACME = 'did:mesh:enterprise:acme-001';
const MIT = 'did:mesh:academic:mit-001';
const GOV = 'did:mesh:government:gov-001';
const PG_URL = process.env['FMP_TEST_POSTGRES_URL'];

/** The TrustStore contract, the same for the in-memory store and hubStoreFrom over SQLite and PostgreSQL. */
function trustContract(
  name: string,
  make: () => Promise<{ trust: TrustStore; done: () => Promise<void> }>,
  skip?: string,
) {
  describe.skipIf(skip !== undefined)(`HubStore.trust (${name}${skip ? `, skipped: ${skip}` : ''})`, () => {
    it('upserts, keeps the last row of a repeated key, loads newest first within the limit', async () => {
      const { trust, done } = await make();
      try {
        const state = {
          counters: { positive: { value: 2.5, at: T0 } },
          name: 'Zoë 東京 👩🏽‍🔬',
          nested: [{ a: [1] }],
        };
        await trust.putSubjects([
          { did: ACME, state, updatedAt: T0 },
          { did: MIT, state: { v: 1 }, updatedAt: T0 + 2 },
          { did: MIT, state: { v: 2 }, updatedAt: T0 + 1 },
        ]);
        await trust.putEdges([
          { from: ACME, to: MIT, state: { weight: 0.4 }, updatedAt: T0 },
          { from: MIT, to: ACME, state: { weight: 0.6 }, updatedAt: T0 + 1 },
        ]);
        await trust.putEdges([{ from: ACME, to: MIT, state: { weight: 0.9 }, updatedAt: T0 + 5 }]);
        const attestation = (id: string, expiresAt: number) => ({
          id,
          attester: GOV,
          subject: ACME,
          body: { score: 70, claim: 'audited' },
          expiresAt,
        });
        await trust.putAttestations([attestation('a-1', T0 + 10), attestation('a-2', T0 + 20)]);
        expect(await trust.count()).toEqual({ subjects: 2, edges: 2, attestations: 2 });

        const all = await trust.load();
        expect(all.subjects).toEqual([
          { did: MIT, state: { v: 2 }, updatedAt: T0 + 1 },
          { did: ACME, state, updatedAt: T0 },
        ]);
        expect(JSON.stringify(all.subjects[1]!.state)).toBe(JSON.stringify(state));
        expect(all.edges.map((e) => [e.from, e.state['weight']])).toEqual([
          [ACME, 0.9],
          [MIT, 0.6],
        ]);
        expect(all.attestations.map((a) => a.id)).toEqual(['a-2', 'a-1']);
        const one = await trust.load({ limit: 1 });
        expect([one.subjects.length, one.edges.length, one.attestations.length]).toEqual([1, 1, 1]);
        expect(one.subjects[0]!.did).toBe(MIT);

        expect(await trust.deleteExpiredAttestations(T0 + 10)).toBe(1);
        expect(await trust.deleteExpiredAttestations(T0 + 10)).toBe(0);
        expect((await trust.load()).attestations.map((a) => a.id)).toEqual(['a-2']);
        await expect(trust.load({ limit: 0 })).rejects.toBeInstanceOf(ValidationError);
      } finally {
        await done();
      }
    });

    it('gives back copies: later edits by the caller do not reach the store', async () => {
      const { trust, done } = await make();
      try {
        const state: Record<string, unknown> = { list: [1, 2] };
        await trust.putSubjects([{ did: ACME, state, updatedAt: T0 }]);
        (state['list'] as number[]).push(3);
        const loaded = await trust.load();
        expect(loaded.subjects[0]!.state).toEqual({ list: [1, 2] });
        (loaded.subjects[0]!.state['list'] as number[]).push(4);
        expect((await trust.load()).subjects[0]!.state).toEqual({ list: [1, 2] });
      } finally {
        await done();
      }
    });
  });
}

trustContract('memory', async () => ({ trust: memoryHubStore().trust!, done: async () => {} }));

trustContract('SQLite', async () => {
  const store = sqliteStore({ path: join(dir, `trust-${randomUUID()}.db`) });
  await store.open();
  return { trust: hubStoreFrom(store).trust!, done: () => store.close() };
});

trustContract(
  'PostgreSQL',
  async () => {
    const schema = `fmp_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const store = postgresStore({ url: PG_URL!, schema, maxConnections: 2 });
    await store.open();
    return {
      trust: hubStoreFrom(store).trust!,
      done: async () => {
        await store.close();
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`drop schema if exists ${schema} cascade`);
        await client.end();
      },
    };
  },
  PG_URL ? undefined : 'FMP_TEST_POSTGRES_URL is not set',
);

describe('memoryHubStore trust bounds', () => {
  it('refuses a call that would pass maxTrustRows, whole, and still replaces existing rows', async () => {
    const trust = memoryHubStore({ maxTrustRows: 2 }).trust!;
    await trust.putSubjects([{ did: ACME, state: { v: 1 }, updatedAt: T0 }]);
    const err = await trust
      .putSubjects([
        { did: MIT, state: { v: 1 }, updatedAt: T0 },
        { did: GOV, state: { v: 1 }, updatedAt: T0 },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreFullError);
    expect(await trust.count()).toEqual({ subjects: 1, edges: 0, attestations: 0 });
    // Replacing a held key and adding one more fits exactly.
    await trust.putSubjects([
      { did: ACME, state: { v: 2 }, updatedAt: T0 + 1 },
      { did: MIT, state: { v: 1 }, updatedAt: T0 },
    ]);
    expect((await trust.load()).subjects.map((s) => s.state)).toEqual([{ v: 2 }, { v: 1 }]);
    await expect(
      trust.putEdges([{ from: ACME, to: MIT, state: {}, updatedAt: T0 }]),
    ).resolves.toBeUndefined();
    await expect(
      trust.putAttestations(
        ['a', 'b', 'c'].map((id) => ({ id, attester: MIT, subject: ACME, body: {}, expiresAt: T0 })),
      ),
    ).rejects.toBeInstanceOf(StoreFullError);
  });
});

describe('hubStoreFrom trust (SQLite)', () => {
  it('keeps the trust state across a reopen and passes the store validation through', async () => {
    const path = join(dir, 'trust-reopen.db');
    let store = sqliteStore({ path });
    await store.open();
    let hubStore = hubStoreFrom(store);
    await hubStore.trust!.putSubjects([{ did: ACME, state: { level: 'validated' }, updatedAt: T0 }]);
    await hubStore.trust!.putEdges([{ from: ACME, to: MIT, state: { weight: 1 }, updatedAt: T0 }]);
    const bad = await hubStore
      .trust!.putSubjects([{ did: 'acme', state: { level: 'x' }, updatedAt: T0 }])
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ValidationError);
    expect((bad as ValidationError).issues.map((i) => i.path)).toEqual(['0.did']);
    await hubStore.close?.();

    store = sqliteStore({ path });
    await store.open();
    hubStore = hubStoreFrom(store);
    expect(await hubStore.trust!.load()).toEqual({
      subjects: [{ did: ACME, state: { level: 'validated' }, updatedAt: T0 }],
      edges: [{ from: ACME, to: MIT, state: { weight: 1 }, updatedAt: T0 }],
      attestations: [],
    });
    await hubStore.close?.();
  });
});
