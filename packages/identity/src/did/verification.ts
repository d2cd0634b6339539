/**
 * Finding a verification method in a resolved document and extracting its Ed25519 public key, for
 * signature checks (handshakes, envelopes, credentials).
 */
import { base64urlDecode, decodeMultikey, multibaseDecode } from '@fmp/core';
import { NoSuchVerificationMethodError, UnsupportedVerificationMethodError } from './errors.js';
import type { DidDocument, VerificationMethod, VerificationRelationship } from './types.js';

/** Turns `#key-1` (relative to the document) into `did:...#key-1`; absolute ids are returned unchanged. */
export function absoluteId(documentId: string, ref: string): string {
  return ref.startsWith('#') ? documentId + ref : ref;
}

/**
 * The verification method `didUrl` names (absolute `did:...#frag` or relative `#frag`). With
 * `purpose`, the method must also be listed (by reference or embedded) under that relationship.
 */
export function findVerificationMethod(
  document: DidDocument,
  didUrl: string,
  purpose?: VerificationRelationship,
): VerificationMethod {
  const wanted = absoluteId(document.id, didUrl);
  const matches = (vm: VerificationMethod) => absoluteId(document.id, vm.id) === wanted;
  if (purpose) {
    for (const entry of document[purpose] ?? []) {
      if (typeof entry === 'string') {
        if (absoluteId(document.id, entry) === wanted) return lookup(document, wanted, matches);
      } else if (matches(entry)) {
        return entry;
      }
    }
    throw new NoSuchVerificationMethodError(`${wanted} is not listed under ${purpose}`);
  }
  return lookup(document, wanted, matches);
}

function lookup(
  document: DidDocument,
  wanted: string,
  matches: (vm: VerificationMethod) => boolean,
): VerificationMethod {
  const found = document.verificationMethod?.find(matches);
  if (found) return found;
  for (const rel of [
    'authentication',
    'assertionMethod',
    'keyAgreement',
    'capabilityInvocation',
    'capabilityDelegation',
  ] as const) {
    for (const entry of document[rel] ?? []) {
      if (typeof entry !== 'string' && matches(entry)) return entry;
    }
  }
  throw new NoSuchVerificationMethodError(`no verification method ${wanted} in ${document.id}`);
}

/**
 * The 32 raw Ed25519 public key bytes of a verification method. Accepts
 * Ed25519VerificationKey2020 / Multikey (multicodec-prefixed publicKeyMultibase),
 * Ed25519VerificationKey2018 (raw publicKeyBase58) and JsonWebKey2020 (OKP, crv Ed25519).
 */
export function ed25519PublicKeyBytes(vm: VerificationMethod): Uint8Array {
  try {
    if ((vm.type === 'Ed25519VerificationKey2020' || vm.type === 'Multikey') && vm.publicKeyMultibase) {
      const { codec, key } = decodeMultikey(vm.publicKeyMultibase);
      if (codec === 'ed25519-pub') return key;
      throw new UnsupportedVerificationMethodError(`${vm.id} holds a ${codec} key, not Ed25519`);
    }
    if (vm.type === 'Ed25519VerificationKey2018' && vm.publicKeyBase58) {
      // Raw base58btc is multibase without its 'z' prefix.
      const key = multibaseDecode(`z${vm.publicKeyBase58}`);
      if (key.length === 32) return key;
      throw new UnsupportedVerificationMethodError(`${vm.id}: Ed25519 key must be 32 bytes`);
    }
    if (vm.type === 'JsonWebKey2020' && vm.publicKeyJwk) {
      const jwk = vm.publicKeyJwk;
      if (jwk['kty'] === 'OKP' && jwk['crv'] === 'Ed25519' && typeof jwk['x'] === 'string') {
        const key = base64urlDecode(jwk['x']);
        if (key.length === 32) return key;
      }
      throw new UnsupportedVerificationMethodError(`${vm.id} is not an Ed25519 JWK`);
    }
  } catch (cause) {
    if (cause instanceof UnsupportedVerificationMethodError) throw cause;
    throw new UnsupportedVerificationMethodError(`${vm.id}: key material does not decode`, { cause });
  }
  throw new UnsupportedVerificationMethodError(`${vm.id} (${vm.type}) is not an Ed25519 verification method`);
}

/** Finds `didUrl` in the document (under `purpose` when given) and returns its Ed25519 key bytes. */
export function getEd25519PublicKey(
  document: DidDocument,
  didUrl: string,
  purpose?: VerificationRelationship,
): Uint8Array {
  return ed25519PublicKeyBytes(findVerificationMethod(document, didUrl, purpose));
}
