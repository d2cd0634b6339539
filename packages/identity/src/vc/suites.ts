/**
 * The three proof suites we issue and accept, built on the Digital Bazaar implementations with
 * signing done by @fmp/core (libsodium), so private keys never enter the JS key libraries.
 */

import { DataIntegrityProof } from '@digitalbazaar/data-integrity';
import { Ed25519Signature2020 } from '@digitalbazaar/ed25519-signature-2020';
import { createSignCryptosuite, createVerifyCryptosuite } from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import { cryptosuite as rdfcCryptosuite } from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import type { Ed25519KeyPair } from '@fmp/core';
import { ed25519 } from '@fmp/core';

export const PROOF_SUITES = ['Ed25519Signature2020', 'eddsa-rdfc-2022', 'eddsa-jcs-2022'] as const;
export type ProofSuiteName = (typeof PROOF_SUITES)[number];

/** Who signs: the key pair, the issuer DID, and the id of the key in the issuer's DID document. */
export interface CredentialSigner {
  readonly keyPair: Ed25519KeyPair;
  readonly issuer: string;
  readonly verificationMethod: string;
}

function ldSigner(signer: CredentialSigner): LdSigner {
  return {
    id: signer.verificationMethod,
    algorithm: 'Ed25519',
    sign: async ({ data }) => ed25519.sign(data, signer.keyPair),
  };
}

export function signingSuite(name: ProofSuiteName, signer: CredentialSigner, created: string): LdSuite {
  const s = ldSigner(signer);
  switch (name) {
    case 'Ed25519Signature2020':
      return new Ed25519Signature2020({ signer: s, date: created });
    case 'eddsa-rdfc-2022':
      return new DataIntegrityProof({ signer: s, date: created, cryptosuite: rdfcCryptosuite });
    case 'eddsa-jcs-2022':
      return new DataIntegrityProof({ signer: s, date: created, cryptosuite: createSignCryptosuite() });
  }
}

/** Fresh instances per verification: the suites keep a per-document hash cache. */
export function verificationSuites(): LdSuite[] {
  return [
    new Ed25519Signature2020(),
    new DataIntegrityProof({ cryptosuite: rdfcCryptosuite }),
    new DataIntegrityProof({ cryptosuite: createVerifyCryptosuite() }),
  ];
}

export function suiteOfProof(proof: { type: string; cryptosuite?: string }): ProofSuiteName | null {
  if (proof.type === 'Ed25519Signature2020') return 'Ed25519Signature2020';
  if (proof.type === 'DataIntegrityProof' && proof.cryptosuite === 'eddsa-rdfc-2022')
    return 'eddsa-rdfc-2022';
  if (proof.type === 'DataIntegrityProof' && proof.cryptosuite === 'eddsa-jcs-2022') return 'eddsa-jcs-2022';
  return null;
}
