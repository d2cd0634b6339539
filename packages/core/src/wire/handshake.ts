/**
 * Wire schemas of the federation handshake (spec §3.1 phases 2-5, docs/handshake.md). Every
 * message is a strict, bounded zod object with a `type` discriminator; `parseHandshakeMessage`
 * turns anything else into a ProtocolError('malformed_frame').
 *
 * The field schemas (DID, UUID, multibase) are local so this module does not depend on the
 * envelope schemas being written in parallel; they follow the same rules.
 */
import { z } from 'zod';
import { base64urlDecode, base64urlEncode, decodeMultikey, multibaseDecode } from '../encoding.js';
import { ValidationError } from '../errors.js';
import { ProtocolError, WIRE_ERROR_CODE_LIST } from './errors.js';
import { markSchemaOutput, registerFrameSchema, schemaOutputOf } from './frame.js';

// --- field schemas ---------------------------------------------------------------------------

/** W3C DID syntax (method-specific id without path, query or fragment), bounded. */
const HANDSHAKE_DID_PATTERN =
  /^did:[a-z0-9]+:(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})*(?::(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+)*$/;
export const HandshakeDidSchema = z
  .string()
  .max(256)
  .regex(HANDSHAKE_DID_PATTERN, { message: 'not a DID' })
  .refine((s) => !s.endsWith(':'), { message: 'not a DID' });

/** HandshakeDidSchema's verdict without zod (hub links check it on every relayed frame). */
export function isHandshakeDidValue(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 256 && HANDSHAKE_DID_PATTERN.test(v) && !v.endsWith(':');
}

/** A DID URL naming one verification method: `<did>#<fragment>`. */
export const VerificationMethodIdSchema = z
  .string()
  .max(384)
  .refine(
    (s) => {
      const hash = s.indexOf('#');
      if (hash < 0) return false;
      return (
        HandshakeDidSchema.safeParse(s.slice(0, hash)).success &&
        /^[A-Za-z0-9._~!$&'()*+,;=:@/?%-]{1,128}$/.test(s.slice(hash + 1))
      );
    },
    { message: 'not a DID URL with a fragment' },
  );

/** Lowercase canonical UUID (versions 1-8, RFC 9562 variant): one spelling per identifier. */
export const HandshakeUuidSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, {
    message: 'not a UUID',
  });

/** Unix time in milliseconds (as the spec's §6.1 envelope). */
export const TimestampMsSchema = z.number().int().min(0).max(8.64e15);

/** Canonical unpadded base64url of exactly `bytes` bytes. */
function base64urlBytes(bytes: number) {
  const length = Math.ceil((bytes * 4) / 3);
  return z
    .string()
    .length(length)
    .regex(/^[A-Za-z0-9_-]+$/)
    .refine(
      (s) => {
        try {
          return base64urlEncode(base64urlDecode(s)) === s;
        } catch {
          return false;
        }
      },
      { message: 'non-canonical base64url' },
    );
}

/** 32 random bytes, base64url (43 characters). */
export const NonceSchema = base64urlBytes(32);
/** An HMAC-SHA256 key confirmation tag, base64url (43 characters). */
export const KeyConfirmationSchema = base64urlBytes(32);
/** Lowercase hex SHA-256. */
export const Sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, { message: 'not a hex SHA-256' });

/** An Ed25519 signature, multibase base58btc (`z...`). */
export const SignatureMultibaseSchema = z
  .string()
  .max(100)
  .refine(
    (s) => {
      try {
        return multibaseDecode(s).length === 64;
      } catch {
        return false;
      }
    },
    { message: 'not a base58btc Ed25519 signature' },
  );

/** An X25519 public key as a multikey (`z6LS...`, multicodec x25519-pub). */
export const X25519MultikeySchema = z
  .string()
  .max(64)
  .refine(
    (s) => {
      try {
        return decodeMultikey(s).codec === 'x25519-pub';
      } catch {
        return false;
      }
    },
    { message: 'not an x25519-pub multikey' },
  );

export const CapabilitySchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, {
  message: 'not a capability name',
});
export const CapabilitiesSchema = z
  .array(CapabilitySchema)
  .max(64)
  .refine((a) => new Set(a).size === a.length, { message: 'capabilities must be unique' });

export const TrustScoreSchema = z.number().min(0).max(100);

/** Free-form metadata: flat, small, JSON scalars only. */
export const HandshakeMetadataSchema = z
  .record(z.string().min(1).max(64), z.union([z.string().max(256), z.number(), z.boolean()]))
  .refine((r) => Object.keys(r).length <= 32, { message: 'at most 32 metadata entries' });

/** Spec §3.1 phase 4: the federation's lifetime in seconds and its declared purpose. */
export const ResponseMetadataSchema = z.strictObject({
  ttl: z
    .number()
    .int()
    .min(1)
    .max(366 * 86_400),
  purpose: z.string().min(1).max(128),
});

export const MAX_CREDENTIAL_NODES = 2_000;
export const MAX_CREDENTIAL_DEPTH = 16;
export const MAX_CREDENTIAL_STRING = 4_096;

/**
 * Bounded JSON check without recursion, so a hostile, deeply nested value cannot exhaust the
 * stack: at most MAX_CREDENTIAL_NODES values, MAX_CREDENTIAL_DEPTH levels, plain objects/arrays.
 */
function isBoundedJson(value: unknown): boolean {
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  let nodes = 0;
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (++nodes > MAX_CREDENTIAL_NODES || depth > MAX_CREDENTIAL_DEPTH) return false;
    if (v === null || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return false;
      continue;
    }
    if (typeof v === 'string') {
      if (v.length > MAX_CREDENTIAL_STRING) return false;
      continue;
    }
    if (Array.isArray(v)) {
      for (const item of v) stack.push({ v: item, depth: depth + 1 });
      continue;
    }
    if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
        if (k.length > 256) return false;
        stack.push({ v: item, depth: depth + 1 });
      }
      continue;
    }
    return false;
  }
  return true;
}

const JsonObjectSchema = z.record(z.string(), z.unknown());

/**
 * A verifiable credential, checked for shape only (the injected verifier checks the proof).
 * Unknown members are kept: credentials legitimately carry issuanceDate, credentialStatus, ...
 */
export const VerifiableCredentialSchema = z
  .looseObject({
    '@context': z.union([
      z.string().max(512),
      z
        .array(z.union([z.string().max(512), JsonObjectSchema]))
        .min(1)
        .max(16),
    ]),
    type: z.union([
      z.string().max(128),
      z
        .array(z.string().max(128))
        .min(1)
        .max(16)
        .refine((t) => t.includes('VerifiableCredential'), {
          message: 'type must include VerifiableCredential',
        }),
    ]),
    issuer: z.union([z.string().min(1).max(512), z.looseObject({ id: z.string().min(1).max(512) })]),
    credentialSubject: z.union([JsonObjectSchema, z.array(JsonObjectSchema).min(1).max(16)]),
    proof: z.union([JsonObjectSchema, z.array(JsonObjectSchema).min(1).max(8)]),
  })
  .refine(isBoundedJson, { message: 'credential exceeds the size or depth bound' });
export type VerifiableCredentialJson = z.infer<typeof VerifiableCredentialSchema>;

// --- messages --------------------------------------------------------------------------------

/** Phase 2, source mesh -> hub. */
export const InitiateFederationSchema = z.strictObject({
  type: z.literal('InitiateFederation'),
  /** Chosen by the initiator so it can correlate the challenge; a hub assigns one when absent. */
  handshakeId: HandshakeUuidSchema.optional(),
  sourceMeshId: HandshakeDidSchema,
  targetMeshId: HandshakeDidSchema,
  credentials: VerifiableCredentialSchema,
  capabilities: CapabilitiesSchema,
  /** The initiator's ephemeral X25519 key for this handshake only (forward secrecy). */
  ephemeralPublicKey: X25519MultikeySchema,
  /** The lowest trust score the initiator accepts for the target. */
  minTrustScore: TrustScoreSchema.optional(),
  metadata: HandshakeMetadataSchema.optional(),
  /**
   * Renewal: the federation this handshake renews (same parties). The hub keeps that id, so the
   * federation survives with fresh session keys and a new expiresAt. Covered by the initiator's
   * signature (responseDigest).
   */
  renews: HandshakeUuidSchema.optional(),
  /**
   * The early response (docs/handshake.md, "Early response"): the ChallengeResponse sent with the
   * initiation, to a challenge made of the link's nonce (the hub's Hello nonce) and the initiator's
   * clock instead of a Challenge of the hub's. Only to a hub that offered EARLY_RESPONSE_FEATURE,
   * and only with a handshakeId (the challenge hash covers it).
   */
  earlyResponse: z
    .strictObject({
      nonce: NonceSchema,
      timestamp: TimestampMsSchema,
      signature: SignatureMultibaseSchema,
      verificationMethod: VerificationMethodIdSchema,
      metadata: ResponseMetadataSchema,
    })
    .optional(),
});
export type InitiateFederation = z.infer<typeof InitiateFederationSchema>;

/**
 * A hub that offers this feature (in Hello) takes an InitiateFederation carrying its
 * earlyResponse: the handshake then needs one round trip fewer.
 */
export const EARLY_RESPONSE_FEATURE = 'early-response';

/** Phase 3, hub -> source mesh. hash = hex SHA-256 of `${handshakeId}:${nonce}:${timestamp}`. */
export const ChallengeSchema = z.strictObject({
  type: z.literal('Challenge'),
  handshakeId: HandshakeUuidSchema,
  nonce: NonceSchema,
  timestamp: TimestampMsSchema,
  hash: Sha256HexSchema,
});
export type Challenge = z.infer<typeof ChallengeSchema>;

/** Phase 4, source mesh -> hub. The signature covers the response digest (docs/handshake.md). */
export const ChallengeResponseSchema = z.strictObject({
  type: z.literal('ChallengeResponse'),
  handshakeId: HandshakeUuidSchema,
  signature: SignatureMultibaseSchema,
  verificationMethod: VerificationMethodIdSchema,
  metadata: ResponseMetadataSchema,
});
export type ChallengeResponse = z.infer<typeof ChallengeResponseSchema>;

/** Hub -> target mesh: everything the target needs to check the initiator itself and consent. */
export const FederationRequestSchema = z.strictObject({
  type: z.literal('FederationRequest'),
  handshakeId: HandshakeUuidSchema,
  federationId: HandshakeUuidSchema,
  sourceMeshId: HandshakeDidSchema,
  targetMeshId: HandshakeDidSchema,
  credentials: VerifiableCredentialSchema,
  capabilities: CapabilitiesSchema,
  initiatorEphemeralKey: X25519MultikeySchema,
  minTrustScore: TrustScoreSchema.optional(),
  metadata: HandshakeMetadataSchema.optional(),
  challenge: z.strictObject({ nonce: NonceSchema, timestamp: TimestampMsSchema, hash: Sha256HexSchema }),
  response: z.strictObject({
    signature: SignatureMultibaseSchema,
    verificationMethod: VerificationMethodIdSchema,
    metadata: ResponseMetadataSchema,
  }),
  expiresAt: TimestampMsSchema,
  routingEndpoint: z
    .string()
    .max(512)
    .regex(/^(?:wss?|https?):\/\/\S+$/),
  /** Renewal: the federation renewed; `federationId` must equal it (the target checks). */
  renews: HandshakeUuidSchema.optional(),
});
export type FederationRequest = z.infer<typeof FederationRequestSchema>;

/** Target mesh -> hub: the target's consent, signed over the transcript hash. */
export const FederationAcceptSchema = z.strictObject({
  type: z.literal('FederationAccept'),
  handshakeId: HandshakeUuidSchema,
  federationId: HandshakeUuidSchema,
  responderEphemeralKey: X25519MultikeySchema,
  verificationMethod: VerificationMethodIdSchema,
  signature: SignatureMultibaseSchema,
  keyConfirmation: KeyConfirmationSchema,
});
export type FederationAccept = z.infer<typeof FederationAcceptSchema>;

/** Most hubs on a federation's path (spec §6.3 MAX_HOPS). */
export const MAX_FEDERATION_PATH = 5;

/**
 * Hub DIDs between the two ends, the coordinating (source's) hub first. Informational and set by
 * the coordinating hub: it is not covered by any signature, so an end must not base a security
 * decision on it.
 */
export const FederationPathSchema = z
  .array(HandshakeDidSchema)
  .min(1)
  .max(MAX_FEDERATION_PATH)
  .refine((p) => new Set(p).size === p.length, { message: 'path visits a hub twice' });

/** Phase 5, hub -> source mesh: the spec's fields plus the target's signed acceptance. */
export const FederationEstablishedSchema = z.strictObject({
  type: z.literal('FederationEstablished'),
  handshakeId: HandshakeUuidSchema,
  federationId: HandshakeUuidSchema,
  status: z.literal('active'),
  expiresAt: TimestampMsSchema,
  routingEndpoint: FederationRequestSchema.shape.routingEndpoint,
  targetMeshId: HandshakeDidSchema,
  responderEphemeralKey: X25519MultikeySchema,
  verificationMethod: VerificationMethodIdSchema,
  signature: SignatureMultibaseSchema,
  keyConfirmation: KeyConfirmationSchema,
  /** The hubs crossed (unsigned, set by the coordinating hub; see FederationPathSchema). */
  path: FederationPathSchema.optional(),
});
export type FederationEstablished = z.infer<typeof FederationEstablishedSchema>;

/** Source mesh -> hub -> target mesh: the initiator's key confirmation. */
export const FederationConfirmSchema = z.strictObject({
  type: z.literal('FederationConfirm'),
  handshakeId: HandshakeUuidSchema,
  federationId: HandshakeUuidSchema,
  keyConfirmation: KeyConfirmationSchema,
  /** Added by the coordinating hub on the copy it relays to the target (unsigned, informational). */
  path: FederationPathSchema.optional(),
});
export type FederationConfirm = z.infer<typeof FederationConfirmSchema>;

/** Any party -> the others: the handshake ends. Unsigned: a relay could drop messages anyway. */
export const HandshakeRejectSchema = z.strictObject({
  type: z.literal('HandshakeReject'),
  handshakeId: HandshakeUuidSchema,
  code: z.enum(WIRE_ERROR_CODE_LIST),
  reason: z.string().max(256),
  retryAfterMs: z.number().int().min(0).max(86_400_000).optional(),
});
export type HandshakeReject = z.infer<typeof HandshakeRejectSchema>;

export const HandshakeMessageSchema = z.discriminatedUnion('type', [
  InitiateFederationSchema,
  ChallengeSchema,
  ChallengeResponseSchema,
  FederationRequestSchema,
  FederationAcceptSchema,
  FederationEstablishedSchema,
  FederationConfirmSchema,
  HandshakeRejectSchema,
]);
export type HandshakeMessage = z.infer<typeof HandshakeMessageSchema>;
export type HandshakeMessageType = HandshakeMessage['type'];

const MEMBER_OF_TYPE = new Map<string, z.ZodType>(
  HandshakeMessageSchema.options.map((o) => [o.shape.type.value, o as z.ZodType]),
);
const MEMBERS = new Set<z.ZodType>(MEMBER_OF_TYPE.values());

/** Parses one handshake message; anything invalid becomes ProtocolError('malformed_frame'). */
export function parseHandshakeMessage<S extends z.ZodType = typeof HandshakeMessageSchema>(
  input: unknown,
  schema?: S,
): z.infer<S> {
  // Already the output of this schema (or, for the union, of one of its members): parsing it
  // again would return an equal object.
  const producer = schemaOutputOf(input);
  if (producer !== undefined && (producer === schema || (schema === undefined && MEMBERS.has(producer)))) {
    return input as z.infer<S>;
  }
  const result = (schema ?? HandshakeMessageSchema).safeParse(input);
  if (result.success) {
    const data = result.data as { type: HandshakeMessageType };
    markSchemaOutput(data, schema ?? MEMBER_OF_TYPE.get(data.type)!);
    return data as z.infer<S>;
  }
  const issues = result.error.issues
    .slice(0, 16)
    .map((i) => ({ path: i.path.join('.'), message: i.message }));
  const cause = new ValidationError('handshake message failed its schema', issues, { cause: result.error });
  throw new ProtocolError('malformed_frame', 'handshake message failed its schema', { cause });
}

// Handshake messages are frames of their own (docs/protocol.md section 2): parseFrame selects
// these schemas by `type`, so they can never be mistaken for envelopes.
declare module './frame.js' {
  interface FrameTypeMap {
    InitiateFederation: InitiateFederation;
    Challenge: Challenge;
    ChallengeResponse: ChallengeResponse;
    FederationRequest: FederationRequest;
    FederationAccept: FederationAccept;
    FederationEstablished: FederationEstablished;
    FederationConfirm: FederationConfirm;
    HandshakeReject: HandshakeReject;
  }
}
registerFrameSchema('InitiateFederation', InitiateFederationSchema);
registerFrameSchema('Challenge', ChallengeSchema);
registerFrameSchema('ChallengeResponse', ChallengeResponseSchema);
registerFrameSchema('FederationRequest', FederationRequestSchema);
registerFrameSchema('FederationAccept', FederationAcceptSchema);
registerFrameSchema('FederationEstablished', FederationEstablishedSchema);
registerFrameSchema('FederationConfirm', FederationConfirmSchema);
registerFrameSchema('HandshakeReject', HandshakeRejectSchema);
