/**
 * The hub's own ceiling: pre-signed, sealed 1 KB envelopes pushed through one hub from a raw
 * link-protocol client to a raw sink (bench/worker-raw-link.ts, no node SDK), the sink acking each
 * one and the hub answering the source with Delivered: the same four frames per message at the hub
 * as the SDK throughput run, without the senders' and receivers' crypto in the way. Federations are
 * seeded into the hub's store (no handshake). Reported beside the raw WebSocket relay (A -> relay
 * -> B, acked) of the same run.
 *   npx tsx bench/hub-path.ts [--quick]   (standalone: runs its own relay baseline)
 */
import { Fleet } from './fleet.js';
import { killAll, wsRelay } from './network.js';

export interface HubPathResult {
  msgsPerSec: number;
  hubCpuUsPerMsg: number;
  hubSystemUsPerMsg: number;
  delivered: number;
  sent: number;
  window: number;
  errors: Record<string, number>;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** On the fleet's main hub, whose store holds the federations the raw source sends on (`rawLinks`). */
export async function benchHubPath(
  fleet: Fleet,
  options: { durationMs: number; window: number; warmupMs?: number },
): Promise<HubPathResult> {
  const [hub, { source: src }] = await Promise.all([fleet.hub(), fleet.rawLinks()]);
  const federations = fleet.hubPathFederations;
  const run = (durationMs: number) =>
    src.call({ cmd: 'run', durationMs, window: options.window, federations }, durationMs + 120_000);
  await run(options.warmupMs ?? Math.min(1000, options.durationMs)); // warm-up: JIT, buffers
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
}

// Standalone: `npx tsx bench/hub-path.ts [--quick]`.
if (process.argv[1]?.endsWith('hub-path.ts')) {
  const quick = process.argv.includes('--quick');
  const fleet = await Fleet.create();
  try {
    const relay = await wsRelay(fleet, quick ? 1000 : 3000, 256);
    const result = await benchHubPath(fleet, { durationMs: quick ? 2000 : 5000, window: 256 });
    process.stdout.write(`${JSON.stringify({ relay, hubPath: result }, null, 2)}\n`);
  } finally {
    await fleet.close();
    killAll();
  }
}
