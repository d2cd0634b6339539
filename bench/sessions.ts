/**
 * Concurrent authenticated sessions on one hub (issue #3): helper processes hold raw link-protocol
 * sessions (bench/worker-sessions.ts), each a distinct mesh that really authenticates (signature,
 * did:mesh log import, credential check at the hub). Client sockets are spread over several
 * 127.0.0.x source addresses. The hub is set up as deployed by default (SQLite). Measured: sessions
 * reached, hub RSS per session once they are established (RSS delta / sessions, both readings after
 * V8's memory-reducing GC, the second after the ping phase, the sessions still held), the same right
 * after the burst of authentications (after a plain GC), WebSocket ping round trips through the
 * loaded hub (p50/p99), and how many sessions are still open at the end.
 */
import { bundleWorkers } from './bundle.js';
import { Fleet, type SessionsSetUp } from './fleet.js';
import { percentiles } from './lib.js';
import { killAll, useBundles, type Worker } from './network.js';

export interface SessionsResult {
  target: number;
  count: number;
  failed: number;
  errors: Record<string, number>;
  /** Authentications per second while opening (all helpers in parallel). */
  opensPerSec: number;
  /**
   * Hub RSS delta / sessions, with the sessions established: read after the ping phase, as the
   * reading before the sessions, after V8's memory-reducing GC (what its memory reducer does by
   * itself in a process gone quiet), so that garbage and free pages of the burst of authentications
   * are not counted as sessions.
   */
  rssKBPerSession: number;
  /** The same right after the burst of authentications, after a plain GC (pages not given back). */
  rssKBPerSessionAtOpen?: number;
  /**
   * Hub RSS delta / sessions as the process stands (no collection forced), sampled every 250 ms
   * through the ping phase: mean and largest. Between V8's full collections the old generation holds
   * garbage too, so this moves with the hub's periodic work (the phase's timers, below).
   */
  rssKBPerSessionObserved?: {
    mean: number;
    max: number;
    /** The mean less V8's young generation grown since the idle reading (a fixed cost of a busy process). */
    meanBeyondYoung: number;
    samples: number;
  };
  /** The JS heap's share of rssKBPerSession (heapUsed delta / sessions). */
  heapKBPerSession: number;
  /** The heap V8 holds (heapTotal delta / sessions): used plus free space not given back. */
  heapTotalKBPerSession: number;
  /**
   * Of rssKBPerSession, V8's young generation growing (new space delta / sessions): a fixed cost of a
   * busy process (it grows to its working size, 32 MB here, with allocation), not per session.
   */
  youngKBPerSession: number;
  /** Memory outside the JS heap that V8 knows of (buffers; `external` delta / sessions). */
  externalKBPerSession: number;
  hubRssMB: number;
  /**
   * Baseline: RSS per connection (delta / connections, both after the memory-reducing GC) of a raw ws server holding as many
   * plain WebSocket connections from the same helpers and addresses, nothing sent on them.
   */
  rawRssKBPerConnection: number;
  rawConnections: number;
  p50Ms: number;
  p99Ms: number;
  pings: number;
  /** Sessions still open after the ping phase / target. */
  successRate: number;
  helpers: number;
  sourceAddresses: number;
}

/**
 * On the fleet's sessions hub (its own process: its RSS is the sessions'), whose helpers built their
 * identities while it started (the fleet's key `sessions`).
 */
export async function benchSessions(
  fleet: Fleet,
  options: SessionsSetUp & {
    pingsPerHelper: number;
    pingsPerSecond: number;
  },
): Promise<SessionsResult> {
  const { hub, helpers: helperWorkers, sourceAddresses } = await fleet.sessions(options);
  const raw = await rawHoldBaseline(fleet, helperWorkers);
  const before = await hub.stats(true);
  const beforePlain = await hub.stats();
  const start = performance.now();
  const opens = await Promise.all(
    helperWorkers.map((x) => x.call({ cmd: 'open', hubUrl: hub.url }, 900_000)),
  );
  const openMs = performance.now() - start;
  const atOpen = await hub.stats();
  if (process.env.FMP_BENCH_HEAP_SNAPSHOT) {
    await hub.worker.call({ cmd: 'heapSnapshot', file: process.env.FMP_BENCH_HEAP_SNAPSHOT }, 600_000);
  }
  const count = opens.reduce((a, r) => a + (r.opened as number), 0);
  const errors: Record<string, number> = {};
  for (const r of opens) {
    for (const [k, v] of Object.entries(r.errors as Record<string, number>)) errors[k] = (errors[k] ?? 0) + v;
  }
  // The hub's RSS as it stands, every 250 ms while the pings run (the delta from its idle reading).
  const observed: number[] = [];
  const observedYoung: number[] = [];
  let pinging = true;
  const sampling = (async () => {
    while (pinging) {
      const m = (await hub.worker.call({ cmd: 'memory' })) as { rss: number; newSpace: number };
      observed.push((m.rss - beforePlain.rss) / Math.max(1, count));
      observedYoung.push((m.newSpace - beforePlain.newSpace) / Math.max(1, count));
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const pings = await Promise.all(
    helperWorkers.map((x) =>
      x.call(
        { cmd: 'ping', n: options.pingsPerHelper, perSecond: options.pingsPerSecond },
        options.pingsPerHelper * 1000,
      ),
    ),
  );
  pinging = false;
  await sampling;
  const samples = pings.flatMap((p) => p.samplesMs as number[]);
  const stillOpen = pings.reduce((a, p) => a + (p.open as number), 0);
  const after = await hub.stats(true);
  const lat = percentiles(samples);
  return {
    target: options.target,
    count,
    failed: options.target - count,
    errors,
    opensPerSec: Math.round((count / openMs) * 1000),
    rssKBPerSession: count === 0 ? 0 : Math.round((after.rss - before.rss) / count / 102.4) / 10,
    rssKBPerSessionAtOpen: count === 0 ? 0 : Math.round((atOpen.rss - beforePlain.rss) / count / 102.4) / 10,
    rssKBPerSessionObserved: {
      mean: Math.round(observed.reduce((a, x) => a + x, 0) / Math.max(1, observed.length) / 102.4) / 10,
      max: Math.round(Math.max(0, ...observed) / 102.4) / 10,
      meanBeyondYoung:
        Math.round(
          observed.reduce((a, x, i) => a + x - Math.max(0, observedYoung[i] ?? 0), 0) /
            Math.max(1, observed.length) /
            102.4,
        ) / 10,
      samples: observed.length,
    },
    heapKBPerSession: count === 0 ? 0 : Math.round((after.heapUsed - before.heapUsed) / count / 102.4) / 10,
    heapTotalKBPerSession:
      count === 0 ? 0 : Math.round((after.heapTotal - before.heapTotal) / count / 102.4) / 10,
    youngKBPerSession: count === 0 ? 0 : Math.round((after.newSpace - before.newSpace) / count / 102.4) / 10,
    externalKBPerSession:
      count === 0 ? 0 : Math.round((after.external - before.external) / count / 102.4) / 10,
    hubRssMB: Math.round(after.rss / 2 ** 20),
    rawRssKBPerConnection: raw.rssKBPerConnection,
    rawConnections: raw.connections,
    p50Ms: lat.p50Ms,
    p99Ms: lat.p99Ms,
    pings: samples.length,
    successRate: Math.round((stillOpen / options.target) * 10_000) / 10_000,
    helpers: helperWorkers.length,
    sourceAddresses,
  };
}

/**
 * The same number of plain WebSocket connections held by a raw ws server (bench/worker-ws.ts `hold`),
 * opened by the same helpers from the same addresses, then closed before the sessions open.
 */
async function rawHoldBaseline(
  fleet: Fleet,
  helpers: Worker[],
): Promise<{ connections: number; rssKBPerConnection: number }> {
  const hold = await fleet.wsHold();
  try {
    const before = (await hold.worker.call({ cmd: 'stats', settle: true })) as { rss: number };
    const opens = await Promise.all(helpers.map((x) => x.call({ cmd: 'openRaw', url: hold.url }, 600_000)));
    const after = (await hold.worker.call({ cmd: 'stats', settle: true })) as { rss: number };
    await Promise.all(helpers.map((x) => x.call({ cmd: 'closeRaw' })));
    const connections = opens.reduce((a, r) => a + (r.opened as number), 0);
    return {
      connections,
      rssKBPerConnection:
        connections === 0 ? 0 : Math.round((after.rss - before.rss) / connections / 102.4) / 10,
    };
  } finally {
    await fleet.stop('wsHold');
  }
}

// Standalone: `npx tsx bench/sessions.ts [sessions]` (default 10,000; FMP_BENCH_HEAP_SNAPSHOT=<file>
// also writes the hub's heap snapshot once all sessions are open). Its processes run from bundles as
// in the full run: under tsx the hub starts with a larger heap, and the sessions' share looks smaller.
if (process.argv[1]?.endsWith('sessions.ts')) {
  const target = Number(process.argv[2] ?? 10_000);
  const bundles = await bundleWorkers();
  if (typeof bundles !== 'string') {
    useBundles(bundles);
    process.on('exit', () => bundles.cleanup());
  }
  const fleet = await Fleet.create();
  try {
    const result = await benchSessions(fleet, {
      target,
      pingsPerHelper: Number(process.env.FMP_BENCH_PINGS ?? 500),
      pingsPerSecond: 250,
      hub: { heartbeatMs: 5_000, credentialRecheckMs: 5_000 },
    });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await fleet.close();
    killAll();
  }
}
