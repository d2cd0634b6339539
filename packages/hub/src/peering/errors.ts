/**
 * Local errors of hub peering, one class per condition. They reach the hub through
 * `onRefused`; what the other hub sees is the error frame with the `wireCode`.
 */
import { FmpError, type WireErrorCode } from '@fmp/core';

/** The other hub is not in allowedPeers (or not the hub this link was dialed for). Wire: unauthorized. */
export class PeerNotAllowedError extends FmpError {
  readonly wireCode: WireErrorCode = 'unauthorized';
  constructor(message: string, options?: { cause?: unknown }) {
    super('peer_not_allowed', message, options);
  }
}

/** The other hub's key could not be resolved or its signature did not verify. */
export class PeerAuthenticationError extends FmpError {
  readonly wireCode: WireErrorCode;
  constructor(
    wireCode: 'invalid_signature' | 'did_resolution_failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super('peer_auth_failed', message, options);
    this.wireCode = wireCode;
  }
}

/** The link handshake broke the protocol: wrong order, clock skew, timeout, malformed frame. */
export class PeerProtocolError extends FmpError {
  readonly wireCode: WireErrorCode;
  constructor(wireCode: WireErrorCode, message: string, options?: { cause?: unknown }) {
    super('peer_protocol_error', message, options);
    this.wireCode = wireCode;
  }
}

/** The other hub refused this link with an error frame (its code is in wireCode). */
export class PeerRefusedError extends FmpError {
  readonly wireCode: WireErrorCode;
  constructor(wireCode: WireErrorCode, message: string) {
    super('peer_refused', message);
    this.wireCode = wireCode;
  }
}

export type PeerLinkError =
  | PeerNotAllowedError
  | PeerAuthenticationError
  | PeerProtocolError
  | PeerRefusedError;
