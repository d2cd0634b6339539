/**
 * Frames read straight from the text they arrived in, for the hub's routing path: the two frames
 * a routed message brings (its sealed envelope, and the receiver's Ack), each matched by one sticky
 * regular expression over the layout fmp senders write (createEnvelope's member order and
 * JSON.stringify's spelling: no whitespace, no escapes), then the checks a pattern does not make
 * (UUID versions, DID syntax and length, bounds, the route). When one matches, the value is what
 * JSON.parse followed by the frame's check would give for the same text (property-tested in
 * frame-text.test.ts), found in one pass over the text instead of three (the batch split's member
 * scan, JSON.parse, the check), and without a copy of the ciphertext. Any other spelling (keys in
 * another order, whitespace, an escape, a clear payload, an Ack with an error) gives undefined: the
 * caller then takes the general path, which decides as before. A miss costs speed, never meaning.
 * The ciphertext, the signature and the head and tail texts stay views of the text they were cut
 * from (see ownCopy): whoever keeps the envelope past the frame's forwarding copies it.
 */
import { ownCopy } from '../intern.js';
import { isRegisteredFrameType } from './frame.js';
import type { Ack } from './link.js';
import {
  AEAD_ALGORITHM,
  complianceContextSchema,
  type Envelope,
  isComplianceContextValue,
  isDidValue,
  isMessageTypeValue,
  isTraceparentValue,
  isUuidValue,
  LIMITS,
  MAX_HOPS,
  PRIORITIES,
  PROTOCOL_VERSION,
} from './messages.js';

/** What matchSealedEnvelope found: the envelope, where its text ends, and the text around the transit fields. */
export interface SealedEnvelopeText {
  readonly envelope: Envelope;
  /** Index just past the envelope's closing brace. */
  readonly end: number;
  /** The text from the opening brace through the payload: every member before `hopCount`. */
  readonly head: string;
  /** The text after the route: the optional complianceContext and traceparent, the signature, the closing brace. */
  readonly tail: string;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
// A string member's value without a quote or a backslash: it is its own JSON text, so the captured
// characters are the parsed value. What else a DID or a type must be is checked after the match.
const PLAIN = String.raw`[^"\\]`;
const UUID = '[0-9A-Fa-f-]{36}';

// Groups: 1 head, 2 type, 3 messageId, 4 federationId, 5 source, 6 target, 7 timestamp,
// 8 priority, 9 maxHops, 10 nonce, 11 ciphertext, 12 hopCount, 13 route's inner text, 14 tail,
// 15 complianceContext text, 16 traceparent, 17 signature. Every repetition ends at a character
// it cannot contain, so matching is linear in the text's length.
const SEALED_ENVELOPE_TEXT = new RegExp(
  `(\\{"version":"${escapeRegExp(PROTOCOL_VERSION)}","type":"([a-z0-9.-]+)","messageId":"(${UUID})",` +
    `"federationId":"(${UUID})","sourceMeshId":"(did:${PLAIN}+)","targetMeshId":"(did:${PLAIN}+)",` +
    `"timestamp":(0|[1-9][0-9]{0,15}),"priority":"(${PRIORITIES.join('|')})","maxHops":([1-${MAX_HOPS}]),` +
    `"payload":\\{"alg":"${escapeRegExp(AEAD_ALGORITHM)}","nonce":"([A-Za-z0-9_-]{16})",` +
    `"ciphertext":"([A-Za-z0-9_-]*)"\\}),"hopCount":([0-${MAX_HOPS}]),` +
    `"route":\\[((?:"${PLAIN}+")(?:,"${PLAIN}+")*)?\\]` +
    `((?:,"complianceContext":(\\{[^{}]*\\}))?(?:,"traceparent":"([0-9a-f-]{55})")?` +
    `,"signature":"(z[1-9A-HJ-NP-Za-km-z]+)"\\})`,
  'y',
);

/**
 * The sealed envelope whose text starts at `text[at]`, or undefined when the text there is not one
 * written in the standard layout (see the module comment). The envelope's members are in the
 * text's order, as JSON.parse would make them.
 */
export function matchSealedEnvelope(text: string, at: number): SealedEnvelopeText | undefined {
  SEALED_ENVELOPE_TEXT.lastIndex = at;
  const m = SEALED_ENVELOPE_TEXT.exec(text);
  if (m === null) return undefined;
  const type = m[2]!;
  // Ids a hub may keep (map keys: the rate limiter's buckets, trust counters) get storage of their
  // own; the rest are views of the text, which a hub lets go once the frame is forwarded.
  const sourceMeshId = ownCopy(m[5]!);
  const targetMeshId = ownCopy(m[6]!);
  const timestamp = Number(m[7]);
  const maxHops = Number(m[9]);
  const ciphertext = m[11]!;
  const hopCount = Number(m[12]);
  const signature = m[17]!;
  if (
    !isMessageTypeValue(type) ||
    isRegisteredFrameType(type) ||
    !isUuidValue(m[3]) ||
    !isUuidValue(m[4]) ||
    !isDidValue(sourceMeshId) ||
    !isDidValue(targetMeshId) ||
    timestamp > Number.MAX_SAFE_INTEGER ||
    ciphertext.length < 22 ||
    ciphertext.length > LIMITS.ciphertextLength ||
    signature.length > LIMITS.signatureLength ||
    hopCount > maxHops
  ) {
    return undefined;
  }
  const routeText = m[13];
  const route = routeText === undefined ? [] : routeText.slice(1, -1).split('","');
  if (route.length !== hopCount) return undefined;
  for (let i = 0; i < route.length; i++) {
    const hop = route[i]!;
    if (!isDidValue(hop)) return undefined;
    for (let j = 0; j < i; j++) if (route[j] === hop) return undefined;
  }
  const envelope: Record<string, unknown> = {
    version: PROTOCOL_VERSION,
    type,
    messageId: ownCopy(m[3]!),
    federationId: ownCopy(m[4]!),
    sourceMeshId,
    targetMeshId,
    timestamp,
    priority: m[8],
    maxHops,
    payload: { alg: AEAD_ALGORITHM, nonce: m[10], ciphertext },
    hopCount,
    route,
  };
  const complianceText = m[15];
  if (complianceText !== undefined) {
    let compliance: unknown;
    try {
      compliance = JSON.parse(complianceText);
    } catch {
      return undefined;
    }
    // The pattern takes any text between the braces: whitespace or an escape there is another
    // spelling, which the general path would forward re-serialized, not as it came.
    if (JSON.stringify(compliance) !== complianceText) return undefined;
    // As the envelope check does: the hand check, else the schema's verdict on the same value.
    if (!isComplianceContextValue(compliance) && !complianceContextSchema.safeParse(compliance).success)
      return undefined;
    envelope['complianceContext'] = compliance;
  }
  const traceparent = m[16];
  if (traceparent !== undefined) {
    if (!isTraceparentValue(traceparent)) return undefined;
    envelope['traceparent'] = traceparent;
  }
  envelope['signature'] = signature;
  return { envelope: envelope as Envelope, end: SEALED_ENVELOPE_TEXT.lastIndex, head: m[1]!, tail: m[14]! };
}

/**
 * The text of `forwarded` (the matched envelope after hopForward) for the next hop: the received
 * text with only hopCount and route written anew.
 */
export function forwardedEnvelopeText(matched: SealedEnvelopeText, forwarded: Envelope): string {
  return `${matched.head},"hopCount":${forwarded.hopCount},"route":${JSON.stringify(forwarded.route)}${matched.tail}`;
}

/** A plain Ack (no error) matched by matchPlainAck, and where its text ends. */
export interface AckText {
  readonly ack: Ack;
  readonly end: number;
}

const PLAIN_ACK_TEXT = new RegExp(
  `\\{"type":"Ack","messageId":"(${UUID})","federationId":"(${UUID})"\\}`,
  'y',
);

/**
 * The Ack without an error whose text starts at `text[at]`, written as receivers write it, or
 * undefined. Its ids are views of the text: a hub answers it within the turn.
 */
export function matchPlainAck(text: string, at: number): AckText | undefined {
  PLAIN_ACK_TEXT.lastIndex = at;
  const m = PLAIN_ACK_TEXT.exec(text);
  if (m === null || !isUuidValue(m[1]) || !isUuidValue(m[2])) return undefined;
  return { ack: { type: 'Ack', messageId: m[1]!, federationId: m[2]! }, end: PLAIN_ACK_TEXT.lastIndex };
}

const V = 118; // 'v': `{"version"...`, an envelope
const T = 116; // 't': `{"type"...`

/** matchSealedEnvelope or matchPlainAck, by the text's first key. */
export function matchFrameText(text: string, at: number): SealedEnvelopeText | AckText | undefined {
  const c = text.charCodeAt(at + 2);
  if (c === V) return matchSealedEnvelope(text, at);
  if (c === T) return matchPlainAck(text, at);
  return undefined;
}
