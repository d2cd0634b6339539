/**
 * Federation lifecycle between the two end hubs of a federation that spans hubs
 * (docs/routing.md, "Federation across hubs"). The coordinating hub keeps the other end's hub in
 * step with a signed FederationAnnounce (peering/frames.ts); this module adds the other direction:
 * a status change decided at either end hub (its operator, a credential revoked or restored, a
 * Terminate, a renewal coordinated there) travels to the hub of the other end as a signed
 * `FederationStatusUpdate` inside a Relay, so both hubs agree.
 *
 * @example
 * ```ts
 * const unsigned = { hub: myDid, federationId, handshakeId, status: 'suspended', reason: 'credential_revoked',
 *   expiresAt, updatedAt: Date.now(), verificationMethod: `${myDid}#key-1` };
 * const frame = { type: 'FederationStatusUpdate', ...unsigned,
 *   signature: multibaseEncode(ed25519.sign(federationStatusUpdateDigest(unsigned), keyPair)) };
 * ```
 */
import {
  canonicalBytes,
  federationStatusSchema,
  HandshakeDidSchema,
  HandshakeUuidSchema,
  registeredFrameTypes,
  registerFrameSchema,
  SignatureMultibaseSchema,
  sha256,
  TimestampMsSchema,
  VerificationMethodIdSchema,
} from '@fmp/core';
import { z } from 'zod';

export const FEDERATION_STATUS_UPDATE_DOMAIN = 'fmp/1 federation-status-update';

/**
 * An end hub -> the other end hub (inside a Relay toward the other end's mesh and hub): the
 * federation changed status (or, after a renewal, expiresAt). Signed by the sending hub, so hubs in
 * between can neither forge nor alter it; `updatedAt` (the sender's clock) orders updates and
 * bounds replays.
 */
export const FederationStatusUpdateSchema = z.strictObject({
  type: z.literal('FederationStatusUpdate'),
  /** The hub that decided the change: one of the two end hubs of the federation's path. */
  hub: HandshakeDidSchema,
  federationId: HandshakeUuidSchema,
  /** The handshake of the federation's current session keys (changes on renewal). */
  handshakeId: HandshakeUuidSchema,
  status: federationStatusSchema,
  reason: z.string().max(256),
  expiresAt: TimestampMsSchema,
  updatedAt: TimestampMsSchema,
  verificationMethod: VerificationMethodIdSchema,
  signature: SignatureMultibaseSchema,
});
export type FederationStatusUpdate = z.infer<typeof FederationStatusUpdateSchema>;
export type FederationStatusUpdateBinding = Omit<FederationStatusUpdate, 'type' | 'signature'>;

declare module '@fmp/core' {
  interface FrameTypeMap {
    FederationStatusUpdate: FederationStatusUpdate;
  }
}

// Guarded so a second copy of this module (tests, tooling) does not throw on re-registration.
if (!registeredFrameTypes().includes('FederationStatusUpdate')) {
  registerFrameSchema('FederationStatusUpdate', FederationStatusUpdateSchema);
}

/** SHA-256 of JCS({domain, hub, federationId, handshakeId, status, reason, expiresAt, updatedAt, verificationMethod}). */
export function federationStatusUpdateDigest(b: FederationStatusUpdateBinding): Uint8Array {
  return sha256(
    canonicalBytes({
      domain: FEDERATION_STATUS_UPDATE_DOMAIN,
      hub: b.hub,
      federationId: b.federationId,
      handshakeId: b.handshakeId,
      status: b.status,
      reason: b.reason,
      expiresAt: b.expiresAt,
      updatedAt: b.updatedAt,
      verificationMethod: b.verificationMethod,
    }),
  );
}
