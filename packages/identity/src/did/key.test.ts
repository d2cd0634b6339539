import { readFileSync } from 'node:fs';
import { base64urlDecode, canonicalJson, ed25519, encodeMultikey, x25519 } from '@fmp/core';
import { base58btc } from 'multiformats/bases/base58';
import { describe, expect, it } from 'vitest';
import { DidMethodNotSupportedError, InvalidDidError } from './errors.js';
import { didKey, didKeyDocument, didKeyFromEd25519PublicKey, ed25519PublicKeyFromDidKey } from './key.js';
import { parseDid } from './parse.js';
import { absoluteId, ed25519PublicKeyBytes, getEd25519PublicKey } from './verification.js';

const VECTORS = '/work/shared/vectors';
const load = (name: string) => JSON.parse(readFileSync(`${VECTORS}/${name}`, 'utf8'));

interface LegacyKey {
  [extension: string]: unknown;
  id: string;
  type: string;
  controller: string;
  publicKeyBase58?: string;
  privateKeyBase58?: string;
  publicKeyJwk?: { x: string };
  privateKeyJwk?: { d: string };
}
interface Vector {
  seed: string;
  verificationKeyPair: LegacyKey;
  keyAgreementKeyPair: LegacyKey;
  didDocument: {
    id: string;
    verificationMethod: { id: string }[];
    keyAgreement: (string | { id: string })[];
  };
}

describe('did:key (w3c-ccg did-method-key ed25519-x25519 vectors)', () => {
  const vectors = load('didkey-ed25519-x25519.json') as Record<string, Vector>;

  it.each(Object.entries(vectors))('%s: derives the DID and both keys from the seed', (did, v) => {
    const keys = ed25519.keyPairFromSeed(Buffer.from(v.seed, 'hex'));
    expect(didKeyFromEd25519PublicKey(keys.publicKey)).toBe(did);
    // Vectors give keys either as base58 (2018/2019 suites) or as JWKs (JsonWebKey2020).
    expect(ed25519PublicKeyBytes(v.verificationKeyPair)).toEqual(keys.publicKey);
    const xPub = x25519.publicKeyFromEd25519(keys.publicKey);
    const ka = v.keyAgreementKeyPair;
    expect(xPub).toEqual(
      ka.publicKeyBase58 ? base58btc.baseDecode(ka.publicKeyBase58) : base64urlDecode(ka.publicKeyJwk!.x),
    );
    expect(x25519.secretKeyFromEd25519(keys)).toEqual(
      ka.privateKeyBase58 ? base58btc.baseDecode(ka.privateKeyBase58) : base64urlDecode(ka.privateKeyJwk!.d),
    );

    // The vector documents use the 2018/2019 suites; compare ids and key bytes, not type names.
    const doc = didKeyDocument(did);
    expect(doc.id).toBe(v.didDocument.id);
    expect(doc.verificationMethod![0]!.id).toBe(v.didDocument.verificationMethod[0]!.id);
    expect(getEd25519PublicKey(doc, v.verificationKeyPair.id, 'authentication')).toEqual(keys.publicKey);
    const docKa = doc.keyAgreement![0] as { id: string; publicKeyMultibase: string };
    expect(docKa.id).toBe(absoluteId(did, ka.id));
    expect(docKa.publicKeyMultibase).toBe(encodeMultikey('x25519-pub', xPub));
  });

  it('reproduces the did-test-suite did:key 2020 document byte for byte (JCS)', async () => {
    const suite = load('did-test-suite-did-key-2020-db.json');
    for (const did of suite.dids as string[]) {
      const expected = suite[did]['application/did+ld+json'];
      const expectedDoc = JSON.parse(expected.representation);
      const result = await didKey().resolve(parseDid(did));
      expect(canonicalJson(result.didDocument)).toBe(canonicalJson(expectedDoc));
      expect(canonicalJson(result.didDocument)).toBe(
        canonicalJson(suite[did].didDocumentDataModel.properties),
      );
    }
  });

  it('uses the multicodec prefixes of the multiformats table', () => {
    const table = load('multiformats-extract.json').multicodec as { name: string; code: string }[];
    const code = (name: string) => Number(table.find((c) => c.name === name)!.code);
    const pub = ed25519.keyPairFromSeed(new Uint8Array(32).fill(7)).publicKey;
    const did = didKeyFromEd25519PublicKey(pub);
    const bytes = base58btc.decode(did.slice('did:key:'.length));
    expect(bytes[0]! | ((bytes[1]! & 0x7f) << 7)).toBe(code('ed25519-pub'));
    const ka = didKeyDocument(did).keyAgreement![0] as { publicKeyMultibase: string };
    const kaBytes = base58btc.decode(ka.publicKeyMultibase);
    expect(kaBytes[0]! | ((kaBytes[1]! & 0x7f) << 7)).toBe(code('x25519-pub'));
  });

  it('refuses other key types as methodNotSupported and garbage as invalidDid', () => {
    const secp = `did:key:${base58btc.encode(Uint8Array.from([0xe7, 0x01, 2, ...new Uint8Array(32).fill(1)]))}`;
    expect(() => ed25519PublicKeyFromDidKey(secp)).toThrow(DidMethodNotSupportedError);
    const p256 = `did:key:${base58btc.encode(Uint8Array.from([0x80, 0x24, 2, ...new Uint8Array(32).fill(1)]))}`;
    expect(() => ed25519PublicKeyFromDidKey(p256)).toThrow(DidMethodNotSupportedError);
    const short = `did:key:${base58btc.encode(Uint8Array.from([0xed, 0x01, 1, 2, 3]))}`;
    expect(() => ed25519PublicKeyFromDidKey(short)).toThrow(InvalidDidError);
    expect(() => ed25519PublicKeyFromDidKey('did:key:abc')).toThrow(InvalidDidError);
    expect(() => ed25519PublicKeyFromDidKey('did:key:z0OIl')).toThrow(InvalidDidError);
    expect(() =>
      ed25519PublicKeyFromDidKey(`did:key:${base58btc.encode(Uint8Array.from([0x55, 1, 2]))}`),
    ).toThrow(InvalidDidError);
  });
});
