import { ed25519 } from '@fmp/core';
import { describe, expect, it } from 'vitest';
import { NoSuchVerificationMethodError, UnsupportedVerificationMethodError } from './errors.js';
import { didKeyDocument, didKeyFromEd25519PublicKey } from './key.js';
import { DidDocumentSchema } from './types.js';
import { ed25519PublicKeyBytes, findVerificationMethod, getEd25519PublicKey } from './verification.js';

const key = ed25519.keyPairFromSeed(new Uint8Array(32).fill(2));
const did = didKeyFromEd25519PublicKey(key.publicKey);
const doc = didKeyDocument(did);
const fingerprint = did.slice('did:key:'.length);

describe('verification method lookup', () => {
  it('finds listed and embedded methods, relative or absolute, and checks the relationship', () => {
    expect(getEd25519PublicKey(doc, `#${fingerprint}`, 'authentication')).toEqual(key.publicKey);
    expect(getEd25519PublicKey(doc, `${did}#${fingerprint}`)).toEqual(key.publicKey);
    const ka = (doc.keyAgreement![0] as { id: string }).id;
    expect(findVerificationMethod(doc, ka, 'keyAgreement').type).toBe('X25519KeyAgreementKey2020');
    expect(findVerificationMethod(doc, ka).type).toBe('X25519KeyAgreementKey2020');
    expect(() => findVerificationMethod(doc, ka, 'authentication')).toThrow(NoSuchVerificationMethodError);
    expect(() => findVerificationMethod(doc, '#nope')).toThrow(NoSuchVerificationMethodError);
    // An X25519 key is not a signing key.
    expect(() => getEd25519PublicKey(doc, ka)).toThrow(UnsupportedVerificationMethodError);
  });

  it('reads Ed25519 keys from JsonWebKey2020 and refuses other curves', () => {
    const x = Buffer.from(key.publicKey).toString('base64url');
    const jwk = {
      id: '#j',
      type: 'JsonWebKey2020',
      controller: did,
      publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x },
    };
    expect(ed25519PublicKeyBytes(jwk)).toEqual(key.publicKey);
    expect(() => ed25519PublicKeyBytes({ ...jwk, publicKeyJwk: { kty: 'EC', crv: 'P-256', x } })).toThrow(
      UnsupportedVerificationMethodError,
    );
    expect(() =>
      ed25519PublicKeyBytes({ id: '#m', type: 'Multikey', controller: did, publicKeyMultibase: 'zzz' }),
    ).toThrow(UnsupportedVerificationMethodError);
  });

  it('the document schema accepts what we produce and refuses keyless known types', () => {
    expect(DidDocumentSchema.safeParse(doc).success).toBe(true);
    const bad = {
      id: did,
      verificationMethod: [{ id: '#k', type: 'Ed25519VerificationKey2020', controller: did }],
    };
    expect(DidDocumentSchema.safeParse(bad).success).toBe(false);
    expect(DidDocumentSchema.safeParse({ id: 'not-a-did' }).success).toBe(false);
  });
});
