/**
 * Test helpers (not exported from the package): did:key documents built from @fmp/core keys, and a
 * resolver over a fixed set of documents. The real did:key method lives in ../did.
 */
import { type Ed25519KeyPair, ed25519, encodeMultikey } from '@fmp/core';
import {
  DID_V1_CONTEXT_URL,
  ED25519_2020_CONTEXT_URL,
  MULTIKEY_V1_CONTEXT_URL,
  type ResolveDid,
} from './contexts.js';
import type { CredentialSigner } from './suites.js';

export interface TestIdentity {
  readonly did: string;
  readonly verificationMethod: string;
  readonly document: Record<string, unknown>;
  readonly signer: CredentialSigner;
}

/**
 * did:key:z6Mk... with one Ed25519 key `did:key:<id>#<id>`, typed Ed25519VerificationKey2020
 * (what Ed25519Signature2020 expects) or Multikey (the Data Integrity view of the same key).
 */
export function didKeyIdentity(
  keyPair: Ed25519KeyPair = ed25519.generateKeyPair(),
  options: { keyType?: 'Ed25519VerificationKey2020' | 'Multikey'; relationships?: readonly string[] } = {},
): TestIdentity {
  const fingerprint = encodeMultikey('ed25519-pub', keyPair.publicKey);
  const did = `did:key:${fingerprint}`;
  const verificationMethod = `${did}#${fingerprint}`;
  const keyType = options.keyType ?? 'Ed25519VerificationKey2020';
  const relationships = options.relationships ?? [
    'authentication',
    'assertionMethod',
    'capabilityInvocation',
    'capabilityDelegation',
  ];
  const document: Record<string, unknown> = {
    '@context': [
      DID_V1_CONTEXT_URL,
      keyType === 'Multikey' ? MULTIKEY_V1_CONTEXT_URL : ED25519_2020_CONTEXT_URL,
    ],
    id: did,
    verificationMethod: [
      { id: verificationMethod, type: keyType, controller: did, publicKeyMultibase: fingerprint },
    ],
  };
  for (const rel of relationships) document[rel] = [verificationMethod];
  return { did, verificationMethod, document, signer: { keyPair, issuer: did, verificationMethod } };
}

/** Resolves the given documents by id, null for anything else; counts calls. */
export function staticResolver(...documents: Record<string, unknown>[]): ResolveDid & { calls: string[] } {
  const byId = new Map(documents.map((d) => [d.id as string, d]));
  const calls: string[] = [];
  const resolve = async (did: string) => {
    calls.push(did);
    return structuredClone(byId.get(did) ?? null);
  };
  return Object.assign(resolve, { calls });
}

/** A deep copy typed for editing in a test. */
export function cloneAs<T>(value: unknown): T {
  return structuredClone(value) as T;
}
