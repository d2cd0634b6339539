/**
 * A mesh node (the real SDK: sealed, signed envelopes, verified by the receiver) in its own process:
 *   node --import tsx bench/worker-node.ts <world.json> <member> <hubUrl | ->
 * (with `-`, the hub's URL comes as its first stdin line, {"hubUrl"}); prints {"ready":true} once
 * authenticated, then serves commands:
 *   {"cmd":"federate","target","count"}        -> keeps at least `count` federations with `target`
 *                                                  (more handshakes if it has fewer), for run and step
 *   {"cmd":"federateTimed","target","n","warmup"} -> federates n times in sequence, {samplesMs}
 *   {"cmd":"run","target","durationMs","window","bytes"}
 *                                               -> keeps `window` sends in flight over the federations
 *                                                  kept with `target`: {sent, delivered, failed, errors,
 *                                                  elapsedMs}
 *   {"cmd":"step","target","ratePerSec","durationMs","handshakeEvery","bytes"}
 *                                               -> the mixed load's open-loop step (issue #8): operation k
 *                                                  is a handshake with `target` when k % handshakeEvery is
 *                                                  0, else a message of priority PRIORITIES[k % 4] on the
 *                                                  kept federations (send() resolves on the hub's Delivered
 *                                                  receipt); answers the OpenLoopResult (latencies per kind)
 *   {"cmd":"count"}                             -> {received} (messages verified, opened, delivered once)
 *   {"cmd":"cpu"}                               -> {cpuUs} (this process's CPU time so far)
 *   {"cmd":"mem"}                               -> {rss, heapUsed} (bytes, now: no GC forced)
 * One process serves several sections of a run (the wire handshake, throughput over one and two hubs,
 * the mixed load), each with its own target, so its start-up is paid once.
 */
import { readFileSync } from 'node:fs';
import { PRIORITIES } from '@fmp/core';
import { createMeshNode } from '@fmp/node';
import { turn } from './ab-turn.js';
import { openLoop } from './open-loop.js';
import { argOrConfig, benchLogger, memberNodeOptions, print, type SavedWorld, serve } from './worker-io.js';

const [file, name, hubArg] = process.argv.slice(2);
const world = JSON.parse(readFileSync(file!, 'utf8')) as SavedWorld;
const me = world.members[name!]!;
const hubUrl = await argOrConfig(hubArg, 'hubUrl');

const node = createMeshNode({
  ...memberNodeOptions(world, me, hubUrl),
  logger: benchLogger(),
  maxInFlight: 50_000,
  sendTimeoutMs: 10_000,
});
let received = 0;
node.onMessage(() => {
  received++;
});
await node.start();

/** Federations kept per target, for run and step. */
const kept = new Map<string, string[]>();
const federate = (target: string, purpose = 'bench') =>
  node.federate(target, { capabilities: ['ml.inference'], purpose, ttlSeconds: 3600 });
const keptWith = (target: string): string[] => {
  const list = kept.get(target);
  if (!list || list.length === 0) throw new Error(`no federation with ${target} to send on`);
  return list;
};

async function run(target: string, durationMs: number, window: number, bytes: number) {
  const federations = keptWith(target);
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
        const target = String(cmd.target);
        const list = kept.get(target) ?? [];
        kept.set(target, list);
        while (list.length < Number(cmd.count ?? 1)) list.push((await federate(target)).federationId);
        return { federations: list.length };
      }
      case 'federateTimed': {
        for (let i = 0; i < Number(cmd.warmup ?? 10); i++) await federate(String(cmd.target));
        const samplesMs: number[] = [];
        const cpu = process.cpuUsage();
        for (let i = 0; i < Number(cmd.n); i++) {
          await turn(); // with bench/ab.ts: one handshake at a time between the two versions
          const t = performance.now();
          await federate(String(cmd.target));
          samplesMs.push(performance.now() - t);
        }
        const used = process.cpuUsage(cpu);
        return { samplesMs, cpuUs: used.user + used.system };
      }
      case 'run':
        return run(String(cmd.target), Number(cmd.durationMs), Number(cmd.window), Number(cmd.bytes ?? 1024));
      case 'step': {
        const target = String(cmd.target);
        const federations = keptWith(target);
        const every = Number(cmd.handshakeEvery);
        const data = { task: 'summarize', text: 'x'.repeat(Number(cmd.bytes ?? 1024)) };
        return openLoop({
          ratePerSec: Number(cmd.ratePerSec),
          durationMs: Number(cmd.durationMs),
          kindOf: (k) => (k % every === 0 ? 'handshake' : PRIORITIES[k % PRIORITIES.length]!),
          run: async (k, kind) => {
            if (kind === 'handshake') await federate(target, 'bench mixed load');
            else {
              const priority = PRIORITIES[k % PRIORITIES.length]!;
              await node.send(federations[k % federations.length]!, 'agent.task.request', data, { priority });
            }
          },
        });
      }
      case 'count':
        return { received };
      case 'cpu': {
        const used = process.cpuUsage();
        return { cpuUs: used.user + used.system };
      }
      case 'mem': {
        const { rss, heapUsed } = process.memoryUsage();
        return { rss, heapUsed };
      }
      default:
        throw new Error(`unknown command ${String(cmd.cmd)}`);
    }
  },
  () => node.stop(),
);
print({ ready: true });
