/**
 * Adapters from identity to the handshake's injected dependencies (@fmp/core stays free of DID
 * resolution and JSON-LD): DID authentication keys from a resolver, credential checks from
 * verifyCredential with its cache. The trust engine plugs in beside these later.
 */
import { type CredentialVerification, ProtocolError } from '@fmp/core';
import { parseDidUrl } from './did/parse.js';
import type { DidResolver } from './did/resolver.js';
import { ed25519PublicKeyBytes, findVerificationMethod } from './did/verification.js';
import { type VerificationResult, type VerifyCredentialOptions, verifyCredential } from './vc/verify.js';

/** Resolves `did...#fragment` to the Ed25519 key it names, only if listed under `authentication`. */
export function authenticationKeyResolver(
  resolver: DidResolver,
): (verificationMethod: string) => Promise<Uint8Array> {
  return async (verificationMethod) => {
    const { did } = parseDidUrl(verificationMethod);
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
    return ed25519PublicKeyBytes(
      findVerificationMethod(result.didDocument, verificationMethod, 'authentication'),
    );
  };
}

export interface HandshakeCredentialCheck extends CredentialVerification {
  readonly result: VerificationResult;
}

/** The handshake's `verifyCredential` dependency, backed by full VC verification. */
export function handshakeCredentialVerifier(
  options: VerifyCredentialOptions,
): (credential: unknown) => Promise<HandshakeCredentialCheck> {
  return async (credential) => {
    const result = await verifyCredential(credential, options);
    return { verified: result.verified, subject: result.subject, result };
  };
}
