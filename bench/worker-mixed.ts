/**
 * The mixed-load generator (issue #8): a mesh node (the real SDK) in its own process that runs an
 * open-loop mix of handshakes and messages of all four priorities toward one receiver.
 *   node --import tsx bench/worker-mixed.ts <world.json> <member> <hubUrl>
 * prints {"ready":true} once authenticated, then serves:
 *   {"cmd":"federate","target","count"} -> establishes `count` federations to send on
 *   {"cmd":"step","target","ratePerSec","durationMs","handshakeEvery","bytes"}
 *       -> an open-loop step: operation k is a handshake with `target` when k % handshakeEvery is 0,
 *          else a message of priority PRIORITIES[k % 4] on the kept federations (send() resolves on
 *          the hub's Delivered receipt); answers the OpenLoopResult (latencies per kind)
 *   {"cmd":"cpu"} -> {cpuUs}
 */
import { readFileSync } from 'node:fs';
import { PRIORITIES } from '@fmp/core';
import { createMeshNode } from '@fmp/node';
import pino from 'pino';
import { openLoop } from './open-loop.js';
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
await node.start();

const federations: string[] = [];
const federate = (target: string) =>
  node.federate(target, { capabilities: ['ml.inference'], purpose: 'bench mixed load', ttlSeconds: 3600 });

serve(
  async (cmd) => {
    switch (cmd.cmd) {
      case 'federate': {
        for (let i = 0; i < Number(cmd.count ?? 1); i++) {
          federations.push((await federate(String(cmd.target))).federationId);
        }
        return { federations: federations.length };
      }
      case 'step': {
        if (federations.length === 0) throw new Error('no federation to send on');
        const target = String(cmd.target);
        const every = Number(cmd.handshakeEvery);
        const data = { task: 'summarize', text: 'x'.repeat(Number(cmd.bytes ?? 1024)) };
        return openLoop({
          ratePerSec: Number(cmd.ratePerSec),
          durationMs: Number(cmd.durationMs),
          kindOf: (k) => (k % every === 0 ? 'handshake' : PRIORITIES[k % PRIORITIES.length]!),
          run: async (k, kind) => {
            if (kind === 'handshake') await federate(target);
            else {
              const priority = PRIORITIES[k % PRIORITIES.length]!;
              await node.send(federations[k % federations.length]!, 'agent.task.request', data, { priority });
            }
          },
        });
      }
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
