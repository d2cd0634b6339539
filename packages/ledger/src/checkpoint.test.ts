import { ed25519, ValidationError } from '@fmp/core';
import { describe, expect, it } from 'vitest';
import {
  cosignatureSigner,
  cosignatureTime,
  cosignatureVerifier,
  ed25519NoteVerifier,
  formatCheckpoint,
  MAX_NOTE_BYTES,
  MAX_NOTE_SIGNATURES,
  NoteBadSignatureError,
  NoteMalformedError,
  NoteUnknownKeyError,
  noteKeyId,
  parseCheckpoint,
  parseNote,
  signNote,
  verifyCheckpoint,
  verifyNote,
} from './checkpoint.js';
import { EMPTY_ROOT } from './merkle.js';

// The Go sumdb/note test vector (also quoted by the Rust signed_note crate): the private key
// "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz" is
// base64(0x01 || Ed25519 seed). Ed25519 is deterministic, so our signature line must match byte for byte.
const NEUMANN_SEED = new Uint8Array(
  Buffer.from('AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz', 'base64'),
).subarray(1);
const NEUMANN_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const NEUMANN_NOTE = `${NEUMANN_TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

// The examples of C2SP tlog-checkpoint and tlog-cosignature.
const SOFA_NOTE =
  'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n' +
  '— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n' +
  '— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n';

const keys = ed25519.keyPairFromSeed(new Uint8Array(32).fill(1));
const other = ed25519.keyPairFromSeed(new Uint8Array(32).fill(2));

describe('signed notes (C2SP signed-note)', () => {
  it('reproduces the Go sumdb/note vector: key ID and signature line', () => {
    const kp = ed25519.keyPairFromSeed(NEUMANN_SEED);
    expect(noteKeyId('PeterNeumann', 0x01, kp.publicKey).toString(16)).toBe('c74f20a3');
    expect(signNote(NEUMANN_TEXT, { name: 'PeterNeumann', keyPair: kp })).toBe(NEUMANN_NOTE);
    const v = verifyNote(NEUMANN_NOTE, [ed25519NoteVerifier('PeterNeumann', kp.publicKey)]);
    expect(v.text).toBe(NEUMANN_TEXT);
    expect(v.verified).toHaveLength(1);
  });

  it('parses the tlog-checkpoint example with its log signature and a witness cosignature', () => {
    const note = parseNote(SOFA_NOTE);
    expect(note.signatures.map((s) => [s.name, s.signature.length])).toEqual([
      ['example.com/behind-the-sofa', 64],
      ['witness.example.com/w1', 72],
    ]);
    // The cosignature carries the timestamp the tlog-cosignature example signs ("time 1679315147").
    expect(cosignatureTime(note.signatures[1]!)).toBe(1679315147);
    const cp = parseCheckpoint(SOFA_NOTE);
    expect(cp.origin).toBe('example.com/behind-the-sofa');
    expect(cp.size).toBe(20852163);
    expect(Buffer.from(cp.rootHash).toString('base64')).toBe('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
  });

  it('splits text from signatures at the last blank line and keeps earlier signatures when adding one', () => {
    const text = 'line one\n\nline three\n';
    const once = signNote(text, { name: 'a.example/k', keyPair: keys });
    const twice = signNote(once, { name: 'b.example/k', keyPair: other });
    const parsed = parseNote(twice);
    expect(parsed.text).toBe(text);
    expect(parsed.signatures.map((s) => s.name)).toEqual(['a.example/k', 'b.example/k']);
    const v = verifyNote(twice, [
      ed25519NoteVerifier('a.example/k', keys.publicKey),
      ed25519NoteVerifier('b.example/k', other.publicKey),
    ]);
    expect(v.verified.map((x) => x.signature.name)).toEqual(['a.example/k', 'b.example/k']);
  });

  it('ignores unknown keys, rejects a note with no known key, and rejects a bad known signature', () => {
    const note = signNote('hello\n', { name: 'a.example/k', keyPair: keys });
    // Same name, other key: a different key ID, so the signature is from an unknown key.
    expect(() => verifyNote(note, [ed25519NoteVerifier('a.example/k', other.publicKey)])).toThrow(
      NoteUnknownKeyError,
    );
    expect(() => verifyNote(note, [ed25519NoteVerifier('b.example/k', keys.publicKey)])).toThrow(
      NoteUnknownKeyError,
    );
    const tampered = note.replace('hello', 'hellp');
    expect(() => verifyNote(tampered, [ed25519NoteVerifier('a.example/k', keys.publicKey)])).toThrow(
      NoteBadSignatureError,
    );
    // One good known signature does not excuse a bad one from another known key.
    const good = signNote('hello\n', { name: 'b.example/k', keyPair: other });
    const wrongLine = signNote('other\n', { name: 'a.example/k', keyPair: keys }).split('\n\n')[1];
    const mixed = `${good}${wrongLine}`;
    expect(() =>
      verifyNote(mixed, [
        ed25519NoteVerifier('a.example/k', keys.publicKey),
        ed25519NoteVerifier('b.example/k', other.publicKey),
      ]),
    ).toThrow(NoteBadSignatureError);
  });

  it.each([
    ['no final newline', 'text\n\n— a.example/k AAAAAAA=', /newline/],
    ['no blank line', 'text\n— a.example/k AAAAAAA=\n', /blank line/],
    ['no signature', 'text\n\n', /no signature/],
    ['a hyphen for the em dash', 'text\n\n- a.example/k AAAAAAA=\n', /em dash/],
    ['a name with "+"', 'text\n\n— a+b AAAAAAA=\n', /space or "\+"/],
    ['non-base64', 'text\n\n— a.example/k AA!AAAA=\n', /base64/],
    ['non-canonical base64', 'text\n\n— a.example/k AAAAAAB=\n', /canonical/],
    ['a signature of four bytes', 'text\n\n— a.example/k AAAAAA==\n', /too short/],
    ['a control character', 'te\txt\n\n— a.example/k AAAAAAA=\n', /control character/],
    ['a missing signature field', 'text\n\n— a.example/k\n', /no signature/],
  ])('rejects a note with %s', (_what, note, message) => {
    expect(() => parseNote(note)).toThrow(NoteMalformedError);
    expect(() => parseNote(note)).toThrow(message);
  });

  it('bounds the note size and the number of signatures, and rejects invalid UTF-8', () => {
    const line = '— a.example/k AAAAAAA=\n';
    expect(() => parseNote(`t\n\n${line.repeat(MAX_NOTE_SIGNATURES + 1)}`)).toThrow(/more than/);
    expect(parseNote(`t\n\n${line.repeat(16)}`).signatures).toHaveLength(16);
    expect(() => parseNote(`${'x'.repeat(MAX_NOTE_BYTES)}\n\n${line}`)).toThrow(/exceeds/);
    expect(() => parseNote(new Uint8Array([0x74, 0xff, 0x0a, 0x0a]))).toThrow(/UTF-8/);
  });

  it('signs only texts that end in newline', () => {
    expect(() => signNote('no newline', { name: 'a.example/k', keyPair: keys })).toThrow(NoteMalformedError);
  });
});

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  const root = new Uint8Array(32).fill(9);

  it('formats and parses origin, size, root hash and extension lines', () => {
    const text = formatCheckpoint({
      origin: 'hub.example/ledger',
      size: 42,
      rootHash: root,
      extensions: ['x y'],
    });
    expect(text).toBe(`hub.example/ledger\n42\n${Buffer.from(root).toString('base64')}\nx y\n`);
    expect(parseCheckpoint(text)).toEqual({
      origin: 'hub.example/ledger',
      size: 42,
      rootHash: root,
      extensions: ['x y'],
    });
    const empty = formatCheckpoint({ origin: 'hub.example/ledger', size: 0, rootHash: EMPTY_ROOT });
    expect(parseCheckpoint(empty)).toEqual({ origin: 'hub.example/ledger', size: 0, rootHash: EMPTY_ROOT });
  });

  it('rejects invalid input to formatCheckpoint with a ValidationError', () => {
    expect(() => formatCheckpoint({ origin: '', size: 1, rootHash: root })).toThrow(ValidationError);
    expect(() => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash: root })).toThrow(ValidationError);
    expect(() => formatCheckpoint({ origin: 'o', size: -1, rootHash: root })).toThrow(ValidationError);
    expect(() => formatCheckpoint({ origin: 'o', size: 1.5, rootHash: root })).toThrow(ValidationError);
    expect(() => formatCheckpoint({ origin: 'o', size: 1, rootHash: new Uint8Array(31) })).toThrow(
      ValidationError,
    );
    expect(() => formatCheckpoint({ origin: 'o', size: 1, rootHash: root, extensions: [''] })).toThrow(
      ValidationError,
    );
  });

  it.each([
    ['two lines', 'o\n1\n', /three lines/],
    ['a leading zero', `o\n01\n${Buffer.from(root).toString('base64')}\n`, /decimal/],
    ['a negative size', `o\n-1\n${Buffer.from(root).toString('base64')}\n`, /decimal/],
    ['a huge size', `o\n99999999999999999999\n${Buffer.from(root).toString('base64')}\n`, /too large/],
    ['a short root hash', `o\n1\n${Buffer.from(root.subarray(1)).toString('base64')}\n`, /32 bytes/],
    ['an empty origin', `\n1\n${Buffer.from(root).toString('base64')}\n`, /origin/],
    ['an empty extension line', `o\n1\n${Buffer.from(root).toString('base64')}\n\nx\n`, /extension/],
  ])('rejects a checkpoint with %s', (_what, text, message) => {
    expect(() => parseCheckpoint(text)).toThrow(NoteMalformedError);
    expect(() => parseCheckpoint(text)).toThrow(message);
  });

  it('verifies a checkpoint signed by the log key under its origin', () => {
    const text = formatCheckpoint({ origin: 'hub.example/ledger', size: 3, rootHash: root });
    const note = signNote(text, { name: 'hub.example/ledger', keyPair: keys });
    const { checkpoint } = verifyCheckpoint(note, ed25519NoteVerifier('hub.example/ledger', keys.publicKey));
    expect(checkpoint.size).toBe(3);
    const misnamed = signNote(formatCheckpoint({ origin: 'other.example/log', size: 3, rootHash: root }), {
      name: 'hub.example/ledger',
      keyPair: keys,
    });
    expect(() =>
      verifyCheckpoint(misnamed, ed25519NoteVerifier('hub.example/ledger', keys.publicKey)),
    ).toThrow(/origin/);
  });
});

describe('witness cosignatures (C2SP tlog-cosignature, Ed25519 type 0x04)', () => {
  it('signs "cosignature/v1\\ntime T\\n" + text and carries the timestamp', () => {
    const text = formatCheckpoint({ origin: 'hub.example/ledger', size: 1, rootHash: EMPTY_ROOT });
    const signer = cosignatureSigner('w.example/w1', other, () => 1_700_000_000.9);
    const verifier = cosignatureVerifier('w.example/w1', other.publicKey);
    expect(signer.keyId).toBe(noteKeyId('w.example/w1', 0x04, other.publicKey));
    expect(signer.keyId).not.toBe(noteKeyId('w.example/w1', 0x01, other.publicKey));
    const note = signNote(text, signer);
    const v = verifyNote(note, [verifier]);
    expect(cosignatureTime(v.verified[0]!.signature)).toBe(1_700_000_000);
    // The signature is over the cosigned message, not the bare text.
    const sig = v.verified[0]!.signature.signature;
    expect(ed25519.verify(sig.subarray(8), new TextEncoder().encode(text), other.publicKey)).toBe(false);
    const message = new TextEncoder().encode(`cosignature/v1\ntime 1700000000\n${text}`);
    expect(ed25519.verify(sig.subarray(8), message, other.publicKey)).toBe(true);
    // Changing the timestamp breaks the signature.
    const forged = sig.slice();
    forged[7]! ^= 1;
    expect(verifier.verify(new TextEncoder().encode(text), forged)).toBe(false);
  });
});
