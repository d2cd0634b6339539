/**
 * W3C vc-di-eddsa test vectors (shared/vectors, sources in SOURCES.json): each proofValue is
 * reproduced byte for byte from the vector key pair, unsigned credential and proof configuration,
 * and each signed vector verifies.
 */
import { readFileSync } from 'node:fs';
import { decodeMultikey, ed25519 } from '@fmp/core';
import { describe, expect, it } from 'vitest';
import { signCredential } from './issue.js';
import type { ProofSuiteName } from './suites.js';
import { didKeyIdentity, staticResolver } from './test-support.js';
import { verifyCredential } from './verify.js';

const VECTORS = new URL('../../../../../shared/vectors/', import.meta.url);
const vector = (name: string) =>
  JSON.parse(readFileSync(new URL(`vc-di-eddsa-${name}.json`, VECTORS), 'utf8')) as Record<string, unknown>;

// The VC 2.0 examples context (https://www.w3.org/ns/credentials/examples/v2) is in no npm package.
// Its whole published text is this one @vocab; reproducing the rdfc-2022 proofValue below depends
// on every triple it yields, so a wrong copy could not pass. Test-only: production does not load it.
const EXAMPLES_V2 = 'https://www.w3.org/ns/credentials/examples/v2';
const extraContexts = new Map([
  [EXAMPLES_V2, { '@context': { '@vocab': 'https://www.w3.org/ns/credentials/examples#' } }],
]);

const keyPairJson = vector('keyPair') as { publicKeyMultibase: string; privateKeyMultibase: string };
const secret = decodeMultikey(keyPairJson.privateKeyMultibase);
const keyPair = ed25519.keyPairFromSeed(secret.key);
const identity = didKeyIdentity(keyPair);
const resolveDid = staticResolver(identity.document);
const unsigned = vector('unsigned');

const cases: { suite: ProofSuiteName; config: string; signed: string }[] = [
  {
    suite: 'Ed25519Signature2020',
    config: 'Ed25519Signature2020_proofConfigEdSig',
    signed: 'Ed25519Signature2020_signedEdSig',
  },
  {
    suite: 'eddsa-rdfc-2022',
    config: 'eddsa-rdfc-2022_proofConfigDataInt',
    signed: 'eddsa-rdfc-2022_signedDataInt',
  },
  { suite: 'eddsa-jcs-2022', config: 'eddsa-jcs-2022_proofConfigJCS', signed: 'eddsa-jcs-2022_signedJCS' },
];

describe('vc-di-eddsa vectors', () => {
  it('the vector key pair is the did:key the proofs name', () => {
    expect(secret.codec).toBe('ed25519-priv');
    expect(identity.did).toBe(`did:key:${keyPairJson.publicKeyMultibase}`);
  });

  for (const { suite, config, signed } of cases) {
    it(`${suite}: reproduces the proofValue byte for byte`, async () => {
      const proofConfig = vector(config);
      const expected = vector(signed);
      const input = { ...unsigned, '@context': proofConfig['@context'] } as Record<string, unknown>;
      const out = await signCredential(input, {
        signer: {
          keyPair,
          issuer: unsigned.issuer as string,
          verificationMethod: identity.verificationMethod,
        },
        suite,
        created: proofConfig.created as string,
        extraContexts,
      });
      const { proof, ...document } = out;
      const { proof: expectedProof, ...expectedDocument } = expected;
      expect(proof.proofValue).toBe((expectedProof as { proofValue: string }).proofValue);
      expect(proof).toEqual(expectedProof);
      expect(document).toEqual(expectedDocument);
    });

    it(`${suite}: the signed vector's proof verifies, and the issuer binding is checked`, async () => {
      const result = await verifyCredential(vector(signed), {
        resolveDid,
        extraContexts,
        now: new Date('2024-01-01T00:00:00Z'),
      });
      // The vectors' issuer is an https URL, not the did:key that signed: the signature is good,
      // so the only complaint is the binding.
      expect(result.verified).toBe(false);
      expect(result.errors.map((e) => e.code)).toEqual(['verification_method_mismatch']);
      expect(result.proofSuite).toBe(suite);
    });

    it(`${suite}: a signed vector re-issued under the key's own DID verifies fully`, async () => {
      const input = { ...unsigned, '@context': vector(config)['@context'], issuer: identity.did };
      const out = await signCredential(input, {
        signer: identity.signer,
        suite,
        created: vector(config).created as string,
        extraContexts,
      });
      const result = await verifyCredential(out, {
        resolveDid,
        extraContexts,
        now: new Date('2024-01-01T00:00:00Z'),
      });
      expect(result.errors).toEqual([]);
      expect(result.verified).toBe(true);
    });

    it(`${suite}: a changed claim in the signed vector fails the proof`, async () => {
      const tampered = vector(signed) as { credentialSubject: { alumniOf: string } };
      tampered.credentialSubject.alumniOf = 'The School of Forgeries';
      const result = await verifyCredential(tampered, {
        resolveDid,
        extraContexts,
        now: new Date('2024-01-01T00:00:00Z'),
      });
      expect(result.errors.map((e) => e.code)).toEqual(['invalid_proof']);
    });
  }

  it('rdfc-2022 employ vector: its citizenship context is not bundled (no npm package has it)', async () => {
    const result = await verifyCredential(vector('eddsa-rdfc-2022_employ_signedDataInt'), {
      resolveDid,
      extraContexts,
      now: new Date('2024-01-01T00:00:00Z'),
    });
    expect(result.verified).toBe(false);
    expect(result.errors).toEqual([
      { code: 'unknown_context', message: expect.stringContaining('https://w3id.org/citizenship/v4rc1') },
    ]);
  });
});
