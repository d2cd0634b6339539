/**
 * Wire schemas (zod 4) for the envelope (spec 6.1 + DESIGN "Wire protocol"), the compliance context
 * (spec 7.2), discovery (spec 3.1 phase 1) and the error frame. docs/protocol.md describes each field.
 *
 * Every object is strict (unknown keys are rejected) and every string and array is bounded, so a
 * parsed frame is exactly what the peer sent. Schemas never fill defaults or transform values: the
 * signature covers the bytes the sender produced, so the receiver must see the same object.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { WIRE_ERROR_CODE_LIST } from './errors.js';

export const PROTOCOL_VERSION = 'fmp/1';
/** Spec 6.3: at most 5 hops. */
export const MAX_HOPS = 5;
/** Default upper bound of one WebSocket frame; hubs and nodes may configure a smaller one. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** Deepest JSON nesting a frame may have; keeps recursive validators and canonicalization off the stack limit. */
export const MAX_JSON_DEPTH = 64;

export const LIMITS = {
  didLength: 2048,
  messageTypeLength: 128,
  capabilityLength: 128,
  capabilities: 64,
  geographicRestrictions: 32,
  errorMessageLength: 1024,
  errorDetailsKeys: 32,
  discoveryResults: 256,
  signatureLength: 128,
  ciphertextLength: 4 * 1024 * 1024,
  retryAfterMs: 24 * 60 * 60 * 1000,
} as const;

// ---------------------------------------------------------------------------------------------
// Common fields
// ---------------------------------------------------------------------------------------------

/**
 * W3C DID Core 3.1: `did:` method-name `:` method-specific-id, where idchar is ALPHA / DIGIT / "." /
 * "-" / "_" / pct-encoded and the id may contain ":" but not end with one. Written so the regex
 * backtracks at most linearly.
 */
const DID_PATTERN = /^did:[a-z0-9]+:(?:[A-Za-z0-9._:-]|%[0-9A-Fa-f]{2})*(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})$/;
export const didSchema = z
  .string()
  .max(LIMITS.didLength)
  .regex(DID_PATTERN, 'must be a DID (did:<method>:<id>)');
export type Did = z.infer<typeof didSchema>;

export const uuidSchema = z.uuid();

/** Multibase base58btc (`z` prefix). The decoded length is checked where the signature is verified. */
export const multibaseSignatureSchema = z
  .string()
  .max(LIMITS.signatureLength)
  .regex(/^z[1-9A-HJ-NP-Za-km-z]+$/, 'must be a base58btc multibase value (z...)');

export const PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
export const prioritySchema = z.enum(PRIORITIES);
export type Priority = z.infer<typeof prioritySchema>;

/** W3C Trace Context level 1, version 00: trace-id and parent-id must not be all zeros. */
export const traceparentSchema = z
  .string()
  .regex(
    /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/,
    'must be a W3C traceparent (00-<32hex>-<16hex>-<2hex>)',
  )
  .refine((t) => !/^00-0{32}-/.test(t), 'trace-id must not be all zeros')
  .refine((t) => !/^00-[0-9a-f]{32}-0{16}-/.test(t), 'parent-id must not be all zeros');

export const protocolVersionSchema = z.literal(PROTOCOL_VERSION);

/**
 * Region codes are lowercase: hub regions (`na`, `eu`, `apac`, ...), ISO 3166-1 alpha-2 countries
 * (`de`, `us`) and ISO 3166-2 subdivisions (`us-ca`). Lowercase only, so that a signed value has one
 * spelling.
 */
const REGION_CODE_PATTERN = /^[a-z]{2,8}(?:-[a-z0-9]{1,8})?$/;
export const regionCodeSchema = z
  .string()
  .max(17)
  .regex(REGION_CODE_PATTERN, 'must be a lowercase region code (eu, apac, us-ca)');
export type RegionCode = z.infer<typeof regionCodeSchema>;

/** Dotted, lowercase message type, e.g. `agent.task.request`. */
export const messageTypeSchema = z
  .string()
  .max(LIMITS.messageTypeLength)
  .regex(/^[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+$/, 'must be a dotted lowercase type (agent.task.request)');

/** Capability names as in the spec (`ml.inference`, `data.analysis`). */
export const capabilitySchema = z
  .string()
  .max(LIMITS.capabilityLength)
  .regex(/^[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)*$/, 'must be a dotted lowercase capability (ml.inference)');

/** Milliseconds since the Unix epoch. */
export const timestampMsSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Spec 5.1: trust scores run from 0 to 100. */
export const trustScoreSchema = z.number().min(0).max(100);

const base64urlSchema = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .regex(/^[A-Za-z0-9_-]*$/, 'must be base64url without padding');

/** zod issues in the `{ path, message }` form ValidationError carries (path joined with dots). */
export function zodIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

function unique(values: readonly string[]): boolean {
  return new Set(values).size === values.length;
}

// ---------------------------------------------------------------------------------------------
// Compliance context (spec 7.2)
// ---------------------------------------------------------------------------------------------

export const DATA_CLASSIFICATIONS = [
  'public',
  'internal',
  'confidential',
  'personal-identifiable',
  'special-category',
] as const;
/** GDPR Art. 6(1) lawful bases. */
export const PROCESSING_BASES = [
  'consent',
  'contract',
  'legal-obligation',
  'vital-interests',
  'public-task',
  'legitimate-interest',
] as const;

/** Transfer safeguards (GDPR Ch. V): SCCs, BCRs, the EU-US Data Privacy Framework, explicit consent, other binding instruments. */
export const TRANSFER_SAFEGUARDS = ['scc', 'bcr', 'dpf', 'explicit-consent', 'binding-instrument'] as const;
/** EU AI Act risk classes. */
export const AI_RISK_LEVELS = ['minimal', 'limited', 'high', 'unacceptable'] as const;

const RETENTION_PATTERN = /^([1-9][0-9]{0,4})-(hour|day|week|month|year)s?$/;
export const retentionPeriodSchema = z
  .string()
  .max(16)
  .regex(RETENTION_PATTERN, 'must be <n>-<hours|days|weeks|months|years>, e.g. 90-days');

const complianceShape = {
  dataClassification: z.enum(DATA_CLASSIFICATIONS),
  processingBasis: z.enum(PROCESSING_BASES).optional(),
  retentionPeriod: retentionPeriodSchema.optional(),
  /** Where the data may be processed; absent means no restriction (an empty list is refused). */
  geographicRestrictions: z.array(regionCodeSchema).min(1).max(LIMITS.geographicRestrictions).optional(),
  auditTrail: z.boolean(),
  // Extensions the jurisdiction adapters read (docs/compliance.md); all optional.
  /** What the data is processed for (purpose limitation). */
  purpose: z.string().min(1).max(128).optional(),
  /** Where the data subjects are (region code): GDPR follows EU data subjects. */
  dataSubjectRegion: regionCodeSchema.optional(),
  /** Transfer safeguards the sender declares for a destination without adequacy. */
  safeguards: z.array(z.enum(TRANSFER_SAFEGUARDS)).max(TRANSFER_SAFEGUARDS.length).optional(),
  /** Explicit consent was obtained (GDPR Art. 9 special categories). */
  explicitConsent: z.boolean().optional(),
  /** EU AI Act risk class of the AI processing the data feeds. */
  aiRiskLevel: z.enum(AI_RISK_LEVELS).optional(),
  /** A human reviews the AI's outcome (AI Act Art. 14 human oversight). */
  humanReview: z.boolean().optional(),
  /** The transfer is a sale or share of personal information (CCPA). */
  saleOrShare: z.boolean().optional(),
  /** The consumer opted out of sale/sharing (CCPA). */
  optOut: z.boolean().optional(),
  /** The individuals were told their data may be processed abroad (PIPEDA). */
  crossBorderNotice: z.boolean().optional(),
  /** A pseudonymous data-subject id: erasure requests shred this subject's stored copies. */
  dataSubject: z.string().min(1).max(128).optional(),
};

export const complianceContextSchema = z.strictObject(complianceShape).superRefine((c, ctx) => {
  // GDPR Art. 6: processing personal data needs a lawful basis.
  const personal =
    c.dataClassification === 'personal-identifiable' || c.dataClassification === 'special-category';
  if (personal && c.processingBasis === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['processingBasis'],
      message: `processingBasis is required for ${c.dataClassification} data`,
    });
  }
  if (c.geographicRestrictions && !unique(c.geographicRestrictions)) {
    ctx.addIssue({ code: 'custom', path: ['geographicRestrictions'], message: 'duplicate region' });
  }
});
export type ComplianceContext = z.infer<typeof complianceContextSchema>;

/** Spec 7.3 (right to explanation): why an action was taken, on what data, instead of what. */
export interface Explanation {
  readonly reasoning: string;
  readonly dataUsed: readonly string[];
  readonly alternatives: readonly string[];
  readonly humanReviewable: boolean;
}

/**
 * Whether `region` lies within geographicRestrictions: equal to one of them or a sub-region of
 * one (`eu-west` is within `eu`). An empty or absent list restricts nothing.
 */
export function regionAllowed(region: string, restrictions: readonly string[] | undefined): boolean {
  if (!restrictions || restrictions.length === 0) return true;
  for (let i = 0; i < restrictions.length; i++) {
    const r = restrictions[i]!;
    if (region === r) return true;
    // A sub-region: `r` then `-` (45), without allocating.
    if (region.length > r.length && region.charCodeAt(r.length) === 45 && region.startsWith(r)) return true;
  }
  return false;
}

const UNIT_MS = {
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
  // Calendar-free approximations: retention is enforced by sweeps, not to the day of the month.
  month: 30 * 86_400_000,
  year: 365 * 86_400_000,
} as const;

export interface RetentionPeriod {
  readonly amount: number;
  readonly unit: keyof typeof UNIT_MS;
  /** Duration in ms; a month counts 30 days and a year 365 days. */
  readonly ms: number;
}

/** Parses a retention period such as `90-days`. Throws ValidationError on anything else. */
export function parseRetentionPeriod(text: string): RetentionPeriod {
  const match = typeof text === 'string' && text.length <= 16 ? RETENTION_PATTERN.exec(text) : null;
  if (!match) {
    throw new ValidationError('invalid retention period', [
      { path: '', message: 'must be <n>-<hours|days|weeks|months|years>, e.g. 90-days' },
    ]);
  }
  const amount = Number(match[1]);
  const unit = match[2] as keyof typeof UNIT_MS;
  return { amount, unit, ms: amount * UNIT_MS[unit] };
}

// ---------------------------------------------------------------------------------------------
// Payloads and the envelope (spec 6.1)
// ---------------------------------------------------------------------------------------------

/** A payload in the clear: control messages that hubs or both ends must read. */
export const clearPayloadSchema = z.strictObject({
  type: messageTypeSchema,
  data: z.json(),
});
export type ClearPayload = z.infer<typeof clearPayloadSchema>;

export const AEAD_ALGORITHM = 'ChaCha20-Poly1305';
/** An end-to-end encrypted payload: base64url nonce (12 bytes) and ciphertext || 16-byte tag. */
export const sealedPayloadSchema = z.strictObject({
  alg: z.literal(AEAD_ALGORITHM),
  nonce: base64urlSchema(16, 16),
  ciphertext: base64urlSchema(22, LIMITS.ciphertextLength),
});
export type SealedPayload = z.infer<typeof sealedPayloadSchema>;

export const payloadSchema = z.union([clearPayloadSchema, sealedPayloadSchema]);
export type Payload = z.infer<typeof payloadSchema>;

export function isSealedPayload(payload: Payload): payload is SealedPayload {
  return 'alg' in payload;
}

/** Fields of the envelope that hubs route on and that the sender fixes (signed, and AAD when sealed). */
const headerShape = {
  version: protocolVersionSchema,
  type: messageTypeSchema,
  messageId: uuidSchema,
  federationId: uuidSchema,
  sourceMeshId: didSchema,
  targetMeshId: didSchema,
  timestamp: timestampMsSchema,
  priority: prioritySchema,
  complianceContext: complianceContextSchema.optional(),
  traceparent: traceparentSchema.optional(),
  maxHops: z.number().int().min(1).max(MAX_HOPS),
};

/** Fields hubs change in transit: not signed, not in the AAD. */
const transitShape = {
  hopCount: z.number().int().min(0).max(MAX_HOPS),
  route: z.array(didSchema).max(MAX_HOPS),
};

type EnvelopeLike = {
  type: string;
  payload: Payload;
  hopCount: number;
  maxHops: number;
  route: string[];
};

function checkEnvelope(e: EnvelopeLike, ctx: z.RefinementCtx): void {
  if (e.hopCount > e.maxHops) {
    ctx.addIssue({ code: 'custom', path: ['hopCount'], message: 'hopCount exceeds maxHops' });
  }
  if (e.route.length !== e.hopCount) {
    ctx.addIssue({ code: 'custom', path: ['route'], message: 'route must list one hub per hop' });
  }
  if (!unique(e.route)) {
    ctx.addIssue({ code: 'custom', path: ['route'], message: 'route visits a hub twice' });
  }
  if (!isSealedPayload(e.payload) && e.payload.type !== e.type) {
    ctx.addIssue({ code: 'custom', path: ['payload', 'type'], message: 'payload.type must equal type' });
  }
}

export const envelopeHeaderSchema = z.strictObject(headerShape);
export type EnvelopeHeader = z.infer<typeof envelopeHeaderSchema>;

export const unsignedEnvelopeSchema = z
  .strictObject({ ...headerShape, payload: payloadSchema, ...transitShape })
  .superRefine(checkEnvelope);
export type UnsignedEnvelope = z.infer<typeof unsignedEnvelopeSchema>;

export const envelopeSchema = z
  .strictObject({
    ...headerShape,
    payload: payloadSchema,
    ...transitShape,
    signature: multibaseSignatureSchema,
  })
  .superRefine(checkEnvelope);
export type Envelope = z.infer<typeof envelopeSchema>;

// ---------------------------------------------------------------------------------------------
// Discovery (spec 3.1 phase 1)
// ---------------------------------------------------------------------------------------------

export const discoveryQuerySchema = z.strictObject({
  /** Only these meshes (a node looking up its partners' region and certifications). */
  meshIds: z.array(didSchema).min(1).max(64).optional(),
  region: regionCodeSchema.optional(),
  capabilities: z.array(capabilitySchema).max(LIMITS.capabilities).optional(),
  minTrustScore: trustScoreSchema.optional(),
});
export type DiscoveryQuery = z.infer<typeof discoveryQuerySchema>;

export const availableMeshSchema = z.strictObject({
  meshId: didSchema,
  region: regionCodeSchema,
  capabilities: z.array(capabilitySchema).max(LIMITS.capabilities),
  trustScore: trustScoreSchema,
  homeHub: didSchema,
  /** complianceCertifications of its credential, as its home hub verified them. */
  certifications: z.array(z.string().min(1).max(64)).max(64).optional(),
});
export type AvailableMesh = z.infer<typeof availableMeshSchema>;

export const availableMeshesSchema = z.array(availableMeshSchema).max(LIMITS.discoveryResults);
export type AvailableMeshes = z.infer<typeof availableMeshesSchema>;

/** Discovery over WebSocket; over HTTP the bodies are the DiscoveryQuery and `{ meshes }`. */
export const discoveryQueryFrameSchema = z.strictObject({
  type: z.literal('discovery.query'),
  requestId: uuidSchema,
  query: discoveryQuerySchema,
});
export type DiscoveryQueryFrame = z.infer<typeof discoveryQueryFrameSchema>;

export const discoveryResultFrameSchema = z.strictObject({
  type: z.literal('discovery.result'),
  inReplyTo: uuidSchema,
  meshes: availableMeshesSchema,
});
export type DiscoveryResultFrame = z.infer<typeof discoveryResultFrameSchema>;

// ---------------------------------------------------------------------------------------------
// Error frame
// ---------------------------------------------------------------------------------------------

export const errorFrameSchema = z.strictObject({
  type: z.literal('error'),
  code: z.enum(WIRE_ERROR_CODE_LIST),
  message: z.string().max(LIMITS.errorMessageLength),
  /** The messageId, requestId or handshakeId of the frame that failed, when known. */
  inReplyTo: uuidSchema.optional(),
  retryAfterMs: z.number().int().min(0).max(LIMITS.retryAfterMs).optional(),
  details: z
    .record(z.string().max(64), z.json())
    .refine((d) => Object.keys(d).length <= LIMITS.errorDetailsKeys, 'too many detail keys')
    .optional(),
});
export type ErrorFrame = z.infer<typeof errorFrameSchema>;

// ---------------------------------------------------------------------------------------------
// Fast path: the envelope check without zod (hubs run it on every routed message)
// ---------------------------------------------------------------------------------------------

// The patterns of the schemas above, compiled once. UUIDs: isUuidValue below, a loop equal to
// zod's (4.x) uuid() pattern, /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB]
// [0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/.
const MESSAGE_TYPE_PATTERN = /^[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+$/;
const SIGNATURE_PATTERN = /^z[1-9A-HJ-NP-Za-km-z]+$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;
const TRACEPARENT_PATTERN = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ENVELOPE_KEYS = new Set([
  ...Object.keys(headerShape),
  'payload',
  ...Object.keys(transitShape),
  'signature',
]);
const UNSIGNED_ENVELOPE_KEYS = new Set([...ENVELOPE_KEYS].filter((k) => k !== 'signature'));
const SEALED_KEYS = new Set(['alg', 'nonce', 'ciphertext']);
const PRIORITY_SET = new Set<unknown>(PRIORITIES);

const isString = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
const isDid = (v: unknown): v is string => isString(v, LIMITS.didLength) && DID_PATTERN.test(v);
/** didSchema's verdict without zod. */
export const isDidValue = isDid;
const isUuid = (v: unknown): boolean => isUuidValue(v);

const isHex = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70); // 0-9 a-f A-F

/**
 * Exactly zod's uuid() verdict for strings (the pattern above), without the regex: a character loop,
 * several times faster (hubs check two or three UUIDs per routed frame).
 */
export function isUuidValue(v: unknown): boolean {
  if (typeof v !== 'string' || v.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = v.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false; // '-'
    } else if (!isHex(c)) return false;
  }
  const version = v.charCodeAt(14);
  const variant = v.charCodeAt(19);
  if (
    version >= 49 &&
    version <= 56 &&
    (variant === 56 || variant === 57 || (variant | 32) === 97 || (variant | 32) === 98)
  )
    return true; // version 1-8, variant 8 9 a b A B
  return v === '00000000-0000-0000-0000-000000000000' || v === 'ffffffff-ffff-ffff-ffff-ffffffffffff';
}
/** traceparentSchema's verdict without zod (all-zero trace and parent ids are invalid). */
export function isTraceparentValue(v: unknown): v is string {
  return (
    typeof v === 'string' &&
    TRACEPARENT_PATTERN.test(v) &&
    !v.startsWith('00-00000000000000000000000000000000-') &&
    v.slice(36, 52) !== '0000000000000000'
  );
}
/** messageTypeSchema's verdict without zod. */
export function isMessageTypeValue(v: unknown): v is string {
  return isString(v, LIMITS.messageTypeLength) && MESSAGE_TYPE_PATTERN.test(v);
}
const isIntIn = (v: unknown, min: number, max: number): v is number =>
  Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Only the keys of `keys` (zod strictObject: `for...in`, as zod enumerates them). */
export function onlyKeys(o: Record<string, unknown>, keys: ReadonlySet<string>): boolean {
  for (const key in o) if (!keys.has(key)) return false;
  return true;
}

function isSealedPayloadValue(p: unknown): boolean {
  if (!isPlainObject(p) || !onlyKeys(p, SEALED_KEYS)) return false;
  const { nonce, ciphertext } = p;
  return (
    p['alg'] === AEAD_ALGORITHM &&
    typeof nonce === 'string' &&
    nonce.length === 16 &&
    BASE64URL_PATTERN.test(nonce) &&
    typeof ciphertext === 'string' &&
    ciphertext.length >= 22 &&
    ciphertext.length <= LIMITS.ciphertextLength &&
    BASE64URL_PATTERN.test(ciphertext)
  );
}

const COMPLIANCE_KEYS = new Set(Object.keys(complianceShape));
const DATA_CLASSIFICATION_SET = new Set<unknown>(DATA_CLASSIFICATIONS);
const PROCESSING_BASIS_SET = new Set<unknown>(PROCESSING_BASES);
const SAFEGUARD_SET = new Set<unknown>(TRANSFER_SAFEGUARDS);
const AI_RISK_SET = new Set<unknown>(AI_RISK_LEVELS);
const COMPLIANCE_FLAGS = [
  'explicitConsent',
  'humanReview',
  'saleOrShare',
  'optOut',
  'crossBorderNotice',
] as const;
const isRegionCode = (v: unknown): boolean =>
  typeof v === 'string' && v.length <= 17 && REGION_CODE_PATTERN.test(v);
const isOptionalText = (v: unknown): boolean =>
  v === undefined || (typeof v === 'string' && v.length >= 1 && v.length <= 128);

/**
 * complianceContextSchema's verdict by hand (its refinements included), for the context every
 * federated tool call carries: hubs and nodes check it on each envelope, and zod's strict object
 * with fourteen optional fields cost more than the rest of the envelope check. A property test holds
 * it to the schema both ways.
 */
export function isComplianceContextValue(value: unknown): value is ComplianceContext {
  if (!isPlainObject(value) || !onlyKeys(value, COMPLIANCE_KEYS)) return false;
  const c = value;
  const classification = c['dataClassification'];
  if (!DATA_CLASSIFICATION_SET.has(classification) || typeof c['auditTrail'] !== 'boolean') return false;
  const basis = c['processingBasis'];
  if (basis === undefined) {
    if (classification === 'personal-identifiable' || classification === 'special-category') return false;
  } else if (!PROCESSING_BASIS_SET.has(basis)) return false;
  const retention = c['retentionPeriod'];
  if (
    retention !== undefined &&
    !(typeof retention === 'string' && retention.length <= 16 && RETENTION_PATTERN.test(retention))
  )
    return false;
  const regions = c['geographicRestrictions'];
  if (regions !== undefined) {
    if (!Array.isArray(regions) || regions.length < 1 || regions.length > LIMITS.geographicRestrictions)
      return false;
    for (const r of regions) if (!isRegionCode(r)) return false;
    if (!unique(regions)) return false;
  }
  if (!isOptionalText(c['purpose']) || !isOptionalText(c['dataSubject'])) return false;
  const subjectRegion = c['dataSubjectRegion'];
  if (subjectRegion !== undefined && !isRegionCode(subjectRegion)) return false;
  const safeguards = c['safeguards'];
  if (safeguards !== undefined) {
    if (!Array.isArray(safeguards) || safeguards.length > TRANSFER_SAFEGUARDS.length) return false;
    for (const g of safeguards) if (!SAFEGUARD_SET.has(g)) return false;
  }
  const risk = c['aiRiskLevel'];
  if (risk !== undefined && !AI_RISK_SET.has(risk)) return false;
  for (const flag of COMPLIANCE_FLAGS) {
    const f = c[flag];
    if (f !== undefined && typeof f !== 'boolean') return false;
  }
  return true;
}

/** What plainJson returns for a value that is not shown to be plain JSON. */
const NOT_PLAIN: unique symbol = Symbol('not plain JSON');

/**
 * The one walk behind isPlainJsonValue and copyPlainJson: `value` itself (`copy` false, nothing
 * allocated: the hot paths only check) or a deep copy of it (`copy` true) when it is plain JSON data
 * that z.json() accepts and gives back unchanged: strings, finite numbers, booleans, null, arrays and
 * plain objects (no `__proto__` key), at most MAX_JSON_DEPTH levels; else NOT_PLAIN.
 */
function plainJson(value: unknown, depth: number, copy: boolean): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : NOT_PLAIN;
    case 'object':
      break;
    default:
      return NOT_PLAIN;
  }
  if (value === null) return null;
  if (depth >= MAX_JSON_DEPTH) return NOT_PLAIN;
  if (Array.isArray(value)) {
    const out: unknown[] | undefined = copy ? new Array(value.length) : undefined;
    for (let i = 0; i < value.length; i++) {
      const x = plainJson(value[i], depth + 1, copy);
      if (x === NOT_PLAIN) return NOT_PLAIN;
      if (out) out[i] = x;
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  const out: Record<string, unknown> | undefined = copy ? {} : undefined;
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return NOT_PLAIN;
    const x = plainJson((value as Record<string, unknown>)[key], depth + 1, copy);
    if (x === NOT_PLAIN) return NOT_PLAIN;
    if (out) out[key] = x;
  }
  return out ?? value;
}

/**
 * Whether `value` is plain JSON data that z.json() accepts and gives back unchanged (see plainJson),
 * `depth` levels down already. False only means "not shown": the caller lets zod decide.
 */
export function isPlainJsonValue(value: unknown, depth = 0): boolean {
  return plainJson(value, depth, false) !== NOT_PLAIN;
}

/**
 * A deep copy of `value` when isPlainJsonValue holds for it (what zod would have built), else
 * undefined. Values a caller handed in are copied so that changing them afterwards changes nothing
 * that was checked.
 */
export function copyPlainJson(value: unknown): unknown {
  const copy = plainJson(value, 0, true);
  return copy === NOT_PLAIN ? undefined : copy;
}

const CLEAR_PAYLOAD_KEYS = new Set(['type', 'data']);

/** True only for what clearPayloadSchema accepts unchanged (false: let the schema decide). */
export function isClearPayloadValue(p: unknown): p is ClearPayload {
  if (!isPlainObject(p) || !onlyKeys(p, CLEAR_PAYLOAD_KEYS)) return false;
  const type = p['type'];
  return (
    isString(type, LIMITS.messageTypeLength) &&
    MESSAGE_TYPE_PATTERN.test(type) &&
    p['data'] !== undefined &&
    isPlainJsonValue(p['data'], 1)
  );
}

/**
 * Exactly `envelopeSchema.safeParse(value).success` for plain JSON data (what JSON.parse returns),
 * without zod on the common path: the header, the transit fields, the signature and a sealed
 * payload are checked by hand; the rarer parts (a complianceContext, a payload in the clear) go to
 * their own zod schemas, so no union branch fails and no zod issue is built on the happy path.
 * A property test holds it to the schema both ways. On false, callers run the schema for issues.
 */
export function isEnvelope(value: unknown): value is Envelope {
  return checkEnvelopeFast(value, true);
}

/**
 * isEnvelope for envelopes with a sealed payload only (false for any other value). Such an
 * envelope nests at most three levels, so parseFrame runs it before its depth check.
 */
export function isSealedEnvelope(value: unknown): value is Envelope {
  return checkEnvelopeFast(value, false);
}

/**
 * unsignedEnvelopeSchema's verdict on a value with a sealed payload (false for any other value):
 * what signEnvelope checks before it signs, without zod (about half the cost of a send).
 */
export function isUnsignedSealedEnvelope(value: unknown): value is UnsignedEnvelope {
  return checkEnvelopeFast(value, false, false);
}

/**
 * unsignedEnvelopeSchema's verdict on any payload: what createEnvelope checks (its draft is a
 * fresh copy of plain JSON data, see copyPlainJson).
 */
export function isUnsignedEnvelope(value: unknown): value is UnsignedEnvelope {
  return checkEnvelopeFast(value, true, false);
}

function checkEnvelopeFast(value: unknown, allowClear: boolean, signed = true): boolean {
  if (!isPlainObject(value) || !onlyKeys(value, signed ? ENVELOPE_KEYS : UNSIGNED_ENVELOPE_KEYS))
    return false;
  const v = value;
  const type = v['type'];
  if (
    v['version'] !== PROTOCOL_VERSION ||
    !isMessageTypeValue(type) ||
    !isUuid(v['messageId']) ||
    !isUuid(v['federationId']) ||
    !isDid(v['sourceMeshId']) ||
    !isDid(v['targetMeshId']) ||
    !isIntIn(v['timestamp'], 0, Number.MAX_SAFE_INTEGER) ||
    !PRIORITY_SET.has(v['priority']) ||
    !isIntIn(v['maxHops'], 1, MAX_HOPS) ||
    !isIntIn(v['hopCount'], 0, MAX_HOPS)
  ) {
    return false;
  }
  const signature = v['signature'];
  if (signed && (!isString(signature, LIMITS.signatureLength) || !SIGNATURE_PATTERN.test(signature))) {
    return false;
  }
  const traceparent = v['traceparent'];
  if (traceparent !== undefined && !isTraceparentValue(traceparent)) return false;
  const route = v['route'];
  if (!Array.isArray(route) || route.length > MAX_HOPS) return false;
  for (const hop of route) if (!isDid(hop)) return false;
  const compliance = v['complianceContext'];
  if (
    compliance !== undefined &&
    !isComplianceContextValue(compliance) &&
    !complianceContextSchema.safeParse(compliance).success
  )
    return false;
  // checkEnvelope (the superRefine), on the same values.
  const hopCount = v['hopCount'] as number;
  if (hopCount > (v['maxHops'] as number) || route.length !== hopCount || !unique(route)) return false;
  const payload = v['payload'];
  if (isSealedPayloadValue(payload)) return true;
  if (!allowClear) return false;
  // The union's other branch; a clear payload names the envelope's type.
  if (isClearPayloadValue(payload)) return payload.type === type;
  const clear = clearPayloadSchema.safeParse(payload);
  return clear.success && clear.data.type === type;
}
