/**
 * The link protocol between a mesh node and its hub (docs/link-protocol.md): the hub greets a new
 * WebSocket with `Hello` (its DID and a fresh nonce), the node proves control of its DID with a
 * signed `Authenticate` carrying its MeshAgentCredential, and the hub answers `Authenticated`.
 * After that the link carries envelopes, handshake messages, discovery, delivery receipts
 * (`Ack` node -> hub, `Delivered` hub -> node), `FederationStatus` notices and signed `Terminate`.
 *
 * Frame types are PascalCase, so they can never shadow an envelope type (lowercase, dotted).
 *
 * @example
 * ```ts
 * const digest = authenticateDigest({ hubDid, nonce, meshId, verificationMethod, capabilities, region, credential, timestamp });
 * const frame: Authenticate = { type: 'Authenticate', hubDid, nonce, meshId, verificationMethod, credential,
 *   capabilities, region, timestamp, signature: multibaseEncode(ed25519.sign(digest, keyPair)) };
 * parseFrame(JSON.stringify(frame)); // { kind: 'Authenticate', frame }
 * ```
 */
import { z } from 'zod';
import { sha256, sha256Hex } from '../crypto.js';
import { canonicalBytes, canonicalJson } from '../encoding.js';
import { WIRE_ERROR_CODE_LIST } from './errors.js';
import { registerFrameSchema } from './frame.js';
import {
  NonceSchema,
  SignatureMultibaseSchema,
  TimestampMsSchema,
  type VerifiableCredentialJson,
  VerifiableCredentialSchema,
  VerificationMethodIdSchema,
} from './handshake.js';
import {
  capabilitySchema,
  didSchema,
  isDidValue,
  isUuidValue,
  LIMITS,
  onlyKeys,
  PROTOCOL_VERSION,
  regionCodeSchema,
  trustScoreSchema,
  uuidSchema,
} from './messages.js';

/** Domain separators: a link signature can never be replayed as a handshake or envelope signature. */
export const LINK_AUTH_DOMAIN = 'fmp/1 link-authenticate';
export const LINK_TERMINATE_DOMAIN = 'fmp/1 federation-terminate';

export const LINK_LIMITS = {
  /** did:mesh operations a node may upload with Authenticate (its own log). */
  meshLogOperations: 64,
  /** Federations listed in Authenticated. */
  federations: 1024,
  reason: 256,
} as const;

const uniqueCapabilities = z
  .array(capabilitySchema)
  .max(LIMITS.capabilities)
  .refine((a) => new Set(a).size === a.length, { message: 'capabilities must be unique' });

const reasonSchema = z.string().max(LINK_LIMITS.reason);

export const FEDERATION_STATUSES = ['active', 'suspended', 'expired', 'terminated'] as const;
export const federationStatusSchema = z.enum(FEDERATION_STATUSES);
export type FederationStatusValue = z.infer<typeof federationStatusSchema>;

/**
 * Optional protocol features a sender of Hello / Authenticate (and HubHello) can receive, such as
 * `batch` (wire/batch.ts). Unknown names are ignored, so a newer peer can announce more. Not covered
 * by the Authenticate signature: it only says what the sender can parse.
 */
export const featuresSchema = z.array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/)).max(16);

/** Hub -> node, first frame on a new link. The nonce is single use: it binds the node's signature to this link. */
export const HelloSchema = z.strictObject({
  type: z.literal('Hello'),
  version: z.literal(PROTOCOL_VERSION),
  hubDid: didSchema,
  nonce: NonceSchema,
  timestamp: TimestampMsSchema,
  /** Largest frame the hub accepts, in UTF-8 bytes. */
  maxFrameBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024),
  /** What the hub accepts from this node beyond single frames (`batch`). */
  features: featuresSchema.optional(),
});
export type Hello = z.infer<typeof HelloSchema>;

/** Node -> hub: proof of control of `meshId` (signature over authenticateDigest) and its credential. */
export const AuthenticateSchema = z.strictObject({
  type: z.literal('Authenticate'),
  hubDid: didSchema,
  nonce: NonceSchema,
  meshId: didSchema,
  /** An authentication key of meshId (`<meshId>#<fragment>`). */
  verificationMethod: VerificationMethodIdSchema,
  /** The node's MeshAgentCredential (spec 4.3), from an issuer the hub trusts. */
  credential: VerifiableCredentialSchema,
  capabilities: uniqueCapabilities,
  region: regionCodeSchema,
  /** The node's own did:mesh operation log; self-certifying, so it is not covered by the signature. */
  meshLog: z
    .array(z.record(z.string().max(64), z.json()))
    .max(LINK_LIMITS.meshLogOperations)
    .optional(),
  /** What the node accepts from the hub beyond single frames (`batch`); see featuresSchema. */
  features: featuresSchema.optional(),
  timestamp: TimestampMsSchema,
  signature: SignatureMultibaseSchema,
});
export type Authenticate = z.infer<typeof AuthenticateSchema>;

export const linkLimitsSchema = z.strictObject({
  maxFrameBytes: z.number().int().min(1),
  /** How long the hub keeps a message for an offline target. */
  queueTtlMs: z.number().int().min(0),
  maxQueuedPerMesh: z.number().int().min(0),
  /** Per-federation quota (spec 6.3). */
  messagesPerSec: z.number().min(0),
  burst: z.number().int().min(0),
});
export type LinkLimits = z.infer<typeof linkLimitsSchema>;

/** What the hub holds about one federation of the authenticated mesh. */
export const federationSummarySchema = z.strictObject({
  federationId: uuidSchema,
  sourceMeshId: didSchema,
  targetMeshId: didSchema,
  status: federationStatusSchema,
  capabilities: uniqueCapabilities,
  purpose: z.string().max(128),
  expiresAt: TimestampMsSchema,
});
export type FederationSummary = z.infer<typeof federationSummarySchema>;

/** Hub -> node: the link is bound to meshId. */
export const AuthenticatedSchema = z.strictObject({
  type: z.literal('Authenticated'),
  sessionId: uuidSchema,
  meshId: didSchema,
  hubDid: didSchema,
  trustScore: trustScoreSchema,
  /** The hub pings every heartbeatMs; a link silent for longer than idleTimeoutMs is closed. */
  heartbeatMs: z.number().int().min(1),
  idleTimeoutMs: z.number().int().min(1),
  limits: linkLimitsSchema,
  /** Federations the hub still holds for this mesh (the node resumes those it has keys for). */
  federations: z.array(federationSummarySchema).max(LINK_LIMITS.federations),
});
export type Authenticated = z.infer<typeof AuthenticatedSchema>;

/**
 * Target node -> hub: the end-to-end receipt for one envelope. Without `error` the message was
 * verified, decrypted and handed to the application (or was a duplicate of one that was).
 */
export const AckSchema = z.strictObject({
  type: z.literal('Ack'),
  messageId: uuidSchema,
  federationId: uuidSchema,
  error: z
    .strictObject({ code: z.enum(WIRE_ERROR_CODE_LIST), message: z.string().max(LIMITS.errorMessageLength) })
    .optional(),
});
export type Ack = z.infer<typeof AckSchema>;

/** Hub -> source node: the target acknowledged this message. */
export const DeliveredSchema = z.strictObject({
  type: z.literal('Delivered'),
  messageId: uuidSchema,
  federationId: uuidSchema,
  /** The target mesh. */
  by: didSchema,
});
export type Delivered = z.infer<typeof DeliveredSchema>;

/** Hub -> both ends: the federation changed status. */
export const FederationStatusSchema = z.strictObject({
  type: z.literal('FederationStatus'),
  federationId: uuidSchema,
  status: federationStatusSchema,
  /** A wire error code or a short text (`credential_revoked`, `terminated by did:...`, ...). */
  reason: reasonSchema,
  expiresAt: TimestampMsSchema.optional(),
});
export type FederationStatus = z.infer<typeof FederationStatusSchema>;

/** Node -> hub: ends a federation. Signed, so the hub can prove who ended it. */
export const TerminateSchema = z.strictObject({
  type: z.literal('Terminate'),
  federationId: uuidSchema,
  verificationMethod: VerificationMethodIdSchema,
  reason: reasonSchema,
  timestamp: TimestampMsSchema,
  signature: SignatureMultibaseSchema,
});
export type Terminate = z.infer<typeof TerminateSchema>;

export const LINK_FRAME_TYPES = [
  'Hello',
  'Authenticate',
  'Authenticated',
  'Ack',
  'Delivered',
  'FederationStatus',
  'Terminate',
] as const;
export type LinkFrameType = (typeof LINK_FRAME_TYPES)[number];

export interface AuthenticateBinding {
  readonly hubDid: string;
  readonly nonce: string;
  readonly meshId: string;
  readonly verificationMethod: string;
  readonly capabilities: readonly string[];
  readonly region: string;
  readonly credential: VerifiableCredentialJson;
  readonly timestamp: number;
}

/**
 * SHA-256 of JCS({domain, hubDid, nonce, meshId, verificationMethod, capabilities, region,
 * credentialHash, timestamp}): what the node signs in Authenticate. Binding the hub DID and its
 * nonce stops replays to another hub or on another link; binding the credential hash and the
 * capabilities stops a relay from swapping them.
 */
export function authenticateDigest(b: AuthenticateBinding): Uint8Array {
  return sha256(
    canonicalBytes({
      domain: LINK_AUTH_DOMAIN,
      hubDid: b.hubDid,
      nonce: b.nonce,
      meshId: b.meshId,
      verificationMethod: b.verificationMethod,
      capabilities: [...b.capabilities],
      region: b.region,
      credentialHash: sha256Hex(canonicalJson(b.credential)),
      timestamp: b.timestamp,
    }),
  );
}

export interface TerminateBinding {
  readonly federationId: string;
  readonly verificationMethod: string;
  readonly reason: string;
  readonly timestamp: number;
}

/** SHA-256 of JCS({domain, federationId, verificationMethod, reason, timestamp}). */
export function terminateDigest(b: TerminateBinding): Uint8Array {
  return sha256(
    canonicalBytes({
      domain: LINK_TERMINATE_DOMAIN,
      federationId: b.federationId,
      verificationMethod: b.verificationMethod,
      reason: b.reason,
      timestamp: b.timestamp,
    }),
  );
}

declare module './frame.js' {
  interface FrameTypeMap {
    Hello: Hello;
    Authenticate: Authenticate;
    Authenticated: Authenticated;
    Ack: Ack;
    Delivered: Delivered;
    FederationStatus: FederationStatus;
    Terminate: Terminate;
  }
}
registerFrameSchema('Hello', HelloSchema);
registerFrameSchema('Authenticate', AuthenticateSchema);
registerFrameSchema('Authenticated', AuthenticatedSchema);
const ACK_KEYS = new Set(['type', 'messageId', 'federationId']);
/**
 * Exactly AckSchema's verdict for an Ack without `error` (one per routed message at the hub);
 * anything else (an error receipt, an unknown key) goes to the schema.
 */
export function isPlainAck(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  if (!onlyKeys(o, ACK_KEYS)) return false;
  return o.type === 'Ack' && isUuidValue(o.messageId) && isUuidValue(o.federationId);
}
registerFrameSchema('Ack', AckSchema, { fastCheck: isPlainAck });
const DELIVERED_KEYS = new Set(['type', 'messageId', 'federationId', 'by']);
/**
 * Exactly DeliveredSchema's verdict, unchanged value, without zod: one Delivered crosses every hub
 * link and reaches the source node per routed message; anything unusual goes to the schema.
 */
export function isDeliveredValue(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  if (!onlyKeys(o, DELIVERED_KEYS)) return false;
  return (
    o.type === 'Delivered' && isUuidValue(o.messageId) && isUuidValue(o.federationId) && isDidValue(o.by)
  );
}
registerFrameSchema('Delivered', DeliveredSchema, { fastCheck: isDeliveredValue });
registerFrameSchema('FederationStatus', FederationStatusSchema);
registerFrameSchema('Terminate', TerminateSchema);
