/**
 * The EigenTrust benchmark (bench suite) and the seeded generator its graphs and the tests use.
 */
import { GlobalTrust } from './eigentrust.js';

/** mulberry32: a small, fast, seeded PRNG in [0, 1). Reproducible graphs, not cryptography. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Builds a seeded random graph (`nodes` nodes, `edgesPerNode` out-edges each to uniformly random
 * other nodes, weights in [0.1, 1), 10 pre-trusted nodes) and times one full compute from scratch:
 * the matrix build plus the power iteration from p to convergence (epsilon 1e-6).
 */
export function benchEigenTrust(nodes: number, edgesPerNode: number): { ms: number; iterations: number } {
  const rand = seededRandom(0x5eed);
  const g = new GlobalTrust({
    maxNodes: Math.max(1, nodes),
    maxEdges: Math.max(1, nodes * edgesPerNode),
  });
  const ids = Array.from({ length: nodes }, (_, i) => `did:mesh:bench:${i}`);
  g.setPreTrusted(ids.slice(0, 10));
  for (let i = 0; i < nodes; i++) {
    if (nodes < 2) break;
    for (let e = 0; e < edgesPerNode; e++) {
      let j = Math.floor(rand() * (nodes - 1));
      if (j >= i) j++;
      g.setEdge(ids[i]!, ids[j]!, 0.1 + 0.9 * rand());
    }
  }
  const r = g.recompute();
  return { ms: r.ms, iterations: r.iterations };
}
