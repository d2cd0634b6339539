/**
 * Mesh node errors: one class per condition. Those caused by the peer or the hub carry the wire
 * code they answered with (`wireCode`), so callers can branch on it.
 */
import { FmpError, type WireErrorCode } from '@fmp/core';

/** Options failed their schema. */
export class NodeConfigError extends FmpError {
  readonly issues: readonly { path: string; message: string }[];
  constructor(message: string, issues: readonly { path: string; message: string }[] = []) {
    super('node_config_invalid', message);
    this.issues = issues;
  }
}

/** The hub refused the node's authentication (bad signature, untrusted or revoked credential, ...). */
export class NodeAuthenticationError extends FmpError {
  readonly wireCode: WireErrorCode;
  constructor(wireCode: WireErrorCode, message: string) {
    super('node_authentication_failed', message);
    this.wireCode = wireCode;
  }
}

/** The link to the hub could not be opened or was lost before an answer came. */
export class NodeConnectionError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('node_connection_failed', message, options);
  }
}

/** An operation that needs an authenticated link was called while disconnected or stopped. */
export class NodeNotConnectedError extends FmpError {
  constructor(message = 'the node is not connected to its hub') {
    super('node_not_connected', message);
  }
}

/** A federation handshake failed for good (after the retries spec 3.3 allows). */
export class FederationFailedError extends FmpError {
  readonly wireCode: WireErrorCode;
  readonly reason: string;
  constructor(wireCode: WireErrorCode, reason: string) {
    super('federation_failed', `federation failed (${wireCode}): ${reason}`);
    this.wireCode = wireCode;
    this.reason = reason;
  }
}

/** No usable federation with this id (unknown, not active, or its keys were lost in a restart). */
export class UnknownFederationError extends FmpError {
  constructor(federationId: string, why: string) {
    super('unknown_federation', `federation ${federationId}: ${why}`);
  }
}

/** A message was refused by the hub or the target, or never acknowledged. */
export class DeliveryError extends FmpError {
  readonly wireCode: WireErrorCode | 'timeout';
  readonly messageId: string;
  readonly retryAfterMs: number | undefined;
  constructor(
    messageId: string,
    wireCode: WireErrorCode | 'timeout',
    message: string,
    retryAfterMs?: number,
  ) {
    super('delivery_failed', `message ${messageId}: ${wireCode}: ${message}`);
    this.wireCode = wireCode;
    this.messageId = messageId;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Too many operations in flight (sends, discoveries, handshakes). */
export class NodeBusyError extends FmpError {
  constructor(what: string, limit: number) {
    super('node_busy', `at most ${limit} ${what} in flight`);
  }
}

/** A request to the hub got no answer in time. */
export class NodeTimeoutError extends FmpError {
  constructor(what: string) {
    super('node_timeout', `${what} timed out`);
  }
}
