/**
 * Concurrent authenticated sessions on one hub (issue #3): helper processes hold raw link-protocol
 * sessions (bench/worker-sessions.ts), each a distinct mesh that really authenticates (signature,
 * did:mesh log import, credential check at the hub). Client sockets are spread over several
 * 127.0.0.x source addresses. Measured: sessions reached, hub RSS per session (RSS delta after a
 * GC / sessions), WebSocket ping round trips through the loaded hub (p50/p99), and how many
 * sessions are still open at the end.
 */
import { percentiles } from './lib.js';
import {
  type BenchWorld,
  createBenchWorld,
  killAll,
  startHubWorker,
  startWorker,
  type Worker,
} from './network.js';

export interface SessionsResult {
  target: number;
  count: number;
  failed: number;
  errors: Record<string, number>;
  /** Authentications per second while opening (all helpers in parallel). */
  opensPerSec: number;
  rssKBPerSession: number;
  /** The JS heap's share of rssKBPerSession (heapUsed delta / sessions). */
  heapKBPerSession: number;
  hubRssMB: number;
  p50Ms: number;
  p99Ms: number;
  pings: number;
  /** Sessions still open after the ping phase / target. */
  successRate: number;
  helpers: number;
  sourceAddresses: number;
}

const PER_HELPER = 2_500;

export async function benchSessions(
  w: BenchWorld,
  options: {
    target: number;
    pingsPerHelper: number;
    pingsPerSecond: number;
    /** Hub timers to stress (e.g. a short heartbeatMs so heartbeats surely fall in the ping phase). */
    hub?: { heartbeatMs?: number; credentialRecheckMs?: number };
  },
): Promise<SessionsResult> {
  const hub = await startHubWorker(w, 0, {
    limits: {
      maxSessions: options.target + 1_000,
      ...(options.hub?.heartbeatMs === undefined ? {} : { heartbeatMs: options.hub.heartbeatMs }),
    },
    ...(options.hub?.credentialRecheckMs === undefined
      ? {}
      : { credentialRecheckMs: options.hub.credentialRecheckMs }),
  });
  const workers: Worker[] = [hub.worker];
  try {
    const helpers = Math.max(1, Math.ceil(options.target / PER_HELPER));
    const addresses = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
    const helperWorkers: Worker[] = [];
    for (let h = 0; h < helpers; h++) {
      const first = h * PER_HELPER;
      const count = Math.min(PER_HELPER, options.target - first);
      // Each helper gets its own pair of source addresses.
      const mine = [addresses[(2 * h) % 8]!, addresses[(2 * h + 1) % 8]!].join(',');
      const worker = startWorker('worker-sessions.ts', [
        w.file,
        hub.url,
        String(first),
        String(count),
        mine,
        '32',
      ]);
      workers.push(worker);
      helperWorkers.push(worker);
    }
    await Promise.all(helperWorkers.map((x) => x.line((l) => typeof l.prepared === 'number', 600_000)));
    const before = await hub.stats();
    const start = performance.now();
    const opens = await Promise.all(helperWorkers.map((x) => x.call({ cmd: 'open' }, 900_000)));
    const openMs = performance.now() - start;
    const after = await hub.stats();
    if (process.env.FMP_BENCH_HEAP_SNAPSHOT) {
      await hub.worker.call({ cmd: 'heapSnapshot', file: process.env.FMP_BENCH_HEAP_SNAPSHOT }, 600_000);
    }
    const count = opens.reduce((a, r) => a + (r.opened as number), 0);
    const errors: Record<string, number> = {};
    for (const r of opens) {
      for (const [k, v] of Object.entries(r.errors as Record<string, number>))
        errors[k] = (errors[k] ?? 0) + v;
    }
    const pings = await Promise.all(
      helperWorkers.map((x) =>
        x.call(
          { cmd: 'ping', n: options.pingsPerHelper, perSecond: options.pingsPerSecond },
          options.pingsPerHelper * 1000,
        ),
      ),
    );
    const samples = pings.flatMap((p) => p.samplesMs as number[]);
    const stillOpen = pings.reduce((a, p) => a + (p.open as number), 0);
    const lat = percentiles(samples);
    return {
      target: options.target,
      count,
      failed: options.target - count,
      errors,
      opensPerSec: Math.round((count / openMs) * 1000),
      rssKBPerSession: count === 0 ? 0 : Math.round((after.rss - before.rss) / count / 102.4) / 10,
      heapKBPerSession: count === 0 ? 0 : Math.round((after.heapUsed - before.heapUsed) / count / 102.4) / 10,
      hubRssMB: Math.round(after.rss / 2 ** 20),
      p50Ms: lat.p50Ms,
      p99Ms: lat.p99Ms,
      pings: samples.length,
      successRate: Math.round((stillOpen / options.target) * 10_000) / 10_000,
      helpers,
      sourceAddresses: Math.min(8, helpers * 2),
    };
  } finally {
    await Promise.all(workers.map((x) => x.stop()));
  }
}

// Standalone: `npx tsx bench/sessions.ts [sessions]` (default 10,000; FMP_BENCH_HEAP_SNAPSHOT=<file>
// also writes the hub's heap snapshot once all sessions are open).
if (process.argv[1]?.endsWith('sessions.ts')) {
  const target = Number(process.argv[2] ?? 10_000);
  const world = await createBenchWorld([]);
  try {
    const result = await benchSessions(world, {
      target,
      pingsPerHelper: 500,
      pingsPerSecond: 250,
      hub: { heartbeatMs: 5_000, credentialRecheckMs: 5_000 },
    });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    killAll();
    world.cleanup();
  }
}
