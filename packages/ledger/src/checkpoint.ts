/**
 * Signed notes (C2SP signed-note v1.0.0, https://c2sp.org/signed-note), transparency log
 * checkpoints (C2SP tlog-checkpoint v1.0.0, https://c2sp.org/tlog-checkpoint) and Ed25519 witness
 * cosignatures (C2SP tlog-cosignature, https://c2sp.org/tlog-cosignature, signature type 0x04).
 *
 * A note is: text ending in "\n", a blank line, then one or more lines
 * "\u2014 <key name> <base64(4-byte big-endian key ID || signature)>\n". Parsing is strict and
 * bounded; each problem has its own error class (malformed, unknown key, bad signature).
 */
import { type Ed25519KeyPair, ed25519, FmpError, sha256, ValidationError } from '@fmp/core';
import { z } from 'zod';
import { HASH_BYTES } from './merkle.js';

/** Our bound on a whole note. The spec asks verifiers to accept at least 16 signatures. */
export const MAX_NOTE_BYTES = 64 * 1024;
export const MAX_NOTE_SIGNATURES = 100;
export const MAX_KEY_NAME_BYTES = 256;
export const MAX_CHECKPOINT_EXTENSIONS = 16;

/** Signature type bytes of signed-note "Signature types". */
export const SIGNATURE_TYPE_ED25519 = 0x01;
export const SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04;

const EM_DASH_PREFIX = '\u2014 ';
const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Base class of the note errors, so callers can catch all three at once. */
export class NoteError extends FmpError {}

/** The note (or the checkpoint in it) is not well formed. */
export class NoteMalformedError extends NoteError {
  constructor(message: string) {
    super('note_malformed', message);
  }
}

/** No signature in the note is from a key the verifier knows. */
export class NoteUnknownKeyError extends NoteError {
  constructor(message = 'the note has no signature from a known key') {
    super('note_unknown_key', message);
  }
}

/** A signature from a known key (same name and key ID) did not verify: the whole note is rejected. */
export class NoteBadSignatureError extends NoteError {
  readonly keyName: string;
  constructor(keyName: string) {
    super('note_bad_signature', `the signature of known key "${keyName}" does not verify`);
    this.keyName = keyName;
  }
}

export interface NoteSignature {
  readonly name: string;
  /** The uint32 key ID (big-endian on the wire). */
  readonly keyId: number;
  /** The signature bytes after the key ID (for cosignatures: 8-byte timestamp || signature). */
  readonly signature: Uint8Array;
}

export interface Note {
  /** The signed text, including its final newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

/** A known key: name + key ID select the signature lines it must verify. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(text: Uint8Array): Uint8Array;
}

/** Key names: non-empty, no Unicode spaces and no '+' (signed-note "Format"). */
function checkKeyName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new NoteMalformedError('empty key name');
  if (encoder.encode(name).length > MAX_KEY_NAME_BYTES) throw new NoteMalformedError('key name too long');
  if (/[\s\u0085+]/u.test(name)) throw new NoteMalformedError(`key name "${name}" contains a space or "+"`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the spec bans exactly these characters.
  if (/[\u0000-\u001f]/.test(name)) throw new NoteMalformedError('key name contains a control character');
}

/** key ID = SHA-256(key name || 0x0A || signature type || public key)[:4], read big-endian. */
export function noteKeyId(name: string, type: number, publicKey: Uint8Array): number {
  const nameBytes = encoder.encode(name);
  const buf = new Uint8Array(nameBytes.length + 2 + publicKey.length);
  buf.set(nameBytes, 0);
  buf[nameBytes.length] = 0x0a;
  buf[nameBytes.length + 1] = type;
  buf.set(publicKey, nameBytes.length + 2);
  const h = sha256(buf);
  return ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
}

function base64Decode(text: string, what: string): Uint8Array {
  // Standard alphabet with padding (RFC 4648 section 4); Buffer alone would accept garbage.
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new NoteMalformedError(`${what} is not standard base64`);
  }
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw new NoteMalformedError(`${what} is not canonical base64`);
  return new Uint8Array(bytes);
}

function base64Encode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Notes are valid UTF-8 with no control characters but newline (signed-note "Format"). */
function checkNoteCharacters(text: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the spec bans exactly these characters.
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) {
    throw new NoteMalformedError('the note contains a control character other than newline');
  }
  if (!text.isWellFormed()) throw new NoteMalformedError('the note is not valid UTF-8');
}

function toText(note: string | Uint8Array): string {
  if (note instanceof Uint8Array) {
    if (note.length > MAX_NOTE_BYTES)
      throw new NoteMalformedError(`the note exceeds ${MAX_NOTE_BYTES} bytes`);
    try {
      return strictUtf8.decode(note);
    } catch {
      throw new NoteMalformedError('the note is not valid UTF-8');
    }
  }
  if (typeof note !== 'string') throw new NoteMalformedError('a note must be a string or bytes');
  // UTF-8 takes at most 3 bytes per UTF-16 code unit: a cheap bound before encoding.
  if (note.length > MAX_NOTE_BYTES || encoder.encode(note).length > MAX_NOTE_BYTES) {
    throw new NoteMalformedError(`the note exceeds ${MAX_NOTE_BYTES} bytes`);
  }
  return note;
}

function checkText(text: string): void {
  if (text.length === 0 || !text.endsWith('\n'))
    throw new NoteMalformedError('note text must end in newline');
  checkNoteCharacters(text);
}

/**
 * Parses a signed note without verifying it. The text is split from the signatures at the last
 * blank line; every signature line must be well formed.
 */
export function parseNote(note: string | Uint8Array): Note {
  const s = toText(note);
  checkNoteCharacters(s);
  if (!s.endsWith('\n')) throw new NoteMalformedError('the note does not end in newline');
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw new NoteMalformedError('the note has no blank line before its signatures');
  const text = s.slice(0, split + 1);
  const lines = s.slice(split + 2, -1).split('\n');
  if (lines.length === 1 && lines[0] === '') throw new NoteMalformedError('the note has no signature');
  if (lines.length > MAX_NOTE_SIGNATURES) {
    throw new NoteMalformedError(`the note has more than ${MAX_NOTE_SIGNATURES} signatures`);
  }
  const signatures = lines.map((line, i): NoteSignature => {
    if (!line.startsWith(EM_DASH_PREFIX)) {
      throw new NoteMalformedError(`signature line ${i + 1} does not start with an em dash and a space`);
    }
    const rest = line.slice(EM_DASH_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space < 0) throw new NoteMalformedError(`signature line ${i + 1} has no signature`);
    const name = rest.slice(0, space);
    checkKeyName(name);
    const bytes = base64Decode(rest.slice(space + 1), `signature ${i + 1}`);
    if (bytes.length < 5) throw new NoteMalformedError(`signature ${i + 1} is too short`);
    const keyId = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
    return { name, keyId, signature: bytes.slice(4) };
  });
  return { text, signatures };
}

export function formatNote(note: Note): string {
  checkText(note.text);
  let out = `${note.text}\n`;
  for (const sig of note.signatures) {
    checkKeyName(sig.name);
    const bytes = new Uint8Array(4 + sig.signature.length);
    new DataView(bytes.buffer).setUint32(0, sig.keyId >>> 0);
    bytes.set(sig.signature, 4);
    out += `${EM_DASH_PREFIX}${sig.name} ${base64Encode(bytes)}\n`;
  }
  return out;
}

/** A signer for plain Ed25519 note signatures (type 0x01); logs sign their checkpoints with it. */
export function ed25519NoteSigner(name: string, keyPair: Ed25519KeyPair): NoteSigner {
  checkKeyName(name);
  return {
    name,
    keyId: noteKeyId(name, SIGNATURE_TYPE_ED25519, keyPair.publicKey),
    sign: (text) => ed25519.sign(text, keyPair),
  };
}

export function ed25519NoteVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  checkKeyName(name);
  return {
    name,
    keyId: noteKeyId(name, SIGNATURE_TYPE_ED25519, publicKey),
    verify: (text, signature) => ed25519.verify(signature, text, publicKey),
  };
}

/** A log's checkpoint verifier: plain Ed25519 note signatures under the origin as key name. */
export function logVerifier(origin: string, publicKey: Uint8Array): NoteVerifier {
  return ed25519NoteVerifier(origin, publicKey);
}

/**
 * Adds a signature to a note text (a bare text ending in newline) or to an already signed note,
 * keeping its existing signatures. Returns the signed note.
 */
export function signNote(note: string, key: { name: string; keyPair: Ed25519KeyPair } | NoteSigner): string {
  const signer = 'sign' in key ? key : ed25519NoteSigner(key.name, key.keyPair);
  const parsed = isSignedNote(note) ? parseNote(note) : { text: note, signatures: [] };
  checkText(parsed.text);
  const signature = signer.sign(encoder.encode(parsed.text));
  return formatNote({
    text: parsed.text,
    signatures: [...parsed.signatures, { name: signer.name, keyId: signer.keyId, signature }],
  });
}

function isSignedNote(s: string): boolean {
  return s.includes(`\n\n${EM_DASH_PREFIX}`);
}

export interface VerifiedNote extends Note {
  /** The signatures that verified, each with the verifier that accepted it. */
  readonly verified: readonly { signature: NoteSignature; verifier: NoteVerifier }[];
}

/**
 * Opens a note (signed-note "Signatures"): signatures from unknown keys are ignored; a signature
 * whose name and key ID match a known key must verify or the whole note is rejected
 * (NoteBadSignatureError); at least one known signature must verify (else NoteUnknownKeyError).
 */
export function verifyNote(
  note: string | Uint8Array | Note,
  verifiers: readonly NoteVerifier[],
): VerifiedNote {
  const parsed = typeof note === 'string' || note instanceof Uint8Array ? parseNote(note) : note;
  const text = encoder.encode(parsed.text);
  const verified: { signature: NoteSignature; verifier: NoteVerifier }[] = [];
  for (const signature of parsed.signatures) {
    const verifier = verifiers.find((v) => v.name === signature.name && v.keyId === signature.keyId);
    if (verifier === undefined) continue;
    if (!verifier.verify(text, signature.signature)) throw new NoteBadSignatureError(signature.name);
    verified.push({ signature, verifier });
  }
  if (verified.length === 0) throw new NoteUnknownKeyError();
  return { ...parsed, verified };
}

// ---------------------------------------------------------------------------------------------
// Checkpoints (tlog-checkpoint "Note text").

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly extensions?: readonly string[];
}

const lineText = z
  .string()
  .min(1)
  .refine((s) => !s.includes('\n'), 'must be a single line');

const CheckpointInput = z.object({
  origin: lineText,
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  rootHash: z.instanceof(Uint8Array).refine((h) => h.length === HASH_BYTES, `must be ${HASH_BYTES} bytes`),
  extensions: z.array(lineText).max(MAX_CHECKPOINT_EXTENSIONS).optional(),
});

/** The checkpoint note text: origin, decimal size, base64 root hash, extension lines, each + "\n". */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const r = CheckpointInput.safeParse(checkpoint);
  if (!r.success) {
    throw new ValidationError(
      'invalid checkpoint',
      r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  const c = r.data;
  const lines = [c.origin, String(c.size), base64Encode(c.rootHash), ...(c.extensions ?? [])];
  const text = `${lines.join('\n')}\n`;
  checkNoteCharacters(text);
  return text;
}

/** Parses a checkpoint from its note text (or from a whole signed note, using its text). */
export function parseCheckpoint(note: string | Note): Checkpoint {
  const text = typeof note === 'string' ? (isSignedNote(note) ? parseNote(note).text : note) : note.text;
  checkText(text);
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new NoteMalformedError('a checkpoint has at least three lines');
  if (lines.length > 3 + MAX_CHECKPOINT_EXTENSIONS) throw new NoteMalformedError('too many extension lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw new NoteMalformedError('empty checkpoint origin');
  // Decimal without leading zeroes, "0" for the empty tree.
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) throw new NoteMalformedError('checkpoint size is not a decimal');
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw new NoteMalformedError('checkpoint size is too large');
  const rootHash = base64Decode(rootLine, 'checkpoint root hash');
  if (rootHash.length !== HASH_BYTES)
    throw new NoteMalformedError(`the root hash must be ${HASH_BYTES} bytes`);
  if (extensions.some((e) => e.length === 0)) throw new NoteMalformedError('empty checkpoint extension line');
  return extensions.length > 0 ? { origin, size, rootHash, extensions } : { origin, size, rootHash };
}

/** Verifies a checkpoint note against the log's verifier; its key name must match the origin. */
export function verifyCheckpoint(
  note: string | Uint8Array,
  logVerifier: NoteVerifier,
): { checkpoint: Checkpoint; note: VerifiedNote } {
  const verified = verifyNote(note, [logVerifier]);
  const checkpoint = parseCheckpoint(verified);
  if (checkpoint.origin !== logVerifier.name) {
    throw new NoteMalformedError(
      `checkpoint origin "${checkpoint.origin}" is not the log "${logVerifier.name}"`,
    );
  }
  return { checkpoint, note: verified };
}

// ---------------------------------------------------------------------------------------------
// Witness cosignatures (tlog-cosignature, Ed25519 type 0x04): the signed message is
// "cosignature/v1\ntime <T>\n" || checkpoint text, the signature is u64 BE timestamp || Ed25519.

const MAX_COSIGNATURE_TIME = 2n ** 63n - 1n;

function cosignedMessage(text: Uint8Array, timestamp: bigint): Uint8Array {
  const header = encoder.encode(`cosignature/v1\ntime ${timestamp}\n`);
  const out = new Uint8Array(header.length + text.length);
  out.set(header, 0);
  out.set(text, header.length);
  return out;
}

/**
 * A cosigner key. `now` gives the POSIX time in seconds (injected: tests and the demo run clocks
 * of their own).
 */
export function cosignatureSigner(name: string, keyPair: Ed25519KeyPair, now: () => number): NoteSigner {
  checkKeyName(name);
  return {
    name,
    keyId: noteKeyId(name, SIGNATURE_TYPE_COSIGNATURE_V1, keyPair.publicKey),
    sign(text) {
      const t = BigInt(Math.floor(now()));
      if (t < 0n || t > MAX_COSIGNATURE_TIME) throw new ValidationError('cosignature time out of range');
      const out = new Uint8Array(8 + 64);
      new DataView(out.buffer).setBigUint64(0, t);
      out.set(ed25519.sign(cosignedMessage(text, t), keyPair), 8);
      return out;
    },
  };
}

export function cosignatureVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  checkKeyName(name);
  return {
    name,
    keyId: noteKeyId(name, SIGNATURE_TYPE_COSIGNATURE_V1, publicKey),
    verify(text, signature) {
      if (signature.length !== 8 + 64) return false;
      const t = new DataView(signature.buffer, signature.byteOffset, 8).getBigUint64(0);
      if (t > MAX_COSIGNATURE_TIME) return false;
      return ed25519.verify(signature.subarray(8), cosignedMessage(text, t), publicKey);
    },
  };
}

/** The POSIX time (seconds) a cosignature claims; undefined if the bytes are not a cosignature. */
export function cosignatureTime(signature: NoteSignature): number | undefined {
  if (signature.signature.length !== 8 + 64) return undefined;
  const s = signature.signature;
  return Number(new DataView(s.buffer, s.byteOffset, 8).getBigUint64(0));
}
