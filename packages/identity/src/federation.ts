/**
 * Adapters from identity to the handshake's injected dependencies (@fmp/core stays free of DID
 * resolution and JSON-LD): DID authentication keys from a resolver, credential checks from
 * verifyCredential with its cache. The trust engine plugs in beside these later.
 */
import { type CredentialHints, type CredentialVerification, ProtocolError } from '@fmp/core';
import { parseDidUrl } from './did/parse.js';
import type { DidResolver } from './did/resolver.js';
import { ed25519PublicKeyBytes, findVerificationMethod } from './did/verification.js';
import { type VerificationResult, type VerifyCredentialOptions, verifyCredential } from './vc/verify.js';

/**
 * Resolves `did...#fragment` to the Ed25519 key it names, only if listed under `authentication`.
 *
 * Every handshake message is verified with such a key (up to three times per handshake at a hub);
 * the resolver returns the same frozen result while a DID is unchanged, so the key found in it is
 * kept beside it (a WeakMap on the document: a new document after an update, or the cache entry
 * expiring, drops it), and the DID of a verification method is kept per text (bounded). Both skip
 * only pure work: the resolution, with its deactivation check, runs for every call.
 */
export function authenticationKeyResolver(
  resolver: DidResolver,
): (verificationMethod: string) => Promise<Uint8Array> {
  const keysOf = new WeakMap<object, Map<string, Uint8Array>>();
  const didOf = new Map<string, string>();
  return async (verificationMethod) => {
    let did = didOf.get(verificationMethod);
    if (did === undefined) {
      did = parseDidUrl(verificationMethod).did;
      if (didOf.size >= MAX_REMEMBERED_METHODS) didOf.delete(didOf.keys().next().value as string);
      didOf.set(verificationMethod, did);
    }
    const result = await resolver.resolve(did);
    if (!result.didDocument || result.didResolutionMetadata.error) {
      throw new ProtocolError(
        'did_resolution_failed',
        `cannot resolve ${did}: ${result.didResolutionMetadata.error ?? 'no document'}`,
      );
    }
    if (result.didDocumentMetadata.deactivated) {
      throw new ProtocolError('did_resolution_failed', `${did} is deactivated`);
    }
    const document = result.didDocument;
    let keys = keysOf.get(document);
    const known = keys?.get(verificationMethod);
    if (known) return known.slice();
    const key = ed25519PublicKeyBytes(findVerificationMethod(document, verificationMethod, 'authentication'));
    if (!keys) {
      keys = new Map();
      keysOf.set(document, keys);
    }
    // A document lists a handful of methods; the bound only stops a caller naming made-up ones.
    if (keys.size < 16) keys.set(verificationMethod, key);
    // A copy: the caller may do as it likes with it, the kept key stays as found.
    return key.slice();
  };
}

/** Verification method texts whose DID is remembered by one authenticationKeyResolver. */
const MAX_REMEMBERED_METHODS = 4_096;

export interface HandshakeCredentialCheck extends CredentialVerification {
  readonly result: VerificationResult;
}

/**
 * The handshake's `verifyCredential` dependency, backed by full VC verification. The hash the
 * handshake hands over (CredentialHints) is the cache's key for the credential: used as such.
 */
export function handshakeCredentialVerifier(
  options: VerifyCredentialOptions,
): (credential: unknown, hints?: CredentialHints) => Promise<HandshakeCredentialCheck> {
  return async (credential, hints) => {
    const result = await verifyCredential(
      credential,
      hints && options.cache ? { ...options, cacheKey: hints.canonicalHash } : options,
    );
    return { verified: result.verified, subject: result.subject, result };
  };
}
