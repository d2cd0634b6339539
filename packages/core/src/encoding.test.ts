import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ed25519, x25519 } from './crypto.js';
import {
  base64urlDecode,
  base64urlEncode,
  canonicalJson,
  decodeMultikey,
  encodeMultikey,
  hexEncode,
  multibaseDecode,
  multibaseEncode,
} from './encoding.js';
import { DecodeError, FmpError, ValidationError } from './errors.js';

const vectors = JSON.parse(
  readFileSync(new URL('../../../../shared/vectors/didkey-ed25519-x25519.json', import.meta.url), 'utf8'),
) as Record<
  string,
  {
    seed: string;
    verificationKeyPair: { publicKeyBase58?: string; publicKeyJwk?: { x: string } };
    keyAgreementKeyPair: { id: string; publicKeyBase58?: string; publicKeyJwk?: { x: string } };
  }
>;

describe('multikey encodings against the did:key vectors', () => {
  for (const [did, v] of Object.entries(vectors)) {
    it(`derives ${did.slice(0, 24)}... from its seed`, () => {
      const kp = ed25519.keyPairFromSeed(new Uint8Array(Buffer.from(v.seed, 'hex')));
      expect(`did:key:${encodeMultikey('ed25519-pub', kp.publicKey)}`).toBe(did);
      // publicKeyBase58 is the raw key in base58btc without the multibase 'z'.
      // Vectors give each key as base58 (no multibase 'z') or as a JWK (base64url x).
      const xPub = x25519.publicKeyFromEd25519(kp.publicKey);
      for (const [key, expected] of [
        [kp.publicKey, v.verificationKeyPair],
        [xPub, v.keyAgreementKeyPair],
      ] as const) {
        if (expected.publicKeyBase58) expect(multibaseEncode(key)).toBe(`z${expected.publicKeyBase58}`);
        else expect(base64urlEncode(key)).toBe(expected.publicKeyJwk?.x);
      }
      expect(v.keyAgreementKeyPair.id.endsWith(`#${encodeMultikey('x25519-pub', xPub)}`)).toBe(true);
      const decoded = decodeMultikey(did.slice('did:key:'.length));
      expect(decoded.codec).toBe('ed25519-pub');
      expect(hexEncode(decoded.key)).toBe(hexEncode(kp.publicKey));
    });
  }

  it('rejects malformed multibase and multikey input with typed errors', () => {
    expect(() => multibaseDecode('m000')).toThrow(DecodeError);
    expect(() => multibaseDecode('z0OIl')).toThrow(DecodeError);
    expect(() => decodeMultikey(multibaseEncode(new Uint8Array([0xed, 0x01, 1, 2])))).toThrow(DecodeError);
    expect(() => decodeMultikey(multibaseEncode(new Uint8Array([0x12, 1, 2])))).toThrow(DecodeError);
    expect(() => encodeMultikey('ed25519-pub', new Uint8Array(3))).toThrow(ValidationError);
  });

  it('never throws anything but a typed error on random input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `z${s}`),
        ),
        (text) => {
          try {
            decodeMultikey(text);
          } catch (err) {
            expect(err).toBeInstanceOf(FmpError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('base64url and canonical JSON', () => {
  it('round-trips base64url', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(hexEncode(base64urlDecode(base64urlEncode(bytes)))).toBe(hexEncode(bytes));
      }),
    );
    expect(() => base64urlDecode('a+b/')).toThrow(DecodeError);
  });

  it('canonicalizes per RFC 8785 (sorted keys, number forms)', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 1e21, 0.5], c: 'é' })).toBe(
      '{"a":[true,null,1e+21,0.5],"b":1,"c":"é"}',
    );
    expect(() => canonicalJson(undefined)).toThrow(ValidationError);
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(ValidationError);
  });
});
