import { ValidationError } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitAnnouncement } from './announcement.js';
import { RouteTable } from './path-vector.js';

const SELF = 'did:mesh:hub:self';
const A = 'did:mesh:hub:a';
const B = 'did:mesh:hub:b';
const C = 'did:mesh:hub:c';
const D = 'did:mesh:hub:d';
const M1 = 'did:mesh:org:m1';
const M2 = 'did:mesh:org:m2';

function table(extra: Partial<ConstructorParameters<typeof RouteTable>[0]> = {}) {
  return new RouteTable({ selfHubDid: SELF, now: () => 1, ...extra });
}

describe('RouteTable', () => {
  it('prefers local, then fewest hops, then lowest latency, then the smaller peer DID', () => {
    const t = table();
    t.applyAnnouncement(B, { meshes: [{ meshId: M1, path: [B, C, D], latencyMs: 1 }], withdrawn: [] }, 1);
    expect(t.nextHop(M1)).toEqual({ kind: 'peer', peerDid: B, path: [B, C, D], latencyMs: 2 });
    // Fewer hops wins even when slower.
    t.applyAnnouncement(C, { meshes: [{ meshId: M1, path: [C, D], latencyMs: 200 }], withdrawn: [] }, 50);
    expect(t.nextHop(M1)).toMatchObject({ peerDid: C, latencyMs: 250 });
    // Same hops, lower latency wins.
    t.applyAnnouncement(D, { meshes: [{ meshId: M1, path: [D, B], latencyMs: 10 }], withdrawn: [] }, 5);
    expect(t.nextHop(M1)).toMatchObject({ peerDid: D, path: [D, B], latencyMs: 15 });
    // Same hops and latency: the smaller peer DID wins.
    t.applyAnnouncement(A, { meshes: [{ meshId: M1, path: [A, C], latencyMs: 10 }], withdrawn: [] }, 5);
    expect(t.nextHop(M1)).toMatchObject({ peerDid: A });
    t.attach(M1);
    expect(t.nextHop(M1)).toEqual({ kind: 'local' });
    t.detach(M1);
    expect(t.nextHop(M1)).toMatchObject({ peerDid: A });
  });

  it('rejects loops, wrong first hops and paths beyond maxHops, treating them as withdrawals', () => {
    const t = table({ maxHops: 3 });
    t.applyAnnouncement(B, { meshes: [{ meshId: M1, path: [B], latencyMs: 0 }], withdrawn: [] }, 1);
    const r = t.applyAnnouncement(
      B,
      {
        meshes: [
          { meshId: M1, path: [B, SELF, C], latencyMs: 0 },
          { meshId: M2, path: [C], latencyMs: 0 },
          { meshId: 'did:mesh:org:m3', path: [B, C, D], latencyMs: 0 },
          { meshId: 'did:mesh:org:m4', path: [B, C, B], latencyMs: 0 },
        ],
        withdrawn: [],
      },
      1,
    );
    expect(r.rejected).toEqual([
      { meshId: M1, reason: 'loop' },
      { meshId: M2, reason: 'first_hop_mismatch' },
      { meshId: 'did:mesh:org:m3', reason: 'too_many_hops' },
      { meshId: 'did:mesh:org:m4', reason: 'loop' },
    ]);
    expect(t.nextHop(M1)).toBeUndefined(); // the earlier route from B is gone
    expect(t.size).toBe(0);
  });

  it('withdrawPeer removes its routes and falls back to the alternatives', () => {
    const t = table();
    const changes: string[][] = [];
    t.onChange((c) => changes.push([...c]));
    t.applyAnnouncement(B, { meshes: [{ meshId: M1, path: [B], latencyMs: 0 }], withdrawn: [] }, 5);
    t.applyAnnouncement(C, { meshes: [{ meshId: M1, path: [C, B], latencyMs: 5 }], withdrawn: [] }, 5);
    expect(t.nextHop(M1)).toMatchObject({ peerDid: B });
    expect(changes).toEqual([[M1]]); // the worse alternative changed nothing
    expect(t.withdrawPeer(B)).toEqual([M1]);
    expect(t.nextHop(M1)).toMatchObject({ peerDid: C, path: [C, B] });
    t.applyAnnouncement(C, { meshes: [], withdrawn: [M1] }, 5);
    expect(t.nextHop(M1)).toBeUndefined();
    expect(changes).toEqual([[M1], [M1], [M1]]);
  });

  it('exports with self prepended, applies split horizon, and lists withdrawals in deltas', () => {
    const t = table();
    t.attach(M2);
    t.applyAnnouncement(B, { meshes: [{ meshId: M1, path: [B], latencyMs: 3 }], withdrawn: [] }, 2);
    expect(t.exportFor(C)).toEqual({
      meshes: [
        { meshId: M2, path: [SELF], latencyMs: 0 },
        { meshId: M1, path: [SELF, B], latencyMs: 5 },
      ],
      withdrawn: [],
    });
    // Split horizon: B is not told about the route learned from B.
    expect(t.exportFor(B)).toEqual({ meshes: [{ meshId: M2, path: [SELF], latencyMs: 0 }], withdrawn: [] });
    expect(t.exportFor(B, [M1, M2])).toEqual({
      meshes: [{ meshId: M2, path: [SELF], latencyMs: 0 }],
      withdrawn: [M1],
    });
    t.detach(M2);
    expect(t.exportFor(C, [M2])).toEqual({ meshes: [], withdrawn: [M2] });
  });

  it('does not export a route the receiver would have to reject for its length', () => {
    const t = table({ maxHops: 3 });
    t.applyAnnouncement(B, { meshes: [{ meshId: M1, path: [B, C], latencyMs: 0 }], withdrawn: [] }, 1);
    expect(t.nextHop(M1)).toMatchObject({ peerDid: B });
    expect(t.exportFor(D)).toEqual({ meshes: [], withdrawn: [] });
  });

  it('re-selects on link latency changes and reports only significant moves', () => {
    const t = table({ latencyChangeMs: 10 });
    t.applyAnnouncement(B, { meshes: [{ meshId: M1, path: [B, D], latencyMs: 0 }], withdrawn: [] }, 10);
    t.applyAnnouncement(C, { meshes: [{ meshId: M1, path: [C, D], latencyMs: 0 }], withdrawn: [] }, 20);
    expect(t.nextHop(M1)).toMatchObject({ peerDid: B });
    expect(t.updateLinkLatency(B, 12)).toEqual([]);
    expect(t.nextHop(M1)).toMatchObject({ peerDid: B, latencyMs: 12 });
    expect(t.updateLinkLatency(B, 30)).toEqual([M1]);
    expect(t.nextHop(M1)).toMatchObject({ peerDid: C });
  });

  it('is bounded in meshes and in paths per mesh', () => {
    const t = table({ maxMeshes: 2, maxPathsPerMesh: 2 });
    expect(t.attach(M1)).toBe(true);
    expect(t.attach(M2)).toBe(true);
    expect(t.attach('did:mesh:org:m3')).toBe(false);
    const r = t.applyAnnouncement(
      B,
      { meshes: [{ meshId: 'did:mesh:org:m3', path: [B], latencyMs: 0 }], withdrawn: [] },
      1,
    );
    expect(r.rejected).toEqual([{ meshId: 'did:mesh:org:m3', reason: 'table_full' }]);
    t.applyAnnouncement(B, { meshes: [{ meshId: M1, path: [B, C, D], latencyMs: 0 }], withdrawn: [] }, 1);
    t.applyAnnouncement(C, { meshes: [{ meshId: M1, path: [C, D], latencyMs: 0 }], withdrawn: [] }, 1);
    // A worse third path is refused; a better one replaces the worst.
    expect(
      t.applyAnnouncement(D, { meshes: [{ meshId: M1, path: [D, B, C], latencyMs: 9 }], withdrawn: [] }, 1)
        .rejected,
    ).toEqual([{ meshId: M1, reason: 'paths_full' }]);
    t.applyAnnouncement(A, { meshes: [{ meshId: M1, path: [A], latencyMs: 0 }], withdrawn: [] }, 1);
    t.detach(M1);
    expect(t.nextHop(M1)).toMatchObject({ peerDid: A });
    expect(t.rows().find((r) => r.meshId === M1)?.alternatives).toBe(1); // C kept, B evicted
    t.withdrawPeer(A);
    expect(t.nextHop(M1)).toMatchObject({ peerDid: C });
  });

  it('rows() lists full paths for GET /v1/routes', () => {
    const t = table();
    t.attach(M2);
    t.applyAnnouncement(B, { meshes: [{ meshId: M1, path: [B, C], latencyMs: 4 }], withdrawn: [] }, 3);
    expect(t.rows()).toEqual([
      {
        meshId: M1,
        kind: 'peer',
        nextHop: B,
        path: [SELF, B, C],
        hops: 3,
        latencyMs: 7,
        alternatives: 0,
        updatedAt: 1,
      },
      {
        meshId: M2,
        kind: 'local',
        nextHop: null,
        path: [SELF],
        hops: 1,
        latencyMs: 0,
        alternatives: 0,
        updatedAt: 1,
      },
    ]);
  });

  it('refuses malformed announcements with ValidationError and applies nothing', () => {
    const t = table();
    expect(() =>
      t.applyAnnouncement(
        B,
        { meshes: [{ meshId: 'not a did', path: [B], latencyMs: 0 }], withdrawn: [] },
        1,
      ),
    ).toThrow(ValidationError);
    expect(() => t.applyAnnouncement(B, { meshes: [], withdrawn: [] }, -1)).toThrow(ValidationError);
    expect(() => t.applyAnnouncement(SELF, { meshes: [], withdrawn: [] }, 1)).toThrow(ValidationError);
    expect(() => t.applyAnnouncement(B, null as never, 1)).toThrow(ValidationError);
    // A frame (with its type) is accepted as an announcement.
    t.applyAnnouncement(B, { type: 'RouteAnnouncement', meshes: [], withdrawn: [] } as never, 1);
    expect(t.size).toBe(0);
  });

  it('splitAnnouncement keeps every entry', () => {
    const meshes = Array.from({ length: 5 }, (_, i) => ({
      meshId: `did:mesh:org:m${i}`,
      path: [B],
      latencyMs: i,
    }));
    const parts = splitAnnouncement({ meshes, withdrawn: [M1, M2, 'did:mesh:org:x'] }, 2);
    expect(parts.map((p) => [p.meshes.length, p.withdrawn.length])).toEqual([
      [0, 2],
      [0, 1],
      [2, 0],
      [2, 0],
      [1, 0],
    ]);
  });
});

describe('RouteTable properties', () => {
  const hubs = [A, B, C, D, SELF];
  const meshes = [M1, M2, 'did:mesh:org:m3'];
  const peers = [A, B, C, D];
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('announce' as const),
      peer: fc.constantFrom(...peers),
      routes: fc.array(
        fc.record({
          meshId: fc.constantFrom(...meshes),
          // Random paths: may contain self, repeat hubs, start elsewhere or be too long.
          path: fc.array(fc.constantFrom(...hubs), { minLength: 1, maxLength: 5 }),
          latencyMs: fc.nat(100),
        }),
        { maxLength: 4 },
      ),
      withdrawn: fc.array(fc.constantFrom(...meshes), { maxLength: 2 }),
      link: fc.nat(50),
      prefixPeer: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('withdrawPeer' as const), peer: fc.constantFrom(...peers) }),
    fc.record({ kind: fc.constant('attach' as const), meshId: fc.constantFrom(...meshes) }),
    fc.record({ kind: fc.constant('detach' as const), meshId: fc.constantFrom(...meshes) }),
    fc.record({ kind: fc.constant('latency' as const), peer: fc.constantFrom(...peers), link: fc.nat(80) }),
  );

  it('never selects a looping or too-long path, and a withdrawn peer is never a next hop', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 5 }), (ops, maxHops) => {
        const t = table({ maxHops, maxPathsPerMesh: 3 });
        const down = new Set<string>();
        for (const o of ops) {
          if (o.kind === 'announce') {
            down.delete(o.peer);
            const routes = o.routes.map((r) => ({
              ...r,
              path: o.prefixPeer && r.path[0] !== o.peer ? [o.peer, ...r.path].slice(0, 5) : r.path,
            }));
            t.applyAnnouncement(o.peer, { meshes: routes, withdrawn: o.withdrawn }, o.link);
          } else if (o.kind === 'withdrawPeer') {
            t.withdrawPeer(o.peer);
            down.add(o.peer);
          } else if (o.kind === 'attach') t.attach(o.meshId);
          else if (o.kind === 'detach') t.detach(o.meshId);
          else t.updateLinkLatency(o.peer, o.link);

          for (const m of meshes) {
            const hop = t.nextHop(m);
            if (hop?.kind !== 'peer') continue;
            expect(hop.path[0]).toBe(hop.peerDid);
            expect(hop.path).not.toContain(SELF);
            expect(new Set(hop.path).size).toBe(hop.path.length);
            expect(hop.path.length + 1).toBeLessThanOrEqual(maxHops);
            expect(down.has(hop.peerDid)).toBe(false);
          }
          for (const row of t.rows()) {
            expect(row.hops).toBeLessThanOrEqual(maxHops);
            if (row.nextHop) expect(down.has(row.nextHop)).toBe(false);
          }
          // Nothing exported to a peer would loop back through it.
          for (const p of peers) {
            for (const r of t.exportFor(p).meshes) {
              expect(r.path).not.toContain(p);
              expect(r.path[0]).toBe(SELF);
              expect(r.path.length + 1).toBeLessThanOrEqual(maxHops);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('selects the same route as a brute-force model of the valid candidates', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const t = table();
        // Model: per (peer, mesh) the latest valid path; per peer the latest link latency.
        const cand = new Map<string, Map<string, { path: string[]; latencyMs: number }>>();
        const link = new Map<string, number>();
        const local = new Set<string>();
        for (const o of ops) {
          if (o.kind === 'announce') {
            link.set(o.peer, o.link);
            const per = cand.get(o.peer) ?? new Map();
            cand.set(o.peer, per);
            for (const w of o.withdrawn) per.delete(w);
            const routes = o.routes.map((r) => ({
              ...r,
              path: o.prefixPeer && r.path[0] !== o.peer ? [o.peer, ...r.path].slice(0, 5) : r.path,
            }));
            for (const r of routes) {
              const ok =
                r.path[0] === o.peer &&
                !r.path.includes(SELF) &&
                new Set(r.path).size === r.path.length &&
                r.path.length + 1 <= 5;
              if (ok) per.set(r.meshId, { path: r.path, latencyMs: r.latencyMs });
              else per.delete(r.meshId);
            }
            t.applyAnnouncement(o.peer, { meshes: routes, withdrawn: o.withdrawn }, o.link);
          } else if (o.kind === 'withdrawPeer') {
            cand.delete(o.peer);
            link.delete(o.peer);
            t.withdrawPeer(o.peer);
          } else if (o.kind === 'attach') {
            local.add(o.meshId);
            t.attach(o.meshId);
          } else if (o.kind === 'detach') {
            local.delete(o.meshId);
            t.detach(o.meshId);
          } else {
            if ((cand.get(o.peer)?.size ?? 0) > 0) link.set(o.peer, o.link);
            t.updateLinkLatency(o.peer, o.link);
          }
        }
        for (const m of meshes) {
          if (local.has(m)) {
            expect(t.nextHop(m)).toEqual({ kind: 'local' });
            continue;
          }
          let best: { peer: string; path: string[]; total: number } | undefined;
          for (const [peer, per] of cand) {
            const r = per.get(m);
            if (!r) continue;
            const total = r.latencyMs + (link.get(peer) ?? 0);
            const better =
              !best ||
              r.path.length < best.path.length ||
              (r.path.length === best.path.length &&
                (total < best.total || (total === best.total && peer < best.peer)));
            if (better) best = { peer, path: r.path, total };
          }
          const hop = t.nextHop(m);
          if (!best) expect(hop).toBeUndefined();
          else expect(hop).toMatchObject({ kind: 'peer', peerDid: best.peer, path: best.path });
        }
      }),
      { numRuns: 300 },
    );
  });
});
