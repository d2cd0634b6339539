/**
 * The hub's side (spec §3.1 phases 3 and 5): issues challenges, checks the initiator's response
 * (binding, timestamp, signature, trust, credential), relays the request to the target, checks the
 * target's signed acceptance and tells the initiator. It never sees the session keys.
 */
import { constantTimeEqual } from '../crypto.js';
import { base64urlEncode } from '../encoding.js';
import { ValidationError } from '../errors.js';
import { ProtocolError } from '../wire/errors.js';
import {
  type Challenge,
  type ChallengeResponse,
  ChallengeResponseSchema,
  type FederationAccept,
  FederationAcceptSchema,
  type FederationConfirm,
  FederationConfirmSchema,
  type FederationEstablished,
  type FederationRequest,
  type HandshakeMessage,
  type HandshakeReject,
  HandshakeRejectSchema,
  type InitiateFederation,
  InitiateFederationSchema,
  parseHandshakeMessage,
} from '../wire/handshake.js';
import {
  type CallContext,
  didOf,
  type HandshakeDeps,
  type PendingEntry,
  PendingTable,
  positiveInt,
  RoleBase,
  rejectFromError,
  report,
  requireCredential,
  requireTrust,
  type TrustDeps,
  verifySignature,
} from './common.js';
import { ExpiringSet } from './replay.js';
import { DEFAULT_RETRY_POLICY } from './retry.js';
import {
  challengeHash,
  credentialsHash,
  initiationDigest,
  transcriptHash,
  uuidFromRandom,
} from './transcript.js';

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');

export interface CoordinatorOptions {
  /** `routingEndpoint` = `${routingEndpointBase}/${federationId}`, e.g. 'wss://hub.mesh.global/fed'. */
  readonly routingEndpointBase: string;
  /** Lowest trust score (0-100) a source mesh needs; default 50 (spec §5.1 "Validated"). */
  readonly minTrustScore?: number;
  /**
   * Deadline (ms) from initiation to the target's acceptance, and again for the initiator's
   * confirmation; default 5000 (spec §3.3).
   */
  readonly timeoutMs?: number;
  /** Accepted clock difference; default 30000. */
  readonly clockSkewMs?: number;
  readonly maxPending?: number;
  readonly maxPendingPerMesh?: number;
  /** Upper bound on the federation lifetime the initiator may ask for; default 30 days. */
  readonly maxTtlSeconds?: number;
  /** Capacity of the seen-set of handshake ids. */
  readonly replayCapacity?: number;
}

export interface CoordinatorDeps extends HandshakeDeps, TrustDeps {}

/** Transport facts about where a message came from; `origin` is a connection or peer id. */
export interface MessageContext {
  readonly origin?: string;
  /**
   * The link's challenge nonce (the hub's Hello nonce on the link the message came on): what an
   * InitiateFederation's earlyResponse must have been made for. Without it, early responses are refused.
   */
  readonly linkNonce?: string;
}

/** A message the hub must deliver to one end mesh. */
export interface HubOutbound {
  readonly to: 'initiator' | 'responder';
  readonly meshId: string;
  readonly message: HandshakeMessage;
}

/** What the hub stores once both ends have confirmed (routing table entry). */
export interface FederationRecord {
  readonly federationId: string;
  readonly handshakeId: string;
  readonly sourceMeshId: string;
  readonly targetMeshId: string;
  readonly capabilities: readonly string[];
  readonly purpose: string;
  readonly expiresAt: number;
  readonly routingEndpoint: string;
}

/** The result of `receive`: what to send, and the federation when one was just completed. */
export interface CoordinatorStep {
  readonly send: readonly HubOutbound[];
  readonly federation?: FederationRecord;
}

type HubState =
  | 'awaiting_response'
  | 'verifying_response'
  | 'awaiting_accept'
  | 'verifying_accept'
  | 'awaiting_confirm';

interface HubEntry extends PendingEntry {
  state: HubState;
  readonly origin: string | undefined;
  readonly initiate: InitiateFederation & { handshakeId: string };
  readonly challenge: Challenge;
  request?: FederationRequest;
  responseDigest?: Uint8Array;
}

const DEFAULTS = {
  minTrustScore: 50,
  clockSkewMs: 30_000,
  maxPending: 10_000,
  maxPendingPerMesh: 16,
  maxTtlSeconds: 30 * 86_400,
  replayCapacity: 100_000,
};

export class HandshakeCoordinator extends RoleBase<HubEntry> {
  protected readonly role = 'coordinator' as const;
  private readonly hub: CoordinatorDeps;
  private readonly routingEndpointBase: string;
  private readonly minTrustScore: number;
  private readonly timeoutMs: number;
  private readonly clockSkewMs: number;
  private readonly maxTtlSeconds: number;
  private readonly seenIds: ExpiringSet;

  constructor(deps: CoordinatorDeps, options: CoordinatorOptions) {
    const timeoutMs = positiveInt(options.timeoutMs, DEFAULT_RETRY_POLICY.timeoutMs, 'timeoutMs');
    super(
      deps,
      new PendingTable<HubEntry>(
        positiveInt(options.maxPending, DEFAULTS.maxPending, 'maxPending'),
        positiveInt(options.maxPendingPerMesh, DEFAULTS.maxPendingPerMesh, 'maxPendingPerMesh'),
        timeoutMs,
      ),
    );
    if (
      !/^(?:wss?|https?):\/\/\S+$/.test(options.routingEndpointBase) ||
      options.routingEndpointBase.length > 400
    ) {
      throw new ValidationError(
        'routingEndpointBase must be a ws(s) or http(s) URL of at most 400 characters',
      );
    }
    const min = options.minTrustScore ?? DEFAULTS.minTrustScore;
    if (!(min >= 0 && min <= 100)) throw new ValidationError('minTrustScore must lie in 0..100');
    this.hub = deps;
    this.routingEndpointBase = options.routingEndpointBase.replace(/\/+$/, '');
    this.minTrustScore = min;
    this.timeoutMs = timeoutMs;
    this.clockSkewMs = positiveInt(options.clockSkewMs, DEFAULTS.clockSkewMs, 'clockSkewMs');
    this.maxTtlSeconds = positiveInt(options.maxTtlSeconds, DEFAULTS.maxTtlSeconds, 'maxTtlSeconds');
    this.seenIds = new ExpiringSet(
      positiveInt(options.replayCapacity, DEFAULTS.replayCapacity, 'replayCapacity'),
    );
  }

  protected wipe(entry: HubEntry): void {
    entry.responseDigest = undefined;
  }

  /** Phase 2 -> 3: answers an InitiateFederation with a Challenge. */
  onInitiate(input: unknown, context: MessageContext = {}): Challenge {
    const ctx: CallContext<HubEntry> = {};
    return this.guardSync(ctx, () => {
      const msg = parseHandshakeMessage(input, InitiateFederationSchema);
      if (msg.earlyResponse !== undefined) {
        throw new ProtocolError(
          'out_of_order',
          'an initiation with an early response goes to onEarlyInitiate',
        );
      }
      const nonceBytes = this.hub.randomBytes(32);
      if (!(nonceBytes instanceof Uint8Array) || nonceBytes.length !== 32) {
        throw new ProtocolError('internal_error', 'randomBytes(32) did not return 32 bytes');
      }
      return this.open(ctx, msg, context, base64urlEncode(nonceBytes), this.hub.now()).challenge;
    });
  }

  /**
   * Phases 2 to 4 in one message (docs/handshake.md, "Early response"): an InitiateFederation
   * carrying the ChallengeResponse to a challenge made of the link's nonce (context.linkNonce) and
   * the initiator's timestamp. Checks it as onResponse checks a response, and returns the request
   * to relay to the target. A replayed one is refused: the nonce ties it to one link, the timestamp
   * to the clock-skew window, and the handshakeId (remembered past that window) to one use.
   */
  async onEarlyInitiate(input: unknown, context: MessageContext = {}): Promise<FederationRequest> {
    const ctx: CallContext<HubEntry> = {};
    return this.guard(ctx, async () => {
      const msg = parseHandshakeMessage(input, InitiateFederationSchema);
      ctx.meshId = msg.sourceMeshId;
      ctx.handshakeId = msg.handshakeId;
      const early = msg.earlyResponse;
      if (early === undefined || msg.handshakeId === undefined) {
        throw new ProtocolError(
          'malformed_frame',
          'an early initiation needs an earlyResponse and a handshakeId',
        );
      }
      if (
        context.linkNonce === undefined ||
        context.linkNonce.length !== early.nonce.length ||
        !constantTimeEqual(utf8(context.linkNonce), utf8(early.nonce))
      ) {
        throw new ProtocolError('replay_detected', 'the early response was not made for this link');
      }
      const now = this.hub.now();
      if (Math.abs(now - early.timestamp) > this.clockSkewMs) {
        throw new ProtocolError('clock_skew', 'the early response timestamp is outside the accepted window');
      }
      const entry = this.open(ctx, msg, context, early.nonce, early.timestamp);
      // Made by this very message: any failure from here on ends it.
      ctx.bound = entry;
      return this.respond(ctx, entry, {
        type: 'ChallengeResponse',
        handshakeId: msg.handshakeId,
        signature: early.signature,
        verificationMethod: early.verificationMethod,
        metadata: early.metadata,
      });
    });
  }

  /** A pending handshake for an initiation, with the challenge (nonce, timestamp) it is answered to. */
  private open(
    ctx: CallContext<HubEntry>,
    msg: InitiateFederation,
    context: MessageContext,
    nonce: string,
    timestamp: number,
  ): HubEntry {
    ctx.meshId = msg.sourceMeshId;
    ctx.handshakeId = msg.handshakeId;
    if (msg.sourceMeshId === msg.targetMeshId) {
      throw new ProtocolError('policy_denied', 'a mesh cannot federate with itself');
    }
    const now = this.hub.now();
    const handshakeId = msg.handshakeId ?? uuidFromRandom(this.hub.randomBytes(16));
    ctx.handshakeId = handshakeId;
    if (this.pending.has(handshakeId) || this.seenIds.has(handshakeId, now)) {
      throw new ProtocolError('replay_detected', 'this handshakeId was used before');
    }
    const challenge: Challenge = {
      type: 'Challenge',
      handshakeId,
      nonce,
      timestamp,
      hash: challengeHash(handshakeId, nonce, timestamp),
    };
    const { earlyResponse: _early, ...initiate } = msg;
    const entry: HubEntry = {
      handshakeId,
      meshKey: msg.sourceMeshId,
      deadline: now + this.timeoutMs,
      done: false,
      state: 'awaiting_response',
      origin: context.origin,
      initiate: { ...initiate, handshakeId },
      challenge,
    };
    this.pending.add(entry);
    // Remember the id beyond the handshake so a replayed initiation cannot reuse it (an early one
    // stays acceptable while its timestamp is within the skew window).
    const until = Math.max(now, timestamp) + this.timeoutMs + this.clockSkewMs;
    if (!this.seenIds.add(handshakeId, until, now)) {
      this.pending.delete(entry);
      throw new ProtocolError('too_many_handshakes', 'the replay cache is full', {
        retryAfterMs: this.timeoutMs,
      });
    }
    return entry;
  }

  /** Phase 4: checks the ChallengeResponse and returns the request to relay to the target. */
  async onResponse(input: unknown, context: MessageContext = {}): Promise<FederationRequest> {
    const ctx: CallContext<HubEntry> = {};
    return this.guard(ctx, async () => {
      const msg = parseHandshakeMessage(input, ChallengeResponseSchema);
      ctx.handshakeId = msg.handshakeId;
      ctx.meshId = didOf(msg.verificationMethod);
      const entry = this.pending.get(msg.handshakeId);
      if (!entry) throw new ProtocolError('unknown_handshake', 'no pending handshake has this id');
      // The id is bound to the mesh (and connection) that initiated it.
      if (
        didOf(msg.verificationMethod) !== entry.initiate.sourceMeshId ||
        (entry.origin !== undefined && context.origin !== entry.origin)
      ) {
        throw new ProtocolError('unknown_handshake', 'this handshake belongs to another initiator');
      }
      return this.respond(ctx, entry, msg);
    });
  }

  /** The response's checks (signature, trust, credential) and the request for the target. */
  private async respond(
    ctx: CallContext<HubEntry>,
    entry: HubEntry,
    msg: ChallengeResponse,
  ): Promise<FederationRequest> {
    if (didOf(msg.verificationMethod) !== entry.initiate.sourceMeshId) {
      throw new ProtocolError('invalid_signature', 'the response is not signed by a key of the source mesh');
    }
    if (entry.state !== 'awaiting_response') {
      throw new ProtocolError('out_of_order', `a response is not expected in state ${entry.state}`);
    }
    ctx.bound = entry;
    const now = this.hub.now();
    if (now >= entry.deadline) throw new ProtocolError('handshake_timeout', 'the response came too late');
    if (Math.abs(now - entry.challenge.timestamp) > this.clockSkewMs) {
      throw new ProtocolError('clock_skew', 'the challenge timestamp is outside the accepted window');
    }
    entry.state = 'verifying_response';
    const init = entry.initiate;
    const credentials = credentialsHash(init.credentials);
    const digest = initiationDigest(entry.handshakeId, init, entry.challenge.hash, msg, credentials);
    await verifySignature(this.hub, msg.verificationMethod, digest, msg.signature);
    this.ensureLive(entry);
    // Trust and credentials only after authentication: an anonymous sender cannot make the hub
    // spend milliseconds verifying credentials.
    await requireTrust(this.hub, init.sourceMeshId, this.minTrustScore, 'source mesh');
    if (init.minTrustScore !== undefined) {
      await requireTrust(this.hub, init.targetMeshId, init.minTrustScore, 'target mesh');
    }
    await requireCredential(this.hub, init.credentials, init.sourceMeshId, credentials);
    this.ensureLive(entry);

    const after = this.hub.now();
    // A renewal keeps the federation's id (the hub checked, before the challenge, that the
    // initiator is a party of it); the target checks the id against its own federation.
    const federationId = init.renews ?? uuidFromRandom(this.hub.randomBytes(16));
    const ttlSeconds = Math.min(msg.metadata.ttl, this.maxTtlSeconds);
    const request: FederationRequest = {
      type: 'FederationRequest',
      handshakeId: entry.handshakeId,
      federationId,
      sourceMeshId: init.sourceMeshId,
      targetMeshId: init.targetMeshId,
      credentials: init.credentials,
      capabilities: init.capabilities,
      initiatorEphemeralKey: init.ephemeralPublicKey,
      ...(init.minTrustScore === undefined ? {} : { minTrustScore: init.minTrustScore }),
      ...(init.metadata === undefined ? {} : { metadata: init.metadata }),
      challenge: {
        nonce: entry.challenge.nonce,
        timestamp: entry.challenge.timestamp,
        hash: entry.challenge.hash,
      },
      response: {
        signature: msg.signature,
        verificationMethod: msg.verificationMethod,
        metadata: msg.metadata,
      },
      expiresAt: after + ttlSeconds * 1000,
      routingEndpoint: `${this.routingEndpointBase}/${federationId}`,
      ...(init.renews === undefined ? {} : { renews: init.renews }),
    };
    entry.request = request;
    entry.responseDigest = digest;
    // The deadline still runs from the initiation: the initiator waits for the whole exchange.
    entry.state = 'awaiting_accept';
    return request;
  }

  /** The target consented: checks its signature and returns FederationEstablished for the initiator. */
  async onAccept(input: unknown): Promise<FederationEstablished> {
    const ctx: CallContext<HubEntry> = {};
    return this.guard(ctx, async () => {
      const msg: FederationAccept = parseHandshakeMessage(input, FederationAcceptSchema);
      ctx.handshakeId = msg.handshakeId;
      ctx.meshId = didOf(msg.verificationMethod);
      const entry = this.pending.get(msg.handshakeId);
      if (!entry) throw new ProtocolError('unknown_handshake', 'no pending handshake has this id');
      const request = entry.request;
      if (!request || entry.state !== 'awaiting_accept') {
        throw new ProtocolError('out_of_order', `an acceptance is not expected in state ${entry.state}`);
      }
      if (didOf(msg.verificationMethod) !== request.targetMeshId) {
        throw new ProtocolError('unknown_handshake', 'the acceptance is not from the target mesh');
      }
      if (msg.federationId !== request.federationId) {
        throw new ProtocolError('unknown_federation', 'the acceptance names another federation');
      }
      ctx.bound = entry;
      if (this.hub.now() >= entry.deadline) {
        throw new ProtocolError('handshake_timeout', 'the acceptance came too late');
      }
      entry.state = 'verifying_accept';
      const transcript = transcriptHash({
        responseDigest: entry.responseDigest!,
        handshakeId: entry.handshakeId,
        nonce: request.challenge.nonce,
        federationId: request.federationId,
        expiresAt: request.expiresAt,
        routingEndpoint: request.routingEndpoint,
        sourceMeshId: request.sourceMeshId,
        targetMeshId: request.targetMeshId,
        initiatorEphemeralKey: request.initiatorEphemeralKey,
        responderEphemeralKey: msg.responderEphemeralKey,
        responderVerificationMethod: msg.verificationMethod,
      });
      await verifySignature(this.hub, msg.verificationMethod, transcript, msg.signature);
      this.ensureLive(entry);
      entry.state = 'awaiting_confirm';
      entry.deadline = this.hub.now() + this.timeoutMs;
      return {
        type: 'FederationEstablished',
        handshakeId: entry.handshakeId,
        federationId: request.federationId,
        status: 'active',
        expiresAt: request.expiresAt,
        routingEndpoint: request.routingEndpoint,
        targetMeshId: request.targetMeshId,
        responderEphemeralKey: msg.responderEphemeralKey,
        verificationMethod: msg.verificationMethod,
        signature: msg.signature,
        keyConfirmation: msg.keyConfirmation,
      };
    });
  }

  /** The initiator's key confirmation: returns it for relay to the target, and the federation record. */
  onConfirm(
    input: unknown,
    context: MessageContext = {},
  ): { confirm: FederationConfirm; federation: FederationRecord } {
    const ctx: CallContext<HubEntry> = {};
    return this.guardSync(ctx, () => {
      const msg = parseHandshakeMessage(input, FederationConfirmSchema);
      ctx.handshakeId = msg.handshakeId;
      const entry = this.pending.get(msg.handshakeId);
      if (!entry) throw new ProtocolError('unknown_handshake', 'no pending handshake has this id');
      ctx.meshId = entry.initiate.sourceMeshId;
      if (entry.origin !== undefined && context.origin !== entry.origin) {
        throw new ProtocolError('unknown_handshake', 'this handshake belongs to another initiator');
      }
      const request = entry.request;
      if (!request || entry.state !== 'awaiting_confirm') {
        throw new ProtocolError('out_of_order', `a confirmation is not expected in state ${entry.state}`);
      }
      if (msg.federationId !== request.federationId) {
        throw new ProtocolError('unknown_federation', 'the confirmation names another federation');
      }
      ctx.bound = entry;
      if (this.hub.now() >= entry.deadline) {
        throw new ProtocolError('handshake_timeout', 'the confirmation came too late');
      }
      this.end(entry);
      return {
        confirm: msg,
        federation: {
          federationId: request.federationId,
          handshakeId: entry.handshakeId,
          sourceMeshId: request.sourceMeshId,
          targetMeshId: request.targetMeshId,
          capabilities: request.capabilities,
          purpose: request.response.metadata.purpose,
          expiresAt: request.expiresAt,
          routingEndpoint: request.routingEndpoint,
        },
      };
    });
  }

  /**
   * A HandshakeReject from an end mesh: ends the handshake and returns what to relay to the other
   * end. `from` is what the transport knows about the sender.
   */
  onReject(input: unknown, from: 'initiator' | 'responder', context: MessageContext = {}): HubOutbound[] {
    const ctx: CallContext<HubEntry> = {};
    return this.guardSync(ctx, () => {
      const msg: HandshakeReject = parseHandshakeMessage(input, HandshakeRejectSchema);
      ctx.handshakeId = msg.handshakeId;
      const entry = this.pending.get(msg.handshakeId);
      if (!entry) throw new ProtocolError('unknown_handshake', 'no pending handshake has this id');
      const init = entry.initiate;
      if (from === 'initiator') {
        ctx.meshId = init.sourceMeshId;
        if (entry.origin !== undefined && context.origin !== entry.origin) {
          throw new ProtocolError('unknown_handshake', 'this handshake belongs to another initiator');
        }
      } else {
        ctx.meshId = init.targetMeshId;
        // The target only learns of the handshake from the request.
        if (!entry.request) throw new ProtocolError('out_of_order', 'the target has not been asked yet');
      }
      this.end(entry);
      const reason = msg.reason;
      // Report the peer's refusal under its own code (handshake_rejected, trust_too_low, ...).
      report(this.hub, this.failure(ctx, new ProtocolError(msg.code, reason)));
      if (from === 'responder') return [{ to: 'initiator', meshId: init.sourceMeshId, message: msg }];
      return entry.request ? [{ to: 'responder', meshId: init.targetMeshId, message: msg }] : [];
    });
  }

  /**
   * Ends the handshake on the hub's own initiative (for instance: the target is unreachable) and
   * returns the rejects to send. Unknown ids return [].
   */
  abort(handshakeId: string, error: ProtocolError): HubOutbound[] {
    const entry = this.pending.get(handshakeId);
    if (!entry) return [];
    const ctx: CallContext<HubEntry> = { handshakeId, meshId: entry.initiate.targetMeshId };
    this.endWith(entry, ctx, error.wireCode, error.message);
    return this.rejectsFor(entry, error);
  }

  /** Ends every handshake whose deadline has passed; returns the rejects to send to both ends. */
  expireDue(now: number = this.hub.now()): HubOutbound[] {
    const out: HubOutbound[] = [];
    for (const entry of this.pending.due(now)) {
      // Blame the party that was expected to act.
      const awaited = entry.state.endsWith('accept')
        ? entry.initiate.targetMeshId
        : entry.initiate.sourceMeshId;
      const ctx: CallContext<HubEntry> = { handshakeId: entry.handshakeId, meshId: awaited };
      const { error } = this.endWith(entry, ctx, 'handshake_timeout', `timed out in state ${entry.state}`);
      out.push(...this.rejectsFor(entry, error));
    }
    return out;
  }

  /** Parses any handshake message and dispatches it; a type the hub does not take is out_of_order. */
  async receive(
    input: unknown,
    context: MessageContext & { from?: 'initiator' | 'responder' } = {},
  ): Promise<CoordinatorStep> {
    const ctx: CallContext<HubEntry> = {};
    const msg = this.guardSync(ctx, () => parseHandshakeMessage(input));
    switch (msg.type) {
      case 'InitiateFederation': {
        if (msg.earlyResponse !== undefined) {
          const request = await this.onEarlyInitiate(msg, context);
          return { send: [{ to: 'responder', meshId: request.targetMeshId, message: request }] };
        }
        const challenge = this.onInitiate(msg, context);
        return { send: [{ to: 'initiator', meshId: msg.sourceMeshId, message: challenge }] };
      }
      case 'ChallengeResponse': {
        const request = await this.onResponse(msg, context);
        return { send: [{ to: 'responder', meshId: request.targetMeshId, message: request }] };
      }
      case 'FederationAccept': {
        // Read before the await: the entry is what binds the handshake to its source mesh.
        const source = this.pending.get(msg.handshakeId)?.initiate.sourceMeshId;
        const established = await this.onAccept(msg);
        return { send: [{ to: 'initiator', meshId: source!, message: established }] };
      }
      case 'FederationConfirm': {
        const { confirm, federation } = this.onConfirm(msg, context);
        return { send: [{ to: 'responder', meshId: federation.targetMeshId, message: confirm }], federation };
      }
      case 'HandshakeReject':
        return { send: this.onReject(msg, context.from ?? 'initiator', context) };
      default:
        throw this.fail(
          { handshakeId: msg.handshakeId },
          new ProtocolError('out_of_order', `the hub does not take ${msg.type}`),
        );
    }
  }

  private rejectsFor(entry: HubEntry, error: ProtocolError): HubOutbound[] {
    const reject = rejectFromError(entry.handshakeId, error);
    const out: HubOutbound[] = [{ to: 'initiator', meshId: entry.initiate.sourceMeshId, message: reject }];
    if (entry.request) out.push({ to: 'responder', meshId: entry.initiate.targetMeshId, message: reject });
    return out;
  }
}

/** Factory form of `new HandshakeCoordinator(deps, options)`. */
export function createCoordinator(deps: CoordinatorDeps, options: CoordinatorOptions): HandshakeCoordinator {
  return new HandshakeCoordinator(deps, options);
}
