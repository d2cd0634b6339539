/**
 * DID and DID URL syntax (W3C DID Core 1.0 §3.1, §3.2):
 *   did                = "did:" method-name ":" method-specific-id
 *   method-name        = 1*method-char            ; %x61-7A / DIGIT
 *   method-specific-id = *( *idchar ":" ) 1*idchar
 *   idchar             = ALPHA / DIGIT / "." / "-" / "_" / pct-encoded
 *   did-url            = did path-abempty [ "?" query ] [ "#" fragment ]
 */
import { InvalidDidError } from './errors.js';

/** Long-form did:ion DIDs carry their initial state inline, hence the generous bound. */
export const MAX_DID_LENGTH = 16_384;

export interface ParsedDid {
  /** The DID itself, e.g. `did:mesh:enterprise:acme-001`. */
  readonly did: string;
  /** e.g. `mesh`. */
  readonly method: string;
  /** The method-specific id, e.g. `enterprise:acme-001`. */
  readonly id: string;
}

export interface ParsedDidUrl extends ParsedDid {
  readonly didUrl: string;
  readonly path: string;
  readonly query: string | undefined;
  readonly fragment: string | undefined;
}

const METHOD_NAME = /^[a-z0-9]+$/;
const ID_SEGMENT = /^(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})*$/;
// RFC 3986 pchar / "/" / "?" for path, query and fragment (percent-encoding checked separately).
const URI_PART = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;

/** Parses a DID (no path, query or fragment). Throws InvalidDidError. */
export function parseDid(input: unknown): ParsedDid {
  if (typeof input !== 'string') throw new InvalidDidError('a DID must be a string');
  if (input.length > MAX_DID_LENGTH)
    throw new InvalidDidError(`a DID is at most ${MAX_DID_LENGTH} characters`);
  if (!input.startsWith('did:')) throw new InvalidDidError('a DID starts with "did:"');
  const methodEnd = input.indexOf(':', 4);
  if (methodEnd < 0) throw new InvalidDidError('a DID needs a method-specific id');
  const method = input.slice(4, methodEnd);
  if (!METHOD_NAME.test(method))
    throw new InvalidDidError('a DID method name is lowercase letters and digits');
  const id = input.slice(methodEnd + 1);
  const segments = id.split(':');
  if (segments.at(-1) === '') throw new InvalidDidError('a DID must not end with ":" or an empty id');
  for (const segment of segments) {
    if (!ID_SEGMENT.test(segment))
      throw new InvalidDidError('a DID contains a character that is not allowed');
  }
  return { did: input, method, id };
}

/** Parses a DID URL (DID plus optional path, query, fragment). Throws InvalidDidError. */
export function parseDidUrl(input: unknown): ParsedDidUrl {
  if (typeof input !== 'string') throw new InvalidDidError('a DID URL must be a string');
  if (input.length > MAX_DID_LENGTH)
    throw new InvalidDidError(`a DID URL is at most ${MAX_DID_LENGTH} characters`);
  const match = /[/?#]/.exec(input);
  const didPart = match ? input.slice(0, match.index) : input;
  const parsed = parseDid(didPart);
  let rest = match ? input.slice(match.index) : '';
  let fragment: string | undefined;
  let query: string | undefined;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  for (const part of [rest, query ?? '', fragment ?? '']) {
    if (!URI_PART.test(part)) throw new InvalidDidError('a DID URL contains a character that is not allowed');
  }
  return { ...parsed, didUrl: input, path: rest, query, fragment };
}

/** True when the string is a syntactically valid DID. */
export function isDid(input: unknown): input is string {
  try {
    parseDid(input);
    return true;
  } catch {
    return false;
  }
}
