/**
 * Errors raised while parsing or resolving DIDs. Each condition has its own class and a stable
 * `code`; `resolutionError` is the W3C/DIF error name the resolver puts in didResolutionMetadata,
 * so methods throw and the resolver maps, without branching on message text.
 */
import { FmpError } from '@fmp/core';

/** W3C DID Resolution error names, plus `methodNotConfigured`, `invalidDidDocument` and `notImplemented` (ours). */
export type DidResolutionErrorCode =
  | 'invalidDid'
  | 'invalidOptions'
  | 'notFound'
  | 'methodNotSupported'
  | 'methodNotConfigured'
  | 'invalidDidDocument'
  | 'notImplemented'
  | 'internalError';

export class DidMethodError extends FmpError {
  readonly resolutionError: DidResolutionErrorCode;
  constructor(
    code: string,
    resolutionError: DidResolutionErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.resolutionError = resolutionError;
  }
}

/** The string is not a DID (or not a valid DID of the method that parsed it). */
export class InvalidDidError extends DidMethodError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('did_invalid', 'invalidDid', message, options);
  }
}

/** Resolution options that are malformed, or that this method cannot honour (a version of a did:key). */
export class InvalidResolutionOptionsError extends DidMethodError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('did_invalid_options', 'invalidOptions', message, options);
  }
}

/** The DID is well formed but nothing is registered under it. */
export class DidNotFoundError extends DidMethodError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('did_not_found', 'notFound', message, options);
  }
}

/** The method (or a key type within a method) is not supported by this resolver. */
export class DidMethodNotSupportedError extends DidMethodError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('did_method_not_supported', 'methodNotSupported', message, options);
  }
}

/** The method is supported but needs a network endpoint (RPC, ION node) that was not configured. */
export class DidMethodNotConfiguredError extends DidMethodError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('did_method_not_configured', 'methodNotConfigured', message, options);
  }
}

/** A host refused by the resolver's configuration (hostFilter) before any request was made. */
export class DidHostRefusedError extends DidMethodError {
  constructor(message: string) {
    super('did_host_refused', 'methodNotSupported', message);
  }
}

/** A fetched or decoded DID document failed the schema or does not belong to the DID. */
export class InvalidDidDocumentError extends DidMethodError {
  readonly issues: readonly { path: string; message: string }[];
  constructor(
    message: string,
    issues: readonly { path: string; message: string }[] = [],
    options?: { cause?: unknown },
  ) {
    super('did_document_invalid', 'invalidDidDocument', message, options);
    this.issues = issues;
  }
}

/** A network request failed (connection error or non-success HTTP status other than 404/410). */
export class DidFetchError extends DidMethodError {
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super('did_fetch_failed', 'internalError', message, options);
    this.status = status;
  }
}

/** A network request took longer than its configured timeout. */
export class DidFetchTimeoutError extends DidMethodError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('did_fetch_timeout', 'internalError', message, options);
  }
}

/** A response body exceeded the configured byte limit. */
export class DidResponseTooLargeError extends DidMethodError {
  constructor(message: string) {
    super('did_response_too_large', 'internalError', message);
  }
}

/** No verification method with that id in the document (or not in the requested relationship). */
export class NoSuchVerificationMethodError extends FmpError {
  constructor(message: string) {
    super('verification_method_not_found', message);
  }
}

/** The verification method exists but does not carry a key of the requested kind. */
export class UnsupportedVerificationMethodError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('verification_method_unsupported', message, options);
  }
}
