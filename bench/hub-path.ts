/**
 * The hub's own ceiling: pre-signed, sealed 1 KB envelopes pushed through one hub from a raw
 * link-protocol client to a raw sink (bench/worker-raw-link.ts, no node SDK), the sink acking each
 * one and the hub answering the source with Delivered: the same four frames per message at the hub
 * as the SDK throughput run, without the senders' and receivers' crypto in the way. Federations are
 * seeded into the hub's store (no handshake). Reported beside the raw WebSocket relay (A -> relay
 * -> B, acked) of the same run.
 *   npx tsx bench/hub-path.ts [--quick]   (standalone: runs its own relay baseline)
 */
import { randomUUID } from 'node:crypto';
import {
  type BenchWorld,
  createBenchWorld,
  killAll,
  LOAD_HUB_OPTIONS,
  startHubWorker,
  startWorker,
  type Worker,
  wsRelay,
} from './network.js';

export interface HubPathResult {
  msgsPerSec: number;
  hubCpuUsPerMsg: number;
  hubSystemUsPerMsg: number;
  delivered: number;
  sent: number;
  window: number;
  errors: Record<string, number>;
}

export const HUB_PATH_MEMBERS = ['hp-s', 'hp-r'];

const round2 = (x: number) => Math.round(x * 100) / 100;

export async function benchHubPath(
  w: BenchWorld,
  options: { durationMs: number; window: number; federations?: number },
): Promise<HubPathResult> {
  const source = w.world.members['hp-s']!.did;
  const target = w.world.members['hp-r']!.did;
  const federations = Array.from({ length: options.federations ?? 4 }, () => randomUUID());
  const hub = await startHubWorker(w, 0, {
    ...LOAD_HUB_OPTIONS,
    seedFederations: federations.map((federationId) => ({ federationId, source, target })),
  });
  const workers: Worker[] = [hub.worker];
  try {
    const sink = startWorker('worker-raw-link.ts', [w.file, 'hp-r', hub.url, 'sink']);
    workers.push(sink);
    await sink.line((l) => l.ready === true);
    const src = startWorker('worker-raw-link.ts', [w.file, 'hp-s', hub.url, 'source', 'hp-r']);
    workers.push(src);
    await src.line((l) => l.ready === true);
    const run = (durationMs: number) =>
      src.call({ cmd: 'run', durationMs, window: options.window, federations }, 120_000);
    await run(Math.min(1000, options.durationMs)); // warm-up: JIT, buffers
    const before = await hub.stats();
    const r = await run(options.durationMs);
    const after = await hub.stats();
    const delivered = r.delivered as number;
    const per = (k: 'cpuUs' | 'systemUs') => round2((after[k] - before[k]) / Math.max(1, delivered));
    return {
      msgsPerSec: Math.round((delivered / (r.elapsedMs as number)) * 1000),
      hubCpuUsPerMsg: per('cpuUs'),
      hubSystemUsPerMsg: per('systemUs'),
      delivered,
      sent: r.sent as number,
      window: options.window,
      errors: r.errors as Record<string, number>,
    };
  } finally {
    await Promise.all(workers.map((x) => x.stop()));
  }
}

// Standalone: `npx tsx bench/hub-path.ts [--quick]`.
if (process.argv[1]?.endsWith('hub-path.ts')) {
  const quick = process.argv.includes('--quick');
  const world = await createBenchWorld(HUB_PATH_MEMBERS);
  try {
    const relay = await wsRelay(quick ? 1000 : 3000, 256);
    const result = await benchHubPath(world, { durationMs: quick ? 2000 : 5000, window: 256 });
    process.stdout.write(`${JSON.stringify({ relay, hubPath: result }, null, 2)}\n`);
  } finally {
    killAll();
    world.cleanup();
  }
}
