/**
 * Typed errors of the credential module. Thrown errors (one class per condition) are for the issuer
 * side and the document loader; verification never throws for a bad credential, it returns
 * `VerificationIssue`s whose `code` is one of `VERIFICATION_ERROR_CODES`.
 */
import { FmpError } from '@fmp/core';

/** Every reason `verifyCredential` can give for `verified: false`. Stable strings: branch on these. */
export const VERIFICATION_ERROR_CODES = [
  /** Not a credential we accept (shape, dates, sizes, a proof we do not support). */
  'malformed',
  /** A JSON-LD context URL that is not bundled: nothing is ever fetched. */
  'unknown_context',
  /** The signature does not verify (tampered data, wrong key). */
  'invalid_proof',
  /** The proof's verification method could not be resolved (DID not found, no such key). */
  'unresolvable_verification_method',
  /** The verification method is not an assertion method of the issuer (issuer != controller). */
  'verification_method_mismatch',
  /** The credential's expirationDate / validUntil has passed. */
  'expired',
  /** The credential's issuanceDate / validFrom is still in the future. */
  'not_yet_valid',
  /** The issuer is not in the caller's trusted list. */
  'untrusted_issuer',
  /** The status list marks the credential revoked. */
  'revoked',
  /** The status list marks the credential suspended. */
  'suspended',
  /** The status list could not be loaded, verified or read: fail closed. */
  'status_check_failed',
] as const;

export type VerificationErrorCode = (typeof VERIFICATION_ERROR_CODES)[number];

export interface VerificationIssue {
  readonly code: VerificationErrorCode;
  readonly message: string;
}

/** The document loader was asked for a URL that is not bundled. Nothing touches the network. */
export class UnknownContextError extends FmpError {
  readonly url: string;
  constructor(url: string) {
    super('unknown_context', `JSON-LD document "${url}" is not bundled; refusing to fetch it`);
    this.url = url;
  }
}

/** A DID in a proof or credential could not be resolved through the injected resolver. */
export class DidResolutionError extends FmpError {
  readonly did: string;
  constructor(did: string, message: string, options?: { cause?: unknown }) {
    super('did_unresolvable', message, options);
    this.did = did;
  }
}

/** The DID resolved, but its document has no verification method with that id. */
export class VerificationMethodNotFoundError extends FmpError {
  readonly verificationMethod: string;
  constructor(verificationMethod: string) {
    super('verification_method_not_found', `DID document has no verification method "${verificationMethod}"`);
    this.verificationMethod = verificationMethod;
  }
}

/** The signing library refused the credential or failed while signing it. */
export class CredentialIssuanceError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('issuance_failed', message, options);
  }
}

/** Every index of a status list is allocated. */
export class StatusListFullError extends FmpError {
  readonly statusListCredential: string;
  constructor(statusListCredential: string) {
    super('status_list_full', `status list "${statusListCredential}" has no free index`);
    this.statusListCredential = statusListCredential;
  }
}

/** An index outside a status list, or one the registry never allocated. */
export class StatusIndexError extends FmpError {
  readonly index: number;
  constructor(index: number, message: string) {
    super('status_index_invalid', message);
    this.index = index;
  }
}

/**
 * Finds an error of `type` inside what jsonld.js / jsonld-signatures throw or return: they wrap
 * loader errors in `cause` or `details.cause`, and collect several in arrays.
 */
export function findError<T>(
  error: unknown,
  type: abstract new (...args: never[]) => T,
  depth = 0,
): T | null {
  if (depth > 8 || !error || typeof error !== 'object') return null;
  if (error instanceof type) return error;
  if (Array.isArray(error)) {
    for (const e of error) {
      const found = findError(e, type, depth + 1);
      if (found) return found;
    }
    return null;
  }
  const e = error as { cause?: unknown; details?: { cause?: unknown } };
  return findError(e.cause, type, depth + 1) ?? findError(e.details?.cause, type, depth + 1);
}
