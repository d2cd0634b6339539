/**
 * did:key for Ed25519 (https://w3c-ccg.github.io/did-method-key/): the document is derived from
 * the DID alone. It lists the Ed25519VerificationKey2020 key (for authentication, assertion and
 * capabilities) and embeds the X25519KeyAgreementKey2020 key derived from it (birational map) under
 * keyAgreement, as the reference implementation (did-method-key-js, 2020 suites) does.
 */
import { encodeMultikey, multibaseDecode, x25519 } from '@fmp/core';
import { DidMethodNotSupportedError, InvalidDidError } from './errors.js';
import type { DidMethod, DidMethodResult } from './method.js';
import { type ParsedDid, parseDid } from './parse.js';
import { DID_CONTEXT_V1, type DidDocument, ED25519_2020_CONTEXT, X25519_2020_CONTEXT } from './types.js';

/** Multicodec key codes we can name in an error, though only Ed25519 is supported. */
const OTHER_KEY_CODECS: Record<number, string> = {
  231: 'secp256k1-pub',
  236: 'x25519-pub',
  235: 'bls12_381-g2-pub',
  234: 'bls12_381-g1-pub',
  4608: 'p256-pub',
  4609: 'p384-pub',
  4610: 'p521-pub',
  4613: 'rsa-pub',
};

/** `did:key:z6Mk...` for a 32-byte Ed25519 public key. */
export function didKeyFromEd25519PublicKey(publicKey: Uint8Array): string {
  return `did:key:${encodeMultikey('ed25519-pub', publicKey)}`;
}

/** Decodes the Ed25519 public key inside a did:key. Throws InvalidDidError / DidMethodNotSupportedError. */
export function ed25519PublicKeyFromDidKey(did: string | ParsedDid): Uint8Array {
  const parsed = typeof did === 'string' ? parseDid(did) : did;
  if (parsed.method !== 'key') throw new InvalidDidError('not a did:key');
  const value = parsed.id;
  // did:key has an optional version prefix (`did:key:1:z...`) that no one uses; version 1 is implied.
  if (!value.startsWith('z') || value.includes(':')) {
    throw new InvalidDidError('did:key value must be a base58btc multibase string (z...)');
  }
  let bytes: Uint8Array;
  try {
    bytes = multibaseDecode(value);
  } catch (cause) {
    throw new InvalidDidError('did:key value is not valid base58btc', { cause });
  }
  const { code, length } = readVarint(bytes);
  if (code === 0xed) {
    const key = bytes.subarray(length);
    if (key.length !== 32)
      throw new InvalidDidError('did:key Ed25519 key must be 32 bytes (invalidPublicKeyLength)');
    return Uint8Array.from(key);
  }
  const name = code === undefined ? undefined : OTHER_KEY_CODECS[code];
  if (name) throw new DidMethodNotSupportedError(`did:key with ${name} keys is not supported (Ed25519 only)`);
  throw new InvalidDidError('did:key value does not start with a known public-key multicodec');
}

function readVarint(bytes: Uint8Array): { code: number | undefined; length: number } {
  let value = 0;
  for (let i = 0; i < Math.min(bytes.length, 3); i++) {
    const b = bytes[i]!;
    value |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) === 0) return { code: value, length: i + 1 };
  }
  return { code: undefined, length: 0 };
}

/** Builds the did:key document (pure; throws like ed25519PublicKeyFromDidKey). */
export function didKeyDocument(did: string | ParsedDid): DidDocument {
  const parsed = typeof did === 'string' ? parseDid(did) : did;
  const edKey = ed25519PublicKeyFromDidKey(parsed);
  let xKey: Uint8Array;
  try {
    xKey = x25519.publicKeyFromEd25519(edKey);
  } catch (cause) {
    throw new InvalidDidError('did:key holds bytes that are not an Ed25519 public key (invalidPublicKey)', {
      cause,
    });
  }
  const id = parsed.did;
  const edFingerprint = parsed.id;
  const xFingerprint = encodeMultikey('x25519-pub', xKey);
  const vmId = `${id}#${edFingerprint}`;
  return {
    '@context': [DID_CONTEXT_V1, ED25519_2020_CONTEXT, X25519_2020_CONTEXT],
    id,
    verificationMethod: [
      { id: vmId, type: 'Ed25519VerificationKey2020', controller: id, publicKeyMultibase: edFingerprint },
    ],
    authentication: [vmId],
    assertionMethod: [vmId],
    capabilityDelegation: [vmId],
    capabilityInvocation: [vmId],
    keyAgreement: [
      {
        id: `${id}#${xFingerprint}`,
        type: 'X25519KeyAgreementKey2020',
        controller: id,
        publicKeyMultibase: xFingerprint,
      },
    ],
  };
}

/** The did:key method driver (offline, no options). */
export function didKey(): DidMethod {
  return {
    method: 'key',
    async resolve(did: ParsedDid): Promise<DidMethodResult> {
      return { didDocument: didKeyDocument(did), didDocumentMetadata: {} };
    },
  };
}
