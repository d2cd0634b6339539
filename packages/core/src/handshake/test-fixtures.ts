/**
 * Test-only world for the handshake tests (not exported from the package): three meshes with
 * real Ed25519 keys, a credential issuer whose proofs are really signed and checked, a movable
 * clock per party and recorded failures.
 */
import * as fc from 'fast-check';
import { type Ed25519KeyPair, ed25519, randomBytes } from '../crypto.js';
import { canonicalBytes, multibaseDecode, multibaseEncode } from '../encoding.js';
import type { VerifiableCredentialJson } from '../wire/handshake.js';
import {
  type CredentialHints,
  ed25519Signer,
  type HandshakeFailure,
  type PresentedCredential,
} from './common.js';
import { HandshakeCoordinator } from './coordinator.js';
import { HandshakeInitiator } from './initiator.js';
import { type ConsentDecision, HandshakeResponder } from './responder.js';

export const ACME = 'did:mesh:enterprise:acme-001';
export const MIT = 'did:mesh:academic:mit-001';
export const EVIL = 'did:mesh:enterprise:evil-001';
export const ISSUER = 'did:mesh:authority:foundation';
export const T0 = 1_730_246_400_000;

const issuerKeys = ed25519.generateKeyPair();

/** A credential whose proof is a real Ed25519 signature over its canonical form without proof. */
export function issueCredential(
  subject: string,
  keys: Ed25519KeyPair = issuerKeys,
): VerifiableCredentialJson {
  const unsigned = {
    '@context': ['https://www.w3.org/2018/credentials/v1'],
    type: ['VerifiableCredential', 'MeshAgentCredential'],
    issuer: ISSUER,
    issuanceDate: '2025-10-30T00:00:00Z',
    credentialSubject: { id: subject, meshCapabilities: ['ml.inference'], trustLevel: 85 },
  };
  const proofValue = multibaseEncode(ed25519.sign(canonicalBytes(unsigned), keys));
  return {
    ...unsigned,
    proof: {
      type: 'Ed25519Signature2020',
      created: '2025-10-30T00:00:00Z',
      verificationMethod: `${ISSUER}#key-1`,
      proofPurpose: 'assertionMethod',
      proofValue,
    },
  };
}

/** The test verifier: checks the issuer's signature for real. */
export function verifyTestCredential(vc: VerifiableCredentialJson): { verified: boolean; subject?: string } {
  const { proof, ...unsigned } = vc as Record<string, unknown> & { proof?: { proofValue?: unknown } };
  if (typeof proof?.proofValue !== 'string') return { verified: false };
  let signature: Uint8Array;
  try {
    signature = multibaseDecode(proof.proofValue);
  } catch {
    return { verified: false };
  }
  const verified = ed25519.verify(signature, canonicalBytes(unsigned), issuerKeys.publicKey);
  const subject = (vc.credentialSubject as { id?: unknown }).id;
  return { verified, ...(typeof subject === 'string' ? { subject } : {}) };
}

export interface Party {
  did: string;
  keys: Ed25519KeyPair;
  vm: string;
}

export function party(did: string): Party {
  return { did, keys: ed25519.generateKeyPair(), vm: `${did}#key-1` };
}

/** The party a dependency call comes from (each has its own clock). */
type Role = 'initiator' | 'hub' | 'responder';

export interface World {
  acme: Party;
  mit: Party;
  evil: Party;
  /** Per-role clocks (ms); move them to simulate time and skew. */
  clock: Record<Role, number>;
  trust: Map<string, number>;
  failures: HandshakeFailure[];
  /** Every 32-byte buffer handed out, to check that ephemeral secrets are wiped. */
  secrets: Uint8Array[];
  consent: (req: unknown) => ConsentDecision | Promise<ConsentDecision>;
  credentialOk: boolean;
  /** Each credential check: who asked, and the hints it gave. */
  credentialChecks: { role: Role; hints: CredentialHints | undefined }[];
  /** Each trust lookup: who asked, about whom, and the credential presented with it. */
  trustLookups: { role: Role; did: string; presented: PresentedCredential | undefined }[];
  initiator: HandshakeInitiator;
  hub: HandshakeCoordinator;
  responder: HandshakeResponder;
  evilInitiator: HandshakeInitiator;
}

export interface WorldOptions {
  hub?: Partial<ConstructorParameters<typeof HandshakeCoordinator>[1]>;
  responder?: Partial<ConstructorParameters<typeof HandshakeResponder>[1]>;
  initiator?: Partial<ConstructorParameters<typeof HandshakeInitiator>[1]>;
}

export function makeWorld(options: WorldOptions = {}): World {
  const acme = party(ACME);
  const mit = party(MIT);
  const evil = party(EVIL);
  const keys = new Map([acme, mit, evil].map((p) => [p.vm, p.keys.publicKey]));
  const world = {
    acme,
    mit,
    evil,
    clock: { initiator: T0, hub: T0, responder: T0 },
    trust: new Map([
      [ACME, 80],
      [MIT, 90],
      [EVIL, 80],
    ]),
    failures: [] as HandshakeFailure[],
    secrets: [] as Uint8Array[],
    consent: (() => true) as World['consent'],
    credentialOk: true,
    credentialChecks: [] as World['credentialChecks'],
    trustLookups: [] as World['trustLookups'],
  } as World;
  const base = (role: keyof World['clock']) => ({
    now: () => world.clock[role],
    randomBytes: (n: number) => {
      const bytes = randomBytes(n);
      if (n === 32) world.secrets.push(bytes);
      return bytes;
    },
    resolveAuthenticationKey: (vm: string) => {
      const key = keys.get(vm);
      if (!key) throw new Error(`notFound: ${vm}`);
      return key;
    },
    onFailure: (f: HandshakeFailure) => world.failures.push(f),
    trustScore: (did: string, presented?: PresentedCredential) => {
      world.trustLookups.push({ role, did, presented });
      return world.trust.get(did) ?? 0;
    },
    verifyCredential: (vc: VerifiableCredentialJson, hints?: CredentialHints) => {
      world.credentialChecks.push({ role, hints });
      return world.credentialOk ? verifyTestCredential(vc) : { verified: false };
    },
  });
  world.initiator = new HandshakeInitiator(base('initiator'), {
    meshId: ACME,
    signer: ed25519Signer(acme.vm, acme.keys),
    credential: issueCredential(ACME),
    ...options.initiator,
  });
  world.evilInitiator = new HandshakeInitiator(base('initiator'), {
    meshId: EVIL,
    signer: ed25519Signer(evil.vm, evil.keys),
    credential: issueCredential(EVIL),
  });
  world.hub = new HandshakeCoordinator(base('hub'), {
    routingEndpointBase: 'wss://hub.mesh.global/fed',
    ...options.hub,
  });
  world.responder = new HandshakeResponder(
    { ...base('responder'), consent: (req) => world.consent(req) },
    { meshId: MIT, signer: ed25519Signer(mit.vm, mit.keys), ...options.responder },
  );
  return world;
}

export const START = {
  targetMeshId: MIT,
  capabilities: ['ml.inference', 'data.analysis'],
  metadata: { ttl: 86_400, purpose: 'research-collab' },
} as const;

// --- mutations (property tests) --------------------------------------------------------------

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface Mutation {
  path: number;
  kind: 'replace' | 'delete' | 'add' | 'tweak';
  value: Json;
  pos: number;
  char: string;
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  path: fc.nat(),
  kind: fc.constantFrom('replace', 'delete', 'add', 'tweak'),
  value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  pos: fc.nat(),
  char: fc.constantFrom('1', 'z', 'A', 'a', '-', '_', '0', ':', '#', 'f', '9'),
});

/** Every node of a JSON value, as a path from the root. */
export function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  if (prefix.length > 0) out.push(prefix);
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) paths(v, [...prefix, i], out);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  }
  return out;
}

/** A copy of `message` with one node replaced, deleted, tweaked, or an extra member added. */
export function mutate(message: unknown, m: Mutation): unknown {
  const copy = structuredClone(message) as Record<string, unknown>;
  const all = paths(copy);
  if (all.length === 0) return m.value;
  const path = all[m.path % all.length]!;
  type Node = Record<string | number, unknown> & unknown[];
  const parent = path.slice(0, -1).reduce<Node>((node, key) => node[key] as Node, copy as Node);
  const key = path[path.length - 1]!;
  const current = parent[key];
  switch (m.kind) {
    case 'replace':
      parent[key] = m.value;
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 'add':
      if (current && typeof current === 'object' && !Array.isArray(current)) {
        (current as Record<string, unknown>)[`x${m.pos % 7}`] = m.value;
      } else copy[`extra${m.pos % 7}`] = m.value;
      break;
    case 'tweak':
      if (typeof current === 'string' && current.length > 0) {
        const i = m.pos % current.length;
        parent[key] = current.slice(0, i) + m.char + current.slice(i + 1);
      } else if (typeof current === 'number') parent[key] = current + ((m.pos % 3) - 1 || 1000);
      else if (typeof current === 'boolean') parent[key] = !current;
      else parent[key] = m.value;
      break;
  }
  return copy;
}
