/**
 * Hub errors (local: one class per condition) and the single HTTP error boundary that maps them,
 * and the core error classes, to a status code and a JSON body `{ error: { code, message } }`.
 */

import {
  DecodeError,
  FmpError,
  InvalidSignatureError,
  NotImplementedError,
  ProtocolError,
  ValidationError,
  WIRE_ERROR_CODES,
} from '@fmp/core';
import { MeshRegistryClosedError, MeshRegistryError, MeshStoreError } from '@fmp/identity';
import {
  LedgerMirrorError,
  LedgerRejectedError,
  LedgerUnavailableError,
  LogBusyError,
  NoteError,
} from '@fmp/ledger';
import { LedgerForwardError, LedgerRoleError } from './ledger.js';

/** Hub options failed their schema. */
export class HubConfigError extends FmpError {
  readonly issues: readonly { path: string; message: string }[];
  constructor(message: string, issues: readonly { path: string; message: string }[] = []) {
    super('hub_config_invalid', message);
    this.issues = issues;
  }
}

/** start() on a running hub, or an operation on a stopped one. */
export class HubStateError extends FmpError {
  constructor(message: string) {
    super('hub_state', message);
  }
}

/** An admin request without a valid bearer token. */
export class AdminUnauthorizedError extends FmpError {
  constructor() {
    super('admin_unauthorized', 'a valid admin bearer token is required');
  }
}

/** A resource named in the URL does not exist. */
export class NotFoundError extends FmpError {
  constructor(what: string) {
    super('not_found', `${what} not found`);
  }
}

/** The request is valid but conflicts with the current state (e.g. resuming a terminated federation). */
export class ConflictError extends FmpError {
  constructor(message: string) {
    super('conflict', message);
  }
}

/** A request body larger than the endpoint accepts. */
export class PayloadTooLargeError extends FmpError {
  constructor(limit: number) {
    super('payload_too_large', `request body exceeds ${limit} bytes`);
  }
}

/** Too many requests from one client. */
export class TooManyRequestsError extends FmpError {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super('rate_limited', 'too many requests');
    this.retryAfterMs = retryAfterMs;
  }
}

export interface HttpErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly issues?: unknown };
}

const PROTOCOL_STATUS: Partial<Record<keyof typeof WIRE_ERROR_CODES, number>> = {
  malformed_frame: 400,
  message_too_large: 413,
  unauthorized: 401,
  invalid_signature: 400,
  unknown_mesh: 404,
  unknown_federation: 404,
  rate_limited: 429,
  policy_denied: 403,
  not_implemented: 501,
};

/** The one HTTP error boundary: error class -> status and body. Internal messages never leak. */
export function httpError(err: unknown): { status: number; body: HttpErrorBody; retryAfterMs?: number } {
  if (err instanceof AdminUnauthorizedError)
    return { status: 401, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof NotFoundError)
    return { status: 404, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof ConflictError)
    return { status: 409, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof PayloadTooLargeError)
    return { status: 413, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof TooManyRequestsError) {
    return {
      status: 429,
      body: { error: { code: err.code, message: err.message } },
      retryAfterMs: err.retryAfterMs,
    };
  }
  if (err instanceof ValidationError) {
    return {
      status: 400,
      body: { error: { code: 'invalid_request', message: err.message, issues: err.issues.slice(0, 20) } },
    };
  }
  if (err instanceof DecodeError)
    return { status: 400, body: { error: { code: 'invalid_request', message: err.message } } };
  if (err instanceof InvalidSignatureError)
    return { status: 400, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof NotImplementedError)
    return { status: 501, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof ProtocolError) {
    return {
      status: PROTOCOL_STATUS[err.wireCode] ?? 400,
      body: { error: { code: err.wireCode, message: err.message } },
      ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
    };
  }
  // The ledger refused an entry (funds, stage, signature, sequence): the client must change it.
  if (err instanceof LedgerRejectedError)
    return { status: 422, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof LedgerForwardError)
    return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof LedgerRoleError)
    return { status: 409, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof NoteError)
    return { status: 400, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof LedgerMirrorError)
    return { status: 502, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof LogBusyError || err instanceof LedgerUnavailableError)
    return { status: 503, body: { error: { code: err.code, message: err.message } } };
  // did:mesh registry errors (bad signature, chain, fork, ...) are FmpErrors with their own codes:
  // the client sent an operation that does not verify.
  if (
    err instanceof MeshRegistryError &&
    !(err instanceof MeshStoreError || err instanceof MeshRegistryClosedError)
  ) {
    return { status: 400, body: { error: { code: err.code, message: err.message } } };
  }
  return {
    status: 500,
    body: { error: { code: 'internal_error', message: WIRE_ERROR_CODES.internal_error } },
  };
}
