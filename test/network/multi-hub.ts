/**
 * Several hubs on loopback for the federation-network tests: each hub has its own did:mesh
 * identity (only its own create operation and the issuer are in its registry at start; peers learn
 * each other's keys from HubAuth and the rest through IdentityOps), short ping and re-dial periods.
 */
import { createHub, type Hub, type HubOptions } from '@fmp/hub';
import { MeshRegistry } from '@fmp/identity';
import { type Identity, identity, silent, type World } from './fixtures.js';

export interface RunningHub {
  readonly id: Identity;
  readonly hub: Hub;
  readonly url: string;
  readonly httpUrl: string;
}

export function hubIdentity(name: string): Identity {
  return identity(`did:mesh:hub:${name}`);
}

export async function startPeerHub(
  world: World,
  id: Identity,
  overrides: Partial<HubOptions> = {},
): Promise<RunningHub> {
  const registry = await MeshRegistry.open();
  await registry.append(world.issuer.op);
  await registry.append(id.op);
  const hub = createHub({
    did: id.did,
    keyPair: id.keyPair,
    region: 'eu',
    trustedIssuers: [world.issuer.did],
    registry,
    statusListLoader: world.statusList.loader,
    statusListChanges: world.statusList,
    logger: silent,
    sweepMs: 50,
    peering: { pingIntervalMs: 200, reconnectBaseMs: 100, reconnectMaxMs: 500 },
    ...overrides,
  });
  const { url, httpUrl } = await hub.start();
  return { id, hub, url, httpUrl };
}

/** Resolves when `hub` has an up link to each of `peers`. */
export function linkedTo(hub: Hub, ...peers: string[]): () => boolean {
  return () => peers.every((p) => hub.connectedPeers().includes(p));
}

/** Resolves true when `hub` has a route to `meshId` (the route table converged). */
export function routeTo(hub: Hub, meshId: string, hops?: number): () => boolean {
  return () => hub.peerRoutes().some((r) => r.meshId === meshId && (hops === undefined || r.hops === hops));
}
