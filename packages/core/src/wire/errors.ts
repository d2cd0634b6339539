/**
 * Wire errors: the stable codes an error frame carries (docs/protocol.md lists each). Unlike the
 * local errors in ../errors.ts these cross process boundaries, so codes never change meaning.
 * To add a code: add it here and document it in docs/protocol.md.
 */
import { FmpError } from '../errors.js';

export const WIRE_ERROR_CODES = {
  malformed_frame: 'The frame is not valid JSON or fails its message schema.',
  unsupported_version: 'The protocol version is not one this peer speaks.',
  message_too_large: 'The frame exceeds the maximum frame size.',
  invalid_signature: 'A signature does not verify against the signer DID key.',
  replay_detected: 'A nonce, handshakeId or messageId was seen before.',
  clock_skew: 'The timestamp lies outside the accepted window.',
  expired: 'The handshake, federation or credential has expired.',
  unknown_handshake: 'No pending handshake has this handshakeId (or it belongs to another initiator).',
  unknown_federation: 'No federation has this federationId.',
  unknown_mesh: 'No mesh with this DID is known or attached.',
  out_of_order: 'The message is not valid in the current state of the exchange.',
  credential_invalid: 'The verifiable credential failed verification.',
  credential_revoked: 'The verifiable credential has been revoked.',
  did_resolution_failed: 'The DID could not be resolved.',
  trust_too_low: 'The trust score is below the required minimum.',
  handshake_rejected: 'The target mesh declined the federation.',
  handshake_timeout: 'A handshake phase did not complete in time.',
  key_confirmation_failed: 'The session keys derived by both sides do not match.',
  too_many_handshakes:
    'Too many handshakes are pending, in total or for this mesh; retry after retryAfterMs.',
  hop_limit_exceeded: 'hopCount reached maxHops.',
  routing_loop: 'The message already traversed this hub.',
  unreachable: 'No route to the target mesh.',
  rate_limited: 'The federation exceeded its quota; retry after retryAfterMs.',
  policy_denied: 'Local policy denied the action.',
  compliance_denied: 'A compliance adapter denied the transaction.',
  unauthorized: 'The peer is not authenticated for this action.',
  not_implemented: 'The feature is named by the specification but not implemented yet.',
  internal_error: 'The peer failed while processing a valid request.',
  decryption_failed: 'A sealed payload did not authenticate under the federation session key.',
} as const;

export type WireErrorCode = keyof typeof WIRE_ERROR_CODES;
export const WIRE_ERROR_CODE_LIST = Object.keys(WIRE_ERROR_CODES) as [WireErrorCode, ...WireErrorCode[]];

/** A failure that must be reported to the peer as an error frame with a stable wire code. */
export class ProtocolError extends FmpError {
  readonly wireCode: WireErrorCode;
  readonly retryAfterMs: number | undefined;
  constructor(
    wireCode: WireErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(wireCode, message, options);
    this.wireCode = wireCode;
    this.retryAfterMs = options?.retryAfterMs;
  }
}
