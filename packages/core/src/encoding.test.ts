import { readFileSync } from 'node:fs';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { base58btc } from 'multiformats/bases/base58';
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

  it('encodes and decodes base58btc exactly as multiformats does (round trips, leading zeros, bad digits)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), fc.nat(8), (bytes, zeros) => {
        const withZeros = new Uint8Array([...new Uint8Array(zeros), ...bytes]);
        const text = multibaseEncode(withZeros);
        expect(text).toBe(base58btc.encode(withZeros));
        expect(hexEncode(multibaseDecode(text))).toBe(hexEncode(withZeros));
        expect(hexEncode(multibaseDecode(text))).toBe(hexEncode(base58btc.decode(text)));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (tail) => {
        const text = `z${tail}`;
        let expected: string | undefined;
        try {
          expected = hexEncode(base58btc.decode(text));
        } catch {
          expected = undefined;
        }
        if (expected === undefined) expect(() => multibaseDecode(text)).toThrow(DecodeError);
        else expect(hexEncode(multibaseDecode(text))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
    for (const bad of ['z 1', 'z1 ', 'z\u00e9', 'z\u4e2d', 'z0', 'zI', 'zO', 'zl']) {
      expect(() => multibaseDecode(bad)).toThrow(DecodeError);
    }
    expect(multibaseDecode('z')).toEqual(new Uint8Array(0));
    expect(multibaseDecode('z111')).toEqual(new Uint8Array(3));
  });

  it('canonicalJson gives the canonicalize package text (or its refusal) for any value', () => {
    const reference = (v: unknown): string => {
      try {
        const text = canonicalize(v);
        // canonicalJson refuses what canonicalize turns into no text at all.
        return text === undefined ? 'throws' : `ok:${text}`;
      } catch {
        return 'throws';
      }
    };
    const ours = (v: unknown): string => {
      try {
        return `ok:${canonicalJson(v)}`;
      } catch (err) {
        expect(err).toBeInstanceOf(ValidationError);
        return 'throws';
      }
    };
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue(), fc.anything({ withBoxedValues: true, withSparseArray: true })),
        (v) => {
          expect(ours(v)).toBe(reference(v));
        },
      ),
      { numRuns: 3000 },
    );
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = { inner: cyclic };
    for (const v of [
      { s: '\ud800' },
      ['x', undefined, 1],
      { n: Number.NaN },
      { d: new Date(0) },
      Object.assign(new Array(3), { 0: 1, 2: 2 }),
      { f: () => 1, u: undefined, k: Symbol('k') },
      { '\u00e9': 1, e: 2, E: 3, '\ud83d\ude00': 4, '': [-0, 1e21, 1e-7] },
      cyclic,
    ]) {
      expect(ours(v)).toBe(reference(v));
    }
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
