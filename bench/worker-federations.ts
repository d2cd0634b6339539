/**
 * Federation state at scale (issue #8), in a process of its own so that heap figures are clean:
 *   node --expose-gc --max-old-space-size=6144 --import tsx bench/worker-federations.ts <n> [breakdown]
 * prints one JSON line with the result, and exits when its stdin closes.
 *
 * A real hub (started, its own did:mesh identity, default memory store) gets `n` federation rows
 * through `restoreFederations`, the method its start() restores the store's rows with. The rows are
 * built as a store driver gives them back: every string and array parsed from the row's text, so no
 * two rows share a string (SQLite, PostgreSQL and JSON all hand out fresh copies). Then:
 *   - bytes per federation: the JS heap after a full GC, before and after the restore, / n; broken
 *     down by measuring each part again on its own (a second Map over the same keys and rows, shallow
 *     copies of the rows, copies of their arrays; strings are the rest); and the token bucket the
 *     per-federation rate limiter adds once a federation carries traffic;
 *   - lookup by federation id: the hub's own table (the FederationTable the routing path reads),
 *     with freshly parsed ids as envelopes carry them, beside the same lookups in a 1,000-entry Map;
 *   - the mesh index (federation-table.ts): "the federations of this mesh" (byMesh; reconcileMesh
 *     runs it on every authentication, credential re-check and trust change of a mesh) and "do these
 *     two meshes have a federation" (between; haveFederated, on every trust attestation), each as
 *     the table answers it and as the hub runs it, averaged over many meshes; beside one full pass
 *     over the table (what each of them cost before the index);
 *   - the expiry sweep (the hub's own sweep(), normally on a 1 s timer, turned off here so that only
 *     the timed calls run; it reads the table's expiry heap): idle, then with 1% of the federations
 *     due (each expired through setFederationStatus: table, gauge, notices, store write), on the
 *     hub's injected clock.
 * Private members are reached through a cast (HubInternals): a rename in hub.ts fails this run loudly.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ed25519, RateLimiter } from '@fmp/core';
import { createHub, type FederationRow, type Hub } from '@fmp/hub';
import { buildMeshCreate, MeshRegistry } from '@fmp/identity';
import { FederationTable } from '../packages/hub/src/federation-table.js';
import { benchLogger, print } from './worker-io.js';

const n = Number(process.argv[2]);
const withBreakdown = process.argv[3] === 'breakdown';
if (!Number.isSafeInteger(n) || n < 1000) throw new Error(`n must be an integer >= 1000: ${process.argv[2]}`);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
/**
 * The JS heap after full collections: twice for the main figure (the first may leave weak and
 * finalizable objects behind), once for the parts measured after it (each costs a second at 1M).
 */
const heap = (collections = 2) => {
  for (let i = 0; i < collections; i++) gc();
  return process.memoryUsage().heapUsed;
};

interface HubInternals {
  restoreFederations(rows: Iterable<FederationRow>): number;
  readonly fedTable: FederationTable;
  sweep(): void;
  haveFederated(a: string, b: string): boolean;
  reconcileMesh(meshId: string): void;
}

function internals(hub: Hub): HubInternals {
  const h = hub as unknown as HubInternals;
  for (const k of ['restoreFederations', 'sweep', 'haveFederated', 'reconcileMesh'] as const) {
    if (typeof h[k] !== 'function')
      throw new Error(`the hub has no ${k}(): update bench/worker-federations.ts`);
  }
  const t = h.fedTable as unknown as Record<string, unknown> | undefined;
  for (const k of ['get', 'keys', 'values', 'byMesh', 'between', 'due'] as const) {
    if (typeof t?.[k] !== 'function')
      throw new Error(`the hub's fedTable has no ${k}(): update the benchmark`);
  }
  return h;
}

/** mulberry32: a seeded PRNG, so every run builds the same rows. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The hub: a did:mesh identity in its own registry, as the bench hubs have.
const issuerKeys = ed25519.generateKeyPair();
const hubKeys = ed25519.generateKeyPair();
const issuerDid = 'did:mesh:authority:bench-fed';
const hubDid = 'did:mesh:hub:bench-fed';
const registry = await MeshRegistry.open();
for (const [did, key] of [
  [issuerDid, issuerKeys],
  [hubDid, hubKeys],
] as const) {
  await registry.append(
    buildMeshCreate({ did, key, nextPublicKey: ed25519.generateKeyPair().publicKey }) as never,
  );
}
const t0 = Date.now();
let clock = t0;
const now = () => clock;
// The hub's default per-federation limiter (1,000 msg/s, burst 2,000, one bucket per federation up
// to maxFederations), passed in so that its buckets can be filled as traffic would fill them.
const limiter = new RateLimiter({
  defaultQuota: { ratePerSec: 1_000, burst: 2_000 },
  maxKeys: n,
  now,
});
const hub = createHub({
  did: hubDid,
  keyPair: hubKeys,
  region: 'eu',
  trustedIssuers: [issuerDid],
  registry,
  logger: benchLogger(),
  limits: { maxFederations: n },
  rateLimiter: limiter,
  // Off: the sweeps below are called and timed one by one.
  sweepMs: 86_400_000,
  now,
});
await hub.start();
const h = internals(hub);

// Meshes: one per 10 federations (at most 100,000), each a DID as long as a real one.
const meshCount = Math.min(100_000, Math.max(1_000, Math.floor(n / 10)));
const meshDid = (i: number) => `did:mesh:enterprise:bench-mesh-${String(i).padStart(6, '0')}`;
const CAPABILITIES = [['ml.inference'], ['ml.inference', 'data.query'], ['agent.task']];
const PURPOSES = ['model evaluation', 'research collaboration on shared datasets', 'bench'];
const TTL_MS = 3_600_000;

/**
 * Row i as its stored text (random ids, seeded choice of meshes); expiresAt = t0 + 1 h + i ms, so
 * that the first k rows expire first.
 */
function rowText(i: number, r: () => number): string {
  const source = Math.floor(r() * meshCount);
  let target = Math.floor(r() * meshCount);
  if (target === source) target = (target + 1) % meshCount;
  const federationId = randomUUID();
  return JSON.stringify({
    federationId,
    handshakeId: randomUUID(),
    sourceMeshId: meshDid(source),
    targetMeshId: meshDid(target),
    status: 'active',
    capabilities: CAPABILITIES[i % CAPABILITIES.length],
    purpose: PURPOSES[i % PURPOSES.length],
    routingEndpoint: `${hub.url}/v1/federations/${federationId}`,
    path: [hubDid],
    createdAt: t0 - 1000,
    expiresAt: t0 + TTL_MS + i,
    updatedAt: t0 - 1000,
  });
}

/** As a store adapter maps a row: every field set, in the hub's order (one hidden class). */
function fromText(text: string): FederationRow {
  const f = JSON.parse(text) as Omit<FederationRow, 'minTrustScore' | 'statusReason'>;
  return {
    federationId: f.federationId,
    handshakeId: f.handshakeId,
    sourceMeshId: f.sourceMeshId,
    targetMeshId: f.targetMeshId,
    status: f.status,
    capabilities: f.capabilities,
    purpose: f.purpose,
    minTrustScore: undefined,
    routingEndpoint: f.routingEndpoint,
    path: f.path,
    createdAt: f.createdAt,
    expiresAt: f.expiresAt,
    updatedAt: f.updatedAt,
    statusReason: undefined,
  };
}

const rand = prng(8);
let rowJsonBytes = 0;
const h0 = heap();
const rss0 = process.memoryUsage().rss;
let rows: FederationRow[] | undefined = new Array<FederationRow>(n);
for (let i = 0; i < n; i++) {
  const text = rowText(i, rand);
  rowJsonBytes += text.length;
  rows[i] = fromText(text);
}
let start = performance.now();
const kept = h.restoreFederations(rows);
const restoreMs = performance.now() - start;
rows = undefined;
if (kept !== n || h.fedTable.size !== n) throw new Error(`restored ${kept} of ${n} federations`);
const h1 = heap();
const rss1 = process.memoryUsage().rss;
const bytesPerFederation = (h1 - h0) / n;

// The breakdown (on request: each part costs two full collections at this heap size): each part
// built again beside the table, and measured as it grows the heap.
function measureBreakdown() {
  const table = h.fedTable;
  const part = (build: () => unknown): number => {
    const before = heap(1);
    const kept = build();
    const bytes = (heap(1) - before) / n;
    if (kept === undefined) throw new Error('unreachable');
    return bytes;
  };
  const mapEntry = part(() => {
    const m = new Map<string, FederationRow>();
    for (const f of table.values()) m.set(f.federationId, f);
    return m;
  });
  // The table's indexes (by mesh, by expiry, counts): a second table over the same rows, less its Map.
  const tableTotal = part(() => {
    const t = new FederationTable(n);
    for (const f of table.values()) t.set(f);
    return t;
  });
  // Shallow copies with the same fields in the same order: the object, its fields and the boxed
  // numbers (timestamps are beyond small integers), not the strings and arrays it points to.
  const rowObject = part(() => Array.from(table.values(), (f) => ({ ...f })));
  const arrays = part(() => {
    const out = new Array<readonly string[]>(2 * n);
    let i = 0;
    for (const f of table.values()) {
      out[i++] = [...f.capabilities];
      out[i++] = [...f.path];
    }
    return out;
  });
  // Minus the 8 bytes per slot of the arrays holding the copies; strings are the rest.
  const b = {
    mapEntry: round1(mapEntry),
    indexes: round1(tableTotal - mapEntry),
    rowObject: round1(rowObject - 8),
    arrays: round1(arrays - 16),
  };
  return { ...b, strings: round1(bytesPerFederation - b.mapEntry - b.indexes - b.rowObject - b.arrays) };
}
const breakdown = withBreakdown ? measureBreakdown() : undefined;
const table = h.fedTable;

// A token bucket per federation, as once each has carried a message.
const hb0 = heap(1);
for (const id of table.keys()) limiter.take(id);
const bucketBytes = (heap(1) - hb0) / n;
if (limiter.size !== n) throw new Error(`the limiter holds ${limiter.size} buckets, not ${n}`);

// Lookups by id: ids parsed afresh (as from an envelope: no cached hash), in random order.
const LOOKUPS = 200_000;
const ids = Array.from(table.keys());
const fresh = Array.from(
  { length: LOOKUPS },
  () => JSON.parse(`"${ids[Math.floor(rand() * n)]!}"`) as string,
);
const fresh2 = Array.from(fresh, (id) => JSON.parse(`"${id}"`) as string);
const small = new Map(ids.slice(0, 1000).map((id) => [id, table.get(id)!]));
const smallKeys = (offset: number) =>
  Array.from({ length: LOOKUPS }, (_, i) => JSON.parse(`"${ids[(i + offset) % 1000]!}"`) as string);
const lookupNs = (m: { get(id: string): FederationRow | undefined }, keys: string[]) => {
  let hits = 0;
  const s = performance.now();
  for (const k of keys) if (m.get(k) !== undefined) hits++;
  const elapsed = performance.now() - s;
  if (hits !== keys.length) throw new Error(`${keys.length - hits} lookups missed`);
  return (elapsed * 1e6) / keys.length;
};
// Every key is a fresh string, so each lookup hashes it (as for every envelope's id); the best of
// two passes, the first of which also warms the JIT up.
const baselineLookup = Math.min(lookupNs(small, smallKeys(0)), lookupNs(small, smallKeys(1)));
const lookupFirst = lookupNs(table, fresh);
const lookup = Math.min(lookupFirst, lookupNs(table, fresh2));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const timeMs = (fn: () => unknown, times: number) =>
  median(
    Array.from({ length: times }, () => {
      const s = performance.now();
      fn();
      return performance.now() - s;
    }),
  );
const repeats = n >= 1_000_000 ? 3 : 5;
/**
 * Mean ms per call of `fn` over `inputs`, the better of two passes (the first also warms the JIT
 * up): each call takes microseconds, so one alone would be timer noise.
 */
const meanMs = <T>(inputs: readonly T[], fn: (x: T) => unknown) =>
  Math.min(
    ...[0, 1].map(() => {
      const s = performance.now();
      for (const x of inputs) fn(x);
      return (performance.now() - s) / inputs.length;
    }),
  );
// Meshes picked at random (each a party to about 20 federations), and pairs of meshes: half the
// two ends of a federation, half two meshes picked at random (most have none).
const PROBES = 10_000;
const meshes = Array.from({ length: PROBES }, () => meshDid(Math.floor(rand() * meshCount)));
const ids2 = Array.from(table.keys());
const joined = Array.from({ length: PROBES / 2 }, () => table.get(ids2[Math.floor(rand() * n)]!)!);
const pairs = Array.from({ length: PROBES }, (_, i): [string, string] =>
  i % 2 === 0
    ? [joined[i / 2]!.targetMeshId, joined[i / 2]!.sourceMeshId]
    : [meshDid(Math.floor(rand() * meshCount)), meshDid(Math.floor(rand() * meshCount))],
);
// Checked once, outside the timing: the index answers what a scan would.
for (const f of joined) {
  if (
    !table.between(f.sourceMeshId, f.targetMeshId).includes(f) ||
    !h.haveFederated(f.targetMeshId, f.sourceMeshId)
  )
    throw new Error(`no federation found between the two ends of ${f.federationId}`);
}
if (h.haveFederated('did:mesh:enterprise:nobody-a', 'did:mesh:enterprise:nobody-b')) {
  throw new Error('a federation between meshes that have none');
}
const probeMesh = meshes[0]!;
const scanned = Array.from(table.values()).filter(
  (f) => f.sourceMeshId === probeMesh || f.targetMeshId === probeMesh,
);
if (table.byMesh(probeMesh).length !== scanned.length)
  throw new Error(`byMesh(${probeMesh}) differs from a scan`);
const betweenMs = meanMs(pairs, ([a, b]) => table.between(a, b));
const pairMs = meanMs(pairs, ([a, b]) => h.haveFederated(a, b));
const byMeshMs = meanMs(meshes, (m) => table.byMesh(m));
const meshScanMs = meanMs(meshes, (m) => h.reconcileMesh(m));
// What each of those cost before the index: one pass over the table's values, nothing copied.
const iterateMs = timeMs(() => {
  let c = 0;
  for (const f of table.values()) if (f.expiresAt <= clock) c++;
  return c;
}, repeats);

// Idle: nothing due, so the heap's top is all the sweep reads of the table.
const idleSweepMs = meanMs(Array.from({ length: 1000 }), () => h.sweep());
// 1% due: the clock moved past the first `due` rows' expiresAt.
const due = Math.max(1, Math.floor(n / 100));
clock = t0 + TTL_MS + due - 1;
start = performance.now();
h.sweep();
// Each expiry is an async setFederationStatus (its store write resolves in a microtask).
await new Promise<void>((resolve) => setImmediate(resolve));
const dueSweepMs = performance.now() - start;
if (table.size !== n - due) throw new Error(`the sweep left ${table.size} federations, expected ${n - due}`);
const expired = hub.federations().length;
if (expired !== n - due) throw new Error(`hub.federations() lists ${expired}, expected ${n - due}`);

print({
  count: n,
  meshes: meshCount,
  bytesPerFederation: Math.round(bytesPerFederation),
  ...(breakdown ? { breakdown } : {}),
  bucketBytes: Math.round(bucketBytes),
  bytesPerFederationWithBucket: Math.round(bytesPerFederation + bucketBytes),
  rssBytesPerFederation: Math.round((rss1 - rss0) / n),
  rowJsonBytes: Math.round(rowJsonBytes / n),
  heapUsedMB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
  restoreUsPerFederation: round3((restoreMs * 1000) / n),
  lookupNs: round1(lookup),
  lookupFirstNs: round1(lookupFirst),
  baselineLookupNs: round1(baselineLookup),
  byMeshUs: round3(byMeshMs * 1000),
  betweenUs: round3(betweenMs * 1000),
  pairLookupMs: round6(pairMs),
  meshScanMs: round6(meshScanMs),
  iterateMs: round3(iterateMs),
  sweepMs: round6(idleSweepMs),
  sweepNsPerFederation: round3((idleSweepMs * 1e6) / n),
  expired: due,
  expirySweepMs: round3(dueSweepMs),
  expiryUsPerFederation: round3(((dueSweepMs - idleSweepMs) * 1000) / due),
});
// Exits when the parent closes stdin (exiting at once could beat the line above to the parent).
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

function round1(x: number) {
  return Math.round(x * 10) / 10;
}
function round3(x: number) {
  return Math.round(x * 1000) / 1000;
}
function round6(x: number) {
  return Math.round(x * 1e6) / 1e6;
}
