/**
 * The message envelope: creation, Ed25519 signatures, end-to-end sealed payloads and hop forwarding.
 * docs/protocol.md describes the exact bytes.
 *
 * - Signed bytes: RFC 8785 canonical JSON of the envelope without `signature`, `hopCount` and `route`
 *   (hubs change the last two in transit).
 * - Sealed payload: ChaCha20-Poly1305 under the federation's session key, fresh random 12-byte nonce,
 *   associated data = canonical JSON of the clear header (the envelope without `payload`,
 *   `signature`, `hopCount`, `route`), so a hub that edits a header field breaks decryption.
 *
 * @example
 * ```ts
 * const body = { type: 'agent.task.request', data: { task: 'summarize' } };
 * const draft = createEnvelope(
 *   { type: body.type, federationId, sourceMeshId, targetMeshId, payload: body },
 *   { now: () => Date.now() },
 * );
 * // Seal with the final header (it is the AAD), then sign over the ciphertext.
 * const envelope = signEnvelope({ ...draft, payload: sealPayload(sessionKey, draft, body) }, keyPair);
 * const hop = hopForward(envelope, 'did:mesh:hub:eu'); // what a hub does; the signature still holds
 * verifyEnvelope(hop, keyPair.publicKey); // throws InvalidSignatureError if tampered
 * openPayload(sessionKey, hop); // { type: 'agent.task.request', data: { task: 'summarize' } }
 * ```
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import {
  AEAD_NONCE_BYTES,
  chacha20poly1305,
  ED25519_SIGNATURE_BYTES,
  type Ed25519KeyPair,
  ed25519,
  randomBytes,
} from './crypto.js';
import {
  base64urlDecode,
  base64urlEncode,
  canonicalBytes,
  multibaseDecode,
  multibaseEncode,
} from './encoding.js';
import { CryptoError, DecodeError, InvalidSignatureError, ValidationError } from './errors.js';
import { ProtocolError } from './wire/errors.js';
import { markSchemaOutput, schemaOutputOf } from './wire/frame.js';
import {
  AEAD_ALGORITHM,
  type ClearPayload,
  clearPayloadSchema,
  copyPlainJson,
  didSchema,
  type Envelope,
  type EnvelopeHeader,
  envelopeHeaderSchema,
  envelopeSchema,
  isClearPayloadValue,
  isSealedPayload,
  isUnsignedEnvelope,
  isUnsignedSealedEnvelope,
  MAX_HOPS,
  type Payload,
  PROTOCOL_VERSION,
  type Priority,
  type SealedPayload,
  type UnsignedEnvelope,
  unsignedEnvelopeSchema,
  zodIssues,
} from './wire/messages.js';

/** The keys of the clear header, in no particular order (canonicalization sorts them). */
const HEADER_KEYS = Object.keys(envelopeHeaderSchema.shape) as (keyof EnvelopeHeader)[];

function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(`invalid ${what}`, zodIssues(result.error));
  return result.data;
}

export interface CreateEnvelopeInput {
  type: string;
  federationId: string;
  sourceMeshId: string;
  targetMeshId: string;
  payload: Payload;
  /** Default `normal`. */
  priority?: Priority;
  complianceContext?: EnvelopeHeader['complianceContext'];
  traceparent?: string;
  /** Default 5 (spec 6.3). */
  maxHops?: number;
}

export interface EnvelopeDeps {
  /** Milliseconds since the epoch; injected so core stays free of clocks. */
  now: () => number;
  /** Defaults to node:crypto randomUUID (v4). */
  randomUUID?: () => string;
}

/**
 * Fills version, messageId, timestamp, hopCount 0, an empty route and the defaults, then validates.
 * Defaults live here, not in the schemas: a receiver must parse exactly the object that was signed.
 */
export function createEnvelope(input: CreateEnvelopeInput, deps: EnvelopeDeps): UnsignedEnvelope {
  const draft: Record<string, unknown> = {
    version: PROTOCOL_VERSION,
    type: input.type,
    messageId: (deps.randomUUID ?? randomUUID)(),
    federationId: input.federationId,
    sourceMeshId: input.sourceMeshId,
    targetMeshId: input.targetMeshId,
    timestamp: deps.now(),
    priority: input.priority ?? 'normal',
    maxHops: input.maxHops ?? MAX_HOPS,
    payload: input.payload,
    hopCount: 0,
    route: [],
  };
  if (input.complianceContext !== undefined) draft.complianceContext = input.complianceContext;
  if (input.traceparent !== undefined) draft.traceparent = input.traceparent;
  // Plain JSON data (what callers pass) is copied and checked by hand, the same verdict as the
  // schema (property-tested) without zod's walk of the payload; anything else goes to zod.
  const copy = copyPlainJson(draft);
  const envelope = isUnsignedEnvelope(copy) ? copy : validate(unsignedEnvelopeSchema, draft, 'envelope');
  // Fresh objects zod built from checked input: sealPayload need not check them again.
  markSchemaOutput(envelope, unsignedEnvelopeSchema);
  if (!isSealedPayload(envelope.payload)) markSchemaOutput(envelope.payload, clearPayloadSchema);
  return envelope;
}

/** The clear header: every field except payload, signature, hopCount and route. */
export function envelopeHeader(envelope: EnvelopeHeader | UnsignedEnvelope | Envelope): EnvelopeHeader {
  const header: Record<string, unknown> = {};
  const source = envelope as Record<string, unknown>;
  for (const key of HEADER_KEYS) {
    if (source[key] !== undefined) header[key] = source[key];
  }
  return header as EnvelopeHeader;
}

/** The bytes an envelope signature covers: JCS(envelope without signature, hopCount, route). */
export function envelopeSigningBytes(envelope: UnsignedEnvelope | Envelope): Uint8Array {
  const { signature: _s, hopCount: _h, route: _r, ...signed } = envelope as Envelope;
  return canonicalBytes(signed);
}

/** The associated data of a sealed payload: JCS(clear header). */
export function envelopeAssociatedData(envelope: EnvelopeHeader | UnsignedEnvelope | Envelope): Uint8Array {
  return canonicalBytes(envelopeHeader(envelope));
}

/** Validates the unsigned envelope (ValidationError) and signs it. Any existing signature is replaced. */
export function signEnvelope(unsigned: UnsignedEnvelope | Envelope, keyPair: Ed25519KeyPair): Envelope {
  const { signature: _old, ...rest } = unsigned as Envelope;
  // A sealed envelope (every send of a node) is checked by hand: the same verdict, without zod.
  const valid = isUnsignedSealedEnvelope(rest) ? rest : validate(unsignedEnvelopeSchema, rest, 'envelope');
  const signature = multibaseEncode(ed25519.sign(envelopeSigningBytes(valid), keyPair));
  return { ...valid, signature };
}

/**
 * Verifies the source's Ed25519 signature. Returns nothing on success and throws
 * InvalidSignatureError otherwise (wrong key, altered signed field, malformed signature). The
 * envelope should come from parseFrame or envelopeSchema; this function does not re-validate it.
 */
export function verifyEnvelope(envelope: Envelope, publicKey: Uint8Array): void {
  let signature: Uint8Array;
  try {
    signature = multibaseDecode(envelope.signature);
  } catch (cause) {
    throw new InvalidSignatureError('envelope signature is not base58btc multibase', { cause });
  }
  if (signature.length !== ED25519_SIGNATURE_BYTES) {
    throw new InvalidSignatureError('envelope signature must be 64 bytes');
  }
  if (!ed25519.verify(signature, envelopeSigningBytes(envelope), publicKey)) {
    throw new InvalidSignatureError('envelope signature does not verify');
  }
}

/**
 * Encrypts a clear payload for the envelope whose header is given. The header must already hold its
 * final values (messageId, timestamp, ...): they are bound as associated data. A header and payload
 * as createEnvelope returned them (`draft`, `draft.payload`) are not checked again: do not modify
 * them in between (anything else is checked here).
 */
export function sealPayload(
  sessionKey: Uint8Array,
  header: EnvelopeHeader | UnsignedEnvelope | Envelope,
  plaintextPayload: ClearPayload,
): SealedPayload {
  // What createEnvelope returned (and its clear payload) was checked there: not again here.
  const clearHeader =
    schemaOutputOf(header) === unsignedEnvelopeSchema
      ? envelopeHeader(header)
      : validate(envelopeHeaderSchema, envelopeHeader(header), 'envelope header');
  const payload =
    schemaOutputOf(plaintextPayload) === clearPayloadSchema
      ? plaintextPayload
      : validate(clearPayloadSchema, plaintextPayload, 'payload');
  if (payload.type !== clearHeader.type) {
    throw new ValidationError('payload type differs from envelope type', [
      { path: 'type', message: 'payload.type must equal the envelope type' },
    ]);
  }
  // A random 96-bit nonce per message; session keys are per federation and rotated on re-handshake,
  // which keeps the number of messages per key far below the 2^32 birthday bound.
  const nonce = randomBytes(AEAD_NONCE_BYTES);
  const ciphertext = chacha20poly1305.seal(
    sessionKey,
    nonce,
    canonicalBytes(payload),
    canonicalBytes(clearHeader),
  );
  return { alg: AEAD_ALGORITHM, nonce: base64urlEncode(nonce), ciphertext: base64urlEncode(ciphertext) };
}

/**
 * Decrypts and validates a sealed payload. Throws CryptoError when the payload is not sealed or does
 * not authenticate (altered header, nonce or ciphertext, or the wrong key); DecodeError or
 * ValidationError when the authenticated plaintext is not a valid clear payload for this envelope
 * (only a buggy or malicious sender holding the session key can produce that).
 */
export function openPayload(sessionKey: Uint8Array, envelope: UnsignedEnvelope | Envelope): ClearPayload {
  const payload = envelope.payload;
  if (!isSealedPayload(payload)) throw new CryptoError('payload is not sealed');
  let nonce: Uint8Array;
  let ciphertext: Uint8Array;
  try {
    nonce = base64urlDecode(payload.nonce);
    ciphertext = base64urlDecode(payload.ciphertext);
  } catch (cause) {
    throw new CryptoError('sealed payload is not base64url', { cause });
  }
  const plaintext = chacha20poly1305.open(sessionKey, nonce, ciphertext, envelopeAssociatedData(envelope));
  let json: unknown;
  try {
    json = JSON.parse(UTF8.decode(plaintext));
  } catch (cause) {
    throw new DecodeError('sealed payload is not UTF-8 JSON', { cause });
  }
  const clear = isClearPayloadValue(json) ? json : validate(clearPayloadSchema, json, 'sealed payload');
  if (clear.type !== envelope.type) {
    throw new ValidationError('payload type differs from envelope type', [
      { path: 'payload.type', message: 'payload.type must equal the envelope type' },
    ]);
  }
  return clear;
}

/** Fatal: a sealed payload that is not UTF-8 is refused, not repaired. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The last hub DID hopForward validated (strings are immutable: equal means valid). */
let lastHubDid: string | undefined;

/**
 * What a hub does before forwarding: returns a copy with hopCount + 1 and the hub appended to route.
 * Throws ProtocolError('routing_loop') when the hub is already in the route and
 * ProtocolError('hop_limit_exceeded') when hopCount has reached maxHops.
 */
export function hopForward<E extends UnsignedEnvelope | Envelope>(envelope: E, hubDid: string): E {
  // A hub forwards with its own DID every time: checked once, not per message.
  if (hubDid !== lastHubDid) {
    validate(didSchema, hubDid, 'hub DID');
    lastHubDid = hubDid;
  }
  if (envelope.route.includes(hubDid)) {
    throw new ProtocolError('routing_loop', `message ${envelope.messageId} already traversed ${hubDid}`);
  }
  if (envelope.hopCount >= envelope.maxHops) {
    throw new ProtocolError(
      'hop_limit_exceeded',
      `message ${envelope.messageId} reached maxHops (${envelope.maxHops})`,
    );
  }
  return { ...envelope, hopCount: envelope.hopCount + 1, route: [...envelope.route, hubDid] };
}

/** Parses an envelope that is already a JS value (e.g. from HTTP); throws ValidationError. */
export function parseEnvelope(value: unknown): Envelope {
  return validate(envelopeSchema, value, 'envelope');
}
