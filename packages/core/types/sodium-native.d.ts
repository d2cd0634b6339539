// Only the libsodium bindings fmp uses. sodium-native ships no types of its own.
declare module 'sodium-native' {
  type Buf = Uint8Array;
  export const crypto_sign_PUBLICKEYBYTES: number;
  export const crypto_sign_SECRETKEYBYTES: number;
  export const crypto_sign_SEEDBYTES: number;
  export const crypto_sign_BYTES: number;
  export const crypto_aead_chacha20poly1305_ietf_ABYTES: number;
  export const crypto_aead_chacha20poly1305_ietf_KEYBYTES: number;
  export const crypto_aead_chacha20poly1305_ietf_NPUBBYTES: number;
  export function crypto_sign_seed_keypair(pk: Buf, sk: Buf, seed: Buf): void;
  export function crypto_sign_detached(sig: Buf, message: Buf, sk: Buf): void;
  export function crypto_sign_verify_detached(sig: Buf, message: Buf, pk: Buf): boolean;
  export function crypto_sign_ed25519_pk_to_curve25519(x25519pk: Buf, ed25519pk: Buf): void;
  export function crypto_sign_ed25519_sk_to_curve25519(x25519sk: Buf, ed25519sk: Buf): void;
  export function crypto_scalarmult_base(q: Buf, n: Buf): void;
  export function crypto_scalarmult(q: Buf, n: Buf, p: Buf): void;
  export function crypto_aead_chacha20poly1305_ietf_encrypt(
    c: Buf,
    m: Buf,
    ad: Buf | null,
    nsec: null,
    npub: Buf,
    k: Buf,
  ): number;
  export function crypto_aead_chacha20poly1305_ietf_decrypt(
    m: Buf,
    nsec: null,
    c: Buf,
    ad: Buf | null,
    npub: Buf,
    k: Buf,
  ): number;
  export function randombytes_buf(buf: Buf): void;
  export function sodium_memzero(buf: Buf): void;
}
