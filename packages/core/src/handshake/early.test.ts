/**
 * The early response (docs/handshake.md): the initiation carries the ChallengeResponse to a
 * challenge made of the link's nonce and the initiator's clock, so the hub answers it with the
 * request for the target at once. Same keys and checks as the full exchange; a response made for
 * another link, outside the clock window, replayed, or signed by another key is refused.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from '../crypto.js';
import { base64urlEncode } from '../encoding.js';
import { ValidationError } from '../errors.js';
import { ProtocolError, type WireErrorCode } from '../wire/errors.js';
import type { FederationAccept, HandshakeReject, InitiateFederation } from '../wire/handshake.js';
import { ed25519Signer } from './common.js';
import { HandshakeInitiator } from './initiator.js';
import { ACME, issueCredential, MIT, makeWorld, START, T0, type World } from './test-fixtures.js';
import { challengeHash } from './transcript.js';

const LINK = base64urlEncode(randomBytes(32));

async function expectCode(promise: Promise<unknown>, code: WireErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProtocolError);
  expect((error as ProtocolError).wireCode).toBe(code);
}

function isAccept(m: FederationAccept | HandshakeReject): FederationAccept {
  if (m.type !== 'FederationAccept') throw new Error(`expected an acceptance, got ${m.code}`);
  return m;
}

async function earlyHandshake(w: World, initiate: InitiateFederation) {
  const request = await w.hub.onEarlyInitiate(initiate, { origin: 'c1', linkNonce: LINK });
  const accept = isAccept(await w.responder.onRequest(request));
  const established = await w.hub.onAccept(accept);
  const { session, confirm } = await w.initiator.onEstablished(established);
  const { confirm: relayed, federation } = w.hub.onConfirm(confirm, { origin: 'c1' });
  return { request, session, federation, targetSession: w.responder.onConfirm(relayed) };
}

describe('early response', () => {
  it('establishes the federation with one round trip fewer, keys matching on both ends', async () => {
    const w = makeWorld();
    const initiate = await w.initiator.startEarly(START, LINK);
    expect(initiate.earlyResponse).toMatchObject({ nonce: LINK, timestamp: T0 });
    const r = await earlyHandshake(w, initiate);
    expect(r.request.challenge).toMatchObject({ nonce: LINK, timestamp: T0 });
    expect(Buffer.from(r.session.sendKey)).toEqual(Buffer.from(r.targetSession.receiveKey));
    expect(Buffer.from(r.session.receiveKey)).toEqual(Buffer.from(r.targetSession.sendKey));
    expect(r.federation.federationId).toBe(r.session.federationId);
    expect(w.failures).toEqual([]);
    expect([w.initiator.pendingCount, w.hub.pendingCount, w.responder.pendingCount]).toEqual([0, 0, 0]);
  });

  it('goes through the generic dispatcher to the target', async () => {
    const w = makeWorld();
    const step = await w.hub.receive(await w.initiator.startEarly(START, LINK), { linkNonce: LINK });
    expect(step.send[0]).toMatchObject({
      to: 'responder',
      meshId: MIT,
      message: { type: 'FederationRequest' },
    });
  });

  it('refuses a response made for another link, or on a link without a nonce', async () => {
    const w = makeWorld();
    const other = base64urlEncode(randomBytes(32));
    await expectCode(
      w.hub.onEarlyInitiate(await w.initiator.startEarly(START, LINK), { linkNonce: other }),
      'replay_detected',
    );
    await expectCode(w.hub.onEarlyInitiate(await w.initiator.startEarly(START, LINK), {}), 'replay_detected');
    expect(w.hub.pendingCount).toBe(0);
  });

  it('refuses a timestamp outside the clock window, and a replay within it', async () => {
    const w = makeWorld();
    const initiate = await w.initiator.startEarly(START, LINK);
    w.clock.hub = T0 + 30_001;
    await expectCode(w.hub.onEarlyInitiate(initiate, { linkNonce: LINK }), 'clock_skew');
    w.clock.hub = T0 + 10_000;
    await earlyHandshake(w, initiate);
    // The same initiation again, still inside the window: its handshakeId was used.
    await expectCode(w.hub.onEarlyInitiate(initiate, { linkNonce: LINK }), 'replay_detected');
    w.clock.hub = T0 + 29_000;
    await expectCode(w.hub.onEarlyInitiate(initiate, { linkNonce: LINK }), 'replay_detected');
  });

  it('refuses a response whose signed fields were changed, or signed by another mesh', async () => {
    const w = makeWorld();
    const initiate = await w.initiator.startEarly(START, LINK);
    const early = initiate.earlyResponse!;
    await expectCode(
      w.hub.onEarlyInitiate(
        { ...initiate, handshakeId: crypto.randomUUID(), earlyResponse: { ...early, timestamp: T0 + 1 } },
        { linkNonce: LINK },
      ),
      'invalid_signature',
    );
    await expectCode(
      w.hub.onEarlyInitiate(
        { ...initiate, handshakeId: crypto.randomUUID(), capabilities: ['ml.inference'] },
        { linkNonce: LINK },
      ),
      'invalid_signature',
    );
    const evil = await w.evilInitiator.startEarly(START, LINK);
    await expectCode(
      w.hub.onEarlyInitiate({ ...evil, sourceMeshId: ACME }, { linkNonce: LINK }),
      'invalid_signature',
    );
    expect(w.hub.pendingCount).toBe(0);
  });

  it('needs a handshakeId, and goes nowhere near onInitiate', async () => {
    const w = makeWorld();
    const { handshakeId: _, ...noId } = await w.initiator.startEarly(START, LINK);
    await expectCode(w.hub.onEarlyInitiate(noId, { linkNonce: LINK }), 'malformed_frame');
    const initiate = await w.initiator.startEarly(START, LINK);
    expect(() => w.hub.onInitiate(initiate)).toThrow(ProtocolError);
  });

  it('takes a Challenge no more once the response left early, and is not ended by one', async () => {
    const w = makeWorld();
    const initiate = await w.initiator.startEarly(START, LINK);
    const other = w.hub.onInitiate({ ...w.initiator.start(START), handshakeId: crypto.randomUUID() });
    const nonce = other.nonce;
    const hash = challengeHash(initiate.handshakeId!, nonce, other.timestamp);
    await expectCode(
      w.initiator.onChallenge({ ...other, handshakeId: initiate.handshakeId!, hash }),
      'out_of_order',
    );
    await earlyHandshake(w, initiate);
  });

  it('refuses a link nonce that is not one', async () => {
    const w = makeWorld();
    await expect(w.initiator.startEarly(START, 'short')).rejects.toBeInstanceOf(ValidationError);
    expect(w.initiator.pendingCount).toBe(0);
  });

  it('ends the handshake when the signer fails', async () => {
    const w = makeWorld();
    const failing = new HandshakeInitiator(
      { now: () => T0, randomBytes, resolveAuthenticationKey: () => w.acme.keys.publicKey },
      {
        meshId: ACME,
        signer: {
          ...ed25519Signer(w.acme.vm, w.acme.keys),
          sign: async () => {
            throw new Error('hsm unavailable');
          },
        },
        credential: issueCredential(ACME),
      },
    );
    await expect(failing.startEarly(START, LINK)).rejects.toBeInstanceOf(ProtocolError);
    expect(failing.pendingCount).toBe(0);
  });
});
