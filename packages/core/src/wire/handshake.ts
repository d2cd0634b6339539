/**
 * Wire schemas of the federation handshake (spec §3.1 phases 2-5, docs/handshake.md). Every
 * message is a strict, bounded zod object with a `type` discriminator; `parseHandshakeMessage`
 * turns anything else into a ProtocolError('malformed_frame').
 *
 * The field schemas (DID, UUID, multibase) are local so this module does not depend on the
 * envelope schemas being written in parallel; they follow the same rules.
 */
import { z } from 'zod';
import {
  base64urlDecode,
  base64urlEncode,
  decodeMultikey,
  multibaseDecode,
  multibaseEncode,
} from '../encoding.js';
import { ValidationError } from '../errors.js';
import { ProtocolError, WIRE_ERROR_CODE_LIST } from './errors.js';
import { markSchemaOutput, registerFrameSchema, schemaOutputOf } from './frame.js';

// --- field schemas ---------------------------------------------------------------------------

// Patterns and checks shared by the schemas below and their hand-written twins ("fast checks").
const UUID_LOWER = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const FRAGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@/?%-]{1,128}$/;
const BASE64URL_CHARS = /^[A-Za-z0-9_-]+$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const CAPABILITY = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
const ENDPOINT = /^(?:wss?|https?):\/\/\S+$/;

/** `<did>#<fragment>` (the length bound aside). */
function isVerificationMethodText(s: string): boolean {
  const hash = s.indexOf('#');
  return hash >= 0 && isHandshakeDidValue(s.slice(0, hash)) && FRAGMENT.test(s.slice(hash + 1));
}
/** Base64url that decodes and encodes back to itself. */
function isCanonicalBase64url(s: string): boolean {
  try {
    return base64urlEncode(base64urlDecode(s)) === s;
  } catch {
    return false;
  }
}
/** base58btc multibase of exactly 64 bytes (an Ed25519 signature). */
function isSignatureText(s: string): boolean {
  try {
    return multibaseDecode(s).length === 64;
  } catch {
    return false;
  }
}
/** A multikey with the x25519-pub codec. */
function isX25519KeyText(s: string): boolean {
  try {
    return decodeMultikey(s).codec === 'x25519-pub';
  } catch {
    return false;
  }
}

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
  .refine(isVerificationMethodText, { message: 'not a DID URL with a fragment' });

/** Lowercase canonical UUID (versions 1-8, RFC 9562 variant): one spelling per identifier. */
export const HandshakeUuidSchema = z.string().regex(UUID_LOWER, { message: 'not a UUID' });

/** Unix time in milliseconds (as the spec's §6.1 envelope). */
export const TimestampMsSchema = z.number().int().min(0).max(8.64e15);

/** Canonical unpadded base64url of exactly `bytes` bytes. */
function base64urlBytes(bytes: number) {
  const length = Math.ceil((bytes * 4) / 3);
  return z
    .string()
    .length(length)
    .regex(BASE64URL_CHARS)
    .refine(isCanonicalBase64url, { message: 'non-canonical base64url' });
}

/** 32 random bytes, base64url (43 characters). */
export const NonceSchema = base64urlBytes(32);
/** An HMAC-SHA256 key confirmation tag, base64url (43 characters). */
export const KeyConfirmationSchema = base64urlBytes(32);
/** Lowercase hex SHA-256. */
export const Sha256HexSchema = z.string().regex(SHA256_HEX, { message: 'not a hex SHA-256' });

/** An Ed25519 signature, multibase base58btc (`z...`). */
export const SignatureMultibaseSchema = z
  .string()
  .max(100)
  .refine(isSignatureText, { message: 'not a base58btc Ed25519 signature' });

/** An X25519 public key as a multikey (`z6LS...`, multicodec x25519-pub). */
export const X25519MultikeySchema = z
  .string()
  .max(64)
  .refine(isX25519KeyText, { message: 'not an x25519-pub multikey' });

export const CapabilitySchema = z.string().regex(CAPABILITY, { message: 'not a capability name' });
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
  routingEndpoint: z.string().max(512).regex(ENDPOINT),
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
  // A value the schema's fast check accepts is its own output (see "fast checks" above).
  const member =
    schema ??
    (typeof input === 'object' && input !== null
      ? MEMBER_OF_TYPE.get((input as { type?: string }).type ?? '')
      : undefined);
  const fast = member === undefined ? undefined : FAST_CHECKS.get(member);
  if (fast?.(input)) {
    markSchemaOutput(input, member!);
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

// --- fast checks ----------------------------------------------------------------------------
//
// The schemas' verdicts by hand for the five messages a handshake's critical path parses (each
// once per process), so that zod runs only to explain a refusal. Conservative: true only for
// values the schema accepts with an output equal to the value (property-tested against the schemas
// in handshake/fast-check.test.ts); anything unusual (another prototype, a `__proto__` key, an undefined
// member) is false and goes to the schema, which decides as before.

/** A plain object (as JSON.parse makes them) with no `__proto__` key and no undefined member. */
function plainRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return false;
  if (Object.hasOwn(v, '__proto__')) return false;
  for (const key in v) if ((v as Record<string, unknown>)[key] === undefined) return false;
  return true;
}
/** Exactly `required` keys, plus any of `optional`. */
function keysAre(o: Record<string, unknown>, required: readonly string[], optional: readonly string[] = []) {
  let n = 0;
  for (const key in o) {
    if (required.includes(key)) n++;
    else if (!optional.includes(key)) return false;
  }
  return n === required.length;
}
const isUuid = (v: unknown) => typeof v === 'string' && UUID_LOWER.test(v);
const isTimestamp = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 8.64e15;
const isVerificationMethod = (v: unknown) =>
  typeof v === 'string' && v.length <= 384 && isVerificationMethodText(v);
/**
 * 32 bytes in canonical unpadded base64url, without decoding: 43 characters, the last carrying the
 * final 4 bits (its two low bits zero). Exactly base64urlBytes(32)'s verdict (property-tested).
 */
const BASE64URL_32 = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
const isBase64url32 = (v: unknown) => typeof v === 'string' && BASE64URL_32.test(v);
/**
 * An Ed25519 signature in base58btc, decoded only when it starts with a zero byte (a leading `1`,
 * one signature in 256) or looks unusual: otherwise its 64 bytes are the number's own, which has 87
 * digits from 2^504 up, 88 up to 2^512 - 1, and a text comparison with those bounds decides
 * (base58btc's alphabet is in ASCII order). The same verdict as the schema's decode.
 */
const SIGNATURE_LOW = multibaseEncode(Uint8Array.of(1, ...new Uint8Array(63)));
const SIGNATURE_HIGH = multibaseEncode(new Uint8Array(64).fill(0xff));
const SIGNATURE_SHAPE = /^z[2-9A-HJ-NP-Za-km-z][1-9A-HJ-NP-Za-km-z]{86,87}$/;
const isSignature = (v: unknown) =>
  typeof v === 'string' &&
  v.length <= 100 &&
  (SIGNATURE_SHAPE.test(v)
    ? v.length === SIGNATURE_LOW.length
      ? v >= SIGNATURE_LOW
      : v <= SIGNATURE_HIGH
    : isSignatureText(v));
/**
 * An x25519-pub multikey in its usual form, without decoding: `z`, then the 47 base58 digits of the
 * bytes ec 01 (the codec's varint) and a 32-byte key, which lie between those of ec 01 00..00 and
 * ec 01 ff..ff. Base58btc's alphabet is in ASCII order, so for strings of one length the text order
 * is the numbers' order. Anything else (another varint spelling the schema may still take) is false
 * here and goes to the schema.
 */
const X25519_MULTIKEY_LOW = multibaseEncode(Uint8Array.of(0xec, 0x01, ...new Uint8Array(32)));
const X25519_MULTIKEY_HIGH = multibaseEncode(Uint8Array.of(0xec, 0x01, ...new Uint8Array(32).fill(0xff)));
const X25519_MULTIKEY_SHAPE = /^z[1-9A-HJ-NP-Za-km-z]{47}$/;
const isX25519Multikey = (v: unknown) =>
  typeof v === 'string' &&
  X25519_MULTIKEY_SHAPE.test(v) &&
  v >= X25519_MULTIKEY_LOW &&
  v <= X25519_MULTIKEY_HIGH;
function isCapabilities(v: unknown): boolean {
  if (!Array.isArray(v) || v.length > 64) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (typeof c !== 'string' || !CAPABILITY.test(c)) return false;
    for (let j = 0; j < i; j++) if (v[j] === c) return false;
  }
  return true;
}
const isEndpoint = (v: unknown) => typeof v === 'string' && v.length <= 512 && ENDPOINT.test(v);
const isTrustScore = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100;
function isMetadata(v: unknown): boolean {
  if (!plainRecord(v)) return false;
  let n = 0;
  for (const key in v) {
    if (++n > 32 || key.length < 1 || key.length > 64) return false;
    const x = v[key];
    if (
      typeof x === 'string'
        ? x.length > 256
        : typeof x === 'number'
          ? !Number.isFinite(x)
          : typeof x !== 'boolean'
    )
      return false;
  }
  return true;
}
function isResponseMetadata(v: unknown): boolean {
  if (!plainRecord(v) || !keysAre(v, ['ttl', 'purpose'])) return false;
  const { ttl, purpose } = v;
  return (
    Number.isSafeInteger(ttl) &&
    (ttl as number) >= 1 &&
    (ttl as number) <= 366 * 86_400 &&
    typeof purpose === 'string' &&
    purpose.length >= 1 &&
    purpose.length <= 128
  );
}
function isPath(v: unknown): boolean {
  if (!Array.isArray(v) || v.length < 1 || v.length > MAX_FEDERATION_PATH) return false;
  for (let i = 0; i < v.length; i++) {
    if (!isHandshakeDidValue(v[i])) return false;
    for (let j = 0; j < i; j++) if (v[j] === v[i]) return false;
  }
  return true;
}
const isString = (v: unknown, min: number, max: number) =>
  typeof v === 'string' && v.length >= min && v.length <= max;
/** A JSON object or a list of `min..max` of them (the credential's subject and proof). */
function isObjectOrList(v: unknown, max: number): boolean {
  if (!Array.isArray(v)) return plainRecord(v);
  if (v.length < 1 || v.length > max) return false;
  for (const o of v) if (!plainRecord(o)) return false;
  return true;
}
/** VerifiableCredentialSchema's verdict (isBoundedJson first: then every nested object is plain). */
function isCredential(v: unknown): boolean {
  if (!plainRecord(v) || !isBoundedJson(v)) return false;
  const context = v['@context'];
  if (Array.isArray(context)) {
    if (context.length < 1 || context.length > 16) return false;
    for (const c of context) if (!(isString(c, 0, 512) || plainRecord(c))) return false;
  } else if (!isString(context, 0, 512)) return false;
  const type = v['type'];
  if (Array.isArray(type)) {
    if (type.length < 1 || type.length > 16 || !type.includes('VerifiableCredential')) return false;
    for (const t of type) if (!isString(t, 0, 128)) return false;
  } else if (!isString(type, 0, 128)) return false;
  const issuer = v['issuer'];
  if (!isString(issuer, 1, 512) && !(plainRecord(issuer) && isString(issuer['id'], 1, 512))) return false;
  return isObjectOrList(v['credentialSubject'], 16) && isObjectOrList(v['proof'], 8);
}

function isEarlyResponse(v: unknown): boolean {
  return (
    plainRecord(v) &&
    keysAre(v, ['nonce', 'timestamp', 'signature', 'verificationMethod', 'metadata']) &&
    isBase64url32(v['nonce']) &&
    isTimestamp(v['timestamp']) &&
    isSignature(v['signature']) &&
    isVerificationMethod(v['verificationMethod']) &&
    isResponseMetadata(v['metadata'])
  );
}

const INITIATE_KEYS = [
  'type',
  'sourceMeshId',
  'targetMeshId',
  'credentials',
  'capabilities',
  'ephemeralPublicKey',
];
const INITIATE_OPTIONAL = ['handshakeId', 'minTrustScore', 'metadata', 'renews', 'earlyResponse'];
/** InitiateFederationSchema's verdict, conservatively (see above). */
export function isInitiateFederationValue(v: unknown): boolean {
  if (!plainRecord(v) || !keysAre(v, INITIATE_KEYS, INITIATE_OPTIONAL) || v['type'] !== 'InitiateFederation')
    return false;
  return (
    (v['handshakeId'] === undefined || isUuid(v['handshakeId'])) &&
    isHandshakeDidValue(v['sourceMeshId']) &&
    isHandshakeDidValue(v['targetMeshId']) &&
    isCapabilities(v['capabilities']) &&
    isX25519Multikey(v['ephemeralPublicKey']) &&
    (v['minTrustScore'] === undefined || isTrustScore(v['minTrustScore'])) &&
    (v['metadata'] === undefined || isMetadata(v['metadata'])) &&
    (v['renews'] === undefined || isUuid(v['renews'])) &&
    (v['earlyResponse'] === undefined || isEarlyResponse(v['earlyResponse'])) &&
    isCredential(v['credentials'])
  );
}

const REQUEST_KEYS = [
  'type',
  'handshakeId',
  'federationId',
  'sourceMeshId',
  'targetMeshId',
  'credentials',
  'capabilities',
  'initiatorEphemeralKey',
  'challenge',
  'response',
  'expiresAt',
  'routingEndpoint',
];
/** FederationRequestSchema's verdict, conservatively (see above). */
export function isFederationRequestValue(v: unknown): boolean {
  if (
    !plainRecord(v) ||
    !keysAre(v, REQUEST_KEYS, ['minTrustScore', 'metadata', 'renews']) ||
    v['type'] !== 'FederationRequest'
  )
    return false;
  const challenge = v['challenge'];
  const response = v['response'];
  return (
    isUuid(v['handshakeId']) &&
    isUuid(v['federationId']) &&
    isHandshakeDidValue(v['sourceMeshId']) &&
    isHandshakeDidValue(v['targetMeshId']) &&
    isCapabilities(v['capabilities']) &&
    isX25519Multikey(v['initiatorEphemeralKey']) &&
    (v['minTrustScore'] === undefined || isTrustScore(v['minTrustScore'])) &&
    (v['metadata'] === undefined || isMetadata(v['metadata'])) &&
    plainRecord(challenge) &&
    keysAre(challenge, ['nonce', 'timestamp', 'hash']) &&
    isBase64url32(challenge['nonce']) &&
    isTimestamp(challenge['timestamp']) &&
    typeof challenge['hash'] === 'string' &&
    SHA256_HEX.test(challenge['hash']) &&
    plainRecord(response) &&
    keysAre(response, ['signature', 'verificationMethod', 'metadata']) &&
    isSignature(response['signature']) &&
    isVerificationMethod(response['verificationMethod']) &&
    isResponseMetadata(response['metadata']) &&
    isTimestamp(v['expiresAt']) &&
    isEndpoint(v['routingEndpoint']) &&
    (v['renews'] === undefined || isUuid(v['renews'])) &&
    isCredential(v['credentials'])
  );
}

const ACCEPT_KEYS = [
  'type',
  'handshakeId',
  'federationId',
  'responderEphemeralKey',
  'verificationMethod',
  'signature',
  'keyConfirmation',
];
/** FederationAcceptSchema's verdict, conservatively (see above). */
export function isFederationAcceptValue(v: unknown): boolean {
  return (
    plainRecord(v) &&
    keysAre(v, ACCEPT_KEYS) &&
    v['type'] === 'FederationAccept' &&
    isUuid(v['handshakeId']) &&
    isUuid(v['federationId']) &&
    isX25519Multikey(v['responderEphemeralKey']) &&
    isVerificationMethod(v['verificationMethod']) &&
    isSignature(v['signature']) &&
    isBase64url32(v['keyConfirmation'])
  );
}

const ESTABLISHED_KEYS = [...ACCEPT_KEYS, 'status', 'expiresAt', 'routingEndpoint', 'targetMeshId'];
/** FederationEstablishedSchema's verdict, conservatively (see above). */
export function isFederationEstablishedValue(v: unknown): boolean {
  return (
    plainRecord(v) &&
    keysAre(v, ESTABLISHED_KEYS, ['path']) &&
    v['type'] === 'FederationEstablished' &&
    v['status'] === 'active' &&
    isUuid(v['handshakeId']) &&
    isUuid(v['federationId']) &&
    isTimestamp(v['expiresAt']) &&
    isEndpoint(v['routingEndpoint']) &&
    isHandshakeDidValue(v['targetMeshId']) &&
    isX25519Multikey(v['responderEphemeralKey']) &&
    isVerificationMethod(v['verificationMethod']) &&
    isSignature(v['signature']) &&
    isBase64url32(v['keyConfirmation']) &&
    (v['path'] === undefined || isPath(v['path']))
  );
}

/** FederationConfirmSchema's verdict, conservatively (see above). */
export function isFederationConfirmValue(v: unknown): boolean {
  return (
    plainRecord(v) &&
    keysAre(v, ['type', 'handshakeId', 'federationId', 'keyConfirmation'], ['path']) &&
    v['type'] === 'FederationConfirm' &&
    isUuid(v['handshakeId']) &&
    isUuid(v['federationId']) &&
    isBase64url32(v['keyConfirmation']) &&
    (v['path'] === undefined || isPath(v['path']))
  );
}

const FAST_CHECKS = new Map<z.ZodType, (v: unknown) => boolean>([
  [InitiateFederationSchema, isInitiateFederationValue],
  [FederationRequestSchema, isFederationRequestValue],
  [FederationAcceptSchema, isFederationAcceptValue],
  [FederationEstablishedSchema, isFederationEstablishedValue],
  [FederationConfirmSchema, isFederationConfirmValue],
]);

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
registerFrameSchema('InitiateFederation', InitiateFederationSchema, { fastCheck: isInitiateFederationValue });
registerFrameSchema('Challenge', ChallengeSchema);
registerFrameSchema('ChallengeResponse', ChallengeResponseSchema);
registerFrameSchema('FederationRequest', FederationRequestSchema, { fastCheck: isFederationRequestValue });
registerFrameSchema('FederationAccept', FederationAcceptSchema, { fastCheck: isFederationAcceptValue });
registerFrameSchema('FederationEstablished', FederationEstablishedSchema, {
  fastCheck: isFederationEstablishedValue,
});
registerFrameSchema('FederationConfirm', FederationConfirmSchema, { fastCheck: isFederationConfirmValue });
registerFrameSchema('HandshakeReject', HandshakeRejectSchema);
