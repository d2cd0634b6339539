/**
 * Verifiable credentials (spec 4.3): issue, verify and revoke W3C credentials with every JSON-LD
 * context bundled (nothing is fetched), three proof suites (Ed25519Signature2020, eddsa-rdfc-2022,
 * eddsa-jcs-2022), VC data model 1.1 and 2.0, Bitstring Status List revocation and a verification
 * cache.
 *
 * @example
 * ```ts
 * import { ed25519 } from '@fmp/core';
 * import { issueMeshAgentCredential, StatusListRegistry, VerificationCache, verifyCredential } from '@fmp/identity';
 *
 * const signer = { keyPair: ed25519.generateKeyPair(), issuer: did, verificationMethod: `${did}#key-1` };
 * const statusList = await StatusListRegistry.create({ id: 'https://hub.example/status/1', signer });
 * const status = statusList.allocate();
 * const vc = await issueMeshAgentCredential({
 *   signer,
 *   subject: { id: 'did:mesh:enterprise:acme-001', meshCapabilities: ['ml.inference'],
 *              complianceCertifications: ['GDPR'], trustLevel: 85 },
 *   validUntil: new Date('2026-10-30T00:00:00Z'),
 *   status,
 * });
 *
 * const cache = new VerificationCache();
 * cache.watch(statusList); // revocations drop cached results at once
 * const result = await verifyCredential(vc, {
 *   resolveDid,                          // (did) => DID document | null, e.g. from ../did
 *   trustedIssuers: [did],
 *   statusListLoader: statusList.loader, // or (url) => fetch the published list
 *   cache,
 * });
 * if (!result.verified) console.log(result.errors); // [{ code: 'revoked', message: ... }, ...]
 * await statusList.revoke(status.statusListIndex);
 * ```
 */
export { VerificationCache, type VerificationCacheOptions } from './cache.js';
export {
  BUNDLED_CONTEXTS,
  createDocumentLoader,
  DATA_INTEGRITY_V2_CONTEXT_URL,
  DID_V1_CONTEXT_URL,
  type DocumentLoader,
  type DocumentLoaderOptions,
  ED25519_2020_CONTEXT_URL,
  FMP_CONTEXT_V1_URL,
  MULTIKEY_V1_CONTEXT_URL,
  type ResolveDid,
  STATUS_LIST_V1_CONTEXT_URL,
  VC_V1_CONTEXT_URL,
  VC_V2_CONTEXT_URL,
} from './contexts.js';
export {
  CredentialIssuanceError,
  DidResolutionError,
  StatusIndexError,
  StatusListFullError,
  UnknownContextError,
  VERIFICATION_ERROR_CODES,
  type VerificationErrorCode,
  type VerificationIssue,
  VerificationMethodNotFoundError,
} from './errors.js';
export {
  type CredentialStatusInput,
  type DataModel,
  type IssueCredentialOptions,
  issueCredential,
  issueMeshAgentCredential,
  type SignCredentialOptions,
  signCredential,
  type VerifiableCredential,
} from './issue.js';
export type { MeshAgentClaims } from './schema.js';
export {
  DEFAULT_STATUS_LIST_LENGTH,
  type StatusListLoader,
  StatusListRegistry,
  type StatusListRegistryOptions,
} from './status.js';
export { type CredentialSigner, PROOF_SUITES, type ProofSuiteName } from './suites.js';
export {
  type VerificationResult,
  type VerifyCredentialOptions,
  verifyCachedCredential,
  verifyCredential,
} from './verify.js';
