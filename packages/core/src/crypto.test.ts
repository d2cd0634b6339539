import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blake3,
  chacha20poly1305,
  constantTimeEqual,
  ed25519,
  hkdfSha256,
  randomBytes,
  sha256Hex,
  x25519,
} from './crypto.js';
import { hexEncode } from './encoding.js';
import { CryptoError } from './errors.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// RFC 8032 §7.1, tests 1-3 (secret key = 32-byte seed).
const RFC8032 = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    seed: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    pub: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    msg: 'af82',
    sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

describe('Ed25519 (RFC 8032)', () => {
  for (const [i, v] of RFC8032.entries()) {
    it(`reproduces test ${i + 1}`, () => {
      const kp = ed25519.keyPairFromSeed(hex(v.seed));
      expect(hexEncode(kp.publicKey)).toBe(v.pub);
      const sig = ed25519.sign(hex(v.msg), kp);
      expect(hexEncode(sig)).toBe(v.sig);
      expect(ed25519.verify(sig, hex(v.msg), kp.publicKey)).toBe(true);
    });
  }

  it('rejects a flipped bit in message, signature or key', () => {
    const kp = ed25519.generateKeyPair();
    const msg = randomBytes(64);
    const sig = ed25519.sign(msg, kp);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 64 * 8 - 1 }), (bit) => {
        const bad = Uint8Array.from(sig);
        bad[bit >> 3]! ^= 1 << (bit & 7);
        expect(ed25519.verify(bad, msg, kp.publicKey)).toBe(false);
        const badMsg = Uint8Array.from(msg);
        badMsg[bit >> 3]! ^= 1 << (bit & 7);
        expect(ed25519.verify(sig, badMsg, kp.publicKey)).toBe(false);
      }),
      { numRuns: 200 },
    );
    expect(ed25519.verify(sig, msg, ed25519.generateKeyPair().publicKey)).toBe(false);
  });

  it('returns false for malformed sizes instead of throwing', () => {
    const kp = ed25519.generateKeyPair();
    expect(ed25519.verify(new Uint8Array(3), new Uint8Array(1), kp.publicKey)).toBe(false);
    expect(ed25519.verify(new Uint8Array(64), new Uint8Array(1), new Uint8Array(5))).toBe(false);
    expect(() => ed25519.keyPairFromSeed(new Uint8Array(31))).toThrow(CryptoError);
  });
});

describe('X25519 (RFC 7748 §6.1)', () => {
  const a = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const b = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  it('derives the public keys and shared secret', () => {
    const alice = x25519.keyPairFromSecret(a);
    const bob = x25519.keyPairFromSecret(b);
    expect(hexEncode(alice.publicKey)).toBe(
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    );
    expect(hexEncode(bob.publicKey)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const k = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(hexEncode(x25519.sharedSecret(alice.secretKey, bob.publicKey))).toBe(k);
    expect(hexEncode(x25519.sharedSecret(bob.secretKey, alice.publicKey))).toBe(k);
  });
  it('rejects low-order points', () => {
    expect(() => x25519.sharedSecret(a, new Uint8Array(32))).toThrow(CryptoError);
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(() => x25519.sharedSecret(a, one)).toThrow(CryptoError);
  });
  it('converts an Ed25519 key pair to a matching X25519 key pair', () => {
    const ed = ed25519.generateKeyPair();
    const xs = x25519.secretKeyFromEd25519(ed);
    expect(hexEncode(x25519.keyPairFromSecret(xs).publicKey)).toBe(
      hexEncode(x25519.publicKeyFromEd25519(ed.publicKey)),
    );
  });
});

describe('HKDF-SHA256 (RFC 5869 test case 1)', () => {
  it('derives the OKM', () => {
    const okm = hkdfSha256(
      hex('0b'.repeat(22)),
      hex('000102030405060708090a0b0c'),
      hex('f0f1f2f3f4f5f6f7f8f9'),
      42,
    );
    expect(hexEncode(okm)).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });
});

describe('ChaCha20-Poly1305 (RFC 8439 §2.8.2)', () => {
  const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce = hex('070000004041424344454647');
  const aad = hex('50515253c0c1c2c3c4c5c6c7');
  const plaintext = new TextEncoder().encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const expected =
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691';
  it('seals to the RFC ciphertext and tag, and opens it', () => {
    const sealed = chacha20poly1305.seal(key, nonce, plaintext, aad);
    expect(hexEncode(sealed)).toBe(expected);
    expect(Buffer.from(chacha20poly1305.open(key, nonce, sealed, aad)).toString()).toBe(
      Buffer.from(plaintext).toString(),
    );
  });
  it('rejects altered ciphertext, tag or associated data', () => {
    const sealed = chacha20poly1305.seal(key, nonce, plaintext, aad);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: sealed.length - 1 }), (i) => {
        const bad = Uint8Array.from(sealed);
        bad[i]! ^= 0x01;
        expect(() => chacha20poly1305.open(key, nonce, bad, aad)).toThrow(CryptoError);
      }),
      { numRuns: 100 },
    );
    expect(() => chacha20poly1305.open(key, nonce, sealed, hex('00'))).toThrow(CryptoError);
    expect(() => chacha20poly1305.open(key, nonce, new Uint8Array(3))).toThrow(CryptoError);
  });
});

describe('hashes and comparison', () => {
  it('SHA-256 and BLAKE3 known answers', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hexEncode(blake3(''))).toBe('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
  });
  it('constantTimeEqual', () => {
    expect(constantTimeEqual(hex('0102'), hex('0102'))).toBe(true);
    expect(constantTimeEqual(hex('0102'), hex('0103'))).toBe(false);
    expect(constantTimeEqual(hex('0102'), hex('010203'))).toBe(false);
  });
});
