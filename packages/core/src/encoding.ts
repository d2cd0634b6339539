/**
 * Multibase (base58btc, the `z` prefix), multicodec key prefixes, base64url and RFC 8785 canonical
 * JSON. Multibase/multicodec follow the multiformats tables (see ../shared/vectors).
 */
import canonicalize from 'canonicalize';
import { base58btc } from 'multiformats/bases/base58';
import { DecodeError, ValidationError } from './errors.js';

/** Multicodec codes for the keys we encode (unsigned varint prefixes). */
export const MULTICODEC = {
  'ed25519-pub': 0xed,
  'x25519-pub': 0xec,
  'ed25519-priv': 0x1300,
} as const;
export type KeyCodec = keyof typeof MULTICODEC;

export function multibaseEncode(bytes: Uint8Array): string {
  return base58btc.encode(bytes);
}

export function multibaseDecode(text: string): Uint8Array {
  if (typeof text !== 'string' || !text.startsWith('z')) {
    throw new DecodeError('multibase value must be base58btc (prefix "z")');
  }
  try {
    return base58btc.decode(text);
  } catch (cause) {
    throw new DecodeError('invalid base58btc multibase value', { cause });
  }
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function readVarint(bytes: Uint8Array): { value: number; length: number } {
  let value = 0;
  for (let i = 0; i < Math.min(bytes.length, 4); i++) {
    const b = bytes[i]!;
    value |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) === 0) return { value, length: i + 1 };
  }
  throw new DecodeError('invalid multicodec varint');
}

const KEY_LENGTH: Record<KeyCodec, number> = { 'ed25519-pub': 32, 'x25519-pub': 32, 'ed25519-priv': 32 };

/** Multikey form: multibase(base58btc, varint(codec) || key), e.g. `z6Mk...` for Ed25519. */
export function encodeMultikey(codec: KeyCodec, key: Uint8Array): string {
  if (key.length !== KEY_LENGTH[codec])
    throw new ValidationError(`${codec} key must be ${KEY_LENGTH[codec]} bytes`);
  const prefix = varint(MULTICODEC[codec]);
  const out = new Uint8Array(prefix.length + key.length);
  out.set(prefix, 0);
  out.set(key, prefix.length);
  return multibaseEncode(out);
}

export function decodeMultikey(text: string): { codec: KeyCodec; key: Uint8Array } {
  const bytes = multibaseDecode(text);
  const { value, length } = readVarint(bytes);
  const codec = (Object.keys(MULTICODEC) as KeyCodec[]).find((c) => MULTICODEC[c] === value);
  if (!codec) throw new DecodeError(`unsupported multicodec 0x${value.toString(16)}`);
  const key = bytes.subarray(length);
  if (key.length !== KEY_LENGTH[codec])
    throw new DecodeError(`${codec} key must be ${KEY_LENGTH[codec]} bytes`);
  return { codec, key: Uint8Array.from(key) };
}

export function base64urlEncode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export function base64urlDecode(text: string): Uint8Array {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) throw new DecodeError('invalid base64url');
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

export function hexEncode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** RFC 8785 (JCS) canonical JSON text. Rejects values JSON cannot represent (undefined, NaN, ...). */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (cause) {
    throw new ValidationError('value cannot be canonicalized as JSON', [], { cause });
  }
  if (text === undefined) throw new ValidationError('value cannot be canonicalized as JSON');
  return text;
}

export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalJson(value));
}
