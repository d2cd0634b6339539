/**
 * Child-process side of the networked benchmarks: JSON-line commands on stdin, JSON-line answers on
 * stdout, and the shared world file (seeds, did:mesh operations, credentials) written by the parent.
 * A child exits when its stdin closes, so a parent that dies never leaves load generators behind.
 */
import { createInterface } from 'node:readline';
import { type Ed25519KeyPair, ed25519 } from '@fmp/core';
import { MeshRegistry } from '@fmp/identity';

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

export const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

export async function registryFor(world: SavedWorld): Promise<MeshRegistry> {
  const registry = await MeshRegistry.open();
  await registry.append(world.issuer.op);
  for (const hub of world.hubs) await registry.append(hub.op);
  return registry;
}

/** Runs `handle` for each command line; answers `{ok:false,error}` when it throws. */
export function serve(
  handle: (cmd: Record<string, unknown>) => Promise<unknown>,
  onEnd: () => Promise<void> | void = () => undefined,
): void {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let cmd: Record<string, unknown>;
    try {
      cmd = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    handle(cmd).then(
      (result) => print({ id: cmd.id, ok: true, ...(result as object) }),
      (err: unknown) => print({ id: cmd.id, ok: false, error: String((err as Error)?.message ?? err) }),
    );
  });
  rl.on('close', () => {
    void Promise.resolve(onEnd()).finally(() => process.exit(0));
  });
  process.on('SIGTERM', () => {
    void Promise.resolve(onEnd()).finally(() => process.exit(0));
  });
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
