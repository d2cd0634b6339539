/**
 * Trust frames on the node-hub link (docs/trust.md):
 *
 * - `TrustAttestation` (spec 5.2, PeerAttestations): one mesh vouches for another with a score.
 *   Signed by the attester over its canonical bytes, so any hub can verify it wherever it travels
 *   (hubs pass attestations on to their peers). The hub answers `TrustAttestationAck` or an error.
 * - `TrustReport`: an authenticated node tells its hub how an interaction with a federated partner
 *   went (a tool call that failed, a policy violation). Not signed: the hub attributes it to the
 *   session it arrived on, and only about partners the reporter is federated with.
 */
import { z } from 'zod';
import type { Ed25519KeyPair } from '../crypto.js';
import { ed25519, sha256 } from '../crypto.js';
import { canonicalBytes, multibaseDecode, multibaseEncode } from '../encoding.js';
import { InvalidSignatureError } from '../errors.js';
import { registerFrameSchema } from './frame.js';
import { SignatureMultibaseSchema, TimestampMsSchema, VerificationMethodIdSchema } from './handshake.js';
import { didSchema, uuidSchema } from './messages.js';

export const TRUST_ATTESTATION_DOMAIN = 'fmp/1 trust-attestation';

export const TrustAttestationSchema = z
  .strictObject({
    type: z.literal('TrustAttestation'),
    id: uuidSchema,
    attester: didSchema,
    subject: didSchema,
    /** How much the attester trusts the subject, 0-100. */
    score: z.number().int().min(0).max(100),
    /** What it vouches for, free text (`reliable ml.inference partner`). */
    claim: z.string().min(1).max(256),
    issuedAt: TimestampMsSchema,
    expiresAt: TimestampMsSchema,
    verificationMethod: VerificationMethodIdSchema,
    signature: SignatureMultibaseSchema,
  })
  .refine((a) => a.attester !== a.subject, { message: 'a mesh cannot attest itself' })
  .refine((a) => a.expiresAt > a.issuedAt, { message: 'expiresAt must be after issuedAt' })
  .refine((a) => a.verificationMethod.startsWith(`${a.attester}#`), {
    message: "verificationMethod must be one of the attester's keys",
  });
export type TrustAttestation = z.infer<typeof TrustAttestationSchema>;
export type UnsignedTrustAttestation = Omit<TrustAttestation, 'signature'>;

export const TrustAttestationAckSchema = z.strictObject({
  type: z.literal('TrustAttestationAck'),
  id: uuidSchema,
});
export type TrustAttestationAck = z.infer<typeof TrustAttestationAckSchema>;

export const TRUST_REPORT_OUTCOMES = [
  'tool_call_ok',
  'tool_call_failed',
  'policy_violation',
  'compliance_violation',
] as const;
export type TrustReportOutcome = (typeof TRUST_REPORT_OUTCOMES)[number];

/** Most tool calls one report may stand for (a node sends its counts about once a second). */
export const MAX_TRUST_REPORT_COUNT = 100_000;

export const TrustReportSchema = z
  .strictObject({
    type: z.literal('TrustReport'),
    reportId: uuidSchema,
    subject: didSchema,
    federationId: uuidSchema,
    outcome: z.enum(TRUST_REPORT_OUTCOMES),
    detail: z.string().max(256).optional(),
    /** How many tool calls with this outcome (and detail) the report stands for. Default 1. */
    count: z.number().int().min(1).max(MAX_TRUST_REPORT_COUNT).optional(),
  })
  .refine((r) => r.count === undefined || r.outcome === 'tool_call_ok' || r.outcome === 'tool_call_failed', {
    message: 'only tool-call reports carry a count',
    path: ['count'],
  });
export type TrustReport = z.infer<typeof TrustReportSchema>;

/** SHA-256 of JCS(the attestation without `signature`, plus the domain). */
export function attestationDigest(a: UnsignedTrustAttestation | TrustAttestation): Uint8Array {
  const { signature: _s, ...rest } = a as TrustAttestation;
  return sha256(canonicalBytes({ domain: TRUST_ATTESTATION_DOMAIN, ...rest }));
}

export function signAttestation(a: UnsignedTrustAttestation, keyPair: Ed25519KeyPair): TrustAttestation {
  return { ...a, signature: multibaseEncode(ed25519.sign(attestationDigest(a), keyPair)) };
}

/** Throws InvalidSignatureError unless `publicKey` (the attester's verificationMethod) signed it. */
export function verifyAttestation(a: TrustAttestation, publicKey: Uint8Array): void {
  let signature: Uint8Array;
  try {
    signature = multibaseDecode(a.signature);
  } catch (cause) {
    throw new InvalidSignatureError('attestation signature is not base58btc multibase', { cause });
  }
  if (signature.length !== 64 || !ed25519.verify(signature, attestationDigest(a), publicKey)) {
    throw new InvalidSignatureError('attestation signature does not verify');
  }
}

declare module './frame.js' {
  interface FrameTypeMap {
    TrustAttestation: TrustAttestation;
    TrustAttestationAck: TrustAttestationAck;
    TrustReport: TrustReport;
  }
}
registerFrameSchema('TrustAttestation', TrustAttestationSchema);
registerFrameSchema('TrustAttestationAck', TrustAttestationAckSchema);
registerFrameSchema('TrustReport', TrustReportSchema);
