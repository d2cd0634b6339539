import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { x25519 } from '../crypto.js';
import {
  base64urlDecode,
  base64urlEncode,
  decodeMultikey,
  encodeMultikey,
  multibaseDecode,
  multibaseEncode,
} from '../encoding.js';
import { ProtocolError } from './errors.js';
import { parseFrame } from './frame.js';
import {
  ChallengeSchema,
  FederationAcceptSchema,
  FederationConfirmSchema,
  HandshakeDidSchema,
  HandshakeMessageSchema,
  InitiateFederationSchema,
  isFederationAcceptValue,
  isFederationConfirmValue,
  parseHandshakeMessage,
  VerifiableCredentialSchema,
  VerificationMethodIdSchema,
} from './handshake.js';

const credential = {
  '@context': ['https://www.w3.org/2018/credentials/v1'],
  type: ['VerifiableCredential', 'MeshAgentCredential'],
  issuer: 'did:mesh:authority:foundation',
  issuanceDate: '2025-10-30T00:00:00Z',
  credentialSubject: { id: 'did:mesh:enterprise:acme-001', trustLevel: 85 },
  proof: { type: 'Ed25519Signature2020', proofValue: 'z58DAdFfa9SkqZMsuN1ob' },
};

const initiate = {
  type: 'InitiateFederation',
  handshakeId: '2b0c4a5e-8f3d-4c1a-9b7e-1d2f3a4b5c6d',
  sourceMeshId: 'did:mesh:enterprise:acme-001',
  targetMeshId: 'did:mesh:academic:mit-001',
  credentials: credential,
  capabilities: ['ml.inference', 'data.analysis'],
  ephemeralPublicKey: encodeMultikey('x25519-pub', x25519.generateKeyPair().publicKey),
};

function malformed(input: unknown): void {
  let error: unknown;
  try {
    parseHandshakeMessage(input);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ProtocolError);
  expect((error as ProtocolError).wireCode).toBe('malformed_frame');
}

describe('handshake wire schemas', () => {
  it('accepts the spec example shapes', () => {
    expect(parseHandshakeMessage(initiate).type).toBe('InitiateFederation');
    expect(InitiateFederationSchema.safeParse({ ...initiate, handshakeId: undefined }).success).toBe(true);
    const nonce = base64urlEncode(new Uint8Array(32).fill(1));
    expect(
      ChallengeSchema.safeParse({
        type: 'Challenge',
        handshakeId: initiate.handshakeId,
        nonce,
        timestamp: 1730246400000,
        hash: 'a'.repeat(64),
      }).success,
    ).toBe(true);
  });

  it('rejects unknown fields, wrong types and unbounded values', () => {
    malformed({ ...initiate, extra: 1 });
    malformed({ ...initiate, type: 'Nope' });
    malformed({ ...initiate, sourceMeshId: 'acme' });
    malformed({ ...initiate, capabilities: ['a', 'a'] });
    malformed({ ...initiate, capabilities: Array.from({ length: 65 }, (_, i) => `c${i}`) });
    malformed({ ...initiate, handshakeId: '2B0C4A5E-8F3D-4C1A-9B7E-1D2F3A4B5C6D' });
    // An Ed25519 multikey where an X25519 key belongs.
    malformed({ ...initiate, ephemeralPublicKey: encodeMultikey('ed25519-pub', new Uint8Array(32).fill(3)) });
    malformed({ ...initiate, minTrustScore: 101 });
    malformed({ ...initiate, metadata: { k: { nested: true } } });
    malformed({ ...initiate, credentials: { ...credential, type: ['MeshAgentCredential'] } });
    malformed({ ...initiate, credentials: { ...credential, proof: undefined } });
    malformed(null);
    malformed('InitiateFederation');
  });

  it('rejects a credential nested beyond the depth bound without overflowing the stack', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    malformed({ ...initiate, credentials: { ...credential, credentialSubject: { id: 'did:x:y', deep } } });
    expect(VerifiableCredentialSchema.safeParse({ ...credential, evidence: deep }).success).toBe(false);
  });

  it('accepts only canonical base64url nonces of 32 bytes', () => {
    const good = base64urlEncode(new Uint8Array(32).fill(255));
    const ch = { type: 'Challenge', handshakeId: initiate.handshakeId, timestamp: 1, hash: 'b'.repeat(64) };
    expect(ChallengeSchema.safeParse({ ...ch, nonce: good }).success).toBe(true);
    // Same bytes, non-zero padding bits: a second spelling of the same nonce.
    const alias = `${good.slice(0, -1)}_`;
    expect(ChallengeSchema.safeParse({ ...ch, nonce: alias }).success).toBe(false);
    expect(ChallengeSchema.safeParse({ ...ch, nonce: good.slice(1) }).success).toBe(false);
    expect(ChallengeSchema.safeParse({ ...ch, nonce: `${good.slice(0, -1)}+` }).success).toBe(false);
  });

  it('validates DIDs and verification method ids', () => {
    for (const ok of [
      'did:mesh:enterprise:acme-001',
      'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
      'did:web:acme.com%3A8443:mesh',
    ]) {
      expect(HandshakeDidSchema.safeParse(ok).success).toBe(true);
    }
    for (const bad of [
      'did:mesh:',
      'did::x',
      'DID:mesh:x',
      'did:mesh:a b',
      'did:mesh:x#k',
      `did:mesh:${'a'.repeat(300)}`,
    ]) {
      expect(HandshakeDidSchema.safeParse(bad).success).toBe(false);
    }
    expect(VerificationMethodIdSchema.safeParse('did:mesh:enterprise:acme-001#key-1').success).toBe(true);
    expect(VerificationMethodIdSchema.safeParse('did:mesh:enterprise:acme-001').success).toBe(false);
    expect(VerificationMethodIdSchema.safeParse('did:mesh:enterprise:acme-001#').success).toBe(false);
  });

  it('checks signatures decode to 64 bytes', () => {
    const response = {
      type: 'ChallengeResponse',
      handshakeId: initiate.handshakeId,
      signature: multibaseEncode(new Uint8Array(64).fill(9)),
      verificationMethod: 'did:mesh:enterprise:acme-001#key-1',
      metadata: { ttl: 86_400, purpose: 'research-collab' },
    };
    expect(parseHandshakeMessage(response).type).toBe('ChallengeResponse');
    malformed({ ...response, signature: multibaseEncode(new Uint8Array(63)) });
    malformed({ ...response, signature: 'z0OIl' });
    malformed({ ...response, metadata: { ttl: 0, purpose: 'x' } });
  });

  it('never throws anything but malformed_frame on random input', () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        const result = HandshakeMessageSchema.safeParse(input);
        if (!result.success) malformed(input);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but malformed_frame on near-valid input', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(initiate)), fc.jsonValue({ maxDepth: 3 }), (key, value) => {
        const input = { ...initiate, [key]: value };
        try {
          parseHandshakeMessage(input);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

// Frames whose one member under test varies (the fast checks' encoded members).
const IDS = {
  handshakeId: '2b0c4a5e-8f3d-4c1a-9b7e-1d2f3a4b5c6d',
  federationId: '3c1d5b6f-9a4e-4d2b-8c8f-2e3a4b5c6d7e',
};
const accept = (over: { responderEphemeralKey?: string; signature?: string }) => ({
  type: 'FederationAccept',
  ...IDS,
  responderEphemeralKey:
    over.responderEphemeralKey ?? encodeMultikey('x25519-pub', new Uint8Array(32).fill(7)),
  verificationMethod: 'did:mesh:academic:mit-001#key-1',
  signature: over.signature ?? multibaseEncode(new Uint8Array(64).fill(9)),
  keyConfirmation: base64urlEncode(new Uint8Array(32).fill(3)),
});
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

describe('32-byte base64url members (nonces, key confirmations)', () => {
  const confirm = (keyConfirmation: string) => ({ type: 'FederationConfirm', ...IDS, keyConfirmation });
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const text = (min: number, max: number) =>
    fc.array(fc.constantFrom(...ALPHABET), { minLength: min, maxLength: max }).map((c) => c.join(''));

  it('the hand check (no decoding) gives the schema verdict (a decode and re-encode) on any such text', () => {
    fc.assert(
      fc.property(fc.oneof(text(43, 43), text(41, 45), fc.string({ maxLength: 45 })), (s) => {
        const schema = FederationConfirmSchema.safeParse(confirm(s)).success;
        expect(isFederationConfirmValue(confirm(s))).toBe(schema);
        expect(schema).toBe(s.length === 43 && base64urlEncode(base64urlDecode(s)) === s);
      }),
      { numRuns: 2000 },
    );
  });

  it('takes every encoding of 32 bytes, and of the 64 last characters only the 16 an encoding can end in', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const s = base64urlEncode(bytes);
        expect(isFederationConfirmValue(confirm(s))).toBe(true);
        const taken = [...ALPHABET].filter((last) =>
          isFederationConfirmValue(confirm(s.slice(0, 42) + last)),
        );
        expect(taken).toHaveLength(16);
        for (const last of taken)
          expect(base64urlEncode(base64urlDecode(s.slice(0, 42) + last)).at(-1)).toBe(last);
      }),
      { numRuns: 200 },
    );
  });
});

describe('X25519 multikeys (ephemeral keys)', () => {
  const withKey = (responderEphemeralKey: string) => accept({ responderEphemeralKey });
  const key = (bytes: Uint8Array) => encodeMultikey('x25519-pub', bytes);
  const isX25519 = (s: string) => {
    try {
      return decodeMultikey(s).codec === 'x25519-pub';
    } catch {
      return false;
    }
  };

  it('the hand check (no decoding) takes every key, its bounds included', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        expect(isFederationAcceptValue(withKey(key(bytes)))).toBe(true);
      }),
      { numRuns: 300 },
    );
    for (const fill of [0, 0xff])
      expect(isFederationAcceptValue(withKey(key(new Uint8Array(32).fill(fill))))).toBe(true);
  });

  it('takes nothing the schema refuses: random digits, other codecs and lengths, near the bounds', () => {
    const digits = (n: number) =>
      fc.array(fc.constantFrom(...B58), { minLength: n, maxLength: n }).map((c) => `z${c.join('')}`);
    const near = fc
      .tuple(
        fc.constantFrom(key(new Uint8Array(32)), key(new Uint8Array(32).fill(0xff))),
        fc.nat(46),
        fc.constantFrom(...B58),
      )
      .map(([s, i, c]) => s.slice(0, i + 1) + c + s.slice(i + 2));
    const other = fc
      .tuple(
        fc.constantFrom<'ed25519-pub' | 'ed25519-priv'>('ed25519-pub', 'ed25519-priv'),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
      )
      .map(([codec, bytes]) => encodeMultikey(codec, bytes));
    fc.assert(
      fc.property(
        fc.oneof(digits(47), digits(46), digits(48), near, other, fc.string({ maxLength: 60 })),
        (s) => {
          const fast = isFederationAcceptValue(withKey(s));
          if (fast) expect(FederationAcceptSchema.safeParse(withKey(s)).success).toBe(true);
          // Exact for the usual form: 48 characters decode to the codec's two bytes and 32.
          if (s.length === 48) expect(fast).toBe(isX25519(s));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('Ed25519 signatures (base58btc)', () => {
  const withSignature = (signature: string) => accept({ signature });
  const is64 = (s: string) => {
    try {
      return multibaseDecode(s).length === 64;
    } catch {
      return false;
    }
  };

  it('the hand check gives the decode verdict: every signature, leading zero bytes and bounds included', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      fc
        .tuple(fc.integer({ min: 1, max: 3 }), fc.uint8Array({ minLength: 64, maxLength: 64 }))
        .map(([k, b]) => {
          b.fill(0, 0, k);
          return b;
        }),
      fc.constantFrom(
        Uint8Array.of(1, ...new Uint8Array(63)),
        new Uint8Array(64).fill(0xff),
        new Uint8Array(64),
        Uint8Array.of(0, 0xff, ...new Uint8Array(62).fill(0xff)),
      ),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        expect(isFederationAcceptValue(withSignature(multibaseEncode(b)))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('takes nothing else: random digits, other lengths, near the bounds', () => {
    const digits = (min: number, max: number) =>
      fc.array(fc.constantFrom(...B58), { minLength: min, maxLength: max }).map((c) => `z${c.join('')}`);
    const bounds = [
      multibaseEncode(Uint8Array.of(1, ...new Uint8Array(63))),
      multibaseEncode(new Uint8Array(64).fill(0xff)),
      multibaseEncode(Uint8Array.of(0, 1, ...new Uint8Array(62))),
    ];
    const near = fc
      .tuple(fc.constantFrom(...bounds), fc.nat(88), fc.constantFrom(...B58))
      .map(([s, i, c]) => (i + 1 < s.length ? s.slice(0, i + 1) + c + s.slice(i + 2) : s + c));
    fc.assert(
      fc.property(fc.oneof(digits(86, 89), near, fc.string({ maxLength: 100 })), (s) => {
        const fast = isFederationAcceptValue(withSignature(s));
        expect(fast).toBe(is64(s));
        expect(FederationAcceptSchema.safeParse(withSignature(s)).success).toBe(fast);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('handshake frames', () => {
  it('are registered with the frame parser', () => {
    const parsed = parseFrame(JSON.stringify(initiate));
    expect(parsed.kind).toBe('InitiateFederation');
    let error: unknown;
    try {
      parseFrame(JSON.stringify({ ...initiate, extra: true }));
    } catch (e) {
      error = e;
    }
    expect((error as ProtocolError).wireCode).toBe('malformed_frame');
  });
});
