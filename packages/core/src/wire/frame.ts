/**
 * Frame parsing and the error-frame boundary. One WebSocket frame carries one JSON object; its
 * `type` field selects the schema: a type registered in the frame registry (`error`,
 * `discovery.query`, `discovery.result`, the handshake messages, ...) is parsed with its own schema,
 * any other type is an application message and must be a valid envelope.
 *
 * Registering a frame type (how wire/handshake.ts adds its messages):
 * ```ts
 * declare module './frame.js' {
 *   interface FrameTypeMap { Challenge: Challenge }
 * }
 * registerFrameSchema('Challenge', ChallengeSchema);
 * ```
 *
 * @example
 * ```ts
 * try {
 *   const parsed = parseFrame(data, { maxBytes: 256 * 1024 });
 *   if (parsed.kind === 'envelope') route(parsed.frame);
 * } catch (err) {
 *   ws.send(JSON.stringify(encodeErrorFrame(err))); // never in answer to an error frame
 * }
 * ```
 */
import type { z } from 'zod';
import {
  CryptoError,
  DecodeError,
  InvalidSignatureError,
  NotImplementedError,
  ValidationError,
} from '../errors.js';
import { ProtocolError, WIRE_ERROR_CODES } from './errors.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  type DiscoveryQueryFrame,
  type DiscoveryResultFrame,
  discoveryQueryFrameSchema,
  discoveryResultFrameSchema,
  type Envelope,
  type ErrorFrame,
  envelopeSchema,
  errorFrameSchema,
  isEnvelope,
  isSealedEnvelope,
  LIMITS,
  MAX_JSON_DEPTH,
  PROTOCOL_VERSION,
  uuidSchema,
  zodIssues,
} from './messages.js';

/**
 * Frame types with their own schema, mapped to the parsed type. Other modules extend it by
 * declaration merging and then call registerFrameSchema.
 */
export interface FrameTypeMap {
  error: ErrorFrame;
  'discovery.query': DiscoveryQueryFrame;
  'discovery.result': DiscoveryResultFrame;
}
export type FrameType = keyof FrameTypeMap;

/** What parseFrame returns: switch on `kind` to narrow `frame`. */
export type ParsedFrame =
  | { readonly kind: 'envelope'; readonly frame: Envelope }
  | { [K in FrameType]: { readonly kind: K; readonly frame: FrameTypeMap[K] } }[FrameType];

const MAX_REGISTERED_TYPES = 64;
// Mixed case is allowed (handshake messages are `InitiateFederation`, ...); envelope types are
// lowercase and dotted, so a PascalCase frame type can never shadow one.
const FRAME_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z][A-Za-z0-9-]*)*$/;
const MAX_ISSUES_ON_WIRE = 20;
const MAX_ISSUE_TEXT = 256;

const frameSchemas = new Map<string, z.ZodType>([
  ['error', errorFrameSchema],
  ['discovery.query', discoveryQueryFrameSchema],
  ['discovery.result', discoveryResultFrameSchema],
]);

const fastChecks = new Map<string, (value: unknown) => boolean>();

/**
 * Objects produced by a registered schema (parseFrame, parseHandshakeMessage), with that schema.
 * Weak: an entry lives as long as its object. Lets a state machine that takes a frame parsed
 * moments ago skip a second, identical zod pass (the handshake roles parse their input again).
 */
const schemaOutputs = new WeakMap<object, z.ZodType>();

/** Records that `value` is the output of `schema` (a fresh object zod built; callers never mutate it). */
export function markSchemaOutput(value: unknown, schema: z.ZodType): void {
  if (typeof value === 'object' && value !== null) schemaOutputs.set(value, schema);
}

/** The schema `value` was produced by, if it came out of parseFrame or markSchemaOutput. */
export function schemaOutputOf(value: unknown): z.ZodType | undefined {
  return typeof value === 'object' && value !== null ? schemaOutputs.get(value) : undefined;
}

/**
 * Adds a frame type. The schema must be strict and its `type` a literal equal to `type`. A registered
 * type can no longer be used as an envelope type. Throws ValidationError on a malformed or
 * duplicate type, or when the registry is full.
 */
export function registerFrameSchema<K extends FrameType>(
  type: K,
  schema: z.ZodType<FrameTypeMap[K]>,
  options: RegisterFrameOptions = {},
): void {
  if (typeof type !== 'string' || type.length > LIMITS.messageTypeLength || !FRAME_TYPE_PATTERN.test(type)) {
    throw new ValidationError(`invalid frame type ${JSON.stringify(type)}`);
  }
  if (frameSchemas.has(type)) throw new ValidationError(`frame type ${type} is already registered`);
  if (frameSchemas.size >= MAX_REGISTERED_TYPES) throw new ValidationError('frame type registry is full');
  frameSchemas.set(type, schema);
  if (options.fastCheck) fastChecks.set(type, options.fastCheck);
}

export interface RegisterFrameOptions {
  /**
   * A cheaper check run right after JSON parsing (before the depth and version checks, which a
   * value the schema accepts passes anyway). It must return true only for values the schema
   * accepts, with the schema's output equal to the value itself (no transforms); parseFrame then
   * returns the value without running the schema. On false the schema decides, so a conservative
   * check only costs speed, never meaning.
   */
  fastCheck?: (value: unknown) => boolean;
}

/** Whether `type` is parsed with a schema of its own (then it is not an envelope's type). */
export function isRegisteredFrameType(type: string): boolean {
  return frameSchemas.has(type);
}

/** The frame types parsed with their own schema (everything else is an envelope). */
export function registeredFrameTypes(): string[] {
  return [...frameSchemas.keys()];
}

export interface ParseFrameOptions {
  /** Largest accepted frame in UTF-8 bytes. Default DEFAULT_MAX_FRAME_BYTES (1 MiB). */
  maxBytes?: number;
}

function malformed(message: string, cause?: unknown): ProtocolError {
  return new ProtocolError('malformed_frame', message, cause === undefined ? undefined : { cause });
}

/** Iterative, so a deeply nested frame cannot exhaust the stack here. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * A message's text: size first (message_too_large), then UTF-8 for bytes (malformed_frame). What
 * parseFrame checks before JSON, and what a batch is checked with before it is split.
 */
export function frameText(raw: string | Uint8Array, maxBytes: number): string {
  if (typeof raw === 'string') {
    // Every UTF-16 code unit takes one to three UTF-8 bytes: the exact count only in between.
    if (raw.length > maxBytes || (raw.length * 3 > maxBytes && Buffer.byteLength(raw, 'utf8') > maxBytes)) {
      throw new ProtocolError('message_too_large', `frame exceeds ${maxBytes} bytes`);
    }
    return raw;
  }
  if (raw instanceof Uint8Array) {
    if (raw.byteLength > maxBytes) {
      throw new ProtocolError('message_too_large', `frame exceeds ${maxBytes} bytes`);
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch (cause) {
      throw malformed('frame is not valid UTF-8', new DecodeError('invalid UTF-8', { cause }));
    }
  }
  throw malformed('frame must be text or bytes');
}

/**
 * Parses one frame: size first (message_too_large), then UTF-8 and JSON (malformed_frame), nesting
 * depth, protocol version (unsupported_version), then the schema selected by `type`
 * (malformed_frame, with the zod issues in the cause, a ValidationError). Throws only ProtocolError.
 */
export function parseFrame(raw: string | Uint8Array, options: ParseFrameOptions = {}): ParsedFrame {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new ProtocolError('internal_error', 'maxBytes must be a positive integer');
  }
  const text = frameText(raw, maxBytes);

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw malformed('frame is not valid JSON', new DecodeError('invalid JSON', { cause }));
  }
  return parseFrameValue(value);
}

/**
 * parseFrame on a value JSON.parse already made (the frame inside a Relay, parsed with it): the
 * checks after JSON, with the same results and errors.
 */
export function parseFrameValue(value: unknown): ParsedFrame {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed('frame must be a JSON object');
  }
  // The hot path: a sealed envelope (at most three levels deep) needs no depth walk and no zod.
  const object0 = value as Record<string, unknown>;
  if (typeof object0['type'] === 'string' && !frameSchemas.has(object0['type']) && isSealedEnvelope(value)) {
    return { kind: 'envelope', frame: value };
  }
  // A registered type's fast check (receipts: one per message) accepts only what its strict schema
  // accepts, so the value is shallow and has no version key: no depth walk needed before it.
  const type0 = object0['type'];
  if (typeof type0 === 'string') {
    const fast = fastChecks.get(type0);
    if (fast?.(value)) {
      // As if the schema had made it: a state machine parsing it again skips the schema.
      schemaOutputs.set(value as object, frameSchemas.get(type0)!);
      return { kind: type0, frame: value } as ParsedFrame;
    }
  }
  if (nestedDeeperThan(value, MAX_JSON_DEPTH)) {
    throw malformed(`frame nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  const object = value as Record<string, unknown>;
  const type = object['type'];
  if (typeof type !== 'string') throw malformed('frame has no string "type"');
  if (Object.hasOwn(object, 'version') && object['version'] !== PROTOCOL_VERSION) {
    if (typeof object['version'] === 'string') {
      throw new ProtocolError('unsupported_version', `protocol version is not ${PROTOCOL_VERSION}`);
    }
    throw malformed('frame "version" must be a string');
  }

  const schema = frameSchemas.get(type);
  // Fast path: a valid envelope is accepted by the hand-written check (exactly the schema's
  // verdict, see isEnvelope); zod runs only to explain a rejection or for other frame types.
  if (!schema && isEnvelope(object)) return { kind: 'envelope', frame: object };
  const kind = schema ? type : 'envelope';
  let result: ReturnType<z.ZodType['safeParse']>;
  try {
    result = (schema ?? envelopeSchema).safeParse(value);
  } catch (cause) {
    // zod does not throw on JSON input; this keeps the "only ProtocolError" promise if it ever does.
    throw new ProtocolError('internal_error', 'frame validation failed', { cause });
  }
  if (!result.success) {
    const issues = zodIssues(result.error);
    const first = issues[0];
    const summary = first ? `: ${first.path || '(root)'}: ${first.message}` : '';
    throw malformed(
      `invalid ${kind} frame${summary}`.slice(0, LIMITS.errorMessageLength),
      new ValidationError(`invalid ${kind} frame`, issues),
    );
  }
  if (schema) schemaOutputs.set(result.data as object, schema);
  return { kind, frame: result.data } as ParsedFrame;
}

export interface ErrorFrameOptions {
  /** The messageId, requestId or handshakeId being answered; dropped unless it is a UUID. */
  inReplyTo?: string;
}

function wireIssues(issues: readonly { path: string; message: string }[]) {
  return issues.slice(0, MAX_ISSUES_ON_WIRE).map((i) => ({
    path: i.path.slice(0, MAX_ISSUE_TEXT),
    message: i.message.slice(0, MAX_ISSUE_TEXT),
  }));
}

/**
 * The error boundary: maps anything thrown to a schema-valid error frame. ProtocolError keeps its
 * code, message and retryAfterMs; local errors map to a wire code with that code's fixed text;
 * anything else becomes internal_error without its message. Never throws.
 */
export function encodeErrorFrame(err: unknown, options: ErrorFrameOptions = {}): ErrorFrame {
  let frame: ErrorFrame;
  if (err instanceof ProtocolError) {
    frame = { type: 'error', code: err.wireCode, message: err.message.slice(0, LIMITS.errorMessageLength) };
    if (err.retryAfterMs !== undefined && Number.isSafeInteger(err.retryAfterMs) && err.retryAfterMs >= 0) {
      frame.retryAfterMs = Math.min(err.retryAfterMs, LIMITS.retryAfterMs);
    }
    if (err.cause instanceof ValidationError && err.cause.issues.length > 0) {
      frame.details = { issues: wireIssues(err.cause.issues) };
    }
    if (err.wireCode === 'unsupported_version') frame.details = { supported: [PROTOCOL_VERSION] };
  } else if (err instanceof ValidationError) {
    frame = { type: 'error', code: 'malformed_frame', message: WIRE_ERROR_CODES.malformed_frame };
    if (err.issues.length > 0) frame.details = { issues: wireIssues(err.issues) };
  } else if (err instanceof DecodeError) {
    frame = { type: 'error', code: 'malformed_frame', message: WIRE_ERROR_CODES.malformed_frame };
  } else if (err instanceof InvalidSignatureError) {
    frame = { type: 'error', code: 'invalid_signature', message: WIRE_ERROR_CODES.invalid_signature };
  } else if (err instanceof CryptoError) {
    frame = { type: 'error', code: 'decryption_failed', message: WIRE_ERROR_CODES.decryption_failed };
  } else if (err instanceof NotImplementedError) {
    frame = { type: 'error', code: 'not_implemented', message: WIRE_ERROR_CODES.not_implemented };
  } else {
    frame = { type: 'error', code: 'internal_error', message: WIRE_ERROR_CODES.internal_error };
  }
  if (options.inReplyTo !== undefined && uuidSchema.safeParse(options.inReplyTo).success) {
    frame.inReplyTo = options.inReplyTo;
  }
  // Belt and braces: what leaves this function always parses on the other side.
  return errorFrameSchema.safeParse(frame).success
    ? frame
    : { type: 'error', code: 'internal_error', message: WIRE_ERROR_CODES.internal_error };
}

// Character codes the top-level scan of hopForwardedText looks at.
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;

export const isJsonWs = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

/** Index just past the string starting at `i` (a quote), or -1. */
function skipString(text: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q < 0) return -1;
    let slashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/**
 * Index just past the JSON value starting at `i`, or -1. A structural scan (strings, brackets,
 * scalars up to the next delimiter), not a validation: what it delimits is parsed afterwards.
 */
export function skipJsonValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    let j = i;
    while (j < text.length) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) {
        j = skipString(text, j);
        if (j < 0) return -1;
        continue;
      }
      if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    return -1;
  }
  // A number, true, false or null: up to the next delimiter.
  let j = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === COMMA || d === CLOSE_BRACE || isJsonWs(d)) break;
    j++;
  }
  return j > i ? j : -1;
}

/**
 * Where the root object's `hopCount` and `route` values sit in a frame's text (offsets from the
 * frame's first character), and how many members the root has: what hopForwardedText edits.
 */
export interface HopSpans {
  readonly hop: readonly [number, number];
  readonly route: readonly [number, number];
  readonly keys: number;
}

/**
 * Scans the root object starting at `start` member by member: its end (just past its closing brace)
 * and, when the text can be edited safely, the spans of `hopCount` and `route` (no key written with an
 * escape, neither key twice). Undefined when the text is not an object read this way (the caller
 * then scans it as any JSON value). A structural scan, not a validation: what it delimits is parsed
 * afterwards.
 */
export function scanRootMembers(text: string, start: number): { end: number; spans?: HopSpans } | undefined {
  let hop: [number, number] | undefined;
  let route: [number, number] | undefined;
  let safe = true;
  let keys = 0;
  let i = start;
  if (text.charCodeAt(i) !== OPEN_BRACE) return undefined;
  i++;
  while (isJsonWs(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) === CLOSE_BRACE) return { end: i + 1 };
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return undefined;
    const end = skipString(text, i);
    if (end < 0) return undefined;
    const key = text.slice(i + 1, end - 1);
    if (key.includes('\\')) safe = false;
    keys++;
    i = end;
    while (isJsonWs(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== COLON) return undefined;
    i++;
    while (isJsonWs(text.charCodeAt(i))) i++;
    const valueEnd = skipMemberValue(text, i);
    if (valueEnd < 0) return undefined;
    if (key === 'hopCount') {
      if (hop) safe = false;
      hop = [i - start, valueEnd - start];
    } else if (key === 'route') {
      if (route) safe = false;
      route = [i - start, valueEnd - start];
    }
    i = valueEnd;
    while (isJsonWs(text.charCodeAt(i))) i++;
    const c = text.charCodeAt(i);
    if (c === CLOSE_BRACE)
      return { end: i + 1, ...(safe && hop && route ? { spans: { hop, route, keys } } : {}) };
    if (c !== COMMA) return undefined;
    i++;
    while (isJsonWs(text.charCodeAt(i))) i++;
  }
}

/**
 * skipJsonValue for a member's value, except that a number or literal holding a bracket or a quote
 * gives -1 (only invalid JSON has one): then wherever scanRootMembers ends, skipJsonValue's
 * bracket count over the same object ends there too, so a batch splits the same either way.
 */
function skipMemberValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE || c === OPEN_BRACE || c === OPEN_BRACKET) return skipJsonValue(text, i);
  let j = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === COMMA || d === CLOSE_BRACE || isJsonWs(d)) break;
    if (d === OPEN_BRACE || d === OPEN_BRACKET || d === CLOSE_BRACKET || d === QUOTE) return -1;
    j++;
  }
  return j > i ? j : -1;
}

/**
 * The frame text of a hop-forwarded envelope, made from the text it arrived in: only the values
 * of the top-level `hopCount` and `route` are replaced by `forwarded`'s, every other byte (all the
 * signed fields, in the sender's order and spelling) is kept, which is cheaper than serializing
 * the whole envelope again. `text` must be the frame `forwarded` was parsed from (by parseFrame)
 * before hopForward; `spans`, when given, are scanRootMembers' for that text (a batch's split
 * finds them on its way, so the text is not scanned twice). Returns undefined when the text cannot
 * be edited safely (a key written with escapes, a duplicate key, a missing field): the caller then
 * serializes `forwarded`.
 */
export function hopForwardedText(text: string, forwarded: Envelope, spans?: HopSpans): string | undefined {
  let found = spans;
  if (!found) {
    let i = 0;
    while (isJsonWs(text.charCodeAt(i))) i++;
    const scanned = scanRootMembers(text, i);
    if (!scanned?.spans) return undefined;
    const { hop, route, keys } = scanned.spans;
    found = { hop: [hop[0] + i, hop[1] + i], route: [route[0] + i, route[1] + i], keys };
  }
  // Every key seen once: what the next hop parses is exactly what was checked here.
  if (found.keys !== Object.keys(forwarded).length) return undefined;
  const { hop, route } = found;
  const hopText = String(forwarded.hopCount);
  const routeText = JSON.stringify(forwarded.route);
  const [first, firstText, second, secondText] =
    hop[0] < route[0] ? [hop, hopText, route, routeText] : [route, routeText, hop, hopText];
  return (
    text.slice(0, first[0]) + firstText + text.slice(first[1], second[0]) + secondText + text.slice(second[1])
  );
}
