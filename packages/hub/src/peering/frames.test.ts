import { base64urlEncode, ed25519, multibaseEncode, ProtocolError, parseFrame, randomBytes } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AnnouncedFederation,
  federationAnnounceDigest,
  hubAuthDigest,
  parseRelayedFrame,
  type Relay,
} from './frames.js';

const A = 'did:mesh:hub:a';
const B = 'did:mesh:hub:b';
const nonce = () => base64urlEncode(randomBytes(32));

const valid = () => {
  const kp = ed25519.generateKeyPair();
  return [
    { type: 'HubHello', hubDid: A, nonce: nonce(), timestamp: 1_700_000_000_000 },
    {
      type: 'HubAuth',
      hubDid: A,
      verificationMethod: `${A}#key-1`,
      signature: multibaseEncode(ed25519.sign(new Uint8Array(32), kp)),
    },
    {
      type: 'RouteAnnouncement',
      meshes: [{ meshId: 'did:mesh:org:x', path: [A, B], latencyMs: 12.5 }],
      withdrawn: ['did:mesh:org:y'],
    },
    {
      type: 'Relay',
      toMeshId: 'did:mesh:org:x',
      fromHub: A,
      route: [A],
      frame: { type: 'error', code: 'unreachable', message: 'no route' },
    },
    { type: 'LinkPing', sentAt: 5 },
    { type: 'LinkPong', sentAt: 5 },
    { type: 'IdentityOps', ops: [{ did: 'did:mesh:org:x', seq: 0 }] },
    {
      type: 'FederationAnnounce',
      coordinator: A,
      federation: announced(),
      verificationMethod: `${A}#key-1`,
      signature: multibaseEncode(ed25519.sign(new Uint8Array(32), kp)),
    },
  ];
};

function announced(): AnnouncedFederation {
  return {
    federationId: '3f1c2a4e-8b7d-4c1a-9e2f-0a1b2c3d4e5f',
    handshakeId: '7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d',
    sourceMeshId: 'did:mesh:org:x',
    targetMeshId: 'did:mesh:org:y',
    status: 'active',
    capabilities: ['ml.inference'],
    purpose: 'test',
    routingEndpoint: 'ws://hub/v1/federations/3f1c2a4e-8b7d-4c1a-9e2f-0a1b2c3d4e5f',
    path: [A, B],
    createdAt: 1,
    expiresAt: 2,
    updatedAt: 1,
  };
}

describe('hub-link frames', () => {
  it('are registered with parseFrame', () => {
    for (const f of valid()) expect(parseFrame(JSON.stringify(f)).kind).toBe(f.type);
  });

  it('refuse unknown fields, bad DIDs, oversize paths and hub frames inside a Relay', () => {
    const bad = [
      { type: 'HubHello', hubDid: A, nonce: nonce(), timestamp: 1, extra: 1 },
      { type: 'HubHello', hubDid: 'hub-a', nonce: nonce(), timestamp: 1 },
      { type: 'HubHello', hubDid: A, nonce: 'short', timestamp: 1 },
      { type: 'HubAuth', hubDid: A, verificationMethod: A, signature: 'z1' },
      {
        type: 'RouteAnnouncement',
        meshes: [{ meshId: 'did:x:y', path: [A, A, A, A, A, A], latencyMs: 1 }],
        withdrawn: [],
      },
      { type: 'RouteAnnouncement', meshes: [{ meshId: 'did:x:y', path: [], latencyMs: 1 }], withdrawn: [] },
      { type: 'RouteAnnouncement', meshes: [], withdrawn: [], latencyMs: -1 },
      { type: 'Relay', toMeshId: 'did:x:y', fromHub: A, frame: { type: 'LinkPing', sentAt: 1 } },
      { type: 'Relay', toMeshId: 'did:x:y', fromHub: A, route: [A, A], frame: { type: 'error' } },
      { type: 'LinkPing', sentAt: -1 },
    ];
    for (const f of bad) {
      expect(() => parseFrame(JSON.stringify(f)), JSON.stringify(f)).toThrow(ProtocolError);
    }
  });

  it('parseRelayedFrame validates the inner frame with the registry', () => {
    const ok = valid()[3] as Relay;
    expect(parseRelayedFrame(ok).kind).toBe('error');
    const badInner: Relay = { ...ok, frame: { type: 'agent.task.request', messageId: 'nope' } };
    expect(() => parseRelayedFrame(badInner)).toThrow(ProtocolError);
  });

  it('property: mutated frames parse or end in ProtocolError, never anything else', () => {
    const frames = valid();
    fc.assert(
      fc.property(
        fc.constantFrom(...frames),
        fc.string({ maxLength: 12 }),
        fc.jsonValue({ maxDepth: 3 }),
        fc.nat(400),
        (frame, key, value, cut) => {
          const variants = [
            { ...frame, [key]: value },
            { ...frame, [Object.keys(frame)[cut % Object.keys(frame).length]!]: value },
          ];
          const text = JSON.stringify(frame);
          const inputs = [...variants.map((v) => JSON.stringify(v)), text.slice(0, cut), text.slice(cut)];
          for (const input of inputs) {
            try {
              parseFrame(input);
            } catch (err) {
              expect(err).toBeInstanceOf(ProtocolError);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the FederationAnnounce digest binds the coordinator, the key and every federation field', () => {
    const base = { coordinator: A, federation: announced(), verificationMethod: `${A}#key-1` };
    const d = federationAnnounceDigest(base);
    expect(federationAnnounceDigest({ ...base, coordinator: B })).not.toEqual(d);
    expect(federationAnnounceDigest({ ...base, verificationMethod: `${A}#key-2` })).not.toEqual(d);
    for (const change of [
      { status: 'terminated' as const },
      { path: [A, 'did:mesh:hub:z'] },
      { expiresAt: 3 },
    ]) {
      expect(federationAnnounceDigest({ ...base, federation: { ...announced(), ...change } })).not.toEqual(d);
    }
    // A Relay may carry it (it is routed by mesh), but not IdentityOps (a hub-link frame).
    const relay = (frame: Record<string, unknown>) =>
      ({ type: 'Relay', toMeshId: 'did:mesh:org:y', fromHub: A, frame }) as Relay;
    expect(parseRelayedFrame(relay(valid()[7]!)).kind).toBe('FederationAnnounce');
    expect(() => parseFrame(JSON.stringify(relay(valid()[6]!)))).toThrow(ProtocolError);
  });

  it('the auth digest is domain-separated and binds both DIDs, both nonces and the key', () => {
    const base = {
      signerDid: A,
      verifierDid: B,
      signerNonce: nonce(),
      verifierNonce: nonce(),
      verificationMethod: `${A}#k`,
    };
    const d = hubAuthDigest(base);
    expect(d).toHaveLength(32);
    const swapped = hubAuthDigest({
      ...base,
      signerDid: B,
      verifierDid: A,
      signerNonce: base.verifierNonce,
      verifierNonce: base.signerNonce,
    });
    expect(Buffer.from(swapped).equals(Buffer.from(d))).toBe(false);
    for (const change of [
      { verifierNonce: nonce() },
      { verificationMethod: `${A}#other` },
      { verifierDid: 'did:mesh:hub:c' },
    ]) {
      expect(Buffer.from(hubAuthDigest({ ...base, ...change })).equals(Buffer.from(d))).toBe(false);
    }
  });
});
