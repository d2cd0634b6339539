import { describe, expect, it } from 'vitest';
import { hexEncode } from '../encoding.js';
import { ProtocolError } from '../wire/errors.js';
import { type FederationRequest, parseHandshakeMessage } from '../wire/handshake.js';
import { runHandshakeInMemory } from './in-memory.js';
import { makeWorld, START, type World } from './test-fixtures.js';
import { responseDigest } from './transcript.js';

const parties = (w: World) => ({ initiator: w.initiator, coordinator: w.hub, responder: w.responder });

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return (e as ProtocolError).wireCode;
  }
  throw new Error('expected a ProtocolError');
}

describe('renewal handshake (renews)', () => {
  it('keeps the federation id and derives fresh session keys', async () => {
    const w = makeWorld();
    const first = await runHandshakeInMemory(parties(w), START);
    w.clock.initiator += 60_000;
    w.clock.hub += 60_000;
    w.clock.responder += 60_000;
    const renewed = await runHandshakeInMemory(parties(w), {
      ...START,
      renews: first.federation.federationId,
    });
    expect(renewed.federation.federationId).toBe(first.federation.federationId);
    expect(renewed.source.federationId).toBe(first.source.federationId);
    expect(renewed.target.federationId).toBe(first.source.federationId);
    expect(renewed.federation.expiresAt).toBeGreaterThan(first.federation.expiresAt);
    expect(renewed.federation.handshakeId).not.toBe(first.federation.handshakeId);
    // Both ends agree on the new keys, and they are not the old ones (forward secrecy).
    expect(hexEncode(renewed.source.sendKey)).toBe(hexEncode(renewed.target.receiveKey));
    expect(hexEncode(renewed.source.sendKey)).not.toBe(hexEncode(first.source.sendKey));
    expect(renewed.source.transcriptHash).not.toBe(first.source.transcriptHash);
  });

  it('binds renews into the initiator signature; absent, the digest is unchanged', () => {
    const base = {
      handshakeId: '00000000-0000-4000-8000-000000000001',
      challengeHash: 'a'.repeat(64),
      sourceMeshId: 'did:mesh:a:1',
      targetMeshId: 'did:mesh:b:1',
      initiatorEphemeralKey: 'z6LS',
      capabilities: [],
      credentials: {
        '@context': 'x',
        type: 'VerifiableCredential',
        issuer: 'i',
        credentialSubject: {},
        proof: {},
      },
      minTrustScore: undefined,
      initiateMetadata: undefined,
      responseMetadata: { ttl: 1, purpose: 'p' },
      verificationMethod: 'did:mesh:a:1#key-1',
    };
    const plain = hexEncode(responseDigest(base));
    expect(hexEncode(responseDigest({ ...base, renews: undefined }))).toBe(plain);
    const renewal = hexEncode(responseDigest({ ...base, renews: '00000000-0000-4000-8000-000000000002' }));
    expect(renewal).not.toBe(plain);
  });

  it('the target refuses a request whose federationId is not the one renewed', async () => {
    const w = makeWorld();
    const renews = '00000000-0000-4000-8000-00000000000a';
    const challenge = w.hub.onInitiate(w.initiator.start({ ...START, renews }));
    const request = await w.hub.onResponse(await w.initiator.onChallenge(challenge));
    expect(request.federationId).toBe(renews);
    const grafted = { ...request, federationId: '00000000-0000-4000-8000-00000000000b' };
    expect(await codeOf(w.responder.onRequest(grafted))).toBe('unknown_federation');
  });

  it('a hub that strips or swaps renews breaks the initiator signature at the target', async () => {
    const w = makeWorld();
    const renews = '00000000-0000-4000-8000-00000000000c';
    const challenge = w.hub.onInitiate(w.initiator.start({ ...START, renews }));
    const request: FederationRequest = await w.hub.onResponse(await w.initiator.onChallenge(challenge));
    const { renews: _dropped, ...stripped } = request;
    expect(await codeOf(w.responder.onRequest(stripped))).toBe('invalid_signature');
  });

  it('the initiator refuses an establishment under another federationId', async () => {
    const w = makeWorld();
    const renews = '00000000-0000-4000-8000-00000000000d';
    const challenge = w.hub.onInitiate(w.initiator.start({ ...START, renews }));
    const request = await w.hub.onResponse(await w.initiator.onChallenge(challenge));
    const accept = await w.responder.onRequest(request);
    if (accept.type !== 'FederationAccept') throw new Error('expected an acceptance');
    const established = await w.hub.onAccept(accept);
    const other = { ...established, federationId: '00000000-0000-4000-8000-00000000000e' };
    expect(await codeOf(w.initiator.onEstablished(other))).toBe('unknown_federation');
  });

  it('path on FederationEstablished / FederationConfirm is optional, bounded and unique', () => {
    const confirm = {
      type: 'FederationConfirm',
      handshakeId: '00000000-0000-4000-8000-000000000001',
      federationId: '00000000-0000-4000-8000-000000000002',
      keyConfirmation: 'A'.repeat(43),
    };
    expect(parseHandshakeMessage({ ...confirm, path: ['did:mesh:hub:a', 'did:mesh:hub:b'] }).type).toBe(
      'FederationConfirm',
    );
    const six = ['a', 'b', 'c', 'd', 'e', 'f'].map((x) => `did:mesh:hub:${x}`);
    expect(() => parseHandshakeMessage({ ...confirm, path: six })).toThrow(ProtocolError);
    expect(() => parseHandshakeMessage({ ...confirm, path: ['did:mesh:hub:a', 'did:mesh:hub:a'] })).toThrow(
      ProtocolError,
    );
    expect(() => parseHandshakeMessage({ ...confirm, path: [] })).toThrow(ProtocolError);
  });
});
