import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ed25519 } from '../crypto.js';
import { base64urlEncode, multibaseEncode } from '../encoding.js';
import { ProtocolError } from './errors.js';
import { parseFrame } from './frame.js';
import {
  type Ack,
  type Authenticate,
  type Authenticated,
  authenticateDigest,
  type Delivered,
  type FederationStatus,
  type Hello,
  LINK_FRAME_TYPES,
  type Terminate,
  terminateDigest,
} from './link.js';

const keys = ed25519.keyPairFromSeed(new Uint8Array(32).fill(7));
const HUB = 'did:mesh:hub:eu-west';
const MESH = 'did:mesh:enterprise:acme-001';
const FED = '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69';
const MSG = '3b241101-e2bb-4255-8caf-4136c566a962';
const NONCE = base64urlEncode(new Uint8Array(32).fill(9));
const T = 1_730_246_400_000;
const credential = {
  '@context': ['https://www.w3.org/2018/credentials/v1'],
  type: ['VerifiableCredential', 'MeshAgentCredential'],
  issuer: 'did:mesh:authority:foundation',
  credentialSubject: { id: MESH, trustLevel: 85 },
  proof: { type: 'Ed25519Signature2020', proofValue: 'z1' },
};

const binding = {
  hubDid: HUB,
  nonce: NONCE,
  meshId: MESH,
  verificationMethod: `${MESH}#key-1`,
  capabilities: ['ml.inference'],
  region: 'eu',
  credential,
  timestamp: T,
};
const signature = multibaseEncode(ed25519.sign(authenticateDigest(binding), keys));

const hello: Hello = {
  type: 'Hello',
  version: 'fmp/1',
  hubDid: HUB,
  nonce: NONCE,
  timestamp: T,
  maxFrameBytes: 65536,
};
const authenticate: Authenticate = { type: 'Authenticate', ...binding, signature };
const authenticated: Authenticated = {
  type: 'Authenticated',
  sessionId: MSG,
  meshId: MESH,
  hubDid: HUB,
  trustScore: 85,
  heartbeatMs: 15000,
  idleTimeoutMs: 60000,
  limits: {
    maxFrameBytes: 65536,
    queueTtlMs: 60000,
    maxQueuedPerMesh: 1000,
    messagesPerSec: 1000,
    burst: 2000,
  },
  federations: [
    {
      federationId: FED,
      sourceMeshId: MESH,
      targetMeshId: 'did:mesh:academic:mit-001',
      status: 'active',
      capabilities: ['ml.inference'],
      purpose: 'research',
      expiresAt: T + 1000,
    },
  ],
};
const ack: Ack = { type: 'Ack', messageId: MSG, federationId: FED };
const nack: Ack = { ...ack, error: { code: 'decryption_failed', message: 'no' } };
const delivered: Delivered = { type: 'Delivered', messageId: MSG, federationId: FED, by: MESH };
const status: FederationStatus = {
  type: 'FederationStatus',
  federationId: FED,
  status: 'suspended',
  reason: 'credential_revoked',
};
const terminateBinding = {
  federationId: FED,
  verificationMethod: `${MESH}#key-1`,
  reason: 'done',
  timestamp: T,
};
const terminate: Terminate = {
  type: 'Terminate',
  ...terminateBinding,
  signature: multibaseEncode(ed25519.sign(terminateDigest(terminateBinding), keys)),
};
const valid = [hello, authenticate, authenticated, ack, nack, delivered, status, terminate];

describe('link frames', () => {
  it('parse with their own schema, never as envelopes', () => {
    for (const frame of valid) {
      const parsed = parseFrame(JSON.stringify(frame));
      expect(parsed.kind).toBe(frame.type);
      expect(parsed.frame).toEqual(frame);
    }
    expect(new Set(valid.map((f) => f.type))).toEqual(new Set(LINK_FRAME_TYPES));
  });

  it('reject unknown keys and bad fields as malformed_frame', () => {
    for (const frame of valid) {
      expect(() => parseFrame(JSON.stringify({ ...frame, extra: 1 }))).toThrow(ProtocolError);
    }
    const bad = [
      { ...hello, version: 'fmp/2' },
      { ...authenticate, meshId: 'not-a-did' },
      { ...authenticate, capabilities: ['a.b', 'a.b'] },
      { ...authenticate, meshLog: new Array(65).fill({ type: 'create' }) },
      { ...ack, error: { code: 'nope', message: '' } },
      { ...status, status: 'paused' },
      { ...terminate, reason: 'x'.repeat(257) },
    ];
    for (const frame of bad) {
      try {
        parseFrame(JSON.stringify(frame));
        expect.unreachable(JSON.stringify(frame).slice(0, 80));
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError);
        expect(['malformed_frame', 'unsupported_version']).toContain((err as ProtocolError).wireCode);
      }
    }
  });

  it('authenticateDigest binds every field', () => {
    const base = authenticateDigest(binding);
    const changes: Partial<typeof binding>[] = [
      { hubDid: 'did:mesh:hub:na-east' },
      { nonce: base64urlEncode(new Uint8Array(32).fill(1)) },
      { meshId: 'did:mesh:enterprise:evil-001' },
      { verificationMethod: `${MESH}#key-2` },
      { capabilities: ['ml.training'] },
      { region: 'na' },
      { credential: { ...credential, issuer: 'did:mesh:authority:other' } },
      { timestamp: T + 1 },
    ];
    for (const change of changes) {
      expect(authenticateDigest({ ...binding, ...change })).not.toEqual(base);
    }
    expect(ed25519.verify(ed25519.sign(base, keys), base, keys.publicKey)).toBe(true);
    // The two link signatures are domain-separated.
    expect(terminateDigest(terminateBinding)).not.toEqual(base);
  });

  it('random and mutated input ends in a ProtocolError (property)', () => {
    const mutate = fc.record({
      index: fc.nat(valid.length - 1),
      key: fc.string({ maxLength: 12 }),
      value: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined)),
    });
    fc.assert(
      fc.property(mutate, ({ index, key, value }) => {
        const frame = { ...(valid[index] as unknown as Record<string, unknown>) };
        const target = Object.keys(frame)[key.length % Object.keys(frame).length] ?? key;
        frame[key.length % 2 === 0 ? target : key] = value;
        try {
          const parsed = parseFrame(JSON.stringify(frame));
          expect(typeof parsed.kind).toBe('string');
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array({ maxLength: 200 })), (raw) => {
        try {
          parseFrame(raw);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
