import { describe, expect, it } from 'vitest';
import { chacha20poly1305, ed25519, sha256Hex } from '../crypto.js';
import { base64urlDecode, base64urlEncode, canonicalBytes, multibaseEncode } from '../encoding.js';
import { ValidationError } from '../errors.js';
import { ProtocolError, type WireErrorCode } from '../wire/errors.js';
import type { FederationAccept, FederationRequest, HandshakeReject } from '../wire/handshake.js';
import { ed25519Signer, rejectFromError } from './common.js';
import { HandshakeCoordinator } from './coordinator.js';
import { HandshakeInitiator } from './initiator.js';
import { ACME, EVIL, issueCredential, MIT, makeWorld, START, T0, type World } from './test-fixtures.js';
import { credentialsHash, responseDigest } from './transcript.js';

async function expectCode(
  promise: Promise<unknown> | (() => unknown),
  code: WireErrorCode,
): Promise<ProtocolError> {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ProtocolError);
  expect((error as ProtocolError).wireCode).toBe(code);
  return error as ProtocolError;
}

function isAccept(m: FederationAccept | HandshakeReject): FederationAccept {
  if (m.type !== 'FederationAccept') throw new Error(`expected an acceptance, got ${m.code}`);
  return m;
}

/** Runs the handshake up to (and including) the step named. */
async function runUntil(w: World, start = START) {
  const initiate = w.initiator.start(start);
  const challenge = w.hub.onInitiate(initiate);
  const response = await w.initiator.onChallenge(challenge);
  const request = await w.hub.onResponse(response);
  const accept = isAccept(await w.responder.onRequest(request));
  const established = await w.hub.onAccept(accept);
  const { session, confirm } = await w.initiator.onEstablished(established);
  const { confirm: relayed, federation } = w.hub.onConfirm(confirm);
  const targetSession = w.responder.onConfirm(relayed);
  return {
    initiate,
    challenge,
    response,
    request,
    accept,
    established,
    session,
    confirm,
    federation,
    targetSession,
  };
}

async function untilRequest(w: World) {
  const initiate = w.initiator.start(START);
  const challenge = w.hub.onInitiate(initiate);
  const response = await w.initiator.onChallenge(challenge);
  const request = await w.hub.onResponse(response);
  return { initiate, challenge, response, request };
}

describe('full handshake among three parties', () => {
  it('ends with matching directional keys on both meshes', async () => {
    const w = makeWorld();
    const r = await runUntil(w);
    expect(Buffer.from(r.session.sendKey)).toEqual(Buffer.from(r.targetSession.receiveKey));
    expect(Buffer.from(r.session.receiveKey)).toEqual(Buffer.from(r.targetSession.sendKey));
    expect(Buffer.from(r.session.sendKey)).not.toEqual(Buffer.from(r.session.receiveKey));
    expect(r.session.sendKey).toHaveLength(32);
    expect(r.session.federationId).toBe(r.targetSession.federationId);
    expect(r.session.transcriptHash).toBe(r.targetSession.transcriptHash);
    expect(r.session.peer).toBe(MIT);
    expect(r.targetSession.peer).toBe(ACME);
    expect(r.federation).toMatchObject({
      federationId: r.session.federationId,
      sourceMeshId: ACME,
      targetMeshId: MIT,
      purpose: 'research-collab',
      expiresAt: T0 + 86_400_000,
      routingEndpoint: `wss://hub.mesh.global/fed/${r.session.federationId}`,
    });
    expect(r.established.status).toBe('active');
    // The keys work: what one side seals the other opens.
    const nonce = new Uint8Array(12);
    const sealed = chacha20poly1305.seal(r.session.sendKey, nonce, new TextEncoder().encode('hello mit'));
    expect(new TextDecoder().decode(chacha20poly1305.open(r.targetSession.receiveKey, nonce, sealed))).toBe(
      'hello mit',
    );
    expect(w.failures).toEqual([]);
    expect([w.initiator.pendingCount, w.hub.pendingCount, w.responder.pendingCount]).toEqual([0, 0, 0]);
  });

  it("hands the credential's hash, computed once for the digest, to the hub's and the target's check", async () => {
    const w = makeWorld();
    const r = await runUntil(w);
    const hash = credentialsHash(r.initiate.credentials);
    expect(hash).toBe(sha256Hex(canonicalBytes(r.initiate.credentials)));
    expect(w.credentialChecks).toEqual([
      { role: 'hub', hints: { canonicalHash: hash } },
      { role: 'responder', hints: { canonicalHash: hash } },
    ]);
    // The target's trust in the source may be read from the credential it presented: given with it.
    expect(w.trustLookups.filter((l) => l.role === 'responder')).toEqual([
      { role: 'responder', did: ACME, presented: { credential: r.request.credentials, canonicalHash: hash } },
    ]);
    expect(w.trustLookups.filter((l) => l.role === 'hub').every((l) => l.presented === undefined)).toBe(true);
  });

  it("binds the initiator's credential as it is at each handshake, though its hash is kept", async () => {
    const credential = issueCredential(ACME) as Record<string, unknown>;
    const w = makeWorld({ initiator: { credential: credential as never } });
    await runUntil(w);
    // The caller changes the object it gave: the next initiation carries the new text, and the
    // digest binds it (with the old hash kept, the hub would find the signature wrong instead).
    credential['name'] = 'changed after the first handshake';
    const initiate = w.initiator.start(START);
    expect((initiate.credentials as Record<string, unknown>)['name']).toBe(
      'changed after the first handshake',
    );
    const response = await w.initiator.onChallenge(w.hub.onInitiate(initiate));
    await expectCode(w.hub.onResponse(response), 'credential_invalid');
  });

  it('binds the same response digest whether the credential hash is handed in or computed', () => {
    const credentials = issueCredential(ACME);
    const binding = {
      handshakeId: '8f0e2d4c-1b3a-4c5d-9e6f-7a8b9c0d1e2f',
      challengeHash: 'ab'.repeat(32),
      sourceMeshId: ACME,
      targetMeshId: MIT,
      initiatorEphemeralKey: 'z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc',
      capabilities: ['ml.inference'],
      credentials,
      minTrustScore: undefined,
      initiateMetadata: undefined,
      responseMetadata: { ttl: 3600, purpose: 'x' },
      verificationMethod: `${ACME}#key-1`,
    };
    const computed = responseDigest(binding);
    expect(responseDigest({ ...binding, credentialsHash: credentialsHash(credentials) })).toEqual(computed);
    // The hash is bound: another one gives another digest.
    expect(responseDigest({ ...binding, credentialsHash: 'cd'.repeat(32) })).not.toEqual(computed);
  });

  it('uses the spec challenge hash and a 32-byte base64url nonce', async () => {
    const w = makeWorld();
    const initiate = w.initiator.start(START);
    const ch = w.hub.onInitiate(initiate);
    expect(ch.handshakeId).toBe(initiate.handshakeId);
    expect(ch.timestamp).toBe(T0);
    expect(base64urlDecode(ch.nonce)).toHaveLength(32);
    expect(ch.hash).toBe(sha256Hex(`${ch.handshakeId}:${ch.nonce}:${ch.timestamp}`));
  });

  it('assigns a handshakeId when the initiator sends none', () => {
    const w = makeWorld();
    const { handshakeId: _, ...initiate } = w.initiator.start(START);
    const ch = w.hub.onInitiate(initiate);
    expect(ch.handshakeId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('wipes every ephemeral secret once the handshake is over', async () => {
    const w = makeWorld();
    await runUntil(w);
    // 32-byte draws: initiator ephemeral, hub nonce (public), responder ephemeral.
    const [initiatorSecret, nonce, responderSecret] = w.secrets;
    expect(initiatorSecret!.every((b) => b === 0)).toBe(true);
    expect(responderSecret!.every((b) => b === 0)).toBe(true);
    expect(nonce!.some((b) => b !== 0)).toBe(true);
  });

  it('runs through the generic receive dispatchers', async () => {
    const w = makeWorld();
    const initiate = w.initiator.start(START);
    let step = await w.hub.receive(initiate);
    const ch = step.send[0]!;
    expect(ch).toMatchObject({ to: 'initiator', meshId: ACME });
    const resp = await w.initiator.receive(ch.message);
    step = await w.hub.receive(resp.send);
    expect(step.send[0]).toMatchObject({ to: 'responder', meshId: MIT });
    const acc = await w.responder.receive(step.send[0]!.message);
    step = await w.hub.receive(acc.send);
    expect(step.send[0]).toMatchObject({ to: 'initiator', meshId: ACME });
    const est = await w.initiator.receive(step.send[0]!.message);
    expect(est.session).toBeDefined();
    step = await w.hub.receive(est.send);
    expect(step.federation?.federationId).toBe(est.session!.federationId);
    const done = await w.responder.receive(step.send[0]!.message);
    expect(Buffer.from(done.session!.receiveKey)).toEqual(Buffer.from(est.session!.sendKey));
  });
});

describe('attacks and failures', () => {
  it('rejects a response signed with the wrong key', async () => {
    const w = makeWorld();
    const initiate = w.initiator.start(START);
    const ch = w.hub.onInitiate(initiate);
    const response = await w.initiator.onChallenge(ch);
    const forged = { ...response, signature: multibaseEncode(ed25519.sign(new Uint8Array(32), w.evil.keys)) };
    await expectCode(w.hub.onResponse(forged), 'invalid_signature');
    expect(w.hub.pendingCount).toBe(0);
    expect(w.failures).toEqual([
      expect.objectContaining({ role: 'coordinator', code: 'invalid_signature', meshId: ACME }),
    ]);
  });

  it('rejects a response whose signed metadata was altered', async () => {
    const w = makeWorld();
    const ch = w.hub.onInitiate(w.initiator.start(START));
    const response = await w.initiator.onChallenge(ch);
    await expectCode(
      w.hub.onResponse({ ...response, metadata: { ttl: 999_999, purpose: 'x' } }),
      'invalid_signature',
    );
  });

  it('rejects a second response and a response after completion', async () => {
    const w = makeWorld();
    const { challenge, response, request } = await untilRequest(w);
    await expectCode(w.hub.onResponse(response), 'out_of_order');
    // The duplicate did not end the running handshake.
    const accept = isAccept(await w.responder.onRequest(request));
    const established = await w.hub.onAccept(accept);
    const { confirm } = await w.initiator.onEstablished(established);
    w.responder.onConfirm(w.hub.onConfirm(confirm).confirm);
    await expectCode(w.hub.onResponse(response), 'unknown_handshake');
    await expectCode(w.initiator.onChallenge(challenge), 'unknown_handshake');
  });

  it('rejects a replayed initiation (same handshakeId)', () => {
    const w = makeWorld();
    const initiate = w.initiator.start(START);
    w.hub.onInitiate(initiate);
    return expectCode(() => w.hub.onInitiate(initiate), 'replay_detected');
  });

  it('rejects a replayed request at the target, during and after the handshake', async () => {
    const w = makeWorld();
    const r = await runUntil(w);
    await expectCode(w.responder.onRequest(r.request), 'replay_detected');
    const w2 = makeWorld();
    const { request } = await untilRequest(w2);
    isAccept(await w2.responder.onRequest(request));
    await expectCode(w2.responder.onRequest(request), 'replay_detected');
  });

  it('rejects a stale challenge timestamp at the target and at the initiator', async () => {
    const w = makeWorld();
    const { request } = await untilRequest(w);
    w.clock.responder = T0 + 30_001;
    await expectCode(w.responder.onRequest(request), 'clock_skew');
    w.clock.responder = T0 - 30_001;
    await expectCode(w.responder.onRequest(request), 'clock_skew');

    const w2 = makeWorld();
    const ch = w2.hub.onInitiate(w2.initiator.start(START));
    w2.clock.initiator = T0 + 31_000;
    await expectCode(w2.initiator.onChallenge(ch), 'clock_skew');
  });

  it('honours a configurable clock window', async () => {
    const w = makeWorld({ responder: { clockSkewMs: 60_000 } });
    const { request } = await untilRequest(w);
    w.clock.responder = T0 + 45_000;
    expect((await w.responder.onRequest(request)).type).toBe('FederationAccept');
  });

  it('rejects a challenge whose hash does not match its fields', async () => {
    const w = makeWorld();
    const ch = w.hub.onInitiate(w.initiator.start(START));
    await expectCode(w.initiator.onChallenge({ ...ch, timestamp: ch.timestamp + 1 }), 'malformed_frame');
  });

  it('binds a handshakeId to its initiator: another mesh cannot answer for it', async () => {
    const w = makeWorld();
    const initiate = w.initiator.start(START);
    const ch = w.hub.onInitiate(initiate, { origin: 'conn-acme' });
    // EVIL signs the same challenge with its own, valid key.
    w.evilInitiator.start(START);
    const evilSig = multibaseEncode(ed25519.sign(new Uint8Array(32), w.evil.keys));
    await expectCode(
      w.hub.onResponse(
        {
          type: 'ChallengeResponse',
          handshakeId: ch.handshakeId,
          signature: evilSig,
          verificationMethod: w.evil.vm,
          metadata: START.metadata,
        },
        { origin: 'conn-evil' },
      ),
      'unknown_handshake',
    );
    // Replaying ACME's own response from another connection fails too.
    const response = await w.initiator.onChallenge(ch);
    await expectCode(w.hub.onResponse(response, { origin: 'conn-evil' }), 'unknown_handshake');
    // The hijack attempts did not disturb ACME's handshake.
    const request = await w.hub.onResponse(response, { origin: 'conn-acme' });
    expect(request.sourceMeshId).toBe(ACME);
  });

  it('enforces minimum trust at the hub (source and target) and at the target', async () => {
    const low = makeWorld();
    low.trust.set(ACME, 40);
    const ch = low.hub.onInitiate(low.initiator.start(START));
    await expectCode(low.hub.onResponse(await low.initiator.onChallenge(ch)), 'trust_too_low');

    const picky = makeWorld();
    const ch2 = picky.hub.onInitiate(picky.initiator.start({ ...START, minTrustScore: 95 }));
    await expectCode(picky.hub.onResponse(await picky.initiator.onChallenge(ch2)), 'trust_too_low');

    const strictTarget = makeWorld({ responder: { minTrustScore: 85 } });
    const { request } = await untilRequest(strictTarget);
    await expectCode(strictTarget.responder.onRequest(request), 'trust_too_low');
    expect(strictTarget.responder.pendingCount).toBe(0);
  });

  it('rejects when the credential verifier says no, or names another subject', async () => {
    const w = makeWorld();
    w.credentialOk = false;
    const ch = w.hub.onInitiate(w.initiator.start(START));
    await expectCode(w.hub.onResponse(await w.initiator.onChallenge(ch)), 'credential_invalid');

    // A genuine credential, but for another mesh.
    const w2 = makeWorld({ initiator: { credential: issueCredential(EVIL) } });
    const ch2 = w2.hub.onInitiate(w2.initiator.start(START));
    await expectCode(w2.hub.onResponse(await w2.initiator.onChallenge(ch2)), 'credential_invalid');

    // A credential whose proof was not made by the issuer.
    const w3 = makeWorld({ initiator: { credential: issueCredential(ACME, ed25519.generateKeyPair()) } });
    const ch3 = w3.hub.onInitiate(w3.initiator.start(START));
    await expectCode(w3.hub.onResponse(await w3.initiator.onChallenge(ch3)), 'credential_invalid');

    // The target checks for itself.
    const w4 = makeWorld();
    const { request } = await untilRequest(w4);
    w4.credentialOk = false;
    await expectCode(w4.responder.onRequest(request), 'credential_invalid');
  });

  it('lets the target decline, and tells the initiator', async () => {
    const w = makeWorld();
    w.consent = () => ({ accept: false, reason: 'not accepting new partners' });
    const { request } = await untilRequest(w);
    const answer = await w.responder.onRequest(request);
    expect(answer).toMatchObject({
      type: 'HandshakeReject',
      code: 'handshake_rejected',
      reason: 'not accepting new partners',
    });
    const relayed = w.hub.onReject(answer, 'responder');
    expect(relayed).toEqual([{ to: 'initiator', meshId: ACME, message: answer }]);
    const failure = w.initiator.onReject(relayed[0]!.message);
    expect(failure).toMatchObject({ code: 'handshake_rejected', attempt: 0 });
    expect(failure.retryInMs).toBeUndefined();
    expect([w.initiator.pendingCount, w.hub.pendingCount, w.responder.pendingCount]).toEqual([0, 0, 0]);
    expect(w.failures.map((f) => `${f.role}:${f.code}`)).toEqual([
      'responder:handshake_rejected',
      'coordinator:handshake_rejected',
      'initiator:handshake_rejected',
    ]);
  });

  it('detects a key confirmation mismatch on either side', async () => {
    const w = makeWorld();
    const { request } = await untilRequest(w);
    const accept = isAccept(await w.responder.onRequest(request));
    const established = await w.hub.onAccept({
      ...accept,
      keyConfirmation: base64urlEncode(new Uint8Array(32)),
    });
    await expectCode(w.initiator.onEstablished(established), 'key_confirmation_failed');
    expect(w.initiator.pendingCount).toBe(0);

    const w2 = makeWorld();
    const { request: req2 } = await untilRequest(w2);
    const established2 = await w2.hub.onAccept(isAccept(await w2.responder.onRequest(req2)));
    const { confirm } = await w2.initiator.onEstablished(established2);
    const relayed = w2.hub.onConfirm(confirm).confirm;
    const tag = base64urlDecode(relayed.keyConfirmation);
    tag[0]! ^= 1;
    await expectCode(
      () => w2.responder.onConfirm({ ...relayed, keyConfirmation: base64urlEncode(tag) }),
      'key_confirmation_failed',
    );
    expect(w2.responder.pendingCount).toBe(0);
  });

  it('defeats a hub that swaps ephemeral keys (man in the middle)', async () => {
    const w = makeWorld();
    const { request } = await untilRequest(w);
    const hubKey = w.initiator.start({ ...START, capabilities: ['x'] }).ephemeralPublicKey;
    await expectCode(
      w.responder.onRequest({ ...request, initiatorEphemeralKey: hubKey }),
      'invalid_signature',
    );

    const w2 = makeWorld();
    const { request: req2 } = await untilRequest(w2);
    const established = await w2.hub.onAccept(isAccept(await w2.responder.onRequest(req2)));
    const otherKey = w2.initiator.start({ ...START, capabilities: ['y'] }).ephemeralPublicKey;
    await expectCode(
      w2.initiator.onEstablished({ ...established, responderEphemeralKey: otherKey }),
      'invalid_signature',
    );
  });

  it('rejects an acceptance not signed by the target', async () => {
    const w = makeWorld();
    const { request } = await untilRequest(w);
    const accept = isAccept(await w.responder.onRequest(request));
    const forged = { ...accept, signature: multibaseEncode(ed25519.sign(new Uint8Array(32), w.mit.keys)) };
    await expectCode(w.hub.onAccept(forged), 'invalid_signature');
    await expectCode(w.hub.onAccept({ ...accept, verificationMethod: w.evil.vm }), 'unknown_handshake');
  });

  it('times out after 5 s and tells both ends; the initiator gets a 2 s retry', async () => {
    const w = makeWorld();
    const { request, response } = await untilRequest(w);
    expect(w.hub.expireDue(T0 + 4_999)).toEqual([]);
    const outbound = w.hub.expireDue(T0 + 5_000);
    expect(outbound.map((o) => [o.to, o.message.type, (o.message as HandshakeReject).code])).toEqual([
      ['initiator', 'HandshakeReject', 'handshake_timeout'],
      ['responder', 'HandshakeReject', 'handshake_timeout'],
    ]);
    await expectCode(w.hub.onResponse(response), 'unknown_handshake');
    const [failure] = w.initiator.expireDue(T0 + 5_000);
    expect(failure).toMatchObject({
      role: 'initiator',
      code: 'handshake_timeout',
      attempt: 0,
      retryInMs: 2_000,
    });
    // A target that accepted but never sees the confirmation forgets the handshake too.
    isAccept(await w.responder.onRequest(request));
    expect(w.responder.expireDue(T0 + 5_000)).toEqual([
      expect.objectContaining({ code: 'handshake_timeout' }),
    ]);
    expect(w.responder.pendingCount).toBe(0);
  });

  it('gives up after 3 retries', () => {
    const w = makeWorld();
    const delays = [0, 1, 2, 3].map((attempt) => {
      w.initiator.start({ ...START, attempt });
      return w.initiator.expireDue(T0 + 10_000)[0]!.retryInMs;
    });
    expect(delays).toEqual([2_000, 4_000, 8_000, undefined]);
  });

  it('reports a late message after a timeout as a timeout', async () => {
    const w = makeWorld();
    const ch = w.hub.onInitiate(w.initiator.start(START));
    const response = await w.initiator.onChallenge(ch);
    w.clock.hub = T0 + 5_000;
    await expectCode(w.hub.onResponse(response), 'handshake_timeout');
  });

  it('bounds pending handshakes in total and per mesh', async () => {
    const w = makeWorld({
      hub: { maxPendingPerMesh: 2, maxPending: 3 },
      initiator: { maxPendingPerMesh: 10 },
    });
    w.hub.onInitiate(w.initiator.start(START));
    w.hub.onInitiate(w.initiator.start(START));
    const err = await expectCode(() => w.hub.onInitiate(w.initiator.start(START)), 'too_many_handshakes');
    expect(err.retryAfterMs).toBe(5_000);
    w.hub.onInitiate(w.evilInitiator.start(START));
    await expectCode(() => w.hub.onInitiate(w.evilInitiator.start(START)), 'too_many_handshakes');
    // Expiry frees the slots.
    w.hub.expireDue(T0 + 5_000);
    expect(w.hub.pendingCount).toBe(0);
    w.hub.onInitiate(w.initiator.start(START));

    const small = makeWorld({ initiator: { maxPending: 1 } });
    small.initiator.start(START);
    await expectCode(() => small.initiator.start(START), 'too_many_handshakes');

    const busy = makeWorld({ responder: { maxPendingPerMesh: 1 } });
    const a = await untilRequest(busy);
    isAccept(await busy.responder.onRequest(a.request));
    const b = await untilRequest(busy);
    await expectCode(busy.responder.onRequest(b.request), 'too_many_handshakes');
  });

  it('rejects out-of-order and unknown messages', async () => {
    const w = makeWorld();
    const initiate = w.initiator.start(START);
    const ch = w.hub.onInitiate(initiate);
    const response = await w.initiator.onChallenge(ch);
    // A second challenge for the same handshake.
    await expectCode(w.initiator.onChallenge(ch), 'out_of_order');
    // A response for a handshake the hub never issued.
    await expectCode(
      w.hub.onResponse({ ...response, handshakeId: '00000000-0000-4000-8000-000000000000' }),
      'unknown_handshake',
    );
    const request = await w.hub.onResponse(response);
    const accept = isAccept(await w.responder.onRequest(request));
    // An acceptance for an unknown handshake; a confirmation before establishment.
    await expectCode(
      w.hub.onAccept({ ...accept, handshakeId: '00000000-0000-4000-8000-000000000001' }),
      'unknown_handshake',
    );
    await expectCode(
      () =>
        w.hub.onConfirm({
          type: 'FederationConfirm',
          handshakeId: ch.handshakeId,
          federationId: request.federationId,
          keyConfirmation: accept.keyConfirmation,
        }),
      'out_of_order',
    );
    // The target never takes a Challenge; the initiator never takes a request.
    await expectCode(w.responder.receive(ch), 'out_of_order');
    await expectCode(w.initiator.receive(request), 'out_of_order');
    await expectCode(
      () =>
        w.responder.onConfirm({
          type: 'FederationConfirm',
          handshakeId: '00000000-0000-4000-8000-000000000002',
          federationId: request.federationId,
          keyConfirmation: accept.keyConfirmation,
        }),
      'unknown_handshake',
    );
    // None of that disturbed the real handshake.
    const established = await w.hub.onAccept(accept);
    const { session } = await w.initiator.onEstablished(established);
    expect(session.peer).toBe(MIT);
  });

  it('turns a malformed frame into malformed_frame', async () => {
    const w = makeWorld();
    await expectCode(() => w.hub.onInitiate({ type: 'InitiateFederation' }), 'malformed_frame');
    await expectCode(w.hub.receive('not json'), 'malformed_frame');
    await expectCode(w.initiator.onChallenge(null), 'malformed_frame');
  });

  it('maps resolver failures and listener crashes to typed outcomes', async () => {
    const w = makeWorld();
    const ch = w.hub.onInitiate(w.initiator.start(START));
    const response = await w.initiator.onChallenge(ch);
    await expectCode(
      w.hub.onResponse({ ...response, verificationMethod: `${ACME}#key-9` }),
      'did_resolution_failed',
    );

    const hub = new HandshakeCoordinator(
      {
        now: () => T0,
        randomBytes: (n) => new Uint8Array(n).fill(7),
        resolveAuthenticationKey: () => new Uint8Array(32),
        trustScore: () => 100,
        verifyCredential: () => ({ verified: true, subject: ACME }),
        onFailure: () => {
          throw new Error('listener bug');
        },
      },
      { routingEndpointBase: 'wss://hub.example/fed' },
    );
    await expectCode(() => hub.onInitiate({}), 'malformed_frame');
  });

  it('turns a thrown error into the reject frame to send', () => {
    const reject = rejectFromError(
      '00000000-0000-4000-8000-000000000000',
      new ProtocolError('trust_too_low', 'low'),
    );
    expect(reject).toEqual({
      type: 'HandshakeReject',
      handshakeId: '00000000-0000-4000-8000-000000000000',
      code: 'trust_too_low',
      reason: 'low',
    });
    expect(rejectFromError('00000000-0000-4000-8000-000000000000', new Error('x')).code).toBe(
      'internal_error',
    );
  });

  it('refuses a signer that does not belong to the mesh', () => {
    const keys = ed25519.generateKeyPair();
    expect(
      () =>
        new HandshakeInitiator(
          {
            now: () => T0,
            randomBytes: () => new Uint8Array(32),
            resolveAuthenticationKey: () => keys.publicKey,
          },
          { meshId: ACME, signer: ed25519Signer(`${EVIL}#key-1`, keys), credential: issueCredential(ACME) },
        ),
    ).toThrow(/verification method of meshId/);
  });

  it('names a FederationRequest its parties and the hub-chosen lifetime', async () => {
    const w = makeWorld({ hub: { maxTtlSeconds: 3_600 } });
    const { request } = await untilRequest(w);
    const r: FederationRequest = request;
    expect(r.expiresAt).toBe(T0 + 3_600_000);
    expect(r.response.metadata.ttl).toBe(86_400);
  });
});

describe('initiator credential check', () => {
  it('re-validates its credential once the credential changed after a start', () => {
    const credential = issueCredential(ACME) as Record<string, unknown>;
    const w = makeWorld({ initiator: { credential: credential as never } });
    const first = w.initiator.start(START);
    expect(first.credentials).toEqual(credential);
    // The credential sent is a validated copy: editing it cannot change what later starts send.
    expect(Object.isFrozen(first.credentials)).toBe(true);
    // The caller's object edited into something the schema refuses: the next start refuses it.
    credential['proof'] = 'not an object';
    expect(() => w.initiator.start(START)).toThrow(ValidationError);
    credential['proof'] = (first.credentials as Record<string, unknown>)['proof'];
    credential['extra'] = 'kept';
    expect(w.initiator.start(START).credentials).toMatchObject({ extra: 'kept' });
  });
});
