/**
 * What each party hashes, signs and derives (docs/handshake.md, "What is signed" and "Key
 * schedule"). Every hashed object carries a `domain` string so a signature made for one step can
 * never be replayed as another.
 */
import { createHmac } from 'node:crypto';
import { hkdfSha256, sha256, sha256Hex, x25519 } from '../crypto.js';
import { canonicalBytes, decodeMultikey, encodeMultikey, hexEncode } from '../encoding.js';
import { CryptoError } from '../errors.js';
import type { InitiateFederation, VerifiableCredentialJson } from '../wire/handshake.js';

export const HANDSHAKE_PROTOCOL = 'fmp/1';
export const SESSION_KEYS_INFO = 'fmp/1 session keys';
export const RESPONSE_DOMAIN = 'fmp/1 challenge-response';
export const TRANSCRIPT_DOMAIN = 'fmp/1 handshake-transcript';
export const KEY_CONFIRMATION_LABELS = {
  initiator: 'fmp/1 key confirmation: initiator',
  responder: 'fmp/1 key confirmation: responder',
} as const;

/** Spec §3.1 phase 3: hex SHA-256 of `${handshakeId}:${nonce}:${timestamp}`. */
export function challengeHash(handshakeId: string, nonce: string, timestamp: number): string {
  return sha256Hex(`${handshakeId}:${nonce}:${timestamp}`);
}

/** What the initiator commits to when it answers the challenge. */
export interface ResponseBinding {
  handshakeId: string;
  challengeHash: string;
  sourceMeshId: string;
  targetMeshId: string;
  initiatorEphemeralKey: string;
  capabilities: readonly string[];
  credentials: VerifiableCredentialJson;
  minTrustScore: number | undefined;
  initiateMetadata: Record<string, string | number | boolean> | undefined;
  responseMetadata: { ttl: number; purpose: string };
  verificationMethod: string;
  /** The federation a renewal renews; absent for a new federation. */
  renews?: string | undefined;
  /** credentialsHash(credentials) when the caller has it already (it checks the credential too). */
  credentialsHash?: string | undefined;
}

/**
 * Hex SHA-256 of the credential's RFC 8785 form: what the response digest binds. It is also the key
 * @fmp/identity's VerificationCache files a credential under (`keyOf`), so a party that computed it
 * for the digest hands it to its credential check instead of canonicalizing the credential again.
 */
export function credentialsHash(credentials: VerifiableCredentialJson): string {
  return sha256Hex(canonicalBytes(credentials));
}

/**
 * The 32 bytes the initiator signs. It contains the spec's challenge hash and also binds the
 * initiator's ephemeral key, both DIDs and the request: signing the bare challenge hash would let
 * a relaying hub swap the ephemeral key and sit in the middle of the key exchange.
 */
export function responseDigest(b: ResponseBinding): Uint8Array {
  return sha256(
    canonicalBytes({
      domain: RESPONSE_DOMAIN,
      handshakeId: b.handshakeId,
      challengeHash: b.challengeHash,
      sourceMeshId: b.sourceMeshId,
      targetMeshId: b.targetMeshId,
      initiatorEphemeralKey: b.initiatorEphemeralKey,
      capabilities: b.capabilities,
      credentialsHash: b.credentialsHash ?? credentialsHash(b.credentials),
      minTrustScore: b.minTrustScore ?? null,
      initiateMetadata: b.initiateMetadata ?? null,
      metadata: b.responseMetadata,
      verificationMethod: b.verificationMethod,
      // Present only for a renewal, so the digest of every other handshake is unchanged.
      ...(b.renews === undefined ? {} : { renews: b.renews }),
    }),
  );
}

/**
 * responseDigest of an initiation (the initiator's and the hub's view: both hold the
 * InitiateFederation), answered to `challengeHash` with `response`'s metadata and key.
 */
export function initiationDigest(
  handshakeId: string,
  init: InitiateFederation,
  challengeHash: string,
  response: { readonly metadata: { ttl: number; purpose: string }; readonly verificationMethod: string },
  /** credentialsHash(init.credentials), when the caller has it already. */
  credentialsHashOfInit?: string,
): Uint8Array {
  return responseDigest({
    handshakeId,
    challengeHash,
    sourceMeshId: init.sourceMeshId,
    targetMeshId: init.targetMeshId,
    initiatorEphemeralKey: init.ephemeralPublicKey,
    capabilities: init.capabilities,
    credentials: init.credentials,
    minTrustScore: init.minTrustScore,
    initiateMetadata: init.metadata,
    responseMetadata: response.metadata,
    verificationMethod: response.verificationMethod,
    renews: init.renews,
    credentialsHash: credentialsHashOfInit,
  });
}

/** Everything both ends agree on; the target signs its hash and it salts the key derivation. */
export interface TranscriptInput {
  responseDigest: Uint8Array;
  handshakeId: string;
  nonce: string;
  federationId: string;
  expiresAt: number;
  routingEndpoint: string;
  sourceMeshId: string;
  targetMeshId: string;
  initiatorEphemeralKey: string;
  responderEphemeralKey: string;
  responderVerificationMethod: string;
}

export function transcriptHash(t: TranscriptInput): Uint8Array {
  return sha256(
    canonicalBytes({
      domain: TRANSCRIPT_DOMAIN,
      responseDigest: hexEncode(t.responseDigest),
      handshakeId: t.handshakeId,
      nonce: t.nonce,
      federationId: t.federationId,
      expiresAt: t.expiresAt,
      routingEndpoint: t.routingEndpoint,
      sourceMeshId: t.sourceMeshId,
      targetMeshId: t.targetMeshId,
      initiatorEphemeralKey: t.initiatorEphemeralKey,
      responderEphemeralKey: t.responderEphemeralKey,
      responderVerificationMethod: t.responderVerificationMethod,
    }),
  );
}

export interface SessionKeyMaterial {
  /** Initiator -> responder traffic key. */
  readonly initiatorToResponder: Uint8Array;
  /** Responder -> initiator traffic key. */
  readonly responderToInitiator: Uint8Array;
  /** Used only for the two key confirmation tags, never for traffic. */
  readonly confirmationKey: Uint8Array;
}

/** HKDF-SHA256(shared secret, salt = transcript hash, info 'fmp/1 session keys'), 96 bytes split 3 ways. */
export function deriveSessionKeys(sharedSecret: Uint8Array, transcript: Uint8Array): SessionKeyMaterial {
  const okm = hkdfSha256(sharedSecret, transcript, SESSION_KEYS_INFO, 96);
  const keys = {
    initiatorToResponder: okm.slice(0, 32),
    responderToInitiator: okm.slice(32, 64),
    confirmationKey: okm.slice(64, 96),
  };
  okm.fill(0);
  return keys;
}

/** HMAC-SHA256 of the role's fixed label under the confirmation key. */
export function keyConfirmationTag(confirmationKey: Uint8Array, role: 'initiator' | 'responder'): Uint8Array {
  return new Uint8Array(createHmac('sha256', confirmationKey).update(KEY_CONFIRMATION_LABELS[role]).digest());
}

export function zeroize(...buffers: (Uint8Array | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}

export interface EphemeralKey {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Multikey form (`z6LS...`) as sent on the wire. */
  readonly multikey: string;
}

/** Takes ownership of `random`: it becomes the secret key, so zeroing the key wipes the only copy. */
export function ephemeralKeyFrom(random: Uint8Array): EphemeralKey {
  if (!(random instanceof Uint8Array) || random.length !== 32) {
    throw new CryptoError('randomBytes(32) did not return 32 bytes');
  }
  // A base-point multiplication: 2.5x faster than a general one with the base point as a peer key.
  const secretKey = random;
  const publicKey = x25519.publicKeyOf(secretKey);
  return { secretKey, publicKey, multikey: encodeMultikey('x25519-pub', publicKey) };
}

export function decodeX25519Multikey(text: string): Uint8Array {
  const { codec, key } = decodeMultikey(text);
  if (codec !== 'x25519-pub') throw new CryptoError('ephemeral key is not an x25519-pub multikey');
  return key;
}

/** A random (version 4) UUID from injected randomness. */
export function uuidFromRandom(random: Uint8Array): string {
  if (!(random instanceof Uint8Array) || random.length !== 16) {
    throw new CryptoError('randomBytes(16) did not return 16 bytes');
  }
  const b = Uint8Array.from(random);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = hexEncode(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
