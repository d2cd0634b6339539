import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ed25519, randomBytes } from './crypto.js';
import { base64urlDecode, base64urlEncode, canonicalJson, multibaseEncode } from './encoding.js';
import {
  createEnvelope,
  envelopeAssociatedData,
  envelopeHeader,
  envelopeSigningBytes,
  hopForward,
  openPayload,
  parseEnvelope,
  sealPayload,
  signEnvelope,
  verifyEnvelope,
} from './envelope.js';
import { CryptoError, InvalidSignatureError, ValidationError } from './errors.js';
import { ProtocolError } from './wire/errors.js';
import { parseFrame } from './wire/frame.js';
import type { ClearPayload, Envelope, SealedPayload, UnsignedEnvelope } from './wire/messages.js';

const SOURCE = 'did:mesh:enterprise:acme-001';
const TARGET = 'did:mesh:academic:mit-001';
const HUBS = [
  'did:mesh:hub:na',
  'did:mesh:hub:eu',
  'did:mesh:hub:apac',
  'did:mesh:hub:latam',
  'did:mesh:hub:mea',
];
const FED = '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69';
const MSG = '3b241101-e2bb-4255-8caf-4136c566a962';
const keys = ed25519.keyPairFromSeed(new Uint8Array(32).fill(7));
const otherKeys = ed25519.keyPairFromSeed(new Uint8Array(32).fill(8));
const sessionKey = new Uint8Array(32).fill(42);

const deps = { now: () => 1730246400000, randomUUID: () => MSG };

function draft(overrides: Partial<Parameters<typeof createEnvelope>[0]> = {}): UnsignedEnvelope {
  return createEnvelope(
    {
      type: 'agent.task.request',
      federationId: FED,
      sourceMeshId: SOURCE,
      targetMeshId: TARGET,
      payload: { type: 'agent.task.request', data: { task: 'summarize', items: [1, 2, 3] } },
      priority: 'high',
      complianceContext: {
        dataClassification: 'personal-identifiable',
        processingBasis: 'contract',
        retentionPeriod: '90-days',
        geographicRestrictions: ['eu'],
        auditTrail: true,
      },
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      ...overrides,
    },
    deps,
  );
}

function sealedDraft(): UnsignedEnvelope {
  const d = draft();
  if ('alg' in d.payload) throw new Error('fixture must start clear');
  return { ...d, payload: sealPayload(sessionKey, d, d.payload) };
}

/** A mutation of each signed / header field, keeping the envelope schema-valid. */
const HEADER_TAMPERS: [string, (e: Record<string, unknown>) => void][] = [
  [
    'type',
    (e) => {
      e.type = 'agent.task.cancel';
      // A clear payload repeats the type; keep the envelope schema-valid.
      const payload = e.payload as Record<string, unknown>;
      if ('type' in payload) e.payload = { ...payload, type: 'agent.task.cancel' };
    },
  ],
  ['messageId', (e) => Object.assign(e, { messageId: '00000000-0000-4000-8000-000000000000' })],
  ['federationId', (e) => Object.assign(e, { federationId: '00000000-0000-4000-8000-000000000001' })],
  ['sourceMeshId', (e) => Object.assign(e, { sourceMeshId: 'did:mesh:enterprise:evil-001' })],
  ['targetMeshId', (e) => Object.assign(e, { targetMeshId: 'did:mesh:academic:other-001' })],
  ['timestamp', (e) => Object.assign(e, { timestamp: (e.timestamp as number) + 1 })],
  ['priority', (e) => Object.assign(e, { priority: 'critical' })],
  ['maxHops', (e) => Object.assign(e, { maxHops: 4 })],
  [
    'traceparent',
    (e) => Object.assign(e, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01' }),
  ],
  ['traceparent removed', (e) => delete e.traceparent],
  [
    'complianceContext',
    (e) => Object.assign(e, { complianceContext: { dataClassification: 'public', auditTrail: true } }),
  ],
  ['complianceContext removed', (e) => delete e.complianceContext],
];

describe('createEnvelope', () => {
  it('fills version, id, clock time, hop fields and defaults', () => {
    const e = createEnvelope(
      {
        type: 'federation.ping',
        federationId: FED,
        sourceMeshId: SOURCE,
        targetMeshId: TARGET,
        payload: { type: 'federation.ping', data: null },
      },
      { now: () => 1234 },
    );
    expect(e).toMatchObject({
      version: 'fmp/1',
      timestamp: 1234,
      priority: 'normal',
      hopCount: 0,
      maxHops: 5,
      route: [],
    });
    expect(e.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect('complianceContext' in e).toBe(false);
    expect('traceparent' in e).toBe(false);
  });

  it('rejects invalid input with ValidationError', () => {
    expect(() => draft({ sourceMeshId: 'acme' })).toThrow(ValidationError);
    expect(() => draft({ maxHops: 9 })).toThrow(ValidationError);
    expect(() => draft({ payload: { type: 'agent.other', data: 1 } })).toThrow(ValidationError);
    const input = {
      type: 'federation.ping',
      federationId: FED,
      sourceMeshId: SOURCE,
      targetMeshId: TARGET,
      payload: { type: 'federation.ping', data: null },
    };
    expect(() => createEnvelope(input, { now: () => -1 })).toThrow(ValidationError);
    expect(() => createEnvelope(input, { now: () => 1, randomUUID: () => 'not-a-uuid' })).toThrow(
      ValidationError,
    );
  });
});

describe('signEnvelope / verifyEnvelope', () => {
  it('signs exactly the RFC 8785 bytes without signature, hopCount and route', () => {
    const e = draft();
    const expected =
      '{"complianceContext":{"auditTrail":true,"dataClassification":"personal-identifiable","geographicRestrictions":["eu"],"processingBasis":"contract","retentionPeriod":"90-days"},' +
      `"federationId":"${FED}","maxHops":5,"messageId":"${MSG}",` +
      '"payload":{"data":{"items":[1,2,3],"task":"summarize"},"type":"agent.task.request"},"priority":"high",' +
      `"sourceMeshId":"${SOURCE}","targetMeshId":"${TARGET}","timestamp":1730246400000,` +
      '"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","type":"agent.task.request","version":"fmp/1"}';
    expect(new TextDecoder().decode(envelopeSigningBytes(e))).toBe(expected);
    const signed = signEnvelope(e, keys);
    expect(signed.signature).toBe(multibaseEncode(ed25519.sign(new TextEncoder().encode(expected), keys)));
  });

  it('round-trips, also through the wire', () => {
    const signed = signEnvelope(draft(), keys);
    expect(() => verifyEnvelope(signed, keys.publicKey)).not.toThrow();
    const parsed = parseFrame(JSON.stringify(signed));
    expect(parsed.kind).toBe('envelope');
    expect(() => verifyEnvelope(parsed.frame as Envelope, keys.publicKey)).not.toThrow();
  });

  it('fails with another key', () => {
    const signed = signEnvelope(draft(), keys);
    expect(() => verifyEnvelope(signed, otherKeys.publicKey)).toThrow(InvalidSignatureError);
  });

  it('re-signing replaces an old signature', () => {
    const signed = signEnvelope(draft(), otherKeys);
    const resigned = signEnvelope(signed, keys);
    expect(() => verifyEnvelope(resigned, keys.publicKey)).not.toThrow();
  });

  it.each(HEADER_TAMPERS)('detects a changed %s', (_field, tamper) => {
    const signed = signEnvelope(draft(), keys) as unknown as Record<string, unknown>;
    const copy = structuredClone(signed);
    tamper(copy);
    const env = parseEnvelope(copy); // still a valid envelope, just not the signed one
    expect(() => verifyEnvelope(env, keys.publicKey)).toThrow(InvalidSignatureError);
  });

  it('detects a changed clear or sealed payload', () => {
    const clear = signEnvelope(draft(), keys);
    const changedData = {
      ...clear,
      payload: { type: 'agent.task.request', data: { task: 'delete-all', items: [1, 2, 3] } },
    };
    expect(() => verifyEnvelope(changedData, keys.publicKey)).toThrow(InvalidSignatureError);

    const sealed = signEnvelope(sealedDraft(), keys);
    const p = sealed.payload as SealedPayload;
    const ct = base64urlDecode(p.ciphertext);
    ct[0]! ^= 1;
    const changedCt = { ...sealed, payload: { ...p, ciphertext: base64urlEncode(ct) } };
    expect(() => verifyEnvelope(changedCt, keys.publicKey)).toThrow(InvalidSignatureError);
  });

  it('property: any change to a random clear payload breaks the signature', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 4 }), (a, b) => {
        fc.pre(canonicalJson(a) !== canonicalJson(b));
        const signed = signEnvelope(
          draft({ payload: { type: 'agent.task.request', data: a as ClearPayload['data'] } }),
          keys,
        );
        verifyEnvelope(signed, keys.publicKey);
        const swapped = { ...signed, payload: { type: 'agent.task.request', data: b } };
        expect(() => verifyEnvelope(swapped as Envelope, keys.publicKey)).toThrow(InvalidSignatureError);
      }),
      { numRuns: 100 },
    );
  });

  it('hopCount and route changes do not break it', () => {
    let e = signEnvelope(draft(), keys);
    for (const hub of HUBS) {
      e = hopForward(e, hub);
      verifyEnvelope(e, keys.publicKey);
    }
    expect(e.hopCount).toBe(5);
  });

  it.each([
    ['not multibase', 'u0000'],
    ['bad base58 character', 'z0000'],
    ['too short', multibaseEncode(new Uint8Array(63))],
    ['too long', multibaseEncode(new Uint8Array(65))],
    ['all zeros', multibaseEncode(new Uint8Array(64))],
  ])('rejects a signature that is %s', (_name, signature) => {
    const signed = signEnvelope(draft(), keys);
    expect(() => verifyEnvelope({ ...signed, signature }, keys.publicKey)).toThrow(InvalidSignatureError);
  });

  it('rejects a malformed public key as a failed signature', () => {
    const signed = signEnvelope(draft(), keys);
    expect(() => verifyEnvelope(signed, new Uint8Array(31))).toThrow(InvalidSignatureError);
  });

  it('refuses to sign an invalid envelope', () => {
    const bad = { ...draft(), hopCount: 1 }; // route does not list the hop
    expect(() => signEnvelope(bad, keys)).toThrow(ValidationError);
  });
});

describe('sealPayload / openPayload', () => {
  it('round-trips and uses a fresh nonce each time', () => {
    const d = draft();
    const plain = { type: 'agent.task.request', data: { secret: 'payroll' } };
    const a = sealPayload(sessionKey, d, plain);
    const b = sealPayload(sessionKey, d, plain);
    expect(a.alg).toBe('ChaCha20-Poly1305');
    expect(base64urlDecode(a.nonce)).toHaveLength(12);
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.ciphertext).not.toContain('payroll');
    expect(openPayload(sessionKey, { ...d, payload: a })).toEqual(plain);
    expect(openPayload(sessionKey, { ...d, payload: b })).toEqual(plain);
  });

  it("seals createEnvelope's own payload without checking it again, and checks anything else", () => {
    const d = draft();
    // The draft and its payload came out of createEnvelope: sealed as they are, and they open.
    const sealed = sealPayload(sessionKey, d, d.payload as ClearPayload);
    expect(openPayload(sessionKey, { ...d, payload: sealed })).toEqual(d.payload);
    // A copy is not createEnvelope's output: checked, and a bad one refused.
    expect(() =>
      sealPayload(sessionKey, d, { type: 'agent.task.request', data: { n: Number.NaN } } as never),
    ).toThrow(ValidationError);
    expect(() => sealPayload(sessionKey, { ...d, federationId: 'nope' }, d.payload as ClearPayload)).toThrow(
      ValidationError,
    );
  });

  it('binds the clear header as associated data', () => {
    const e = sealedDraft();
    expect(new TextDecoder().decode(envelopeAssociatedData(e))).toBe(canonicalJson(envelopeHeader(e)));
    expect(Object.keys(envelopeHeader(e)).sort()).toEqual(
      Object.keys(e)
        .filter((k) => !['payload', 'hopCount', 'route', 'signature'].includes(k))
        .sort(),
    );
  });

  it('survives signing, forwarding and the wire', () => {
    const signed = hopForward(hopForward(signEnvelope(sealedDraft(), keys), HUBS[0]!), HUBS[1]!);
    const parsed = parseFrame(new TextEncoder().encode(JSON.stringify(signed)));
    const env = parsed.frame as Envelope;
    verifyEnvelope(env, keys.publicKey);
    expect(openPayload(sessionKey, env)).toEqual({
      type: 'agent.task.request',
      data: { task: 'summarize', items: [1, 2, 3] },
    });
  });

  it.each(HEADER_TAMPERS)('fails with CryptoError when a hub changes %s', (_field, tamper) => {
    const e = structuredClone(sealedDraft()) as unknown as Record<string, unknown>;
    tamper(e);
    // type changes are caught as well: the AAD binds it before the plaintext type is compared.
    expect(() => openPayload(sessionKey, e as unknown as UnsignedEnvelope)).toThrow(CryptoError);
  });

  it('fails with CryptoError on a changed ciphertext, tag, nonce or key', () => {
    const e = sealedDraft();
    const p = e.payload as SealedPayload;
    const ct = base64urlDecode(p.ciphertext);
    const flipFirst = Uint8Array.from(ct);
    flipFirst[0]! ^= 0x80;
    const flipTag = Uint8Array.from(ct);
    flipTag[ct.length - 1]! ^= 1;
    const nonce = base64urlDecode(p.nonce);
    nonce[11]! ^= 1;
    for (const payload of [
      { ...p, ciphertext: base64urlEncode(flipFirst) },
      { ...p, ciphertext: base64urlEncode(flipTag) },
      { ...p, ciphertext: base64urlEncode(ct.subarray(0, ct.length - 1)) },
      { ...p, nonce: base64urlEncode(nonce) },
    ]) {
      expect(() => openPayload(sessionKey, { ...e, payload })).toThrow(CryptoError);
    }
    expect(() => openPayload(randomBytes(32), e)).toThrow(CryptoError);
    expect(() => openPayload(new Uint8Array(16), e)).toThrow(CryptoError);
  });

  it('refuses to open a clear payload', () => {
    expect(() => openPayload(sessionKey, draft())).toThrow(CryptoError);
  });

  it('refuses to seal a payload whose type differs from the envelope', () => {
    expect(() => sealPayload(sessionKey, draft(), { type: 'agent.other', data: 1 })).toThrow(ValidationError);
  });
});

describe('hopForward', () => {
  it('increments hopCount and appends the hub, without touching the input', () => {
    const e = signEnvelope(draft(), keys);
    const snapshot = structuredClone(e);
    const next = hopForward(e, HUBS[0]!);
    expect(next).toMatchObject({ hopCount: 1, route: [HUBS[0]] });
    expect(e).toEqual(snapshot);
    expect(parseEnvelope(next)).toEqual(next);
  });

  it('detects a routing loop', () => {
    const e = hopForward(hopForward(draft(), HUBS[0]!), HUBS[1]!);
    const err = (() => {
      try {
        hopForward(e, HUBS[0]!);
      } catch (caught) {
        return caught;
      }
    })();
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).wireCode).toBe('routing_loop');
  });

  it('stops at maxHops', () => {
    let e = draft({ maxHops: 2 });
    e = hopForward(hopForward(e, HUBS[0]!), HUBS[1]!);
    expect(() => hopForward(e, HUBS[2]!)).toThrow(
      expect.objectContaining({ wireCode: 'hop_limit_exceeded' }),
    );
  });

  it('rejects a hub id that is not a DID', () => {
    expect(() => hopForward(draft(), 'hub-na')).toThrow(ValidationError);
  });
});
