/**
 * A hub in its own process for the networked benchmarks:
 *   node --expose-gc --import tsx bench/worker-hub.ts <world.json> <hubIndex> <options.json | ->
 * (with `-`, the options are its first stdin line: a hub that dials another gets that one's URL
 * once it exists, having loaded its modules meanwhile);
 * prints {"url","httpUrl"}; command {"cmd":"stats"} answers its CPU time and RSS (after a GC). It logs
 * errors as JSON lines on stdout (benchLogger), which make the parent stop the run.
 * Its store is in memory; with option `sqliteStore: true` (or FMP_BENCH_SQLITE=1 in the environment)
 * it is set up as `fmp hub start` sets up a deployed hub by default: SQLite in a temporary data
 * directory holding the hub's store, the did:mesh registry's operations and the ledger's leaves.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { createHub, type FederationRow, hubStoreFrom, ledgerOrigin, memoryHubStore } from '@fmp/hub';
import { openStore } from '@fmp/store';
import { DEFAULT_LEVEL_PERMISSIONS } from '@fmp/trust';
import {
  benchLogger,
  config,
  keysOf,
  print,
  registryFor,
  type SavedWorld,
  serve,
  settledGc,
} from './worker-io.js';

const [file, index, optionsJson] = process.argv.slice(2);
const world = JSON.parse(readFileSync(file!, 'utf8')) as SavedWorld;
const me = world.hubs[Number(index)]!;
const options =
  optionsJson === '-' ? await config() : (JSON.parse(optionsJson ?? '{}') as Record<string, unknown>);
const { seedFederations, sqliteStore, ...extra } = options as Record<string, unknown> & {
  seedFederations?: { federationId: string; source: string; target: string }[];
  sqliteStore?: boolean;
};

// The hub-path benchmark starts with federations already in the store (as after a restart), so
// raw clients can send without running handshakes.
const dataDir =
  sqliteStore || process.env.FMP_BENCH_SQLITE === '1'
    ? mkdtempSync(join(tmpdir(), 'fmp-bench-hub-'))
    : undefined;
const sqlite = dataDir ? await openStore({ kind: 'sqlite', path: join(dataDir, 'hub.db') }) : undefined;
const store = sqlite ? hubStoreFrom(sqlite) : memoryHubStore();
for (const f of seedFederations ?? []) {
  const now = Date.now();
  const row: FederationRow = {
    federationId: f.federationId,
    handshakeId: f.federationId,
    sourceMeshId: f.source,
    targetMeshId: f.target,
    status: 'active',
    capabilities: ['ml.inference'],
    purpose: 'bench',
    minTrustScore: undefined,
    routingEndpoint: 'ws://127.0.0.1/v1/federations',
    path: [me.did],
    createdAt: now,
    expiresAt: now + 3_600_000,
    updatedAt: now,
    statusReason: undefined,
  };
  await store.federations.put(row);
}

// The benchmarks establish thousands of federations between the same few meshes: the trust levels'
// caps on active federations (a policy, not a cost) are lifted so they measure handshakes and routing.
const levels = Object.fromEntries(
  Object.entries(DEFAULT_LEVEL_PERMISSIONS).map(([k, v]) => [k, { ...v, maxFederations: 1e9 }]),
) as typeof DEFAULT_LEVEL_PERMISSIONS;
const hub = createHub({
  trust: { options: { levels } },
  did: me.did,
  keyPair: keysOf(me),
  region: 'eu',
  trustedIssuers: [world.issuer.did],
  registry: await registryFor(world, sqlite?.meshOperations),
  logger: benchLogger(),
  store,
  ...(sqlite ? { ledger: { storage: sqlite.ledgerLogs.open(ledgerOrigin(me.did)) } } : {}),
  ...extra,
});
const { url, httpUrl } = await hub.start();

serve(
  async (cmd) => {
    if (cmd.cmd === 'stats') {
      await settledGc(cmd.settle === true);
      const cpu = process.cpuUsage();
      const mem = process.memoryUsage();
      return {
        cpuUs: cpu.user + cpu.system,
        systemUs: cpu.system,
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        heapTotal: mem.heapTotal,
        external: mem.external,
        // V8's young generation (its size grows with allocation, whatever the hub holds).
        newSpace: getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0,
      };
    }
    if (cmd.cmd === 'memory') {
      // As the process stands, no collection first: what an operator's `ps` shows at this moment.
      const m = process.memoryUsage();
      const newSpace = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0;
      return { rss: m.rss, heapUsed: m.heapUsed, newSpace };
    }
    if (cmd.cmd === 'heapSnapshot') {
      // Where the hub's memory goes (e.g. per session): a .heapsnapshot for Chrome DevTools.
      return { file: writeHeapSnapshot(String(cmd.file)) };
    }
    if (cmd.cmd === 'routes') {
      // Peering (two-hop runs): which peers are linked and which meshes are reachable through them.
      const h = hub as unknown as { connectedPeers?(): string[]; peerRoutes?(): { meshId: string }[] };
      return { peers: h.connectedPeers?.() ?? [], meshes: (h.peerRoutes?.() ?? []).map((r) => r.meshId) };
    }
    throw new Error(`unknown command ${String(cmd.cmd)}`);
  },
  async () => {
    await hub.stop();
    await sqlite?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  },
);
print({ url, httpUrl });
