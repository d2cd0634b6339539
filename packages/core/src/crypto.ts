/**
 * The primitives of spec 11.2, each bound to the fastest implementation measured on our hardware
 * (DESIGN.md): libsodium (sodium-native) for Ed25519, X25519 and ChaCha20-Poly1305, node:crypto for
 * SHA-256 and HKDF, hash-wasm for BLAKE3. All functions are synchronous and take Uint8Array.
 */
import { hkdfSync, hash as nodeHash, timingSafeEqual } from 'node:crypto';
import { createBLAKE3 } from 'hash-wasm';
import sodium from 'sodium-native';
import { CryptoError } from './errors.js';

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SEED_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
export const X25519_KEY_BYTES = 32;
export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;

export interface Ed25519KeyPair {
  readonly publicKey: Uint8Array;
  /** The 32-byte RFC 8032 private key (seed). This is what key files store. */
  readonly seed: Uint8Array;
  /** libsodium's expanded 64-byte form (seed || publicKey), kept so signing does not re-derive it. */
  readonly secretKey: Uint8Array;
}

export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

function need(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new CryptoError(`${what} must be ${length} bytes`);
  }
}

/** Cryptographically secure random bytes (libsodium's CSPRNG: a fraction of a microsecond for a nonce). */
export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  if (length > 0) sodium.randombytes_buf(out);
  return out;
}

export const ed25519 = {
  generateKeyPair(): Ed25519KeyPair {
    return ed25519.keyPairFromSeed(randomBytes(ED25519_SEED_BYTES));
  },
  keyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
    need(seed, ED25519_SEED_BYTES, 'Ed25519 seed');
    const publicKey = new Uint8Array(ED25519_PUBLIC_KEY_BYTES);
    const secretKey = new Uint8Array(64);
    sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed);
    return { publicKey, seed: Uint8Array.from(seed), secretKey };
  },
  sign(message: Uint8Array, keyPair: Ed25519KeyPair): Uint8Array {
    const signature = new Uint8Array(ED25519_SIGNATURE_BYTES);
    sodium.crypto_sign_detached(signature, message, keyPair.secretKey);
    return signature;
  },
  /** Returns false (never throws) for a wrong signature or malformed key/signature sizes. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    if (signature.length !== ED25519_SIGNATURE_BYTES || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) {
      return false;
    }
    return sodium.crypto_sign_verify_detached(signature, message, publicKey);
  },
};

export const x25519 = {
  generateKeyPair(): X25519KeyPair {
    return x25519.keyPairFromSecret(randomBytes(X25519_KEY_BYTES));
  },
  /** The public key of `secretKey` (a base-point multiplication; the secret is not copied). */
  publicKeyOf(secretKey: Uint8Array): Uint8Array {
    need(secretKey, X25519_KEY_BYTES, 'X25519 secret key');
    const publicKey = new Uint8Array(X25519_KEY_BYTES);
    sodium.crypto_scalarmult_base(publicKey, secretKey);
    return publicKey;
  },
  keyPairFromSecret(secretKey: Uint8Array): X25519KeyPair {
    return { publicKey: x25519.publicKeyOf(secretKey), secretKey: Uint8Array.from(secretKey) };
  },
  /** ECDH. Rejects low-order peer keys (an all-zero shared secret), as RFC 7748 §6.1 advises. */
  sharedSecret(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
    need(secretKey, X25519_KEY_BYTES, 'X25519 secret key');
    need(peerPublicKey, X25519_KEY_BYTES, 'X25519 public key');
    const out = new Uint8Array(X25519_KEY_BYTES);
    try {
      sodium.crypto_scalarmult(out, secretKey, peerPublicKey);
    } catch (cause) {
      throw new CryptoError('X25519 agreement rejected the peer key', { cause });
    }
    if (out.every((b) => b === 0)) throw new CryptoError('X25519 agreement produced an all-zero secret');
    return out;
  },
  /** The X25519 public key birationally equivalent to an Ed25519 public key (did:key keyAgreement). */
  publicKeyFromEd25519(edPublicKey: Uint8Array): Uint8Array {
    need(edPublicKey, ED25519_PUBLIC_KEY_BYTES, 'Ed25519 public key');
    const out = new Uint8Array(X25519_KEY_BYTES);
    try {
      sodium.crypto_sign_ed25519_pk_to_curve25519(out, edPublicKey);
    } catch (cause) {
      throw new CryptoError('not a valid Ed25519 public key', { cause });
    }
    return out;
  },
  secretKeyFromEd25519(keyPair: Ed25519KeyPair): Uint8Array {
    const out = new Uint8Array(X25519_KEY_BYTES);
    sodium.crypto_sign_ed25519_sk_to_curve25519(out, keyPair.secretKey);
    return out;
  },
};

export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array | string,
  length: number,
): Uint8Array {
  return new Uint8Array(
    hkdfSync('sha256', ikm, salt, typeof info === 'string' ? Buffer.from(info) : info, length),
  );
}

export const chacha20poly1305 = {
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
    need(key, AEAD_KEY_BYTES, 'ChaCha20-Poly1305 key');
    need(nonce, AEAD_NONCE_BYTES, 'ChaCha20-Poly1305 nonce');
    const out = new Uint8Array(plaintext.length + AEAD_TAG_BYTES);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, aad ?? null, null, nonce, key);
    return out;
  },
  /** Throws CryptoError when the tag does not authenticate the ciphertext and associated data. */
  open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array): Uint8Array {
    need(key, AEAD_KEY_BYTES, 'ChaCha20-Poly1305 key');
    need(nonce, AEAD_NONCE_BYTES, 'ChaCha20-Poly1305 nonce');
    if (ciphertext.length < AEAD_TAG_BYTES) throw new CryptoError('ciphertext shorter than its tag');
    const out = new Uint8Array(ciphertext.length - AEAD_TAG_BYTES);
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, ciphertext, aad ?? null, nonce, key);
    } catch (cause) {
      throw new CryptoError('decryption failed: message was altered or the key is wrong', { cause });
    }
    return out;
  },
};

export function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(nodeHash('sha256', typeof data === 'string' ? Buffer.from(data) : data, 'buffer'));
}

export function sha256Hex(data: Uint8Array | string): string {
  return nodeHash('sha256', typeof data === 'string' ? Buffer.from(data) : data, 'hex');
}

// hash-wasm instantiates its WebAssembly asynchronously; do it once at load so blake3() stays sync.
const blake3Hasher = await createBLAKE3();

export function blake3(data: Uint8Array | string): Uint8Array {
  blake3Hasher.init();
  blake3Hasher.update(data);
  return blake3Hasher.digest('binary');
}

/** Constant-time equality for secrets, MACs and hashes. Different lengths compare unequal. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}
