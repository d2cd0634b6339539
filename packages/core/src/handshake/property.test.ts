/**
 * Property tests: whatever arrives — random values, valid messages with one field mutated, or
 * valid messages delivered in random order to random roles — every role either makes a valid
 * transition or throws a typed ProtocolError, and no session is ever established from a message
 * that differs from what the honest parties signed.
 */
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../encoding.js';
import { ProtocolError } from '../wire/errors.js';
import type { HandshakeMessage } from '../wire/handshake.js';
import type { Session } from './common.js';
import { type Mutation, makeWorld, mutate, mutationArb, START, T0, type World } from './test-fixtures.js';

function expectTyped(error: unknown): void {
  if (!(error instanceof ProtocolError))
    throw new Error(`untyped failure: ${String(error)}`, { cause: error });
  // The test's dependencies never fail, so internal_error would mean a bug in the machine.
  expect(error.wireCode).not.toBe('internal_error');
}

/** Which role takes each message type in an honest exchange (FederationConfirm: hub first). */
const ROUTE: Partial<Record<HandshakeMessage['type'], number>> = {
  Challenge: 0,
  FederationEstablished: 0,
  InitiateFederation: 1,
  ChallengeResponse: 1,
  FederationAccept: 1,
  FederationConfirm: 1,
  FederationRequest: 2,
};

const STEPS = [
  'initiate',
  'challenge',
  'response',
  'request',
  'accept',
  'established',
  'confirm',
  'relayed',
] as const;
type Step = (typeof STEPS)[number];

/** Passes messages on, mutating the one of step `at`; `seen` keeps each as sent and as delivered. */
function recorder(at: string, m: Mutation) {
  const seen: { original: unknown; delivered: unknown }[] = [];
  const pass = (step: string, msg: unknown): unknown => {
    const delivered = step === at ? mutate(msg, m) : msg;
    seen.push({ original: msg, delivered });
    return delivered;
  };
  return { seen, pass };
}

const EARLY_STEPS = ['initiate', 'request', 'accept', 'established', 'confirm', 'relayed'] as const;
const LINK_NONCE = 'bGluay1ub25jZS1mb3ItdGhlLXByb3BlcnR5LXRlc3Q';

/**
 * The honest flow with one message mutated in flight: the four phases, or with `early` the early
 * response (docs/handshake.md), whose initiation carries the response.
 */
async function flowWithMutation(w: World, at: Step, m: Mutation, early = false) {
  const { seen, pass } = recorder(at, m);
  let initiatorSession: Session | undefined;
  let responderSession: Session | undefined;
  try {
    let request: unknown;
    if (early) {
      const initiate = await w.initiator.startEarly(START, LINK_NONCE);
      request = await w.hub.onEarlyInitiate(pass('initiate', initiate), { linkNonce: LINK_NONCE });
    } else {
      const challenge = w.hub.onInitiate(pass('initiate', w.initiator.start(START)));
      const response = await w.initiator.onChallenge(pass('challenge', challenge));
      request = await w.hub.onResponse(pass('response', response));
    }
    const answer = await w.responder.onRequest(pass('request', request));
    if (answer.type === 'HandshakeReject') return { seen, initiatorSession, responderSession };
    const established = await w.hub.onAccept(pass('accept', answer));
    const done = await w.initiator.onEstablished(pass('established', established));
    initiatorSession = done.session;
    const relayed = w.hub.onConfirm(pass('confirm', done.confirm)).confirm;
    responderSession = w.responder.onConfirm(pass('relayed', relayed));
  } catch (error) {
    expectTyped(error);
  }
  return { seen, initiatorSession, responderSession };
}

describe('handshake state machines under hostile input', () => {
  it('random values sent to any role end in a typed error', async () => {
    const w = makeWorld();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.anything(), fc.jsonValue()), fc.nat(2), async (input, role) => {
        try {
          if (role === 0) await w.initiator.receive(input);
          else if (role === 1) await w.hub.receive(input);
          else await w.responder.receive(input);
          throw new Error('random input was accepted');
        } catch (error) {
          expectTyped(error);
        }
      }),
      { numRuns: 300 },
    );
  });

  for (const [flow, steps, early, numRuns] of [
    ['the four phases', STEPS, false, 400],
    ['an early response', EARLY_STEPS, true, 300],
  ] as const) {
    it(`one mutated message never yields a session, only typed errors (${flow})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom<Step>(...steps), mutationArb, async (at, m) => {
          const w = makeWorld();
          const { seen, initiatorSession, responderSession } = await flowWithMutation(w, at, m, early);
          const changed = seen.some((s) => canonicalJson(s.original) !== canonicalJson(s.delivered));
          if (changed) {
            // A changed message may pass a relay (the hub cannot check key confirmations), but
            // never both ends: the initiator's session alone is allowed only if the change came
            // after its own checks (the confirmation on its way to the target).
            expect(responderSession).toBeUndefined();
            if (initiatorSession) expect(['confirm', 'relayed']).toContain(at);
          } else {
            expect(initiatorSession).toBeDefined();
            expect(responderSession).toBeDefined();
            expect(Buffer.from(initiatorSession!.sendKey)).toEqual(Buffer.from(responderSession!.receiveKey));
          }
        }),
        { numRuns },
      );
    });
  }

  it('mutated initiator-signed fields are refused by hub and target alike', async () => {
    await fc.assert(
      fc.asyncProperty(mutationArb, async (m) => {
        const w = makeWorld();
        const challenge = w.hub.onInitiate(w.initiator.start(START));
        const response = await w.initiator.onChallenge(challenge);
        const request = await w.hub.onResponse(response);
        // Mutate only what the initiator signed (not the hub-chosen federationId/expiresAt/endpoint).
        const { federationId, expiresAt, routingEndpoint, ...signed } = request;
        const mutated = { ...(mutate(signed, m) as object), federationId, expiresAt, routingEndpoint };
        if (canonicalJson(mutated) === canonicalJson(request)) return;
        try {
          const answer = await w.responder.onRequest(mutated);
          throw new Error(`mutated request was answered with ${answer.type}`);
        } catch (error) {
          expectTyped(error);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('valid and mutated messages in random order to random roles: typed errors, consistent sessions', async () => {
    const action = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('start' as const) }), weight: 1 },
      {
        arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
        weight: 1,
      },
      // Deliver the oldest undelivered message to the role that takes it: the honest path.
      { arbitrary: fc.record({ kind: fc.constant('advance' as const) }), weight: 12 },
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant('deliver' as const),
          role: fc.nat(2),
          /** Deliver to the role that takes this message type (so whole handshakes happen too). */
          route: fc.boolean(),
          index: fc.nat(),
          mutation: fc.option(mutationArb, { freq: 3 }),
        }),
      },
    );
    let completed = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 8, maxLength: 40, size: 'max' }), async (generated) => {
        const actions = [{ kind: 'start' as const }, ...generated];
        const w = makeWorld();
        const pool: HandshakeMessage[] = [];
        const started = new Set<string>();
        const acceptedFederations = new Set<string>();
        const sessions: Session[] = [];
        let now = T0;
        let cursor = 0;
        for (const a of actions) {
          try {
            if (a.kind === 'start') {
              if (w.initiator.pendingCount >= 4) continue;
              const msg = w.initiator.start(START);
              started.add(msg.handshakeId!);
              pool.push(msg);
            } else if (a.kind === 'tick') {
              now += a.ms;
              w.clock = { initiator: now, hub: now, responder: now };
              for (const o of w.hub.expireDue()) pool.push(o.message);
              w.initiator.expireDue();
              w.responder.expireDue();
            } else {
              if (a.kind === 'advance' && cursor >= pool.length) continue;
              if (pool.length === 0) continue;
              const original = a.kind === 'advance' ? pool[cursor++]! : pool[a.index % pool.length]!;
              const input = a.kind === 'deliver' && a.mutation ? mutate(original, a.mutation) : original;
              const role =
                a.kind === 'advance' || a.route
                  ? (ROUTE[original.type] ?? (a.kind === 'deliver' ? a.role : 0))
                  : a.role;
              if (role === 0) {
                const step = await w.initiator.receive(input);
                if (step.send) pool.push(step.send);
                if (step.session) sessions.push(step.session);
              } else if (role === 1) {
                const step = await w.hub.receive(input, { from: 'responder' });
                for (const o of step.send) {
                  // The hub relays a confirmation to the target: route that copy there.
                  if (o.message.type === 'FederationConfirm') {
                    const done = await w.responder.receive(o.message);
                    if (done.session) sessions.push(done.session);
                  } else pool.push(o.message);
                }
              } else {
                const step = await w.responder.receive(input);
                if (step.send?.type === 'FederationAccept') acceptedFederations.add(step.send.federationId);
                if (step.send) pool.push(step.send);
                if (step.session) sessions.push(step.session);
              }
            }
          } catch (error) {
            expectTyped(error);
          }
        }
        completed += sessions.length;
        for (const s of sessions) {
          // Every session comes from a handshake ACME started and MIT really accepted.
          expect(started.has(s.handshakeId)).toBe(true);
          expect(acceptedFederations.has(s.federationId)).toBe(true);
        }
        // Whenever both ends completed the same federation, their keys match.
        for (const a of sessions.filter((s) => s.role === 'initiator')) {
          const b = sessions.find((s) => s.role === 'responder' && s.federationId === a.federationId);
          if (b) expect(Buffer.from(a.sendKey)).toEqual(Buffer.from(b.receiveKey));
        }
      }),
      { numRuns: 150 },
    );
    // The generator must reach complete handshakes too, or the session checks above test nothing.
    expect(completed).toBeGreaterThan(0);
  });
});
