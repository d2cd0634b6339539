import { ed25519, multibaseEncode, ProtocolError, parseFrame } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type FederationStatusUpdateBinding,
  FederationStatusUpdateSchema,
  federationStatusUpdateDigest,
} from './lifecycle.js';

const HUB = 'did:mesh:hub:eu';

function binding(): FederationStatusUpdateBinding {
  return {
    hub: HUB,
    federationId: '00000000-0000-4000-8000-000000000001',
    handshakeId: '00000000-0000-4000-8000-000000000002',
    status: 'suspended',
    reason: 'credential_revoked',
    expiresAt: 1_800_000_000_000,
    updatedAt: 1_700_000_000_000,
    verificationMethod: `${HUB}#key-1`,
  };
}

function frame(b = binding()) {
  const keyPair = ed25519.generateKeyPair();
  return {
    type: 'FederationStatusUpdate',
    ...b,
    signature: multibaseEncode(ed25519.sign(federationStatusUpdateDigest(b), keyPair)),
  };
}

describe('FederationStatusUpdate', () => {
  it('is a registered frame type', () => {
    expect(parseFrame(JSON.stringify(frame())).kind).toBe('FederationStatusUpdate');
  });

  it('the digest binds every field', () => {
    const base = binding();
    const d = federationStatusUpdateDigest(base);
    const changes: Partial<FederationStatusUpdateBinding>[] = [
      { hub: 'did:mesh:hub:na' },
      { federationId: '00000000-0000-4000-8000-000000000009' },
      { handshakeId: '00000000-0000-4000-8000-000000000009' },
      { status: 'active' },
      { reason: 'resumed' },
      { expiresAt: base.expiresAt + 1 },
      { updatedAt: base.updatedAt + 1 },
      { verificationMethod: `${HUB}#key-2` },
    ];
    for (const change of changes) {
      expect(federationStatusUpdateDigest({ ...base, ...change })).not.toEqual(d);
    }
  });

  it('refuses unknown keys, bad values and random input with a ProtocolError', () => {
    expect(FederationStatusUpdateSchema.safeParse({ ...frame(), extra: 1 }).success).toBe(false);
    expect(FederationStatusUpdateSchema.safeParse({ ...frame(), status: 'paused' }).success).toBe(false);
    expect(FederationStatusUpdateSchema.safeParse({ ...frame(), reason: 'x'.repeat(257) }).success).toBe(
      false,
    );
    const valid = frame();
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(valid)),
        fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean()),
        (key, value) => {
          const mutated = { ...valid, [key]: value };
          try {
            parseFrame(JSON.stringify(mutated));
          } catch (err) {
            expect(err).toBeInstanceOf(ProtocolError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
