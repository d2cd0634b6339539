/**
 * A test world for the network tests: a did:mesh registry holding a credential issuer, a status
 * list for revocation, mesh identities with their own op logs and MeshAgentCredentials, and
 * helpers that start a hub and nodes on loopback. Everything is real: keys, signatures, proofs.
 */
import { type Ed25519KeyPair, ed25519 } from '@fmp/core';
import { createHub, type Hub, type HubOptions } from '@fmp/hub';
import {
  buildMeshCreate,
  issueMeshAgentCredential,
  MeshRegistry,
  StatusListRegistry,
  type VerifiableCredential,
} from '@fmp/identity';
import { createMeshNode, type MeshNode, type MeshNodeOptions } from '@fmp/node';
import pino from 'pino';

export const ISSUER = 'did:mesh:authority:foundation';
export const HUB_DID = 'did:mesh:hub:eu-test';

export interface Identity {
  readonly did: string;
  readonly keyPair: Ed25519KeyPair;
  readonly vm: string;
  readonly op: Record<string, unknown>;
}

export interface Member extends Identity {
  readonly credential: VerifiableCredential;
  readonly statusIndex: number | undefined;
}

export function identity(did: string): Identity {
  const keyPair = ed25519.generateKeyPair();
  const op = buildMeshCreate({ did, key: keyPair, nextPublicKey: ed25519.generateKeyPair().publicKey });
  return { did, keyPair, vm: `${did}#key-1`, op: op as unknown as Record<string, unknown> };
}

export interface World {
  readonly issuer: Identity;
  readonly hub: Identity;
  readonly statusList: StatusListRegistry;
  /** A fresh registry seeded with the issuer and the hub (one per hub). */
  registry(): Promise<MeshRegistry>;
  member(
    did: string,
    options?: {
      trustLevel?: number;
      validUntil?: Date;
      issuedAt?: Date;
      issuer?: Identity;
      revocable?: boolean;
      capabilities?: string[];
    },
  ): Promise<Member>;
}

export async function createWorld(): Promise<World> {
  const issuer = identity(ISSUER);
  const hub = identity(HUB_DID);
  const signerOf = (who: Identity) => ({ keyPair: who.keyPair, issuer: who.did, verificationMethod: who.vm });
  const statusList = await StatusListRegistry.create({
    id: 'https://hub.test/status/1',
    signer: signerOf(issuer),
    length: 1024,
  });
  return {
    issuer,
    hub,
    statusList,
    async registry() {
      const registry = await MeshRegistry.open();
      await registry.append(issuer.op);
      await registry.append(hub.op);
      return registry;
    },
    async member(did, options = {}) {
      const id = identity(did);
      const status = options.revocable === false ? undefined : statusList.allocate();
      const credential = await issueMeshAgentCredential({
        signer: signerOf(options.issuer ?? issuer),
        subject: {
          id: did,
          meshCapabilities: options.capabilities ?? ['ml.inference'],
          complianceCertifications: ['GDPR'],
          trustLevel: options.trustLevel ?? 85,
        },
        validUntil: options.validUntil ?? new Date(Date.now() + 86_400_000),
        ...(options.issuedAt ? { now: options.issuedAt } : {}),
        ...(status ? { status } : {}),
      });
      return { ...id, credential, statusIndex: status?.statusListIndex };
    },
  };
}

export const silent = pino({ level: 'silent' });

/**
 * The trust engine's score of a mesh that just connected (spec 5.1 weights): its credential's
 * trustLevel, neutral behaviour (50), no attestations, one recognized certification (GDPR: 65) and
 * neutral uptime (50): 0.30 t + 0.25 * 50 + 0.15 * 65 + 0.10 * 50.
 */
export function newcomerScore(trustLevel: number): number {
  return 0.3 * trustLevel + 12.5 + 9.75 + 5;
}

export async function startHub(
  world: World,
  overrides: Partial<HubOptions> = {},
): Promise<{ hub: Hub; url: string; httpUrl: string }> {
  const hub = createHub({
    did: world.hub.did,
    keyPair: world.hub.keyPair,
    region: 'eu',
    trustedIssuers: [world.issuer.did],
    registry: await world.registry(),
    statusListLoader: world.statusList.loader,
    statusListChanges: world.statusList,
    logger: silent,
    sweepMs: 50,
    ...overrides,
  });
  const { url, httpUrl } = await hub.start();
  return { hub, url, httpUrl };
}

export function nodeFor(
  world: World,
  member: Member,
  hubUrl: string,
  overrides: Partial<MeshNodeOptions> = {},
): MeshNode {
  return createMeshNode({
    did: member.did,
    keyPair: member.keyPair,
    verificationMethod: member.vm,
    credential: member.credential as MeshNodeOptions['credential'],
    capabilities: ['ml.inference'],
    region: 'eu',
    hubUrl,
    meshLog: [member.op],
    trustedIssuers: [world.issuer.did],
    statusListLoader: world.statusList.loader,
    reconnectDelayMs: () => 50,
    ...overrides,
  });
}

/** Resolves when `check` holds, polling; fails after `ms` (a bound, not a timing assertion). */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
