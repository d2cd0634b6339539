import { ValidationError } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GlobalTrust } from './eigentrust.js';
import { benchEigenTrust, seededRandom } from './eigentrust-bench.js';

type Edge = readonly [from: number, to: number, weight: number];

/**
 * The exact fixed point, independently of GlobalTrust: builds the dense row-stochastic M (rows
 * normalised, dangling rows = p) and solves (I - (1 - a) M^T) t = a p by Gaussian elimination.
 */
function directSolution(n: number, edges: readonly Edge[], preTrusted: readonly number[], alpha: number) {
  const p = new Array<number>(n).fill(preTrusted.length === 0 ? 1 / n : 0);
  for (const i of preTrusted) p[i] = 1 / preTrusted.length;
  const w = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (const [f, t, x] of edges) if (f !== t) w[f]![t] = x;
  const m = w.map((row) => {
    const sum = row.reduce((a, b) => a + b, 0);
    return sum === 0 ? [...p] : row.map((x) => x / sum);
  });
  // a[j][i] = I - (1 - alpha) * M^T, augmented with alpha * p.
  const a = Array.from({ length: n }, (_, j) => [
    ...Array.from({ length: n }, (_, i) => (i === j ? 1 : 0) - (1 - alpha) * m[i]![j]!),
    alpha * p[j]!,
  ]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const factor = a[r]![col]! / a[col]![col]!;
      for (let c = col; c <= n; c++) a[r]![c] = a[r]![c]! - factor * a[col]![c]!;
    }
  }
  return a.map((row, j) => row[n]! / row[j]!);
}

const id = (i: number) => `did:mesh:test:${i}`;

function load(g: GlobalTrust, edges: readonly Edge[], preTrusted: readonly number[]) {
  g.setPreTrusted(preTrusted.map(id));
  for (const [f, t, w] of edges) g.setEdge(id(f), id(t), w);
}

/** A random graph: `n` nodes with `k` out-edges each to other nodes, weights in [0.1, 1). */
function randomGraph(g: GlobalTrust, n: number, k: number, rand: () => number, prefix = 'h') {
  const ids = Array.from({ length: n }, (_, i) => `did:mesh:${prefix}:${i}`);
  for (let i = 0; i < n; i++) {
    for (let e = 0; e < k; e++) {
      let j = Math.floor(rand() * (n - 1));
      if (j >= i) j++;
      g.setEdge(ids[i]!, ids[j]!, 0.1 + 0.9 * rand());
    }
  }
  return ids;
}

describe('GlobalTrust', () => {
  it('matches the direct solution on a small graph with a dangling node', () => {
    // 0 and 1 pre-trusted; 5 rates nobody (dangling); 4 -> 4 is a self-loop and ignored.
    const edges: Edge[] = [
      [0, 1, 1],
      [0, 2, 3],
      [1, 2, 1],
      [1, 3, 0.5],
      [2, 0, 2],
      [2, 4, 1],
      [3, 4, 1],
      [3, 5, 0.2],
      [4, 4, 9],
      [4, 1, 0.7],
    ];
    const g = new GlobalTrust({ epsilon: 1e-14, maxIterations: 1000 });
    load(g, edges, [0, 1]);
    const r = g.recompute();
    expect(r).toMatchObject({ nodes: 6, edges: 9 });
    expect(r.delta).toBeLessThan(1e-14);
    const exact = directSolution(6, edges, [0, 1], 0.15);
    let sum = 0;
    for (let i = 0; i < 6; i++) {
      expect(g.trust(id(i))).toBeCloseTo(exact[i]!, 12);
      sum += g.trust(id(i));
    }
    expect(sum).toBeCloseTo(1, 14);
    expect(g.relative(id(2))).toBeCloseTo(exact[2]! * 6, 10);
  });

  it('matches the direct solution on random small graphs (property)', () => {
    const graph = fc.integer({ min: 1, max: 8 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        edges: fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: n - 1 }),
            fc.integer({ min: 0, max: n - 1 }),
            fc.double({ min: 0.01, max: 100, noNaN: true }),
          ),
          { maxLength: 30 },
        ),
        preTrusted: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: n }),
        alpha: fc.double({ min: 0.05, max: 1, noNaN: true }),
      }),
    );
    fc.assert(
      fc.property(graph, ({ n, edges, preTrusted, alpha }) => {
        const g = new GlobalTrust({ alpha, epsilon: 1e-13, maxIterations: 2000 });
        for (let i = 0; i < n; i++) g.setPreTrusted([id(i)]); // create all n nodes in order
        load(g, edges, preTrusted);
        g.recompute();
        // Later duplicates overwrite earlier ones, as setEdge does.
        const last = new Map<string, Edge>();
        for (const e of edges) last.set(`${e[0]}>${e[1]}`, e);
        const exact = directSolution(n, [...last.values()], preTrusted, alpha);
        return exact.every((x, i) => Math.abs(g.trust(id(i)) - x) < 1e-9);
      }),
      { numRuns: 200 },
    );
  });

  it('uses a uniform p over all nodes when nothing is pre-trusted, and 0 for unknown ids', () => {
    const g = new GlobalTrust();
    expect(g.recompute()).toMatchObject({ iterations: 0, nodes: 0, edges: 0 });
    // A directed 3-cycle: every node has the same trust.
    g.setEdge('a', 'b', 1);
    g.setEdge('b', 'c', 1);
    g.setEdge('c', 'a', 1);
    g.recompute();
    for (const x of ['a', 'b', 'c']) expect(g.relative(x)).toBeCloseTo(1, 6);
    expect(g.trust('nobody')).toBe(0);
    expect(g.relative('nobody')).toBe(0);
    // A node added after the last recompute has no trust until the next one.
    g.setEdge('a', 'd', 1);
    expect(g.trust('d')).toBe(0);
    expect(g.nodeCount).toBe(4);
    g.recompute();
    expect(g.trust('d')).toBeGreaterThan(0);
  });

  it('weight 0 removes an edge; updates and removals change the result', () => {
    const g = new GlobalTrust({ epsilon: 1e-12, maxIterations: 500 });
    g.setPreTrusted(['s']);
    g.setEdge('s', 'a', 1);
    g.setEdge('s', 'b', 1);
    g.recompute();
    expect(g.trust('a')).toBeCloseTo(g.trust('b'), 10);
    g.setEdge('s', 'a', 3);
    expect(g.edge('s', 'a')).toBe(3);
    g.recompute();
    expect(g.trust('a')).toBeCloseTo(3 * g.trust('b'), 8);
    g.setEdge('s', 'a', 0);
    expect(g.edgeCount).toBe(1);
    expect(g.edge('s', 'a')).toBe(0);
    g.recompute();
    // a is now reached by nobody: only dangling trust (from a and b, spread over p = {s}) remains.
    expect(g.trust('a')).toBeCloseTo(0, 10);
    g.setEdge('x', 'y', 0); // removing an edge between unknown ids creates nothing
    expect(g.nodeCount).toBe(3);
  });

  it('keeps its edge table consistent under inserts, updates and deletes (property)', () => {
    // Few ids and weights 0-3: plenty of updates, removals (which move the last edge into the hole)
    // and re-insertions, through several index rehashes.
    const op = fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 15 }), fc.nat(3));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
        const g = new GlobalTrust();
        const model = new Map<string, number>();
        for (const [f, t, w] of ops) {
          g.setEdge(id(f), id(t), w);
          if (f === t) continue;
          if (w === 0) model.delete(`${f}>${t}`);
          else model.set(`${f}>${t}`, w);
        }
        if (g.edgeCount !== model.size) return false;
        for (let f = 0; f < 16; f++) {
          for (let t = 0; t < 16; t++) {
            if (g.edge(id(f), id(t)) !== (f === t ? 0 : (model.get(`${f}>${t}`) ?? 0))) return false;
          }
        }
        return g.recompute().edges === model.size;
      }),
      { numRuns: 300 },
    );
  });

  it('ignores self-loops and refuses bad weights, ids and options with ValidationError', () => {
    const g = new GlobalTrust();
    g.setEdge('a', 'a', 5);
    expect(g.edgeCount).toBe(0);
    expect(g.nodeCount).toBe(0);
    for (const w of [-1, Number.NaN, Number.POSITIVE_INFINITY, -0.0001]) {
      expect(() => g.setEdge('a', 'b', w)).toThrow(ValidationError);
    }
    expect(() => g.setEdge('', 'b', 1)).toThrow(ValidationError);
    expect(() => g.setEdge('a', 'x'.repeat(3000), 1)).toThrow(ValidationError);
    expect(() => g.setPreTrusted(['ok', ''])).toThrow(ValidationError);
    expect(g.nodeCount).toBe(0);
    for (const bad of [
      { alpha: 0 },
      { alpha: 1.5 },
      { epsilon: 0 },
      { maxIterations: 0 },
      { maxIterations: 2.5 },
      { maxNodes: -1 },
      { maxEdges: Number.NaN },
    ]) {
      expect(() => new GlobalTrust(bad)).toThrow(ValidationError);
    }
  });

  it('enforces maxNodes and maxEdges without partial changes', () => {
    const g = new GlobalTrust({ maxNodes: 3, maxEdges: 2 });
    g.setEdge('a', 'b', 1);
    g.setEdge('b', 'c', 1);
    expect(() => g.setEdge('c', 'a', 1)).toThrow(/at most 2 edges/);
    expect(() => g.setEdge('c', 'd', 1)).toThrow(/at most 3 nodes/);
    expect(() => g.setPreTrusted(['a', 'z'])).toThrow(ValidationError);
    expect([g.nodeCount, g.edgeCount]).toEqual([3, 2]);
    g.setEdge('a', 'b', 2); // updating an existing edge is always allowed
    g.setEdge('a', 'b', 0);
    g.setEdge('c', 'a', 1);
    expect(g.edgeCount).toBe(2);
  });

  it('warm start: after one edge changes in a converged 10k-node graph, far fewer iterations', () => {
    const rand = seededRandom(42);
    const g = new GlobalTrust();
    const ids = randomGraph(g, 10_000, 10, rand);
    g.setPreTrusted(ids.slice(0, 10));
    const cold = g.recompute();
    expect(cold.delta).toBeLessThan(1e-6);
    // Unchanged graph: one iteration confirms convergence.
    expect(g.recompute().iterations).toBe(1);
    // Ten single-edge changes (a new edge from a random non-seed node), each followed by a
    // recompute. How many iterations one needs depends on the rater's trust, so judge the mean.
    const warm: number[] = [];
    let changed: [string, string] = ['', ''];
    for (let q = 0; q < 10; q++) {
      changed = [ids[10 + Math.floor(rand() * 9990)]!, ids[Math.floor(rand() * 10_000)]!];
      g.setEdge(changed[0], changed[1], 0.8);
      const r = g.recompute();
      expect(r.delta).toBeLessThan(1e-6);
      expect(r.iterations).toBeLessThan(cold.iterations);
      warm.push(r.iterations);
    }
    const mean = warm.reduce((a, b) => a + b, 0) / warm.length;
    expect(mean).toBeLessThan(cold.iterations / 2);

    // The warm result is the fixed point a cold compute of the final graph finds.
    const fresh = new GlobalTrust();
    const rand2 = seededRandom(42);
    randomGraph(fresh, 10_000, 10, rand2);
    fresh.setPreTrusted(ids.slice(0, 10));
    for (let q = 0; q < 10; q++) {
      fresh.setEdge(ids[10 + Math.floor(rand2() * 9990)]!, ids[Math.floor(rand2() * 10_000)]!, 0.8);
    }
    expect(fresh.edge(changed[0], changed[1])).toBe(0.8);
    fresh.recompute();
    let l1 = 0;
    for (const x of ids) l1 += Math.abs(g.trust(x) - fresh.trust(x));
    expect(l1).toBeLessThan(1e-5);
    console.log(
      `warm start (10k nodes, 100k edges): from scratch ${cold.iterations} iterations,` +
        ` after one edge change ${warm.join(',')} (mean ${mean})`,
    );
  });

  it('sybil resistance: 10k sybils behind 10 attack edges get < 0.1% of global trust', () => {
    const rand = seededRandom(7);
    const g = new GlobalTrust();
    const honest = randomGraph(g, 100_000, 10, rand, 'honest');
    // The sybils rate each other densely (10 out-edges each, full weight) and nobody outside.
    const sybils = randomGraph(g, 10_000, 10, rand, 'sybil');
    for (let e = 0; e < 10; e++) {
      const from = honest[10 + Math.floor(rand() * (honest.length - 10))]!;
      g.setEdge(from, sybils[Math.floor(rand() * sybils.length)]!, 1);
    }
    g.setPreTrusted(honest.slice(0, 10));
    const r = g.recompute();
    expect(r).toMatchObject({ nodes: 110_000 });
    expect(r.edges).toBeGreaterThan(1_090_000);
    const share = sybils.reduce((sum, s) => sum + g.trust(s), 0);
    expect(share).toBeLessThan(0.001);
    const honestShare = honest.reduce((sum, s) => sum + g.trust(s), 0);
    expect(honestShare + share).toBeCloseTo(1, 9);

    // The same graph under plain PageRank (teleport to everyone): the sybils get their head count.
    g.setPreTrusted([]);
    g.recompute();
    const pageRankShare = sybils.reduce((sum, s) => sum + g.trust(s), 0);
    expect(pageRankShare).toBeGreaterThan(0.05);
    console.log(
      `sybil share: EigenTrust ${(share * 100).toFixed(4)}% (${r.iterations} iterations, ${r.ms.toFixed(0)} ms),` +
        ` plain PageRank ${(pageRankShare * 100).toFixed(2)}%`,
    );
  });

  it('benchEigenTrust builds a seeded graph and times a full compute', () => {
    const r = benchEigenTrust(2000, 5);
    expect(r.iterations).toBeGreaterThan(1);
    expect(r.ms).toBeGreaterThan(0);
    expect(benchEigenTrust(2000, 5).iterations).toBe(r.iterations);
  });
});
