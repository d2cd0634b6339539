/**
 * The store conformance suite: every backend runs exactly these tests (sqlite.test.ts,
 * postgres.test.ts). It is test code, kept in src so both backends import it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
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
  LedgerConflictError,
  NotFoundError,
  StoreClosedError,
  StoreError,
  StoreOverloadedError,
  ValidationError,
} from './errors.js';
import { MAX_LEDGER_BATCH, MAX_LEDGER_LEAF_BYTES, MAX_LEDGER_RANGE } from './ledger.js';
import { MAX_MESH_CREDENTIAL_CHARS } from './meshes.js';
import type {
  AuditEntryRow,
  AuditQueryOptions,
  FederationStatus,
  Store,
  StoredFederation,
  StoredMesh,
  StoreOptions,
  TrustAttestationRow,
  TrustEdgeRow,
  TrustSubjectRow,
  VaultPayloadRow,
} from './types.js';

export interface StoreTarget {
  /** A Store over this target's data; call again after close() to reopen the same data. */
  make(options?: StoreOptions): Store;
  /** Deletes the data; called after every store made from it is closed. */
  dispose(): Promise<void>;
}

export interface ConformanceOptions {
  /** When set, the suite is skipped and this reason shows in the test report. */
  readonly skip?: string;
  /**
   * Audit appends commit in transactions of their own (a SQLite file's writer thread), not in the
   * write queue's group commit with the other writes.
   */
  readonly auditOwnTransactions?: boolean;
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

/** A subject's state shaped like the trust engine's snapshot (the store does not look inside). */
export function trustSubjectFixture(
  did: string,
  updatedAt = T0,
  over: Record<string, unknown> = {},
): TrustSubjectRow {
  return {
    did,
    state: {
      credential: { valid: true, trustLevel: 'validated', issuer: 'did:mesh:authority:foundation' },
      counters: { positive: { value: 12.5, at: updatedAt }, violations: { value: 0, at: 0 } },
      violationCount: 0,
      violationKinds: {},
      connected: false,
      firstSeen: T0,
      ...over,
    },
    updatedAt,
  };
}

export function trustEdgeFixture(from: string, to: string, updatedAt = T0, weight = 0.5): TrustEdgeRow {
  return {
    from,
    to,
    state: {
      positive: { value: 3, at: updatedAt },
      negative: { value: 0, at: 0 },
      interactions: 3,
      lastInteraction: updatedAt,
      violations: 0,
      weight,
    },
    updatedAt,
  };
}

export function trustAttestationFixture(over: Partial<TrustAttestationRow> = {}): TrustAttestationRow {
  return {
    id: randomUUID(),
    attester: MIT,
    subject: ACME,
    body: { score: 80, claim: 'reliable partner', issuedAt: T0, signature: 'z3sig' },
    expiresAt: T0 + 24 * HOUR,
    ...over,
  };
}

/**
 * Audit entries continuing `after` (default: the start). Hashes are random: the store does not
 * compute them, it only keeps the chain's order (each prevHash is the previous hash).
 */
export function auditEntriesFixture(
  n: number,
  after?: { seq: number; hash: string },
  over: (i: number) => Partial<AuditEntryRow> = () => ({}),
): AuditEntryRow[] {
  let seq = after?.seq ?? 0;
  let prevHash = after?.hash ?? '0'.repeat(64);
  return Array.from({ length: n }, (_, i) => {
    const hash = randomBytes(32).toString('hex');
    seq++;
    const entry: AuditEntryRow = {
      seq,
      prevHash,
      hash,
      at: T0 + seq,
      kind: 'message',
      actor: ACME,
      subject: MIT,
      federationId: '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69',
      actionId: `action-${seq}`,
      decision: 'allow',
      obligations: [{ kind: 'retention', detail: 'delete after 90-days', adapter: 'gdpr' }],
      context: { dataClassification: 'personal-identifiable', processingBasis: 'contract', auditTrail: true },
      ...over(i),
    };
    prevHash = hash;
    return entry;
  });
}

/** An entry as read back: optional fields set to undefined are simply absent. */
function withoutUndefined(e: AuditEntryRow): AuditEntryRow {
  return Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as unknown as AuditEntryRow;
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

      it('pages through every federation of the asked statuses, each once, past one page', async () => {
        const statuses: FederationStatus[] = ['active', 'suspended', 'expired', 'terminated'];
        // 23 rows, created out of id order: paging follows ids, not creation or expiry.
        const all = Array.from({ length: 23 }, (_, i) =>
          federationFixture({
            status: statuses[i % 4]!,
            createdAt: T0 + ((i * 7) % 23),
            updatedAt: T0 + ((i * 7) % 23),
            expiresAt: T0 + HOUR - i,
          }),
        );
        for (const f of all) await store.federations.put(f);
        const walk = async (options: { statuses?: FederationStatus[]; limit: number }) => {
          const pages: StoredFederation[][] = [];
          let after: string | undefined;
          do {
            const page = await store.federations.listPage({ ...options, ...(after ? { after } : {}) });
            pages.push(page.federations);
            after = page.next;
          } while (after !== undefined && pages.length <= 30);
          return pages;
        };
        const live = all.filter((f) => f.status === 'active' || f.status === 'suspended');
        const pages = await walk({ statuses: ['active', 'suspended'], limit: 5 });
        expect(live.length).toBe(12);
        // 12 rows, 5 a page: 5, 5, 2 and no empty page after the last.
        expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
        const got = pages.flat();
        expect(new Set(got.map((f) => f.federationId)).size).toBe(got.length);
        const byId = (fs: StoredFederation[]) =>
          [...fs].sort((a, b) => (a.federationId < b.federationId ? -1 : 1));
        // Stored exactly as given (the fixture's statuses, fields and all).
        expect(byId(got)).toEqual(byId(live));
        // No status filter: all 23; one page holding everything has no next.
        expect((await walk({ limit: 10 })).flat()).toHaveLength(23);
        const whole = await store.federations.listPage({ limit: 23 });
        expect(whole.federations).toHaveLength(23);
        expect(whole.next).toBeUndefined();
        expect((await store.federations.listPage({ statuses: ['terminated'] })).federations).toHaveLength(5);
        // Past the last id: an empty last page.
        const last = pages.at(-1)!.at(-1)!.federationId;
        expect(await store.federations.listPage({ statuses: ['active', 'suspended'], after: last })).toEqual({
          federations: [],
          next: undefined,
        });
        for (const bad of [
          { limit: 0 },
          { limit: 100_001 },
          { after: 'not-an-id' },
          { statuses: [] },
          { statuses: ['paused'] },
          { offset: 5 },
        ]) {
          await expect(store.federations.listPage(bad as never)).rejects.toBeInstanceOf(ValidationError);
        }
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
            // Stored as given, up to JSON's -0 -> 0 (which the store applies to every number).
            if (outcome === 'stored')
              expect(await store.federations.get(mutated.federationId)).toEqual(
                JSON.parse(JSON.stringify(mutated)),
              );
            else expect(outcome).toBeInstanceOf(ValidationError);
          }),
          { numRuns: 40 },
        );
      });

      it('stores -0 as 0 in every numeric column, the same on every backend', async () => {
        const f = { ...federationFixture(), createdAt: -0, minTrustScore: -0 };
        await store.federations.put(f);
        const got = await store.federations.get(f.federationId);
        expect(Object.is(got.createdAt, 0)).toBe(true);
        expect(Object.is(got.minTrustScore, 0)).toBe(true);
        const m = meshFixture({ trustScore: -0, firstSeenAt: -0, lastSeenAt: T0 });
        await store.meshes.upsert(m);
        const mesh = await store.meshes.get(m.meshId);
        expect(Object.is(mesh.trustScore, 0)).toBe(true);
        expect(Object.is(mesh.firstSeenAt, 0)).toBe(true);
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

      it('keeps the credential a mesh authenticated with, apart from its row', async () => {
        const m = meshFixture();
        await store.meshes.upsert(m);
        expect(await store.meshes.credential(ACME)).toBeUndefined();
        const text = JSON.stringify({ type: ['VerifiableCredential'], credentialSubject: { id: ACME } });
        await store.meshes.upsert(m, { credential: text });
        expect(await store.meshes.credential(ACME)).toBe(text);
        // An upsert without one keeps it; rows read back stay StoredMesh, without the text.
        await store.meshes.upsert({ ...m, trustScore: 70 });
        expect(await store.meshes.credential(ACME)).toBe(text);
        expect(await store.meshes.get(ACME)).toEqual({ ...m, trustScore: 70 });
        expect(await store.meshes.list({ limit: 10 })).toEqual([{ ...m, trustScore: 70 }]);
        await store.meshes.upsert(m, { credential: '{"v":2}' });
        expect(await store.meshes.credential(ACME)).toBe('{"v":2}');
        for (const bad of ['', 'x'.repeat(MAX_MESH_CREDENTIAL_CHARS + 1), 42 as unknown as string]) {
          await expect(store.meshes.upsert(m, { credential: bad })).rejects.toBeInstanceOf(ValidationError);
        }
        expect(await store.meshes.credential(ACME)).toBe('{"v":2}');
        await expect(store.meshes.credential(GOV)).rejects.toBeInstanceOf(NotFoundError);
        await expect(store.meshes.credential('acme')).rejects.toBeInstanceOf(ValidationError);
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

    describe('trust state', () => {
      const did = (i: number) => `did:mesh:enterprise:m-${String(i).padStart(6, '0')}`;

      it('round-trips subjects, edges and attestations across close and reopen', async () => {
        expect(await store.trust.load()).toEqual({ subjects: [], edges: [], attestations: [] });
        expect(await store.trust.count()).toEqual({ subjects: 0, edges: 0, attestations: 0 });
        const subjects = [trustSubjectFixture(ACME, T0 + 2), trustSubjectFixture(MIT, T0 + 1)];
        // Both directions of a pair are distinct edges.
        const edges = [trustEdgeFixture(ACME, MIT, T0 + 2), trustEdgeFixture(MIT, ACME, T0 + 1, 0.9)];
        const attestations = [
          trustAttestationFixture({ expiresAt: T0 + 2 * HOUR }),
          trustAttestationFixture({ attester: GOV, expiresAt: T0 + HOUR }),
        ];
        await store.trust.putSubjects(subjects);
        await store.trust.putEdges(edges);
        await store.trust.putAttestations(attestations);
        await store.trust.putSubjects([]);
        expect(await store.trust.count()).toEqual({ subjects: 2, edges: 2, attestations: 2 });
        await store.close();
        const s = await reopen();
        expect(await s.trust.load()).toEqual({ subjects, edges, attestations });
      });

      it('upserts: a later row replaces the stored one; a key repeated in one call keeps its last', async () => {
        await store.trust.putSubjects([trustSubjectFixture(ACME, T0, { violationCount: 0 })]);
        await store.trust.putEdges([trustEdgeFixture(ACME, MIT, T0, 0.1)]);
        const a = trustAttestationFixture();
        await store.trust.putAttestations([a]);

        const subject = trustSubjectFixture(ACME, T0 + HOUR, { violationCount: 2, anomalies: 1 });
        await store.trust.putSubjects([subject]);
        const edge = trustEdgeFixture(ACME, MIT, T0 + HOUR, 0.7);
        await store.trust.putEdges([trustEdgeFixture(ACME, MIT, T0 + MIN, 0.3), edge]);
        const replaced = { ...a, subject: GOV, body: { score: 10 }, expiresAt: T0 + 48 * HOUR };
        await store.trust.putAttestations([replaced]);
        // An older row given later still replaces: the caller decides what is current.
        const older = trustSubjectFixture(MIT, T0 + HOUR);
        await store.trust.putSubjects([older, { ...older, state: { rewound: true }, updatedAt: T0 }]);

        const loaded = await store.trust.load();
        // Most recently updated first.
        expect(loaded.subjects).toEqual([subject, { ...older, state: { rewound: true }, updatedAt: T0 }]);
        expect(loaded.edges).toEqual([edge]);
        expect(loaded.attestations).toEqual([replaced]);
        expect(await store.trust.count()).toEqual({ subjects: 2, edges: 1, attestations: 1 });
      });

      it('deletes attestations with expiresAt <= now, once, and reports how many', async () => {
        const due = [
          trustAttestationFixture({ expiresAt: T0 + HOUR - 1 }),
          trustAttestationFixture({ expiresAt: T0 + HOUR }),
        ];
        const live = trustAttestationFixture({ expiresAt: T0 + HOUR + 1 });
        await store.trust.putAttestations([...due, live]);
        await store.trust.putSubjects([trustSubjectFixture(ACME, T0)]);
        expect(await store.trust.deleteExpiredAttestations(T0)).toBe(0);
        expect(await store.trust.deleteExpiredAttestations(T0 + HOUR)).toBe(2);
        expect(await store.trust.deleteExpiredAttestations(T0 + HOUR)).toBe(0);
        expect((await store.trust.load()).attestations).toEqual([live]);
        expect(await store.trust.count()).toEqual({ subjects: 1, edges: 0, attestations: 1 });
        await expect(store.trust.deleteExpiredAttestations(-1)).rejects.toBeInstanceOf(ValidationError);
        await expect(store.trust.deleteExpiredAttestations(1.5)).rejects.toBeInstanceOf(ValidationError);
      });

      it('loads the most recently updated first, at most `limit` rows per table', async () => {
        // Written in scrambled order; two rows share a time and are then ordered by key.
        const times = [3, 0, 4, 1, 4, 2];
        const subjects = times.map((t, i) => trustSubjectFixture(did(i), T0 + t));
        const edges = times.map((t, i) => trustEdgeFixture(did(i), did(i + 1), T0 + t));
        const attestations = times.map((t, i) =>
          trustAttestationFixture({ id: `att-${i}`, expiresAt: T0 + HOUR + t }),
        );
        await store.trust.putSubjects(subjects);
        await store.trust.putEdges(edges);
        await store.trust.putAttestations(attestations);
        const order = [2, 4, 0, 5, 3, 1];
        const all = await store.trust.load();
        expect(all.subjects).toEqual(order.map((i) => subjects[i]));
        expect(all.edges).toEqual(order.map((i) => edges[i]));
        expect(all.attestations).toEqual(order.map((i) => attestations[i]));
        const three = await store.trust.load({ limit: 3 });
        expect(three.subjects.map((r) => r.did)).toEqual([did(2), did(4), did(0)]);
        expect(three.edges.map((r) => r.from)).toEqual([did(2), did(4), did(0)]);
        expect(three.attestations.map((r) => r.id)).toEqual(['att-2', 'att-4', 'att-0']);
        expect((await store.trust.load({ limit: 1 })).subjects).toEqual([subjects[2]]);
        for (const bad of [{ limit: 0 }, { limit: 1.5 }, { limit: 1_000_001 }, { limit: -1 }, { max: 1 }]) {
          await expect(store.trust.load(bad as never), JSON.stringify(bad)).rejects.toBeInstanceOf(
            ValidationError,
          );
        }
      });

      it('writes a 20,000-row call in one transaction, in statements under the parameter limits', async () => {
        // 20,000 rows of 5 columns is 100,000 parameters: past PostgreSQL's 65,535 and SQLite's 32,766.
        const n = 20_000;
        const subjects = Array.from({ length: n }, (_, i) => trustSubjectFixture(did(i), T0 + i));
        const edges = Array.from({ length: n }, (_, i) =>
          trustEdgeFixture(did(i), did((i * 7 + 1) % n), T0 + i),
        );
        const attestations = Array.from({ length: n }, (_, i) =>
          trustAttestationFixture({ id: `att-${i}`, subject: did(i), expiresAt: T0 + HOUR + i }),
        );
        const before = store.stats();
        await store.trust.putSubjects(subjects);
        await store.trust.putEdges(edges);
        await store.trust.putAttestations(attestations);
        const after = store.stats();
        expect(after.transactions - before.transactions).toBe(3);
        expect(after.writes - before.writes).toBe(3);
        expect(await store.trust.count()).toEqual({ subjects: n, edges: n, attestations: n });
        await store.close();
        const s = await reopen();
        const loaded = await s.trust.load({ limit: n });
        expect(loaded.subjects).toEqual([...subjects].reverse());
        expect(loaded.edges).toEqual([...edges].reverse());
        expect(loaded.attestations).toEqual([...attestations].reverse());
        // Upserting all of them again replaces, never duplicates.
        await s.trust.putSubjects(subjects.map((r) => ({ ...r, state: { again: true } })));
        expect(await s.trust.count()).toEqual({ subjects: n, edges: n, attestations: n });
        expect((await s.trust.load({ limit: 1 })).subjects).toEqual([
          { ...subjects[n - 1]!, state: { again: true } },
        ]);
      });

      it('refuses invalid rows with ValidationError naming the field, writing nothing of the call', async () => {
        const deep: Record<string, unknown> = {};
        let cursor = deep;
        for (let i = 0; i < 100; i++) {
          const next: Record<string, unknown> = {};
          cursor['d'] = next;
          cursor = next;
        }
        const cyclic: Record<string, unknown> = { a: 1 };
        cyclic['self'] = cyclic;
        const subject = trustSubjectFixture(ACME);
        const badSubjects: [unknown, string][] = [
          [{ ...subject, did: 'acme' }, '0.did'],
          [{ ...subject, did: `did:mesh:${'a'.repeat(2048)}` }, '0.did'],
          [{ ...subject, did: undefined }, '0.did'],
          [{ ...subject, state: [] }, '0.state'],
          [{ ...subject, state: null }, '0.state'],
          [{ ...subject, state: 'text' }, '0.state'],
          [{ ...subject, state: undefined }, '0.state'],
          [{ ...subject, state: { a: undefined } }, '0.state'],
          [{ ...subject, state: { a: [1, undefined] } }, '0.state'],
          // biome-ignore lint/suspicious/noSparseArray: a hole would come back as null
          [{ ...subject, state: { a: [1, , 3] } }, '0.state'],
          [{ ...subject, state: { at: new Date(T0) } }, '0.state'],
          [{ ...subject, state: { m: new Map() } }, '0.state'],
          [{ ...subject, state: { n: Number.NaN } }, '0.state'],
          [{ ...subject, state: { n: Number.POSITIVE_INFINITY } }, '0.state'],
          [{ ...subject, state: { f: () => 1 } }, '0.state'],
          [{ ...subject, state: { b: 1n } }, '0.state'],
          [{ ...subject, state: { s: Symbol('x') } }, '0.state'],
          [{ ...subject, state: deep }, '0.state'],
          [{ ...subject, state: cyclic }, '0.state'],
          // 65,537 bytes: 6 + 65,529 + 2.
          [{ ...subject, state: { s: 'x'.repeat(65_529) } }, '0.state'],
          // Under 64 Ki characters but over 64 KiB in UTF-8.
          [{ ...subject, state: { s: 'é'.repeat(33_000) } }, '0.state'],
          [{ ...subject, updatedAt: 1.5 }, '0.updatedAt'],
          [{ ...subject, updatedAt: -1 }, '0.updatedAt'],
          [{ ...subject, updatedAt: Number.POSITIVE_INFINITY }, '0.updatedAt'],
          [{ ...subject, updatedAt: Number.NaN }, '0.updatedAt'],
          [{ ...subject, updatedAt: String(T0) }, '0.updatedAt'],
          [{ ...subject, extra: 1 }, '0'],
          [null, '0'],
        ];
        for (const [row, path] of badSubjects) {
          const err = await store.trust.putSubjects([row as TrustSubjectRow]).catch((e: unknown) => e);
          expect(err, path).toBeInstanceOf(ValidationError);
          expect(
            (err as ValidationError).issues.map((i) => i.path),
            path,
          ).toContain(path);
        }
        const edge = trustEdgeFixture(ACME, MIT);
        const attestation = trustAttestationFixture();
        const badOther: [Promise<unknown>, string][] = [
          [store.trust.putEdges([{ ...edge, from: 'x' }]), '0.from'],
          [store.trust.putEdges([{ ...edge, to: undefined } as never]), '0.to'],
          [store.trust.putEdges([{ ...edge, state: [1] } as never]), '0.state'],
          [store.trust.putEdges([{ ...edge, updatedAt: 2.5 }]), '0.updatedAt'],
          [store.trust.putAttestations([{ ...attestation, id: '' }]), '0.id'],
          [store.trust.putAttestations([{ ...attestation, id: 'x'.repeat(257) }]), '0.id'],
          [store.trust.putAttestations([{ ...attestation, attester: 'mit' }]), '0.attester'],
          [store.trust.putAttestations([{ ...attestation, subject: '' }]), '0.subject'],
          [store.trust.putAttestations([{ ...attestation, body: null } as never]), '0.body'],
          [store.trust.putAttestations([{ ...attestation, expiresAt: T0 + 0.5 }]), '0.expiresAt'],
          [store.trust.putSubjects('rows' as never), ''],
          [store.trust.putSubjects(null as never), ''],
        ];
        for (const [p, path] of badOther) {
          const err = await p.catch((e: unknown) => e);
          expect(err, path).toBeInstanceOf(ValidationError);
          expect(
            (err as ValidationError).issues.map((i) => i.path),
            path,
          ).toContain(path);
        }
        // One bad row refuses its whole call.
        const mixed = [trustSubjectFixture(ACME), trustSubjectFixture(MIT), { ...subject, state: [] }];
        const err = await store.trust.putSubjects(mixed as TrustSubjectRow[]).catch((e: unknown) => e);
        expect((err as ValidationError).issues.map((i) => i.path)).toEqual(['2.state']);
        // The row bound.
        const tooMany = Array.from({ length: 100_001 }, () => ({ did: ACME, state: {}, updatedAt: T0 }));
        await expect(store.trust.putSubjects(tooMany)).rejects.toBeInstanceOf(ValidationError);
        expect(await store.trust.count()).toEqual({ subjects: 0, edges: 0, attestations: 0 });
        // Exactly 64 KiB is accepted: 6 + 65,528 + 2 bytes.
        const largest = { ...subject, state: { s: 'x'.repeat(65_528) } };
        await store.trust.putSubjects([largest]);
        expect((await store.trust.load()).subjects).toEqual([largest]);
      });

      it('keeps JSON exactly as written: unicode, nesting, numbers, key order', async () => {
        const state = {
          zeta: 'last key first',
          name: 'Zoë 👩🏽‍🔬 東京 مرحبا שלום ﷽ e\u0301',
          controls: '\u0000\u0001\t\n\r"\\\u2028\u2029',
          lone: '\ud800 and \udfff',
          emptyKey: { '': 'empty', ' ': 'space', ключ: 'значение', '🔑': ['a', { b: [[], {}] }] },
          numbers: [0, -1, 1.5, 0.1 + 0.2, 1e300, 5e-324, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
          nested: { a: { b: { c: { d: { e: { f: [true, false, null, 'leaf'] } } } } } },
          alpha: 'first key last',
        };
        const body = { claim: 'Größe ≥ 10 ✓', nested: [{ x: [{ y: 'z' }] }] };
        await store.trust.putSubjects([{ did: ACME, state, updatedAt: T0 }]);
        await store.trust.putEdges([{ from: ACME, to: MIT, state, updatedAt: T0 }]);
        await store.trust.putAttestations([trustAttestationFixture({ id: 'a-1', body })]);
        await store.close();
        const s = await reopen();
        const loaded = await s.trust.load();
        expect(loaded.subjects[0]!.state).toEqual(state);
        expect(JSON.stringify(loaded.subjects[0]!.state)).toBe(JSON.stringify(state));
        expect(Object.keys(loaded.edges[0]!.state)).toEqual(Object.keys(state));
        expect(JSON.stringify(loaded.edges[0]!.state)).toBe(JSON.stringify(state));
        expect(loaded.attestations[0]!.body).toEqual(body);
      });

      it('property: any JSON object comes back with the same serialization', async () => {
        await fc.assert(
          fc.asyncProperty(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 6 })), async (state) => {
            await store.trust.putSubjects([{ did: ACME, state, updatedAt: T0 }]);
            const [row] = (await store.trust.load({ limit: 1 })).subjects;
            expect(JSON.stringify(row!.state)).toBe(JSON.stringify(state));
          }),
          { numRuns: 40 },
        );
      });

      it('refuses use when the store is not open', async () => {
        await store.close();
        await expect(store.trust.putSubjects([trustSubjectFixture(ACME)])).rejects.toBeInstanceOf(
          StoreClosedError,
        );
        await expect(store.trust.load()).rejects.toBeInstanceOf(StoreClosedError);
        await expect(store.trust.count()).rejects.toBeInstanceOf(StoreClosedError);
        await expect(store.trust.deleteExpiredAttestations(T0)).rejects.toBeInstanceOf(StoreClosedError);
      });
    });

    describe('audit trail', () => {
      const FED = '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69';

      it('round-trips entries exactly across close and reopen', async () => {
        expect(await store.audit.head()).toBeUndefined();
        expect(await store.audit.range(1, 10)).toEqual([]);
        const entries = auditEntriesFixture(3, undefined, (i) =>
          i === 1
            ? {
                subject: undefined,
                federationId: undefined,
                decision: 'deny',
                reasons: ['personal data to a non-adequate jurisdiction', 'ünïcödé ✓ 🚀'],
                policyIds: ['policy0'],
                adapters: ['gdpr', 'iso42001'],
                data: { explanation: { reasoning: 'x', dataUsed: ['a'], humanReviewable: true }, n: -0.5e-7 },
              }
            : {},
        );
        await store.audit.appendBatch(entries.slice(0, 2));
        await store.audit.appendBatch(entries.slice(2));
        await store.audit.appendBatch([]);
        expect(await store.audit.count()).toBe(3);
        await store.close();
        const s = await reopen();
        expect(await s.audit.range(1, 10)).toEqual(entries.map(withoutUndefined));
        expect(await s.audit.range(2, 1)).toEqual([withoutUndefined(entries[1]!)]);
        expect(await s.audit.head()).toEqual({ seq: 3, hash: entries[2]!.hash });
      });

      it('refuses a batch that does not continue the stored chain, and never overwrites', async () => {
        const entries = auditEntriesFixture(4);
        await store.audit.appendBatch(entries.slice(0, 2));
        const head = { seq: 2, hash: entries[1]!.hash };
        const taken = auditEntriesFixture(1, { seq: 1, hash: entries[0]!.hash });
        const gap = auditEntriesFixture(1, { seq: 3, hash: entries[2]!.hash });
        const wrongLink = auditEntriesFixture(1, { seq: 2, hash: 'f'.repeat(64) });
        const broken = [entries[2]!, { ...entries[3]!, prevHash: 'e'.repeat(64) }];
        for (const batch of [taken, gap, wrongLink, broken, [entries[0]!]]) {
          const err = await store.audit.appendBatch(batch).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(ValidationError);
          expect(err).toMatchObject({ code: 'audit_conflict' });
        }
        expect(await store.audit.head()).toEqual(head);
        expect(await store.audit.range(1, 10)).toEqual(entries.slice(0, 2));
        await store.audit.appendBatch(entries.slice(2));
        expect(await store.audit.count()).toBe(4);
      });

      it('fails only the stale appender, not the other writes of its transaction', async () => {
        const entries = auditEntriesFixture(2);
        await store.audit.appendBatch(entries);
        const f = federationFixture();
        const before = store.stats().transactions;
        const [stale, put, next] = await Promise.allSettled([
          store.audit.appendBatch(entries.slice(1)),
          store.federations.put(f),
          store.audit.appendBatch(auditEntriesFixture(1, { seq: 2, hash: entries[1]!.hash })),
        ]);
        // One group commit, or with a writer thread of its own one per audit batch besides it.
        expect(store.stats().transactions - before).toBe(options.auditOwnTransactions ? 3 : 1);
        expect(stale.status === 'rejected' && stale.reason).toMatchObject({ code: 'audit_conflict' });
        expect(put.status).toBe('fulfilled');
        expect(next.status).toBe('fulfilled');
        expect(await store.audit.count()).toBe(3);
      });

      it('lets one of two stores over the same data take a seq; the other fails', async () => {
        const other = await reopen();
        const [a, b] = [auditEntriesFixture(1), auditEntriesFixture(1)];
        const results = await Promise.allSettled([store.audit.appendBatch(a), other.audit.appendBatch(b)]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const winner = results[0]!.status === 'fulfilled' ? a : b;
        // A stale writer is refused by the head check, or (racing past it) by the primary key.
        const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(loser.reason).toBeInstanceOf(Error);
        expect(await store.audit.range(1, 10)).toEqual(winner);
        expect(await other.audit.range(1, 10)).toEqual(winner);
      });

      it('writes a 10,000-entry batch in one transaction', async () => {
        const entries = auditEntriesFixture(10_000);
        const before = store.stats().transactions;
        await store.audit.appendBatch(entries);
        expect(store.stats().transactions - before).toBe(1);
        expect(await store.audit.count()).toBe(10_000);
        expect(await store.audit.head()).toEqual({ seq: 10_000, hash: entries[9999]!.hash });
        const page = await store.audit.range(5000, 3);
        expect(page).toEqual(entries.slice(4999, 5002));
        await expect(store.audit.appendBatch(auditEntriesFixture(10_001))).rejects.toBeInstanceOf(
          ValidationError,
        );
      });

      it('queries by federation, mesh, time and kind, in seq order, bounded', async () => {
        const entries = auditEntriesFixture(6, undefined, (i) => {
          const over: Partial<AuditEntryRow>[] = [
            { federationId: FED, actor: ACME, subject: MIT, kind: 'message' },
            { federationId: undefined, actor: GOV, subject: ACME, kind: 'federation' },
            { federationId: FED, actor: MIT, subject: undefined, kind: 'tool_call' },
            { federationId: FED, actor: GOV, subject: MIT, kind: 'compliance_denied' },
            { federationId: undefined, actor: ACME, subject: GOV, kind: 'message' },
            { federationId: FED, actor: MIT, subject: ACME, kind: 'message' },
          ];
          return { ...over[i], at: T0 + i * MIN };
        });
        await store.audit.appendBatch(entries);
        const seqs = async (q: AuditQueryOptions) => (await store.audit.query(q)).map((e) => e.seq);
        expect(await seqs({ federationId: FED, limit: 100 })).toEqual([1, 3, 4, 6]);
        expect(await seqs({ mesh: ACME, limit: 100 })).toEqual([1, 2, 5, 6]);
        expect(await seqs({ mesh: GOV, kind: 'message', limit: 100 })).toEqual([5]);
        expect(await seqs({ since: T0 + MIN, until: T0 + 4 * MIN, limit: 100 })).toEqual([2, 3, 4]);
        expect(await seqs({ federationId: FED, afterSeq: 3, limit: 1 })).toEqual([4]);
        expect(await seqs({ mesh: MIT, limit: 2 })).toEqual([1, 3]);
        expect(await store.audit.query({ kind: 'message', limit: 10 })).toEqual(
          [entries[0]!, entries[4]!, entries[5]!].map(withoutUndefined),
        );
      });

      it('refuses malformed entries and options with ValidationError naming the field', async () => {
        const [e] = auditEntriesFixture(1);
        const bad: [unknown, string][] = [
          [{ ...e, seq: 0 }, '0.seq'],
          [{ ...e, hash: 'ABC' }, '0.hash'],
          [{ ...e, prevHash: '0'.repeat(63) }, '0.prevHash'],
          [{ ...e, kind: 'Not A Kind' }, '0.kind'],
          [{ ...e, actor: 'acme' }, '0.actor'],
          [{ ...e, subject: 'a\u0000b' }, '0.subject'],
          [{ ...e, reasons: ['\ud800'] }, '0.reasons.0'],
          [{ ...e, data: { big: 'x'.repeat(16 * 1024) } }, '0.data'],
          [{ ...e, context: { at: new Date() } }, '0.context'],
          [{ ...e, payload: 'never stored' }, '0'],
        ];
        for (const [entry, path] of bad) {
          const err = await store.audit.appendBatch([entry as AuditEntryRow]).catch((x: unknown) => x);
          expect(err, path).toBeInstanceOf(ValidationError);
          expect(
            (err as ValidationError).issues.map((i) => i.path),
            path,
          ).toContain(path);
        }
        await expect(store.audit.range(1, 0)).rejects.toBeInstanceOf(ValidationError);
        await expect(store.audit.range(1, 10_001)).rejects.toBeInstanceOf(ValidationError);
        await expect(store.audit.query({ mesh: 'x', limit: 1 })).rejects.toBeInstanceOf(ValidationError);
        await expect(store.audit.query({ limit: 1, extra: 1 } as never)).rejects.toBeInstanceOf(
          ValidationError,
        );
        expect(await store.audit.count()).toBe(0);
      });
    });

    describe('payload vault', () => {
      const key = () => new Uint8Array(randomBytes(32));
      const payload = (actionId: string, subject: string, retainUntil = T0 + HOUR): VaultPayloadRow => ({
        actionId,
        subject,
        retainUntil,
        nonce: new Uint8Array(randomBytes(12)),
        ciphertext: new Uint8Array(randomBytes(48)),
      });

      it('creates one key per subject, the same for concurrent callers and after reopen', async () => {
        const candidates = Array.from({ length: 5 }, key);
        const got = await Promise.all(candidates.map((c) => store.vault.subjectKey('subject:alice', c)));
        expect(got.every((k) => k instanceof Uint8Array && k.length === 32)).toBe(true);
        expect(new Set(got.map((k) => Buffer.from(k).toString('hex'))).size).toBe(1);
        expect(candidates.map((c) => Buffer.from(c).toString('hex'))).toContain(
          Buffer.from(got[0]!).toString('hex'),
        );
        await store.close();
        const s = await reopen();
        expect(await s.vault.subjectKey('subject:alice', key())).toEqual(got[0]);
        await expect(s.vault.subjectKey('subject:bob', new Uint8Array(16))).rejects.toBeInstanceOf(
          ValidationError,
        );
      });

      it('stores payloads byte for byte while the key is current; refuses duplicates and stale keys', async () => {
        const k = await store.vault.subjectKey('subject:alice', key());
        const row = payload('a1', 'subject:alice');
        expect(await store.vault.putPayload(row, k)).toBe('stored');
        expect(await store.vault.getPayload('a1')).toEqual({ row, key: k });
        expect(await store.vault.putPayload({ ...row, ciphertext: new Uint8Array(4) }, k)).toBe('duplicate');
        expect((await store.vault.getPayload('a1'))!.row).toEqual(row);
        expect(await store.vault.putPayload(payload('a2', 'subject:alice'), key())).toBe('key_gone');
        expect(await store.vault.putPayload(payload('a3', 'subject:nobody'), k)).toBe('key_gone');
        expect(await store.vault.getPayload('a2')).toBeUndefined();
        expect(await store.vault.count()).toEqual({ keys: 1, payloads: 1 });
        await store.close();
        const s = await reopen();
        expect(await s.vault.getPayload('a1')).toEqual({ row, key: k });
      });

      it('erases a subject: its key and payloads go together, others stay', async () => {
        const ka = await store.vault.subjectKey('subject:alice', key());
        const kb = await store.vault.subjectKey('subject:bob', key());
        await store.vault.putPayload(payload('a1', 'subject:alice'), ka);
        await store.vault.putPayload(payload('a2', 'subject:alice'), ka);
        const b1 = payload('b1', 'subject:bob');
        await store.vault.putPayload(b1, kb);
        expect(await store.vault.eraseSubject('subject:alice')).toBe(2);
        expect(await store.vault.getPayload('a1')).toBeUndefined();
        expect(await store.vault.putPayload(payload('a3', 'subject:alice'), ka)).toBe('key_gone');
        expect(await store.vault.getPayload('b1')).toEqual({ row: b1, key: kb });
        expect(await store.vault.count()).toEqual({ keys: 1, payloads: 1 });
        expect(await store.vault.eraseSubject('subject:alice')).toBe(0);
      });

      it('deletes expired payloads in bounded steps, and keys left without payloads', async () => {
        const ka = await store.vault.subjectKey('subject:alice', key());
        await store.vault.putPayload(payload('old', 'subject:alice', T0), ka);
        await store.vault.putPayload(payload('kept', 'subject:alice', T0 + HOUR), ka);
        for (let i = 0; i < 5; i++) {
          const k = await store.vault.subjectKey(`record:r${i}`, key());
          await store.vault.putPayload(payload(`r${i}`, `record:r${i}`, T0 + i), k);
        }
        expect(await store.vault.deleteExpired(T0 - 1, 100)).toBe(0);
        expect(await store.vault.deleteExpired(T0 + 10, 4)).toBe(4);
        expect(await store.vault.deleteExpired(T0 + 10, 4)).toBe(2);
        expect(await store.vault.count()).toEqual({ keys: 1, payloads: 1 });
        expect((await store.vault.getPayload('kept'))!.key).toEqual(ka);
        expect(await store.vault.deleteExpired(T0 + HOUR, 10)).toBe(1);
        expect(await store.vault.count()).toEqual({ keys: 0, payloads: 0 });
        await expect(store.vault.deleteExpired(T0, 0)).rejects.toBeInstanceOf(ValidationError);
      });

      it('validates rows', async () => {
        const k = await store.vault.subjectKey('subject:alice', key());
        const bad = [
          { ...payload('a1', 'subject:alice'), actionId: '' },
          { ...payload('a1', 'subject:alice'), subject: 'x\u0000' },
          { ...payload('a1', 'subject:alice'), retainUntil: -1 },
          { ...payload('a1', 'subject:alice'), nonce: 'abc' },
          { ...payload('a1', 'subject:alice'), extra: 1 },
        ];
        for (const row of bad) {
          await expect(store.vault.putPayload(row as never, k)).rejects.toBeInstanceOf(ValidationError);
        }
        await expect(store.vault.getPayload('')).rejects.toBeInstanceOf(ValidationError);
        expect(await store.vault.count()).toEqual({ keys: 1, payloads: 0 });
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

    describe('ledger logs', () => {
      const HUB_LOG = 'fmp.ledger/did:mesh:hub:eu-west';
      const bytes = (text: string) => new TextEncoder().encode(text);
      const leaves = (n: number, tag: string) => Array.from({ length: n }, (_, i) => bytes(`${tag} ${i}`));

      it('appends and reads back leaves byte for byte, across close and reopen', async () => {
        const log = store.ledgerLogs.open(HUB_LOG);
        expect(await log.size()).toBe(0);
        expect(await log.leafRange(0, 0)).toEqual([]);
        const written = [
          new Uint8Array(0),
          Uint8Array.from({ length: 256 }, (_, i) => i),
          new Uint8Array(randomBytes(64 * 1024)),
          bytes('{"type":"did:mesh-operation","op":{"did":"did:mesh:enterprise:acme-001","seq":0}}'),
        ];
        await log.appendBatch(written.slice(0, 2));
        await log.appendBatch([]);
        expect(await log.size()).toBe(2);
        await log.appendBatch(written.slice(2));
        expect(await log.size()).toBe(4);
        const read = await log.leafRange(0, 4);
        expect(read).toEqual(written);
        for (const leaf of read) expect(leaf.constructor).toBe(Uint8Array);
        expect(await log.leafRange(1, 3)).toEqual(written.slice(1, 3));
        expect(await log.leafRange(4, 4)).toEqual([]);
        await store.close();

        const s = await reopen();
        const again = s.ledgerLogs.open(HUB_LOG);
        expect(await again.size()).toBe(4);
        expect(await again.leafRange(0, 4)).toEqual(written);
        await again.appendBatch([bytes('after reopen')]);
        expect(await again.leafRange(3, 5)).toEqual([written[3], bytes('after reopen')]);
      });

      it('refuses reads outside the log or beyond the range bound with ValidationError', async () => {
        const log = store.ledgerLogs.open(HUB_LOG);
        await log.appendBatch(leaves(3, 'leaf'));
        const bad: [number, number][] = [
          [0, 4],
          [3, 4],
          [4, 4],
          [-1, 1],
          [2, 1],
          [0.5, 1],
          [Number.NaN, 1],
          [0, Number.POSITIVE_INFINITY],
          [0, MAX_LEDGER_RANGE + 1],
        ];
        for (const [start, end] of bad) {
          await expect(log.leafRange(start, end), `[${start}, ${end})`).rejects.toBeInstanceOf(
            ValidationError,
          );
        }
        await expect(log.leafRange('0' as never, 1)).rejects.toBeInstanceOf(ValidationError);
        expect(await log.leafRange(0, 3)).toEqual(leaves(3, 'leaf'));
      });

      it('keeps named logs independent', async () => {
        const long = 'x'.repeat(200);
        const [a, b, c] = [HUB_LOG, 'mirror ✓ did:mesh:hub:na', long].map((n) => store.ledgerLogs.open(n));
        await Promise.all([
          a!.appendBatch(leaves(2, 'a')),
          b!.appendBatch(leaves(3, 'b')),
          c!.appendBatch(leaves(1, 'c')),
        ]);
        await a!.appendBatch([bytes('a 2')]);
        expect([await a!.size(), await b!.size(), await c!.size()]).toEqual([3, 3, 1]);
        expect(await a!.leafRange(0, 3)).toEqual(leaves(3, 'a'));
        expect(await b!.leafRange(0, 3)).toEqual(leaves(3, 'b'));
        expect(await c!.leafRange(0, 1)).toEqual(leaves(1, 'c'));
        expect(await store.ledgerLogs.open('never appended').size()).toBe(0);
        await store.close();
        const s = await reopen();
        expect(await s.ledgerLogs.open(long).leafRange(0, 1)).toEqual(leaves(1, 'c'));
        expect(await s.ledgerLogs.open(HUB_LOG).leafRange(0, 3)).toEqual(leaves(3, 'a'));
      });

      it('validates log names', () => {
        for (const name of ['', 'x'.repeat(201), 'a\nb', 'a\u0000b', 'del\u007f', 'c1\u0085', '\ud800', 42]) {
          expect(() => store.ledgerLogs.open(name as string), JSON.stringify(name)).toThrow(ValidationError);
        }
      });

      it('stores nothing of a batch holding a bad leaf, and goes on at the same index', async () => {
        const log = store.ledgerLogs.open(HUB_LOG);
        await log.appendBatch(leaves(2, 'ok'));
        const oversize = new Uint8Array(MAX_LEDGER_LEAF_BYTES + 1);
        const err = await log.appendBatch([bytes('first'), oversize, bytes('last')]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ValidationError);
        expect((err as ValidationError).issues.map((i) => i.path)).toEqual(['1']);
        for (const batch of [
          [bytes('first'), 'not bytes'],
          [bytes('first'), [1, 2, 3]],
          leaves(MAX_LEDGER_BATCH + 1, 'many'),
          'not an array',
        ]) {
          await expect(log.appendBatch(batch as never)).rejects.toBeInstanceOf(ValidationError);
        }
        expect(await log.size()).toBe(2);
        const largest = new Uint8Array(MAX_LEDGER_LEAF_BYTES).fill(0xab);
        await log.appendBatch([bytes('ok 2'), largest]);
        expect(await log.size()).toBe(4);
        const [second, last] = await log.leafRange(2, 4);
        expect(second).toEqual(bytes('ok 2'));
        expect(Buffer.from(last!).equals(Buffer.from(largest))).toBe(true);
      });

      it('refuses a writer whose log another writer appended to, writing nothing of its batch', async () => {
        const mine = store.ledgerLogs.open(HUB_LOG);
        expect(await mine.size()).toBe(0);
        const other = store.ledgerLogs.open(HUB_LOG);
        await other.appendBatch([bytes('other 0')]);
        const err = await mine.appendBatch(leaves(2, 'mine')).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(LedgerConflictError);
        expect(err).toMatchObject({ code: 'ledger_conflict', log: HUB_LOG, expectedSize: 0, storedSize: 1 });
        // The handle stays refused: what numbered its leaves is out of date.
        await expect(mine.appendBatch(leaves(1, 'mine'))).rejects.toBeInstanceOf(LedgerConflictError);
        expect(await other.leafRange(0, 1)).toEqual([bytes('other 0')]);
        expect(await other.size()).toBe(1);
        // A new handle starts from the stored end.
        const resumed = store.ledgerLogs.open(HUB_LOG);
        await resumed.appendBatch(leaves(1, 'mine'));
        expect(await resumed.leafRange(0, 2)).toEqual([bytes('other 0'), bytes('mine 0')]);
        await expect(other.appendBatch([bytes('other 1')])).rejects.toBeInstanceOf(LedgerConflictError);
      });

      it('fails only the conflicting appender, not the other writes of its transaction', async () => {
        const stale = store.ledgerLogs.open(HUB_LOG);
        await stale.size();
        await store.ledgerLogs.open(HUB_LOG).appendBatch([bytes('x')]);
        const fresh = store.ledgerLogs.open(HUB_LOG);
        const f = federationFixture();
        const before = store.stats().transactions;
        const [conflicted, put, appended] = await Promise.allSettled([
          stale.appendBatch([bytes('stale')]),
          store.federations.put(f),
          fresh.appendBatch([bytes('fresh')]),
        ]);
        expect(store.stats().transactions - before).toBe(1);
        expect(conflicted.status === 'rejected' && conflicted.reason).toBeInstanceOf(LedgerConflictError);
        expect(put.status).toBe('fulfilled');
        expect(appended.status).toBe('fulfilled');
        expect(await fresh.leafRange(0, 2)).toEqual([bytes('x'), bytes('fresh')]);
      });

      it('resumes where a batch started after its transaction failed', async () => {
        // A did:mesh fork fails on a unique constraint: a store error that rolls back its whole
        // transaction, the ledger batch sharing it included.
        const did = 'did:mesh:enterprise:acme-001';
        const key = (n: number) => ed25519.keyPairFromSeed(new Uint8Array(32).fill(n));
        const op = (n: number) =>
          buildMeshCreate({ did, key: key(n), nextPublicKey: key(n + 1).publicKey, timestamp: new Date(T0) });
        await store.meshOperations.append(op(1));
        const log = store.ledgerLogs.open(HUB_LOG);
        expect(await log.size()).toBe(0);
        const [appended, forked] = await Promise.allSettled([
          log.appendBatch(leaves(3, 'lost')),
          store.meshOperations.append(op(3)),
        ]);
        expect(forked.status).toBe('rejected');
        expect(appended.status === 'rejected' && appended.reason).toBeInstanceOf(StoreError);
        expect(await store.ledgerLogs.open(HUB_LOG).size()).toBe(0);
        await log.appendBatch(leaves(1, 'kept'));
        expect(await log.leafRange(0, 1)).toEqual(leaves(1, 'kept'));
      });

      it('group-commits concurrent batches of one handle, in call order', async () => {
        const log = store.ledgerLogs.open(HUB_LOG);
        const batches = Array.from({ length: 100 }, (_, i) => [bytes(`${2 * i}`), bytes(`${2 * i + 1}`)]);
        const before = store.stats().transactions;
        await Promise.all(batches.map((b) => log.appendBatch(b)));
        expect(store.stats().transactions - before).toBeLessThanOrEqual(5);
        expect(await log.leafRange(0, 200)).toEqual(batches.flat());
      });

      it('lets one of two stores over the same data append; the other fails with LedgerConflictError', async () => {
        const other = await reopen();
        const [a, b] = [store.ledgerLogs.open(HUB_LOG), other.ledgerLogs.open(HUB_LOG)];
        await Promise.all([a.size(), b.size()]);
        const [la, lb] = [leaves(2, 'a'), leaves(3, 'b')];
        const results = await Promise.allSettled([a.appendBatch(la), b.appendBatch(lb)]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(loser.reason).toBeInstanceOf(LedgerConflictError);
        const winner = results[0]!.status === 'fulfilled' ? la : lb;
        expect(await a.size()).toBe(winner.length);
        expect(await b.leafRange(0, winner.length)).toEqual(winner);
      });

      it('writes a 10,000-leaf batch in one transaction, and large leaves over several statements', async () => {
        const log = store.ledgerLogs.open(HUB_LOG);
        const many = leaves(MAX_LEDGER_BATCH, 'many');
        const before = store.stats().transactions;
        await log.appendBatch(many);
        expect(store.stats().transactions - before).toBe(1);
        expect(await log.size()).toBe(MAX_LEDGER_BATCH);
        expect(await log.leafRange(0, MAX_LEDGER_RANGE)).toEqual(many);
        // 10 MiB: more than one statement carries.
        const big = Array.from({ length: 10 }, (_, i) => new Uint8Array(MAX_LEDGER_LEAF_BYTES).fill(i + 1));
        await log.appendBatch(big);
        expect(await log.size()).toBe(MAX_LEDGER_BATCH + 10);
        const read = await log.leafRange(MAX_LEDGER_BATCH, MAX_LEDGER_BATCH + 10);
        read.forEach((leaf, i) => {
          expect(Buffer.from(leaf).equals(Buffer.from(big[i]!)), `${i}`).toBe(true);
        });
      });

      it('refuses use while the store is not open', async () => {
        const s = target.make();
        opened.push(s);
        const log = s.ledgerLogs.open(HUB_LOG);
        await expect(log.size()).rejects.toBeInstanceOf(StoreClosedError);
        await expect(log.appendBatch([bytes('x')])).rejects.toBeInstanceOf(StoreClosedError);
        await expect(log.leafRange(0, 0)).rejects.toBeInstanceOf(StoreClosedError);
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
        expect(s.stats()).toMatchObject({ transactions: 20, writes: 20, pending: 0 });
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
