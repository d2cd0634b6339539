/**
 * The target mesh's side: checks the relayed request itself (it does not trust the hub for the
 * initiator's identity), asks the injected consent policy, and signs its acceptance over the
 * transcript hash with a fresh ephemeral X25519 key. The initiator's FederationConfirm completes it.
 */
import { constantTimeEqual, x25519 } from '../crypto.js';
import { base64urlDecode, base64urlEncode, hexEncode, multibaseEncode } from '../encoding.js';
import { ValidationError } from '../errors.js';
import { ProtocolError } from '../wire/errors.js';
import {
  type FederationAccept,
  FederationConfirmSchema,
  type FederationRequest,
  FederationRequestSchema,
  HandshakeDidSchema,
  type HandshakeMessage,
  type HandshakeReject,
  parseHandshakeMessage,
  VerificationMethodIdSchema,
} from '../wire/handshake.js';
import {
  type CallContext,
  didOf,
  EndRoleBase,
  type HandshakeDeps,
  type HandshakeFailure,
  type HandshakeSigner,
  type PendingEntry,
  PendingTable,
  positiveInt,
  rejectFromError,
  requireCredential,
  requireTrust,
  type Session,
  sign,
  type TrustDeps,
  verifySignature,
} from './common.js';
import { ExpiringSet } from './replay.js';
import { DEFAULT_RETRY_POLICY } from './retry.js';
import {
  challengeHash,
  credentialsHash,
  decodeX25519Multikey,
  deriveSessionKeys,
  ephemeralKeyFrom,
  keyConfirmationTag,
  responseDigest,
  transcriptHash,
  zeroize,
} from './transcript.js';

/** The target's answer to "federate with this mesh?". */
export type ConsentDecision = boolean | { readonly accept: boolean; readonly reason?: string };

export interface ResponderDeps extends HandshakeDeps, TrustDeps {
  /** Local policy: called only after the initiator is authenticated, trusted and credentialed. */
  consent(request: FederationRequest): ConsentDecision | Promise<ConsentDecision>;
}

export interface ResponderOptions {
  readonly meshId: string;
  readonly signer: HandshakeSigner;
  /** Lowest trust score (0-100) this mesh accepts for an initiator; default 50. */
  readonly minTrustScore?: number;
  /** How long to wait for the initiator's confirmation after accepting; default 5000. */
  readonly timeoutMs?: number;
  readonly clockSkewMs?: number;
  readonly maxPending?: number;
  readonly maxPendingPerMesh?: number;
  /** Capacity of the seen-set of challenge nonces. */
  readonly replayCapacity?: number;
}

export interface ResponderStep {
  readonly send?: HandshakeMessage;
  readonly session?: Session;
  readonly failure?: HandshakeFailure;
}

interface ResponderEntry extends PendingEntry {
  state: 'verifying' | 'awaiting_confirm';
  readonly request: FederationRequest;
  sendKey?: Uint8Array;
  receiveKey?: Uint8Array;
  expectedConfirmation?: Uint8Array;
  transcriptHex?: string;
}

export class HandshakeResponder extends EndRoleBase<ResponderEntry> {
  protected readonly role = 'responder' as const;
  readonly meshId: string;
  private readonly target: ResponderDeps;
  private readonly signer: HandshakeSigner;
  private readonly minTrustScore: number;
  private readonly timeoutMs: number;
  private readonly clockSkewMs: number;
  private readonly seenChallenges: ExpiringSet;

  constructor(deps: ResponderDeps, options: ResponderOptions) {
    const timeoutMs = positiveInt(options.timeoutMs, DEFAULT_RETRY_POLICY.timeoutMs, 'timeoutMs');
    super(
      deps,
      new PendingTable<ResponderEntry>(
        positiveInt(options.maxPending, 1_000, 'maxPending'),
        positiveInt(options.maxPendingPerMesh, 8, 'maxPendingPerMesh'),
        timeoutMs,
      ),
    );
    if (!HandshakeDidSchema.safeParse(options.meshId).success)
      throw new ValidationError('meshId is not a DID');
    if (
      !VerificationMethodIdSchema.safeParse(options.signer.verificationMethod).success ||
      didOf(options.signer.verificationMethod) !== options.meshId
    ) {
      throw new ValidationError('the signer must use a verification method of meshId');
    }
    const min = options.minTrustScore ?? 50;
    if (!(min >= 0 && min <= 100)) throw new ValidationError('minTrustScore must lie in 0..100');
    this.meshId = options.meshId;
    this.target = deps;
    this.signer = options.signer;
    this.minTrustScore = min;
    this.timeoutMs = timeoutMs;
    this.clockSkewMs = positiveInt(options.clockSkewMs, 30_000, 'clockSkewMs');
    this.seenChallenges = new ExpiringSet(positiveInt(options.replayCapacity, 100_000, 'replayCapacity'));
  }

  protected wipe(entry: ResponderEntry): void {
    zeroize(entry.sendKey, entry.receiveKey, entry.expectedConfirmation);
  }

  /**
   * Checks a relayed request and answers with a signed FederationAccept, or a HandshakeReject
   * when local policy declines. Failed checks throw ProtocolError (send `rejectFromError`).
   */
  async onRequest(input: unknown): Promise<FederationAccept | HandshakeReject> {
    const ctx: CallContext<ResponderEntry> = {};
    return this.guard(ctx, async () => {
      const req = parseHandshakeMessage(input, FederationRequestSchema);
      ctx.handshakeId = req.handshakeId;
      ctx.meshId = req.sourceMeshId;
      if (req.targetMeshId !== this.meshId)
        throw new ProtocolError('unknown_mesh', 'this request is for another mesh');
      if (req.sourceMeshId === this.meshId)
        throw new ProtocolError('policy_denied', 'a mesh cannot federate with itself');
      const { nonce, timestamp, hash } = req.challenge;
      if (challengeHash(req.handshakeId, nonce, timestamp) !== hash) {
        throw new ProtocolError('malformed_frame', 'the challenge hash does not match its fields');
      }
      if (didOf(req.response.verificationMethod) !== req.sourceMeshId) {
        throw new ProtocolError(
          'invalid_signature',
          'the response is not signed by a key of the source mesh',
        );
      }
      const now = this.target.now();
      if (Math.abs(now - timestamp) > this.clockSkewMs) {
        throw new ProtocolError('clock_skew', 'the challenge timestamp is outside the accepted window');
      }
      if (req.expiresAt <= now)
        throw new ProtocolError('expired', 'the federation would already have expired');
      // A renewal keeps its federation's id: a hub cannot graft it onto another federation.
      if (req.renews !== undefined && req.federationId !== req.renews) {
        throw new ProtocolError('unknown_federation', 'a renewal must keep the federationId it renews');
      }
      // Keyed by the challenge hash (handshakeId, nonce, timestamp): a hub's challenge has a fresh
      // nonce, an early response's the link's nonce and a fresh handshakeId; either way the hash is
      // new for every handshake, and the initiator's signature covers it.
      if (this.pending.has(req.handshakeId) || this.seenChallenges.has(hash, now)) {
        throw new ProtocolError('replay_detected', 'this handshake or challenge was seen before');
      }
      const entry: ResponderEntry = {
        handshakeId: req.handshakeId,
        meshKey: req.sourceMeshId,
        deadline: now + this.timeoutMs,
        done: false,
        state: 'verifying',
        request: req,
      };
      // Added before the first await so a concurrent copy of the request is seen as a replay.
      this.pending.add(entry);
      ctx.bound = entry;

      const credentials = credentialsHash(req.credentials);
      const digest = responseDigest({
        handshakeId: req.handshakeId,
        challengeHash: hash,
        sourceMeshId: req.sourceMeshId,
        targetMeshId: req.targetMeshId,
        initiatorEphemeralKey: req.initiatorEphemeralKey,
        capabilities: req.capabilities,
        credentials: req.credentials,
        minTrustScore: req.minTrustScore,
        initiateMetadata: req.metadata,
        responseMetadata: req.response.metadata,
        verificationMethod: req.response.verificationMethod,
        renews: req.renews,
        credentialsHash: credentials,
      });
      await verifySignature(this.target, req.response.verificationMethod, digest, req.response.signature);
      this.ensureLive(entry);
      // Burn the challenge only once it is proven to come from the initiator: a forged copy must
      // not block the real request.
      if (!this.seenChallenges.add(hash, timestamp + this.clockSkewMs, now)) {
        throw new ProtocolError('too_many_handshakes', 'the replay cache is full', {
          retryAfterMs: this.timeoutMs,
        });
      }
      await requireTrust(this.target, req.sourceMeshId, this.minTrustScore, 'source mesh', {
        credential: req.credentials,
        canonicalHash: credentials,
      });
      await requireCredential(this.target, req.credentials, req.sourceMeshId, credentials);
      this.ensureLive(entry);
      let decision: ConsentDecision;
      try {
        decision = await this.target.consent(req);
      } catch (cause) {
        throw new ProtocolError('internal_error', 'the consent policy failed', { cause });
      }
      this.ensureLive(entry);
      const accepted = typeof decision === 'boolean' ? decision : decision?.accept === true;
      if (!accepted) {
        const reason =
          (typeof decision === 'object' && decision?.reason) || 'the target mesh declined the federation';
        const { error } = this.endWith(entry, ctx, 'handshake_rejected', String(reason).slice(0, 256));
        return rejectFromError(req.handshakeId, error);
      }

      const eph = ephemeralKeyFrom(this.target.randomBytes(32));
      let shared: Uint8Array;
      try {
        shared = x25519.sharedSecret(eph.secretKey, decodeX25519Multikey(req.initiatorEphemeralKey));
      } catch (cause) {
        throw new ProtocolError('key_confirmation_failed', 'no shared key can be agreed with the initiator', {
          cause,
        });
      } finally {
        zeroize(eph.secretKey);
      }
      const transcript = transcriptHash({
        responseDigest: digest,
        handshakeId: req.handshakeId,
        nonce,
        federationId: req.federationId,
        expiresAt: req.expiresAt,
        routingEndpoint: req.routingEndpoint,
        sourceMeshId: req.sourceMeshId,
        targetMeshId: req.targetMeshId,
        initiatorEphemeralKey: req.initiatorEphemeralKey,
        responderEphemeralKey: eph.multikey,
        responderVerificationMethod: this.signer.verificationMethod,
      });
      const keys = deriveSessionKeys(shared, transcript);
      zeroize(shared);
      entry.sendKey = keys.responderToInitiator;
      entry.receiveKey = keys.initiatorToResponder;
      entry.expectedConfirmation = keyConfirmationTag(keys.confirmationKey, 'initiator');
      const ours = keyConfirmationTag(keys.confirmationKey, 'responder');
      zeroize(keys.confirmationKey);
      entry.transcriptHex = hexEncode(transcript);
      const signature = await sign(this.signer, transcript);
      this.ensureLive(entry);
      entry.state = 'awaiting_confirm';
      entry.deadline = this.target.now() + this.timeoutMs;
      return {
        type: 'FederationAccept',
        handshakeId: req.handshakeId,
        federationId: req.federationId,
        responderEphemeralKey: eph.multikey,
        verificationMethod: this.signer.verificationMethod,
        signature: multibaseEncode(signature),
        keyConfirmation: base64urlEncode(ours),
      };
    });
  }

  /** The initiator's key confirmation, relayed by the hub: checks it and returns the session. */
  onConfirm(input: unknown): Session {
    const ctx: CallContext<ResponderEntry> = {};
    return this.guardSync(ctx, () => {
      const msg = parseHandshakeMessage(input, FederationConfirmSchema);
      ctx.handshakeId = msg.handshakeId;
      const entry = this.pending.get(msg.handshakeId);
      if (!entry) throw new ProtocolError('unknown_handshake', 'no pending handshake has this id');
      ctx.meshId = entry.request.sourceMeshId;
      if (entry.state !== 'awaiting_confirm') {
        throw new ProtocolError('out_of_order', `a confirmation is not expected in state ${entry.state}`);
      }
      if (msg.federationId !== entry.request.federationId) {
        throw new ProtocolError('unknown_federation', 'the confirmation names another federation');
      }
      ctx.bound = entry;
      if (this.target.now() >= entry.deadline) {
        throw new ProtocolError('handshake_timeout', 'the confirmation came too late');
      }
      if (!constantTimeEqual(entry.expectedConfirmation!, base64urlDecode(msg.keyConfirmation))) {
        throw new ProtocolError('key_confirmation_failed', 'the initiator derived different session keys');
      }
      const { sendKey, receiveKey } = entry;
      // Hand the keys to the session before the entry is wiped.
      entry.sendKey = undefined;
      entry.receiveKey = undefined;
      this.end(entry);
      const req = entry.request;
      return {
        federationId: req.federationId,
        handshakeId: req.handshakeId,
        role: 'responder',
        localMeshId: this.meshId,
        peer: req.sourceMeshId,
        sendKey: sendKey!,
        receiveKey: receiveKey!,
        expiresAt: req.expiresAt,
        routingEndpoint: req.routingEndpoint,
        capabilities: req.capabilities,
        transcriptHash: entry.transcriptHex!,
      };
    });
  }

  protected readonly awaiting = 'confirmation';

  protected peerOf(entry: ResponderEntry): string {
    return entry.request.sourceMeshId;
  }

  /** Parses any handshake message and dispatches it; a type the target does not take is out_of_order. */
  async receive(input: unknown): Promise<ResponderStep> {
    const msg = this.guardSync({}, () => parseHandshakeMessage(input));
    switch (msg.type) {
      case 'FederationRequest':
        return { send: await this.onRequest(msg) };
      case 'FederationConfirm':
        return { session: this.onConfirm(msg) };
      case 'HandshakeReject':
        return { failure: this.onReject(msg) };
      default:
        throw this.fail(
          { handshakeId: msg.handshakeId },
          new ProtocolError('out_of_order', `the target does not take ${msg.type}`),
        );
    }
  }
}

export function createResponder(deps: ResponderDeps, options: ResponderOptions): HandshakeResponder {
  return new HandshakeResponder(deps, options);
}
