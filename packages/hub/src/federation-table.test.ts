import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519, ValidationError } from '@fmp/core';
import { sqliteStore } from '@fmp/store';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { FederationTable, liveFederations } from './federation-table.js';
import { createHub } from './hub.js';
import { type FederationRow, type HubStore, memoryHubStore, StoreFullError } from './persistence.js';
import { hubStoreFrom } from './store-adapter.js';
import { federationRow, T0 } from './test-support.js';

const ACME = 'did:mesh:enterprise:acme-001';
const MIT = 'did:mesh:academic:mit-001';
const GOV = 'did:mesh:government:gov-001';

const row = federationRow;

const ids = (rows: readonly FederationRow[]) => rows.map((r) => r.federationId);
const sorted = (xs: string[]) => [...xs].sort();

describe('FederationTable', () => {
  it('keeps tool-call credits per party, takes at most what is there, and forgets them with the row', () => {
    const t = new FederationTable(10);
    const f = row();
    t.set(f);
    for (let i = 0; i < 3; i++) t.creditTask(f, f.sourceMeshId);
    t.creditTask(f, f.targetMeshId);
    expect(t.takeTaskCredits(f.federationId, f.sourceMeshId, 5)).toBe(3);
    expect(t.takeTaskCredits(f.federationId, f.sourceMeshId, 1)).toBe(0);
    t.creditTask(f, f.sourceMeshId);
    t.delete(f.federationId);
    t.set(f);
    expect(t.takeTaskCredits(f.federationId, f.sourceMeshId, 1)).toBe(0);
    expect(t.takeTaskCredits(f.federationId, f.targetMeshId, 1)).toBe(0);
    t.creditTask(row(), ACME); // a row the table does not hold: nothing kept
    expect(t.takeTaskCredits(randomUUID(), ACME, 1)).toBe(0);
  });

  it('indexes rows by mesh, either end, in the order they came', () => {
    const t = new FederationTable(10);
    const a = row();
    const b = row({ sourceMeshId: MIT, targetMeshId: GOV });
    const c = row({ sourceMeshId: GOV, targetMeshId: ACME });
    for (const r of [a, b, c]) t.set(r);
    expect(t.size).toBe(3);
    expect(ids(t.byMesh(ACME))).toEqual([a.federationId, c.federationId]);
    expect(ids(t.byMesh(MIT))).toEqual([a.federationId, b.federationId]);
    expect(t.byMesh('did:mesh:ngo:nobody')).toEqual([]);
    expect(t.meshCount(GOV)).toBe(2);
    expect(ids(t.between(ACME, MIT))).toEqual([a.federationId]);
    expect(ids(t.between(MIT, ACME))).toEqual([a.federationId]);
    expect(ids(t.between(ACME, GOV))).toEqual([c.federationId]);
    expect(t.between(ACME, 'did:mesh:ngo:nobody')).toEqual([]);
    expect(t.get(a.federationId)).toBe(a);
    expect(t.delete(a.federationId)).toBe(true);
    expect(t.delete(a.federationId)).toBe(false);
    expect(ids(t.byMesh(ACME))).toEqual([c.federationId]);
    expect(t.between(ACME, MIT)).toEqual([]);
    expect(t.meshCount(MIT)).toBe(1);
  });

  it('moves a replaced row in every index: parties, expiry, status, minimum', () => {
    const t = new FederationTable(10);
    const a = row({ minTrustScore: 60 });
    t.set(a);
    expect(t.countOf('active')).toBe(1);
    expect(ids(t.withMinimum())).toEqual([a.federationId]);
    const moved: FederationRow = {
      ...a,
      sourceMeshId: GOV,
      status: 'suspended',
      minTrustScore: undefined,
      expiresAt: T0 + 10,
    };
    t.set(moved);
    expect(t.size).toBe(1);
    expect(t.get(a.federationId)).toBe(moved);
    expect(t.byMesh(ACME)).toEqual([]);
    expect(t.byMesh(GOV)).toEqual([moved]);
    expect(t.byMesh(MIT)).toEqual([moved]);
    expect(t.countOf('active')).toBe(0);
    expect(t.countOf('suspended')).toBe(1);
    expect(t.withMinimum()).toEqual([]);
    // The old expiry no longer counts; the new one does.
    expect(t.due(T0 + 9)).toEqual([]);
    expect(t.due(T0 + 10)).toEqual([moved]);
    const renewed = { ...moved, expiresAt: T0 + 3_600_000 };
    t.set(renewed);
    expect(t.due(T0 + 10)).toEqual([]);
    expect(t.due(T0 + 3_600_000)).toEqual([renewed]);
  });

  it('returns due rows soonest first, and again until they are removed', () => {
    const t = new FederationTable(100);
    const rows = [5, 1, 4, 1, 3, 9, 2, 6].map((s) => row({ expiresAt: T0 + s }));
    for (const r of rows) t.set(r);
    expect(t.due(T0)).toEqual([]);
    const due = t.due(T0 + 3);
    expect(due.map((r) => r.expiresAt - T0)).toEqual([1, 1, 2, 3]);
    expect(sorted(ids(t.due(T0 + 3)))).toEqual(sorted(ids(due)));
    for (const r of due) t.delete(r.federationId);
    expect(t.due(T0 + 3)).toEqual([]);
    expect(t.due(T0 + 100).map((r) => r.expiresAt - T0)).toEqual([4, 5, 6, 9]);
  });

  it('keeps the expiry heap bounded however often rows are replaced', () => {
    const t = new FederationTable(100);
    const rows = Array.from({ length: 50 }, (_, i) => row({ expiresAt: T0 + i }));
    for (const r of rows) t.set(r);
    for (let round = 1; round <= 40; round++) {
      for (const r of rows) t.set({ ...r, expiresAt: T0 + 1000 * round + (r.expiresAt % 1000) });
      expect(t.heapSize).toBeLessThanOrEqual(2 * t.size + 16);
    }
    expect(t.due(T0 + 40_000 + 49)).toHaveLength(50);
  });

  it('refuses a new row when full, not a replacement; refuses rows that are not live', () => {
    const t = new FederationTable(2);
    const a = row();
    const b = row();
    t.set(a);
    t.set(b);
    expect(t.full).toBe(true);
    expect(() => t.set(row())).toThrow(StoreFullError);
    expect(t.size).toBe(2);
    t.set({ ...a, status: 'suspended' });
    expect(t.get(a.federationId)?.status).toBe('suspended');
    for (const status of ['expired', 'terminated'] as const) {
      expect(() => t.set({ ...b, status })).toThrow(ValidationError);
    }
    expect(t.get(b.federationId)).toBe(b);
    expect(() => new FederationTable(0)).toThrow(ValidationError);
  });

  it('property: agrees with a plain Map on get, byMesh, between, due, counts, active per mesh and minimums', () => {
    const MESHES = ['did:mesh:a:m0', 'did:mesh:a:m1', 'did:mesh:a:m2', 'did:mesh:a:m3', 'did:mesh:a:m4'];
    const IDS = Array.from({ length: 10 }, () => randomUUID());
    const LIMIT = 9;
    const mesh = fc.integer({ min: 0, max: MESHES.length - 1 }).map((i) => MESHES[i]!);
    const op = fc.oneof(
      // A fresh row object for an id (insert, or replace with other parties/expiry/status).
      fc.record({
        kind: fc.constant('set' as const),
        id: fc.integer({ min: 0, max: IDS.length - 1 }),
        source: mesh,
        target: mesh,
        expiresIn: fc.integer({ min: 0, max: 6 }),
        status: fc.constantFrom('active' as const, 'suspended' as const),
        minimum: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
      }),
      // The same row object again, or a copy differing only in status (expiry unchanged).
      fc.record({
        kind: fc.constantFrom('again' as const, 'status' as const),
        id: fc.integer({ min: 0, max: IDS.length - 1 }),
      }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 0, max: IDS.length - 1 }) }),
      fc.record({ kind: fc.constant('due' as const), at: fc.integer({ min: 0, max: 7 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150, size: 'max' }), (ops) => {
        const table = new FederationTable(LIMIT);
        const model = new Map<string, FederationRow>();
        // Rows deleted, kept to be set again as the same object.
        const gone = new Map<string, FederationRow>();
        for (const o of ops) {
          if (o.kind === 'due') {
            const want = [...model.values()].filter((r) => r.expiresAt <= T0 + o.at);
            const got = table.due(T0 + o.at);
            expect(sorted(ids(got))).toEqual(sorted(ids(want)));
            for (const r of got) expect(r).toBe(model.get(r.federationId));
            for (let i = 1; i < got.length; i++) {
              expect(got[i]!.expiresAt).toBeGreaterThanOrEqual(got[i - 1]!.expiresAt);
            }
            continue;
          }
          const id = IDS[o.id]!;
          if (o.kind === 'delete') {
            expect(table.delete(id)).toBe(model.delete(id));
            const r = model.get(id) ?? gone.get(id);
            if (r) gone.set(id, r);
            continue;
          }
          let next: FederationRow | undefined;
          if (o.kind === 'set') {
            next = row({
              federationId: id,
              sourceMeshId: o.source,
              targetMeshId: o.target,
              status: o.status,
              expiresAt: T0 + o.expiresIn,
              minTrustScore: o.minimum,
            });
          } else {
            const r = model.get(id) ?? gone.get(id);
            if (!r) continue;
            next = o.kind === 'again' ? r : { ...r, status: r.status === 'active' ? 'suspended' : 'active' };
          }
          if (!model.has(id) && model.size >= LIMIT) {
            expect(() => table.set(next)).toThrow(StoreFullError);
          } else {
            table.set(next);
            model.set(id, next);
            gone.delete(id);
          }
        }
        // Every query against the model.
        expect(table.size).toBe(model.size);
        expect(table.full).toBe(model.size >= LIMIT);
        for (const id of IDS) expect(table.hasRoomFor(id)).toBe(model.has(id) || model.size < LIMIT);
        for (const id of IDS) expect(table.get(id)).toBe(model.get(id));
        expect(sorted([...table.keys()])).toEqual(sorted([...model.keys()]));
        const rows = [...model.values()];
        for (const m of MESHES) {
          const want = rows.filter((r) => r.sourceMeshId === m || r.targetMeshId === m);
          expect(sorted(ids(table.byMesh(m)))).toEqual(sorted(ids(want)));
          expect(table.meshCount(m)).toBe(want.length);
          expect(table.activeCount(m)).toBe(want.filter((r) => r.status === 'active').length);
          for (const n of MESHES) {
            const pair = rows.filter(
              (r) =>
                (r.sourceMeshId === m && r.targetMeshId === n) ||
                (r.sourceMeshId === n && r.targetMeshId === m),
            );
            expect(sorted(ids(table.between(m, n)))).toEqual(sorted(ids(pair)));
          }
        }
        for (let at = 0; at <= 7; at++) {
          const want = rows.filter((r) => r.expiresAt <= T0 + at);
          expect(sorted(ids(table.due(T0 + at)))).toEqual(sorted(ids(want)));
        }
        for (const status of ['active', 'suspended'] as const) {
          expect(table.countOf(status)).toBe(rows.filter((r) => r.status === status).length);
        }
        expect(sorted(ids(table.withMinimum()))).toEqual(
          sorted(ids(rows.filter((r) => r.minTrustScore !== undefined))),
        );
        expect(table.heapSize).toBeLessThanOrEqual(2 * table.size + 16 + rows.length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('liveFederations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fmp-fed-table-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** 25 rows in every status, put through the hub store as the hub writes them. */
  async function fill(store: HubStore): Promise<FederationRow[]> {
    const statuses = ['active', 'suspended', 'expired', 'terminated'] as const;
    const rows = Array.from({ length: 25 }, (_, i) =>
      row({ status: statuses[i % 4]!, minTrustScore: 50, statusReason: i % 4 === 0 ? undefined : 'x' }),
    );
    for (const r of rows) await store.federations.put(r);
    return rows.filter((r) => r.status === 'active' || r.status === 'suspended');
  }

  async function collect(store: HubStore, pageSize: number) {
    const pages: FederationRow[][] = [];
    for await (const page of liveFederations(store.federations, pageSize)) pages.push(page);
    return pages;
  }

  for (const [name, open] of [
    ['memory', async () => memoryHubStore()],
    [
      'SQLite',
      async () => {
        const s = sqliteStore({ path: join(dir, `${randomUUID()}.db`) });
        await s.open();
        return hubStoreFrom(s);
      },
    ],
  ] as const) {
    it(`yields every active and suspended federation once, page by page (${name})`, async () => {
      const store = await open();
      try {
        const live = await fill(store);
        expect(live).toHaveLength(13);
        const pages = await collect(store, 4);
        expect(pages.map((p) => p.length)).toEqual([4, 4, 4, 1]);
        const got = pages.flat();
        expect(sorted(ids(got))).toEqual(sorted(ids(live)));
        for (const r of got) {
          expect(r).toMatchObject({
            status: live.find((l) => l.federationId === r.federationId)!.status,
            sourceMeshId: ACME,
            targetMeshId: MIT,
          });
        }
        // One page holds them all: a single page, no empty one after it.
        expect((await collect(store, 13)).map((p) => p.length)).toEqual([13]);
        expect(await collect(await open(), 5)).toEqual([]);
      } finally {
        await store.close?.();
      }
    });
  }

  it('a hub restores every live federation at start, in pages, up to maxFederations', async () => {
    // 30,000 rows: 15,000 live (two pages of the hub's 10,000 and a part), the rest history.
    const store = memoryHubStore();
    const now = Date.now();
    const statuses = ['active', 'expired', 'suspended', 'terminated'] as const;
    const live = new Set<string>();
    for (let i = 0; i < 30_000; i++) {
      const r = row({ status: statuses[i % 4]!, createdAt: now, updatedAt: now, expiresAt: now + 3_600_000 });
      if (r.status === 'active' || r.status === 'suspended') live.add(r.federationId);
      await store.federations.put(r);
    }
    const hubWith = (maxFederations: number) =>
      createHub({
        did: 'did:mesh:hub:restore-test',
        keyPair: ed25519.generateKeyPair(),
        region: 'eu',
        trustedIssuers: ['did:mesh:authority:restore-test'],
        logger: pino({ level: 'silent' }),
        store,
        limits: { maxFederations },
      });
    const hub = hubWith(100_000);
    await hub.start();
    try {
      const held = hub.federations();
      expect(held).toHaveLength(15_000);
      expect(held.every((f) => live.has(f.federationId))).toBe(true);
      expect(held.filter((f) => f.status === 'suspended')).toHaveLength(7_500);
    } finally {
      await hub.stop();
    }
    // A smaller table keeps what fits, and the store keeps the rest.
    const small = hubWith(12_000);
    await small.start();
    try {
      expect(small.federations()).toHaveLength(12_000);
      expect((await store.federations.list()).length).toBe(30_000);
    } finally {
      await small.stop();
    }
  });
});
