/**
 * Trust engine figures (issue #5, spec 10: "trust score update 0.7 s"): the cost of one event on
 * the score (with a change listener, as the hub has), events per second on one core, a full
 * EigenTrust recompute over 100,000 meshes and 1,000,000 edges, and the sybils' share of global
 * trust in the issue's attack scenario.
 */
import { benchEigenTrust, GlobalTrust, seededRandom, TrustEngine, type TrustEvent } from '@fmp/trust';
import { percentiles } from './lib.js';

export interface TrustBench {
  readonly subjects: number;
  readonly update: { p50Ms: number; p99Ms: number; maxMs: number; n: number };
  readonly eventsPerSec: number;
  readonly eigenTrust: { nodes: number; edges: number; ms: number; iterations: number; rawPassMs: number };
  readonly sybil: { honest: number; sybils: number; attackEdges: number; share: number; ms: number };
}

const AUTH = 'did:mesh:authority:foundation';

export function benchTrust(quick: boolean): TrustBench {
  let t = 1_700_000_000_000;
  const engine = new TrustEngine({ now: () => t, preTrusted: [AUTH] });
  engine.onChange(() => {}); // the hub listens: every event computes the new score
  const subjects = quick ? 10_000 : 100_000;
  const dids = Array.from({ length: subjects }, (_, i) => `did:mesh:org:m${i}`);
  for (const did of dids) {
    engine.record({
      kind: 'credential',
      subject: did,
      at: t,
      valid: true,
      trustLevel: 80,
      certifications: ['GDPR'],
      issuer: AUTH,
      didResolvable: true,
    });
  }
  const rnd = seededRandom(42);
  const pick = () => dids[Math.floor(rnd() * dids.length)]!;
  const event = (i: number): TrustEvent => {
    const subject = pick();
    switch (i % 5) {
      case 0:
        return {
          kind: 'interaction',
          subject,
          counterpart: pick(),
          at: t,
          outcome: 'delivered',
          count: 1 + (i % 7),
        };
      case 1:
        return { kind: 'interaction', subject, counterpart: pick(), at: t, outcome: 'tool_call_failed' };
      case 2:
        return { kind: 'heartbeat', subject, at: t, ok: i % 50 !== 0 };
      case 3:
        return { kind: 'message', subject, at: t, messages: 100, errors: i % 3 };
      default:
        return i % 1000 === 4
          ? { kind: 'violation', subject, counterpart: pick(), at: t, violation: 'policy', detail: 'bench' }
          : { kind: 'session', subject, at: t, connected: i % 2 === 0 };
    }
  };
  // Latency of single events.
  const n = quick ? 20_000 : 200_000;
  const samples: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    t += 1;
    const e = event(i);
    const start = performance.now();
    engine.record(e);
    samples[i] = performance.now() - start;
  }
  const max = samples.reduce((m, x) => Math.max(m, x), 0);
  const lat = { ...percentiles(samples), maxMs: Math.round(max * 10_000) / 10_000 };
  // Throughput: events back to back for about a second.
  const prepared = Array.from({ length: 50_000 }, (_, i) => event(i));
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < (quick ? 300 : 1_500)) {
    for (const e of prepared) {
      engine.record(e);
      done++;
    }
    t += 1;
  }
  const eventsPerSec = done / ((performance.now() - start) / 1000);

  const et = benchEigenTrust(100_000, 10);
  const rawPassMs = rawSparsePass(100_000, 10);
  const sybil = sybilShare();
  return {
    subjects,
    update: { p50Ms: lat.p50Ms, p99Ms: lat.p99Ms, maxMs: lat.maxMs, n },
    eventsPerSec: Math.round(eventsPerSec),
    eigenTrust: {
      nodes: 100_000,
      edges: 1_000_000,
      ms: Math.round(et.ms * 10) / 10,
      iterations: et.iterations,
      rawPassMs,
    },
    sybil,
  };
}

/**
 * Baseline: one pass of a sparse matrix-vector product over the same shape (typed arrays, CSR),
 * the memory-bound step EigenTrust repeats once per iteration.
 */
function rawSparsePass(nodes: number, perNode: number): number {
  const rnd = seededRandom(3);
  const cols = new Int32Array(nodes * perNode);
  const vals = new Float64Array(nodes * perNode);
  for (let i = 0; i < cols.length; i++) {
    cols[i] = Math.floor(rnd() * nodes);
    vals[i] = rnd();
  }
  const x = new Float64Array(nodes).fill(1 / nodes);
  const y = new Float64Array(nodes);
  let best = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < 5; rep++) {
    const start = performance.now();
    y.fill(0);
    for (let r = 0; r < nodes; r++) {
      const xi = x[r]!;
      for (let k = r * perNode; k < (r + 1) * perNode; k++) y[cols[k]!]! += vals[k]! * xi;
    }
    best = Math.min(best, performance.now() - start);
  }
  return Math.round(best * 100) / 100;
}

/** Issue #5's scenario: 10,000 sybils behind at most 10 attack edges from 100,000 honest meshes. */
function sybilShare(): TrustBench['sybil'] {
  const honest = 100_000;
  const sybils = 10_000;
  const rnd = seededRandom(7);
  const g = new GlobalTrust();
  const h = (i: number) => `h${i}`;
  const s = (i: number) => `s${i}`;
  for (let i = 0; i < honest; i++)
    for (let k = 0; k < 10; k++) g.setEdge(h(i), h(Math.floor(rnd() * honest)), 1 + rnd());
  for (let i = 0; i < sybils; i++)
    for (let k = 0; k < 10; k++) g.setEdge(s(i), s(Math.floor(rnd() * sybils)), 1 + rnd());
  for (let k = 0; k < 10; k++) g.setEdge(h(Math.floor(rnd() * honest)), s(Math.floor(rnd() * sybils)), 1);
  g.setPreTrusted(Array.from({ length: 10 }, (_, i) => h(i * 9_973)));
  const r = g.recompute();
  let share = 0;
  for (let i = 0; i < sybils; i++) share += g.trust(s(i));
  return { honest, sybils, attackEdges: 10, share, ms: Math.round(r.ms) };
}
