/**
 * Child-process side of the networked benchmarks: the line protocol (bench/worker-lines.ts) and the
 * shared world file (seeds, did:mesh operations, credentials) written by the parent.
 */
import { type Ed25519KeyPair, ed25519 } from '@fmp/core';
import type { MeshOperationStore, MeshRegistry } from '@fmp/identity';

import pino from 'pino';

export { argOrConfig, config, print, serve, settledGc } from './worker-lines.js';

/**
 * The logger of a worker's hub or node: errors only, as JSON lines on stdout beside the answers.
 * The parent counts them and fails the worker's next call (bench/network.ts): a hub that cannot
 * write its store is not the hub the figures are meant to describe. A worker running the CLI's node
 * (worker-mcp.ts) logs the same way through its config.
 */
export function benchLogger(): pino.Logger {
  return pino({ level: 'error' }, pino.destination(1));
}

export interface SavedIdentity {
  did: string;
  seed: string;
  op: Record<string, unknown>;
  credential?: Record<string, unknown>;
}

export interface SavedWorld {
  issuer: SavedIdentity;
  hubs: SavedIdentity[];
  members: Record<string, SavedIdentity>;
}

export const keysOf = (id: SavedIdentity): Ed25519KeyPair =>
  ed25519.keyPairFromSeed(new Uint8Array(Buffer.from(id.seed, 'hex')));

export async function registryFor(world: SavedWorld, store?: MeshOperationStore): Promise<MeshRegistry> {
  // Imported here: the raw link clients, which need none of it, then start without the identity package.
  const { MeshRegistry } = await import('@fmp/identity');
  const registry = await MeshRegistry.open(store ? { store } : {});
  await registry.append(world.issuer.op);
  for (const hub of world.hubs) await registry.append(hub.op);
  return registry;
}

/** What every bench node of a saved world is: the member's keys, credential and log, on `hubUrl`. */
export function memberNodeOptions(world: SavedWorld, me: SavedIdentity, hubUrl: string) {
  return {
    did: me.did,
    keyPair: keysOf(me),
    credential: me.credential as never,
    capabilities: ['ml.inference'],
    region: 'eu',
    hubUrl,
    meshLog: [me.op],
    trustedIssuers: [world.issuer.did],
  };
}
