/**
 * A hub or a node as its own process, for the multi-process tests (run with tsx):
 *   tsx test/network/proc.ts <world.json> hub            -> prints {"url","httpUrl"} then serves until SIGTERM
 *   tsx test/network/proc.ts <world.json> node <name> <hubUrl> <targetDid>
 *                                                         -> federates with the target and sends messages
 *                                                            in a loop, one {"delivered":n} line each
 * The world file holds seeds, did:mesh create operations and credentials written by the test.
 */
import { readFileSync } from 'node:fs';
import { ed25519 } from '@fmp/core';
import { createHub } from '@fmp/hub';
import { MeshRegistry } from '@fmp/identity';
import { createMeshNode } from '@fmp/node';
import pino from 'pino';

interface SavedIdentity {
  did: string;
  seed: string;
  op: Record<string, unknown>;
  credential?: Record<string, unknown>;
}
interface SavedWorld {
  issuer: SavedIdentity;
  hub: SavedIdentity;
  members: Record<string, SavedIdentity>;
}

const [file, role, name, hubUrl, target] = process.argv.slice(2);
const world = JSON.parse(readFileSync(file!, 'utf8')) as SavedWorld;
const keys = (id: SavedIdentity) => ed25519.keyPairFromSeed(new Uint8Array(Buffer.from(id.seed, 'hex')));
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

if (role === 'hub') {
  const registry = await MeshRegistry.open();
  await registry.append(world.issuer.op);
  await registry.append(world.hub.op);
  const hub = createHub({
    did: world.hub.did,
    keyPair: keys(world.hub),
    region: 'eu',
    trustedIssuers: [world.issuer.did],
    registry,
    logger: pino({ level: 'silent' }),
    sweepMs: 50,
    limits: { queueTtlMs: 500 },
  });
  const { url, httpUrl } = await hub.start();
  print({ url, httpUrl });
  const stop = async () => {
    await hub.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
} else if (role === 'node') {
  const me = world.members[name!]!;
  const node = createMeshNode({
    did: me.did,
    keyPair: keys(me),
    credential: me.credential as never,
    capabilities: ['ml.inference'],
    region: 'eu',
    hubUrl: hubUrl!,
    meshLog: [me.op],
    trustedIssuers: [world.issuer.did],
  });
  await node.start();
  const fed = await node.federate(target!, {
    capabilities: ['ml.inference'],
    purpose: 'traffic',
    ttlSeconds: 600,
  });
  print({ federationId: fed.federationId });
  for (let n = 1; ; n++) {
    await node.send(fed.federationId, 'agent.task.request', { n });
    print({ delivered: n });
  }
}
