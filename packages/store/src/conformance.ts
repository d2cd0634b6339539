/**
 * The store conformance suite: every backend runs exactly these tests (sqlite.test.ts,
 * postgres.test.ts). It is test code, kept in src so both backends import it.
 */
import { randomUUID } from 'node:crypto';
import { ed25519 } from '@fmp/core';
import {
  buildMeshCreate,
  buildMeshUpdate,
  createDidResolver,
  didMesh,
  getEd25519PublicKey,
  hashMeshOperation,
  MeshRegistry,
  MeshStoreError,
} from '@fmp/identity';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AlreadyExistsError,
  InvalidTransitionError,
  NotFoundError,
  StoreClosedError,
  StoreError,
  StoreOverloadedError,
  ValidationError,
} from './errors.js';
import type { FederationStatus, Store, StoredFederation, StoredMesh, StoreOptions } from './types.js';

export interface StoreTarget {
  /** A Store over this target's data; call again after close() to reopen the same data. */
  make(options?: StoreOptions): Store;
  /** Deletes the data; called after every store made from it is closed. */
  dispose(): Promise<void>;
}

export interface ConformanceOptions {
  /** When set, the suite is skipped and this reason shows in the test report. */
  readonly skip?: string;
}

const T0 = Date.parse('2025-06-01T00:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const ACME = 'did:mesh:enterprise:acme-001';
const MIT = 'did:mesh:academic:mit-001';
const GOV = 'did:mesh:government:gov-001';
const STATUSES: readonly FederationStatus[] = ['active', 'suspended', 'expired', 'terminated'];

export function federationFixture(over: Partial<StoredFederation> = {}): StoredFederation {
  return {
    federationId: randomUUID(),
    handshakeId: randomUUID(),
    sourceMeshId: ACME,
    targetMeshId: MIT,
    status: 'active',
    capabilities: ['ml.inference', 'data.analysis'],
    purpose: 'joint research',
    minTrustScore: 50,
    routingEndpoint: 'wss://hub-na.example/fed',
    path: ['did:mesh:hub:na', 'did:mesh:hub:eu'],
    createdAt: T0,
    expiresAt: T0 + 24 * HOUR,
    updatedAt: T0,
    ...over,
  };
}

export function meshFixture(over: Partial<StoredMesh> = {}): StoredMesh {
  return {
    meshId: ACME,
    region: 'na',
    capabilities: ['ml.inference'],
    homeHub: 'did:mesh:hub:na',
    credentialIssuer: 'did:mesh:authority:foundation',
    credentialExpiresAt: T0 + 365 * 24 * HOUR,
    trustScore: 80,
    firstSeenAt: T0,
    lastSeenAt: T0,
    ...over,
  };
}

/** The expected outcome of one state-machine step. */
function allowed(from: FederationStatus, to: FederationStatus): boolean {
  const live = from === 'active' || from === 'suspended';
  return live && to !== from && (to !== 'active' || from === 'suspended');
}

export function storeConformanceSuite(
  name: string,
  factory: () => Promise<StoreTarget>,
  options: ConformanceOptions = {},
): void {
  if (options.skip) {
    describe.skip(`${name} store conformance (skipped: ${options.skip})`, () => {
      it('needs its backend', () => expect.unreachable(options.skip));
    });
    return;
  }

  describe(`${name} store conformance`, () => {
    let target: StoreTarget;
    let opened: Store[];
    let store: Store;

    /** A store over the same data, opened; closed after the test. */
    const reopen = async (o?: StoreOptions) => {
      const s = target.make(o);
      opened.push(s);
      await s.open();
      return s;
    };

    beforeEach(async () => {
      target = await factory();
      opened = [];
      store = await reopen();
    });

    afterEach(async () => {
      for (const s of opened) await s.close();
      await target.dispose();
    });

    describe('lifecycle', () => {
      it('refuses use before open and after close; open and close are idempotent', async () => {
        const s = target.make();
        opened.push(s);
        await expect(s.federations.count()).rejects.toBeInstanceOf(StoreClosedError);
        await expect(s.meshes.upsert(meshFixture())).rejects.toBeInstanceOf(StoreClosedError);
        await Promise.all([s.open(), s.open()]);
        await s.open();
        expect(await s.federations.count()).toBe(0);
        await s.close();
        await s.close();
        await expect(s.federations.get(randomUUID())).rejects.toBeInstanceOf(StoreClosedError);
        await expect(s.federations.put(federationFixture())).rejects.toBeInstanceOf(StoreClosedError);
        await expect(s.open()).rejects.toBeInstanceOf(StoreClosedError);
        await expect(s.meshOperations.load()).rejects.toBeInstanceOf(MeshStoreError);
      });
    });

    describe('federations', () => {
      it('stores a federation exactly as given and gets it back', async () => {
        const a = federationFixture();
        const b = federationFixture({
          status: 'suspended',
          statusReason: 'trust below minimum',
          capabilities: [],
        });
        await store.federations.put(a);
        await store.federations.put(b);
        expect(await store.federations.get(a.federationId)).toEqual(a);
        expect(await store.federations.get(b.federationId)).toEqual(b);
      });

      it('refuses a duplicate id and keeps the stored record', async () => {
        const a = federationFixture();
        await store.federations.put(a);
        const err = await store.federations
          .put({ ...a, status: 'terminated', purpose: 'overwrite' })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AlreadyExistsError);
        expect(err).toMatchObject({ code: 'store_already_exists', id: a.federationId });
        expect(await store.federations.get(a.federationId)).toEqual(a);
      });

      it('refuses malformed federations with ValidationError naming the field', async () => {
        const bad: [unknown, string][] = [
          [{ ...federationFixture(), federationId: 'not-a-uuid' }, 'federationId'],
          [{ ...federationFixture(), status: 'paused' }, 'status'],
          [{ ...federationFixture(), capabilities: ['a.b', 'a.b'] }, 'capabilities'],
          [{ ...federationFixture(), minTrustScore: 101 }, 'minTrustScore'],
          [{ ...federationFixture(), routingEndpoint: 'ftp://hub' }, 'routingEndpoint'],
          [{ ...federationFixture(), path: ['hub-na'] }, 'path.0'],
          [{ ...federationFixture(), createdAt: -1 }, 'createdAt'],
          [{ ...federationFixture(), updatedAt: T0 - 1 }, 'updatedAt'],
          [{ ...federationFixture(), expiresAt: T0 }, 'expiresAt'],
          [{ ...federationFixture(), extra: 1 }, ''],
          [{ ...federationFixture(), sourceMeshId: undefined }, 'sourceMeshId'],
        ];
        for (const [input, path] of bad) {
          const err = await store.federations.put(input as StoredFederation).catch((e: unknown) => e);
          expect(err, path).toBeInstanceOf(ValidationError);
          expect(
            (err as ValidationError).issues.map((i) => i.path),
            path,
          ).toContain(path);
        }
        await expect(store.federations.put(null as never)).rejects.toBeInstanceOf(ValidationError);
        await expect(store.federations.get('x')).rejects.toBeInstanceOf(ValidationError);
        expect(await store.federations.count()).toBe(0);
      });

      it('reports unknown ids as NotFoundError', async () => {
        const id = randomUUID();
        for (const p of [
          store.federations.get(id),
          store.federations.setStatus(id, 'suspended', 'x', T0),
          store.federations.renew(id, T0 + HOUR, T0),
        ]) {
          const err = await p.catch((e: unknown) => e);
          expect(err).toBeInstanceOf(NotFoundError);
          expect(err).toMatchObject({ code: 'store_not_found', entity: 'federation', id });
        }
      });

      it('walks the state machine and refuses leaving a final state', async () => {
        const f = federationFixture();
        await store.federations.put(f);
        const s1 = await store.federations.setStatus(
          f.federationId,
          'suspended',
          'credential revoked',
          T0 + 1,
        );
        expect(s1).toMatchObject({
          status: 'suspended',
          statusReason: 'credential revoked',
          updatedAt: T0 + 1,
        });
        expect(await store.federations.get(f.federationId)).toEqual(s1);
        await store.federations.setStatus(f.federationId, 'active', 'credential reinstated', T0 + 2);
        const err = await store.federations
          .setStatus(f.federationId, 'active', 'again', T0 + 3)
          .catch((e) => e);
        expect(err).toBeInstanceOf(InvalidTransitionError);
        expect(err).toMatchObject({ from: 'active', to: 'active', code: 'federation_invalid_transition' });
        await store.federations.setStatus(f.federationId, 'terminated', 'by source', T0 + 4);
        for (const to of STATUSES) {
          await expect(store.federations.setStatus(f.federationId, to, 'x', T0 + 5)).rejects.toBeInstanceOf(
            InvalidTransitionError,
          );
        }
        expect(await store.federations.get(f.federationId)).toMatchObject({
          status: 'terminated',
          statusReason: 'by source',
          updatedAt: T0 + 4,
        });
        await expect(
          store.federations.setStatus(f.federationId, 'paused' as never, 'x', T0),
        ).rejects.toBeInstanceOf(ValidationError);
        const g = federationFixture();
        await store.federations.put(g);
        await expect(
          store.federations.setStatus(g.federationId, 'suspended', 'x', T0 - 1),
        ).rejects.toBeInstanceOf(ValidationError);
      });

      it('renews active and suspended federations, not final ones', async () => {
        const f = federationFixture();
        await store.federations.put(f);
        const r = await store.federations.renew(f.federationId, T0 + 48 * HOUR, T0 + HOUR);
        expect(r).toMatchObject({ expiresAt: T0 + 48 * HOUR, updatedAt: T0 + HOUR, status: 'active' });
        await store.federations.setStatus(f.federationId, 'suspended', 'x', T0 + HOUR);
        await store.federations.renew(f.federationId, T0 + 72 * HOUR, T0 + 2 * HOUR);
        expect(await store.federations.get(f.federationId)).toMatchObject({
          expiresAt: T0 + 72 * HOUR,
          status: 'suspended',
        });
        await store.federations.setStatus(f.federationId, 'expired', 'ttl', T0 + 3 * HOUR);
        const err = await store.federations
          .renew(f.federationId, T0 + 96 * HOUR, T0 + 4 * HOUR)
          .catch((e) => e);
        expect(err).toBeInstanceOf(InvalidTransitionError);
        expect(err).toMatchObject({ from: 'expired', to: 'renewed' });
        await expect(store.federations.renew(f.federationId, -5, T0)).rejects.toBeInstanceOf(ValidationError);
      });

      it('lists by mesh as source or target, filtered by status, oldest first, bounded', async () => {
        const a = federationFixture({ createdAt: T0, updatedAt: T0 });
        const b = federationFixture({
          sourceMeshId: MIT,
          targetMeshId: ACME,
          createdAt: T0 + 1,
          updatedAt: T0 + 1,
        });
        const c = federationFixture({
          sourceMeshId: GOV,
          targetMeshId: MIT,
          createdAt: T0 + 2,
          updatedAt: T0 + 2,
        });
        for (const f of [c, b, a]) await store.federations.put(f);
        await store.federations.setStatus(b.federationId, 'terminated', 'done', T0 + 3);
        const ids = (fs: StoredFederation[]) => fs.map((f) => f.federationId);
        expect(ids(await store.federations.listByMesh(ACME))).toEqual([a.federationId, b.federationId]);
        expect(ids(await store.federations.listByMesh(MIT))).toEqual([
          a.federationId,
          b.federationId,
          c.federationId,
        ]);
        expect(ids(await store.federations.listByMesh(ACME, { status: 'active' }))).toEqual([a.federationId]);
        expect(ids(await store.federations.listByMesh(MIT, { status: 'terminated' }))).toEqual([
          b.federationId,
        ]);
        expect(ids(await store.federations.list())).toEqual([a.federationId, b.federationId, c.federationId]);
        expect(ids(await store.federations.list({ status: 'active' }))).toEqual([
          a.federationId,
          c.federationId,
        ]);
        expect(ids(await store.federations.list({ status: 'terminated', limit: 1 }))).toEqual([
          b.federationId,
        ]);
        expect(ids(await store.federations.listByMesh(MIT, { limit: 2 }))).toEqual([
          a.federationId,
          b.federationId,
        ]);
        expect(await store.federations.listByMesh('did:mesh:ngo:nobody')).toEqual([]);
        await expect(store.federations.listByMesh(ACME, { limit: 0 })).rejects.toBeInstanceOf(
          ValidationError,
        );
        await expect(store.federations.listByMesh('acme')).rejects.toBeInstanceOf(ValidationError);
      });

      it('lists active federations that have not expired, soonest expiry first', async () => {
        const soon = federationFixture({ expiresAt: T0 + HOUR });
        const later = federationFixture({ expiresAt: T0 + 2 * HOUR });
        const suspended = federationFixture({ status: 'suspended' });
        for (const f of [later, soon, suspended]) await store.federations.put(f);
        const ids = async (now: number) =>
          (await store.federations.listActive(now)).map((f) => f.federationId);
        expect(await ids(T0)).toEqual([soon.federationId, later.federationId]);
        expect(await ids(T0 + HOUR)).toEqual([later.federationId]);
        expect(await ids(T0 + 2 * HOUR)).toEqual([]);
        expect((await store.federations.listActive(T0, { limit: 1 })).length).toBe(1);
      });

      it('expires due federations once and reports their ids', async () => {
        const due = federationFixture({ expiresAt: T0 + HOUR });
        const dueSuspended = federationFixture({ expiresAt: T0 + HOUR, status: 'suspended' });
        const dueTerminated = federationFixture({ expiresAt: T0 + HOUR, status: 'terminated' });
        const notDue = federationFixture({ expiresAt: T0 + 2 * HOUR });
        for (const f of [due, dueSuspended, dueTerminated, notDue]) await store.federations.put(f);
        expect(await store.federations.expireDue(T0 + HOUR - 1)).toEqual([]);
        const expired = await store.federations.expireDue(T0 + HOUR);
        expect([...expired].sort()).toEqual([due.federationId, dueSuspended.federationId].sort());
        expect(await store.federations.get(due.federationId)).toMatchObject({
          status: 'expired',
          updatedAt: T0 + HOUR,
        });
        expect((await store.federations.get(dueTerminated.federationId)).status).toBe('terminated');
        expect(await store.federations.expireDue(T0 + HOUR)).toEqual([]);
        expect((await store.federations.get(notDue.federationId)).status).toBe('active');
      });

      it('counts in total and by status', async () => {
        await store.federations.put(federationFixture());
        await store.federations.put(federationFixture());
        await store.federations.put(federationFixture({ status: 'terminated' }));
        expect(await store.federations.count()).toBe(3);
        expect(await store.federations.count({ status: 'active' })).toBe(2);
        expect(await store.federations.count({ status: 'expired' })).toBe(0);
      });

      it('property: random transitions never reach an invalid state; invalid ones throw typed errors', async () => {
        const action = fc.oneof(
          fc.constantFrom(...STATUSES).map((to) => ({ kind: 'status' as const, to })),
          fc.constant({ kind: 'renew' as const }),
        );
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom('active', 'suspended'),
            fc.array(action, { maxLength: 8 }),
            async (s0, steps) => {
              const f = federationFixture({ status: s0 as FederationStatus });
              await store.federations.put(f);
              let model: FederationStatus = f.status;
              let t = T0;
              for (const step of steps) {
                t += 1;
                const live = model === 'active' || model === 'suspended';
                if (step.kind === 'renew') {
                  const p = store.federations.renew(f.federationId, t + HOUR, t);
                  if (live) await p;
                  else await expect(p).rejects.toBeInstanceOf(InvalidTransitionError);
                } else if (allowed(model, step.to)) {
                  expect((await store.federations.setStatus(f.federationId, step.to, 'p', t)).status).toBe(
                    step.to,
                  );
                  model = step.to;
                } else {
                  await expect(
                    store.federations.setStatus(f.federationId, step.to, 'p', t),
                  ).rejects.toBeInstanceOf(InvalidTransitionError);
                }
                expect(STATUSES).toContain(model);
              }
              expect((await store.federations.get(f.federationId)).status).toBe(model);
            },
          ),
          { numRuns: 25 },
        );
      });

      it('property: arbitrary and mutated input ends in ValidationError or is stored as given', async () => {
        const field = fc.constantFrom(...(Object.keys(federationFixture()) as (keyof StoredFederation)[]));
        await fc.assert(
          fc.asyncProperty(fc.anything(), field, fc.anything(), async (junk, key, value) => {
            await expect(store.federations.put(junk as StoredFederation)).rejects.toBeInstanceOf(
              ValidationError,
            );
            const mutated = { ...federationFixture(), [key]: value } as StoredFederation;
            const outcome = await store.federations.put(mutated).then(
              () => 'stored',
              (e: unknown) => e,
            );
            if (outcome === 'stored')
              expect(await store.federations.get(mutated.federationId)).toEqual(mutated);
            else expect(outcome).toBeInstanceOf(ValidationError);
          }),
          { numRuns: 40 },
        );
      });
    });

    describe('meshes', () => {
      it('upserts: the latest fields win, the earliest first sighting is kept', async () => {
        const m = meshFixture({ firstSeenAt: T0, lastSeenAt: T0 + HOUR });
        await store.meshes.upsert(m);
        expect(await store.meshes.get(ACME)).toEqual(m);
        const m2 = meshFixture({
          region: 'eu',
          capabilities: ['data.analysis'],
          trustScore: 65.5,
          homeHub: 'did:mesh:hub:eu',
          firstSeenAt: T0 + 2 * HOUR,
          lastSeenAt: T0 + 2 * HOUR,
        });
        await store.meshes.upsert(m2);
        expect(await store.meshes.get(ACME)).toEqual({ ...m2, firstSeenAt: T0 });
        await store.meshes.upsert({ ...m2, lastSeenAt: T0 + 3 * HOUR, firstSeenAt: T0 + 3 * HOUR });
        await store.meshes.upsert({ ...m2, lastSeenAt: T0 + HOUR, firstSeenAt: T0 + HOUR });
        expect(await store.meshes.get(ACME)).toMatchObject({ firstSeenAt: T0, lastSeenAt: T0 + 3 * HOUR });
      });

      it('validates meshes and list options, and reports unknown meshes', async () => {
        for (const bad of [
          { ...meshFixture(), region: 'North America' },
          { ...meshFixture(), capabilities: ['ML Inference'] },
          { ...meshFixture(), trustScore: -1 },
          { ...meshFixture(), lastSeenAt: T0 - 1 },
          { ...meshFixture(), meshId: 'acme' },
        ]) {
          await expect(store.meshes.upsert(bad)).rejects.toBeInstanceOf(ValidationError);
        }
        await expect(store.meshes.list({ limit: 0 })).rejects.toBeInstanceOf(ValidationError);
        await expect(store.meshes.list({ limit: 1001 })).rejects.toBeInstanceOf(ValidationError);
        await expect(store.meshes.list({ limit: 1, minTrustScore: 200 })).rejects.toBeInstanceOf(
          ValidationError,
        );
        const err = await store.meshes.get(GOV).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'store_not_found', entity: 'mesh', id: GOV });
        await expect(store.meshes.sessionOpened(GOV, T0)).rejects.toBeInstanceOf(NotFoundError);
        await expect(store.meshes.sessionClosed(GOV, T0)).rejects.toBeInstanceOf(NotFoundError);
        await expect(store.meshes.uptime(GOV, { since: T0, now: T0 })).rejects.toBeInstanceOf(NotFoundError);
      });

      it('lists what discovery asks: region, capabilities, trust, credential validity, limit', async () => {
        const meshes = [
          meshFixture({
            meshId: ACME,
            region: 'na',
            capabilities: ['ml.inference', 'data.analysis'],
            trustScore: 80,
          }),
          meshFixture({ meshId: MIT, region: 'na', capabilities: ['ml.inference'], trustScore: 90 }),
          meshFixture({ meshId: GOV, region: 'eu', capabilities: ['data.analysis'], trustScore: 70 }),
          meshFixture({
            meshId: 'did:mesh:ngo:old-001',
            region: 'eu',
            capabilities: ['ml.inference'],
            trustScore: 95,
            credentialExpiresAt: T0,
          }),
        ];
        await Promise.all(meshes.map((m) => store.meshes.upsert(m)));
        const ids = async (o: Parameters<Store['meshes']['list']>[0]) =>
          (await store.meshes.list(o)).map((m) => m.meshId);
        expect(await ids({ limit: 10 })).toEqual(['did:mesh:ngo:old-001', MIT, ACME, GOV]);
        expect(await ids({ limit: 2 })).toEqual(['did:mesh:ngo:old-001', MIT]);
        expect(await ids({ limit: 10, region: 'na' })).toEqual([MIT, ACME]);
        expect(await ids({ limit: 10, capability: 'data.analysis' })).toEqual([ACME, GOV]);
        expect(await ids({ limit: 10, capabilities: ['ml.inference', 'data.analysis'] })).toEqual([ACME]);
        expect(await ids({ limit: 10, capability: 'ml.inference', minTrustScore: 85 })).toEqual([
          'did:mesh:ngo:old-001',
          MIT,
        ]);
        expect(await ids({ limit: 10, credentialValidAt: T0 })).toEqual([MIT, ACME, GOV]);
        expect(await ids({ limit: 10, region: 'apac' })).toEqual([]);
        // Capabilities are replaced on upsert, not merged.
        await store.meshes.upsert({ ...meshes[0]!, capabilities: ['ml.training'] });
        expect(await ids({ limit: 10, capability: 'data.analysis' })).toEqual([GOV]);
        expect((await store.meshes.list({ limit: 10, capability: 'ml.training' }))[0]).toMatchObject({
          meshId: ACME,
          capabilities: ['ml.training'],
        });
      });

      it('computes uptime from sessions, counting an open one up to now', async () => {
        await store.meshes.upsert(meshFixture());
        await store.meshes.sessionOpened(ACME, T0);
        expect(await store.meshes.sessionClosed(ACME, T0 + HOUR)).toBe(true);
        expect(await store.meshes.sessionClosed(ACME, T0 + HOUR)).toBe(false);
        await store.meshes.sessionOpened(ACME, T0 + 2 * HOUR);
        expect(await store.meshes.uptime(ACME, { since: T0, now: T0 + 3 * HOUR })).toEqual({
          connectedMs: 2 * HOUR,
          totalMs: 3 * HOUR,
          ratio: 2 / 3,
          sessions: 2,
          estimated: false,
        });
        expect(await store.meshes.uptime(ACME, { since: T0 + 30 * MIN, now: T0 + 150 * MIN })).toMatchObject({
          connectedMs: 60 * MIN,
          totalMs: 120 * MIN,
          ratio: 0.5,
          sessions: 2,
        });
        expect(await store.meshes.uptime(ACME, { since: T0 + 70 * MIN, now: T0 + 110 * MIN })).toMatchObject({
          connectedMs: 0,
          sessions: 0,
          ratio: 0,
        });
        expect(await store.meshes.uptime(ACME, { since: T0, now: T0 })).toMatchObject({
          totalMs: 0,
          ratio: 0,
        });
        await expect(store.meshes.uptime(ACME, { since: T0 + 1, now: T0 })).rejects.toBeInstanceOf(
          ValidationError,
        );
        expect((await store.meshes.get(ACME)).lastSeenAt).toBe(T0 + 2 * HOUR);
      });

      it('closes a session a crash left open at the last sighting', async () => {
        await store.meshes.upsert(meshFixture());
        await store.meshes.sessionOpened(ACME, T0);
        await store.meshes.upsert(meshFixture({ lastSeenAt: T0 + 10 * MIN }));
        await store.meshes.sessionOpened(ACME, T0 + HOUR);
        await store.meshes.sessionClosed(ACME, T0 + 2 * HOUR);
        expect(await store.meshes.uptime(ACME, { since: T0, now: T0 + 2 * HOUR })).toMatchObject({
          connectedMs: 70 * MIN,
          sessions: 2,
        });
      });

      it('keeps session history bounded and folds old sessions into the aggregate', async () => {
        await store.close(); // one open store per database in a process
        const s = await reopen({ maxSessionsPerMesh: 3 });
        await s.meshes.upsert(meshFixture());
        // Ten sessions of 10 minutes, one per hour.
        for (let i = 0; i < 10; i++) {
          await s.meshes.sessionOpened(ACME, T0 + i * HOUR);
          await s.meshes.sessionClosed(ACME, T0 + i * HOUR + 10 * MIN);
        }
        const all = await s.meshes.uptime(ACME, { since: T0, now: T0 + 10 * HOUR });
        expect(all).toMatchObject({ connectedMs: 100 * MIN, sessions: 10, estimated: false });
        // The three retained sessions are exact.
        const recent = await s.meshes.uptime(ACME, { since: T0 + 7 * HOUR, now: T0 + 10 * HOUR });
        expect(recent).toMatchObject({ connectedMs: 30 * MIN, sessions: 3, estimated: false });
        // A window starting inside the folded span is prorated and says so.
        const partial = await s.meshes.uptime(ACME, { since: T0 + 3 * HOUR + 30 * MIN, now: T0 + 10 * HOUR });
        expect(partial.estimated).toBe(true);
        expect(partial.connectedMs).toBeGreaterThan(30 * MIN);
        expect(partial.connectedMs).toBeLessThan(100 * MIN);
        await s.close();
        const again = await reopen({ maxSessionsPerMesh: 3 });
        expect(await again.meshes.uptime(ACME, { since: T0, now: T0 + 10 * HOUR })).toEqual(all);
      });
    });

    describe('did:mesh operation log', () => {
      const did = 'did:mesh:enterprise:acme-001';
      const keys = [1, 2, 3].map((n) => ed25519.keyPairFromSeed(new Uint8Array(32).fill(n)));
      const now = () => T0 + 24 * HOUR;
      const create = buildMeshCreate({
        did,
        key: keys[0]!,
        nextPublicKey: keys[1]!.publicKey,
        timestamp: new Date(T0),
      });
      const rotate = buildMeshUpdate({
        did,
        previous: { seq: 0, hash: hashMeshOperation(create) },
        key: keys[1]!,
        nextPublicKey: keys[2]!.publicKey,
        timestamp: new Date(T0 + MIN),
      });

      it('round-trips a MeshRegistry: create, rotate, close, reopen, resolve the rotated key', async () => {
        expect(await store.meshOperations.load()).toEqual([]);
        const registry = await MeshRegistry.open({ store: store.meshOperations, now });
        await registry.append(create);
        await registry.append(rotate);
        await registry.close();
        await store.close();

        const s2 = await reopen();
        expect(await s2.meshOperations.load()).toEqual([create, rotate]);
        const reopened = await MeshRegistry.open({ store: s2.meshOperations, now });
        expect(reopened.state(did)?.head.seq).toBe(1);
        const resolver = createDidResolver({ methods: [didMesh({ registry: reopened })], now });
        const doc = (await resolver.resolve(did)).didDocument!;
        expect(getEd25519PublicKey(doc, '#key-2', 'authentication')).toEqual(keys[1]!.publicKey);
        expect(() => getEd25519PublicKey(doc, '#key-1')).toThrow();
        await reopened.close();
      });

      it('refuses a second operation at a held position (fork) and fails its whole batch', async () => {
        await store.meshOperations.append(create);
        const fork = buildMeshCreate({
          did,
          key: keys[2]!,
          nextPublicKey: keys[0]!.publicKey,
          timestamp: new Date(T0),
        });
        const f = federationFixture();
        const before = store.stats().transactions;
        const [forked, put] = await Promise.allSettled([
          store.meshOperations.append(fork),
          store.federations.put(f),
        ]);
        expect(store.stats().transactions - before).toBe(1);
        expect(forked.status === 'rejected' && forked.reason).toBeInstanceOf(MeshStoreError);
        expect(put.status === 'rejected' && put.reason).toBeInstanceOf(StoreError);
        expect(await store.meshOperations.load()).toEqual([create]);
        await expect(store.federations.get(f.federationId)).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('durability and concurrency', () => {
      it('keeps everything across close and reopen', async () => {
        const f = federationFixture();
        await store.federations.put(f);
        const suspended = await store.federations.setStatus(
          f.federationId,
          'suspended',
          'trust below minimum',
          T0 + 1,
        );
        await store.meshes.upsert(meshFixture());
        await store.meshes.sessionOpened(ACME, T0);
        await store.meshes.sessionClosed(ACME, T0 + HOUR);
        await store.close();
        const s = await reopen();
        expect(await s.federations.get(f.federationId)).toEqual(suspended);
        expect(await s.meshes.get(ACME)).toEqual(meshFixture({ lastSeenAt: T0 + HOUR }));
        expect(await s.meshes.uptime(ACME, { since: T0, now: T0 + 2 * HOUR })).toMatchObject({
          connectedMs: HOUR,
          sessions: 1,
        });
      });

      it('group-commits 1,000 concurrent puts in a few transactions, all durable', async () => {
        const fs = Array.from({ length: 1000 }, () => federationFixture());
        const before = store.stats();
        await Promise.all(fs.map((f) => store.federations.put(f)));
        const after = store.stats();
        expect(after.writes - before.writes).toBe(1000);
        expect(after.transactions - before.transactions).toBeLessThanOrEqual(10);
        expect(after.pending).toBe(0);
        await store.close();
        const s = await reopen();
        expect(await s.federations.count()).toBe(1000);
        for (const f of [fs[0]!, fs[499]!, fs[999]!])
          expect(await s.federations.get(f.federationId)).toEqual(f);
      });

      it('runs one transaction per write when maxBatchSize is 1', async () => {
        await store.close();
        const s = await reopen({ maxBatchSize: 1 });
        await Promise.all(Array.from({ length: 20 }, () => s.federations.put(federationFixture())));
        expect(s.stats()).toEqual({ transactions: 20, writes: 20, pending: 0 });
      });

      it('fails only the caller whose operation was refused, not its batch', async () => {
        const existing = federationFixture();
        await store.federations.put(existing);
        const a = federationFixture();
        const b = federationFixture();
        const before = store.stats().transactions;
        const results = await Promise.allSettled([
          store.federations.put(a),
          store.federations.put(existing),
          store.federations.setStatus(randomUUID(), 'terminated', 'x', T0),
          store.federations.setStatus(existing.federationId, 'active', 'x', T0),
          store.federations.put(b),
        ]);
        expect(store.stats().transactions - before).toBe(1);
        expect(results.map((r) => r.status)).toEqual([
          'fulfilled',
          'rejected',
          'rejected',
          'rejected',
          'fulfilled',
        ]);
        const reasons = results.map((r) => (r.status === 'rejected' ? r.reason : undefined));
        expect(reasons[1]).toBeInstanceOf(AlreadyExistsError);
        expect(reasons[2]).toBeInstanceOf(NotFoundError);
        expect(reasons[3]).toBeInstanceOf(InvalidTransitionError);
        expect(await store.federations.count()).toBe(3);
      });

      it('lets exactly one of many concurrent terminations win', async () => {
        const f = federationFixture();
        await store.federations.put(f);
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) =>
            store.federations.setStatus(f.federationId, 'terminated', `t${i}`, T0 + i),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(InvalidTransitionError);
        }
      });

      it('refuses writes beyond the queue bound with StoreOverloadedError', async () => {
        await store.close();
        const s = await reopen({ maxPendingWrites: 5 });
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, () => s.federations.put(federationFixture())),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
        for (const r of results.slice(5)) {
          expect(r.status === 'rejected' && r.reason).toBeInstanceOf(StoreOverloadedError);
        }
        expect(await s.federations.count()).toBe(5);
      });

      it('commits queued writes before close resolves', async () => {
        const writes = Array.from({ length: 50 }, () => store.federations.put(federationFixture()));
        await store.close();
        await Promise.all(writes);
        const s = await reopen();
        expect(await s.federations.count()).toBe(50);
      });
    });
  });
}
