/**
 * Sustained traffic: the SDK sender keeps 256 sealed, signed 1 KB messages in flight through one hub
 * to the SDK receiver for `seconds` (default 120), reported every 10 s: messages per second, failures,
 * and the RSS of hub, sender and receiver. What fills up with time (a replay window, a queue, a table
 * of ids) shows here as a falling rate, errors or a growing RSS in a later interval, where the
 * benchmark's 10 s runs see nothing: the receiver's replay cache (100,000 ids) was full after ~12 s
 * at 8,000 msg/s and refused everything then, before it became a ReplayWindow.
 *   npx tsx bench/soak.ts [seconds]
 */
import { Fleet } from './fleet.js';
import { killAll } from './network.js';

const seconds = Number(process.argv[2] ?? 120);
const INTERVAL_MS = 10_000;
const MB = 2 ** 20;

const fleet = await Fleet.create();
try {
  const [hub, sender, receiver] = await Promise.all([
    fleet.hub(),
    fleet.node('node-a', 'main'),
    fleet.node('node-b', 'main'),
  ]);
  const target = fleet.did('node-b');
  await sender.call({ cmd: 'federate', target, count: 4 }, 60_000);
  const rows: Record<string, unknown>[] = [];
  for (let t = 0; t < seconds * 1000; t += INTERVAL_MS) {
    const r = await sender.call(
      { cmd: 'run', target, durationMs: INTERVAL_MS, window: 256 },
      INTERVAL_MS + 120_000,
    );
    const [h, s, v] = await Promise.all([
      hub.stats(),
      sender.call({ cmd: 'mem' }),
      receiver.call({ cmd: 'mem' }),
    ]);
    const row = {
      atS: (t + INTERVAL_MS) / 1000,
      msgsPerSec: Math.round(((r.delivered as number) / (r.elapsedMs as number)) * 1000),
      failed: r.failed,
      errors: r.errors,
      rssMB: {
        hub: Math.round(h.rss / MB),
        sender: Math.round((s.rss as number) / MB),
        receiver: Math.round((v.rss as number) / MB),
      },
    };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
  process.stdout.write(`${JSON.stringify({ intervalMs: INTERVAL_MS, rows }, null, 2)}\n`);
} finally {
  await fleet.close();
  killAll();
}
