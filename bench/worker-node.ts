/**
 * A mesh node (the real SDK: sealed, signed envelopes, verified by the receiver) in its own process:
 *   node --import tsx bench/worker-node.ts <world.json> <member> <hubUrl>
 * prints {"ready":true} once authenticated, then serves commands:
 *   {"cmd":"federate","target","count"}        -> establishes `count` federations, kept for `run`
 *   {"cmd":"federateTimed","target","n","warmup"} -> federates n times in sequence, {samplesMs}
 *   {"cmd":"run","durationMs","window","bytes"} -> keeps `window` sends in flight over the kept
 *                                                  federations: {sent, delivered, failed, errors, elapsedMs}
 *   {"cmd":"count"}                             -> {received} (messages verified, opened, delivered once)
 *   {"cmd":"cpu"}                               -> {cpuUs} (this process's CPU time so far)
 */
import { readFileSync } from 'node:fs';
import { createMeshNode } from '@fmp/node';
import pino from 'pino';
import { memberNodeOptions, print, type SavedWorld, serve } from './worker-io.js';

const [file, name, hubUrl] = process.argv.slice(2);
const world = JSON.parse(readFileSync(file!, 'utf8')) as SavedWorld;
const me = world.members[name!]!;

const node = createMeshNode({
  ...memberNodeOptions(world, me, hubUrl!),
  logger: pino({ level: 'silent' }),
  maxInFlight: 50_000,
  sendTimeoutMs: 10_000,
});
let received = 0;
node.onMessage(() => {
  received++;
});
await node.start();

const federations: string[] = [];
const federate = (target: string) =>
  node.federate(target, { capabilities: ['ml.inference'], purpose: 'bench', ttlSeconds: 3600 });

async function run(durationMs: number, window: number, bytes: number) {
  if (federations.length === 0) throw new Error('no federation to send on');
  const data = { task: 'summarize', text: 'x'.repeat(bytes) };
  let sent = 0;
  let delivered = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  const start = performance.now();
  const stopAt = start + durationMs;
  const lane = async (k: number) => {
    for (let i = k; performance.now() < stopAt; i += window) {
      sent++;
      try {
        await node.send(federations[i % federations.length]!, 'agent.task.request', data);
        delivered++;
      } catch (err) {
        failed++;
        const code = String((err as { wireCode?: string; code?: string }).wireCode ?? (err as Error).name);
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: window }, (_, k) => lane(k)));
  return { sent, delivered, failed, errors, elapsedMs: performance.now() - start };
}

serve(
  async (cmd) => {
    switch (cmd.cmd) {
      case 'federate': {
        for (let i = 0; i < Number(cmd.count ?? 1); i++) {
          federations.push((await federate(String(cmd.target))).federationId);
        }
        return { federations: federations.length };
      }
      case 'federateTimed': {
        for (let i = 0; i < Number(cmd.warmup ?? 10); i++) await federate(String(cmd.target));
        const samplesMs: number[] = [];
        const cpu = process.cpuUsage();
        for (let i = 0; i < Number(cmd.n); i++) {
          const t = performance.now();
          await federate(String(cmd.target));
          samplesMs.push(performance.now() - t);
        }
        const used = process.cpuUsage(cpu);
        return { samplesMs, cpuUs: used.user + used.system };
      }
      case 'run':
        return run(Number(cmd.durationMs), Number(cmd.window), Number(cmd.bytes ?? 1024));
      case 'count':
        return { received };
      case 'cpu': {
        const used = process.cpuUsage();
        return { cpuUs: used.user + used.system };
      }
      default:
        throw new Error(`unknown command ${String(cmd.cmd)}`);
    }
  },
  () => node.stop(),
);
print({ ready: true });
