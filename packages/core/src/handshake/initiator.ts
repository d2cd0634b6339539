/**
 * The source mesh's side (spec §3.1 phases 2 and 4): starts a handshake with a fresh ephemeral
 * X25519 key, answers the hub's challenge, checks the target's signed acceptance and key
 * confirmation, and ends with a Session plus the FederationConfirm to send back.
 */

import { z } from 'zod';
import { constantTimeEqual, x25519 } from '../crypto.js';
import { base64urlDecode, base64urlEncode, hexEncode, multibaseEncode } from '../encoding.js';
import { ValidationError } from '../errors.js';
import { ProtocolError } from '../wire/errors.js';
import {
  type Challenge,
  type ChallengeResponse,
  ChallengeSchema,
  type FederationConfirm,
  FederationEstablishedSchema,
  HandshakeDidSchema,
  type HandshakeMessage,
  type InitiateFederation,
  InitiateFederationSchema,
  isInitiateFederationValue,
  NonceSchema,
  parseHandshakeMessage,
  type VerifiableCredentialJson,
  VerifiableCredentialSchema,
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
  type Session,
  sign,
  verifySignature,
} from './common.js';
import { DEFAULT_RETRY_POLICY, nextRetryDelayMs, type RetryPolicy } from './retry.js';
import {
  challengeHash,
  credentialsHash,
  decodeX25519Multikey,
  deriveSessionKeys,
  type EphemeralKey,
  ephemeralKeyFrom,
  initiationDigest,
  keyConfirmationTag,
  transcriptHash,
  uuidFromRandom,
  zeroize,
} from './transcript.js';

export interface InitiatorOptions {
  /** This mesh's DID. */
  readonly meshId: string;
  /** Signs with one of this mesh's authentication keys (a verification method of meshId). */
  readonly signer: HandshakeSigner;
  /** The credential presented to the hub and the target (spec §4.3). */
  readonly credential: VerifiableCredentialJson;
  readonly clockSkewMs?: number;
  /** Bounds on handshakes in flight, in total and per target mesh. */
  readonly maxPending?: number;
  readonly maxPendingPerMesh?: number;
  /** timeoutMs applies from start() to FederationEstablished. */
  readonly retryPolicy?: RetryPolicy;
}

export interface StartOptions {
  readonly targetMeshId: string;
  readonly capabilities: readonly string[];
  /** Spec §3.1 phase 4: requested lifetime in seconds and purpose. */
  readonly metadata: { ttl: number; purpose: string };
  /** The lowest trust score this mesh accepts for the target (checked by the hub). */
  readonly minTrustScore?: number;
  /** Free-form metadata carried by InitiateFederation. */
  readonly initiateMetadata?: Record<string, string | number | boolean>;
  /** 0 for the first try, n for retry n: failure reports then carry the next retry delay. */
  readonly attempt?: number;
  /**
   * Renewal: the id of the federation with `targetMeshId` this handshake renews. It is signed,
   * and the establishment must carry that same federationId.
   */
  readonly renews?: string;
}

export interface InitiatorStep {
  readonly send?: HandshakeMessage;
  readonly session?: Session;
  readonly failure?: HandshakeFailure;
}

type InitiatorState = 'awaiting_challenge' | 'signing' | 'awaiting_established' | 'verifying';

interface InitiatorEntry extends PendingEntry {
  state: InitiatorState;
  readonly initiate: InitiateFederation & { handshakeId: string };
  readonly responseMetadata: { ttl: number; purpose: string };
  readonly eph: EphemeralKey;
  readonly attempt: number;
  challenge?: Challenge;
  responseDigest?: Uint8Array;
}

/** InitiateFederation with the credential already checked (see HandshakeInitiator.checkedCredential). */
const InitiateWithCheckedCredentialSchema = InitiateFederationSchema.extend({ credentials: z.unknown() });

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

export class HandshakeInitiator extends EndRoleBase<InitiatorEntry> {
  protected readonly role = 'initiator' as const;
  readonly meshId: string;
  private readonly signer: HandshakeSigner;
  private readonly credential: VerifiableCredentialJson;
  private readonly clockSkewMs: number;
  private readonly policy: RetryPolicy;
  /**
   * The credential as last validated, with the JSON text it had then: the same credential is sent
   * with every handshake, and its schema check (a walk of the whole credential) need not run again
   * while its JSON is unchanged. The value is zod's own copy, frozen, so its credentialsHash (which
   * every response digest binds) is computed once too.
   */
  private credentialCheck: { json: string; value: VerifiableCredentialJson; hash: string } | undefined;

  constructor(deps: HandshakeDeps, options: InitiatorOptions) {
    const policy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
    super(
      deps,
      new PendingTable<InitiatorEntry>(
        positiveInt(options.maxPending, 64, 'maxPending'),
        positiveInt(options.maxPendingPerMesh, 4, 'maxPendingPerMesh'),
        policy.timeoutMs,
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
    positiveInt(policy.timeoutMs, 1, 'retryPolicy.timeoutMs');
    this.meshId = options.meshId;
    this.signer = options.signer;
    this.credential = options.credential;
    this.clockSkewMs = positiveInt(options.clockSkewMs, 30_000, 'clockSkewMs');
    this.policy = policy;
  }

  protected wipe(entry: InitiatorEntry): void {
    zeroize(entry.eph.secretKey);
  }

  protected override failure(ctx: CallContext<InitiatorEntry>, error: ProtocolError): HandshakeFailure {
    const base = super.failure(ctx, error);
    // Only a failure that ended the handshake has a retry decision; others leave it running.
    if (!ctx.bound) return base;
    const policyDelay = nextRetryDelayMs(ctx.bound.attempt, error.wireCode, this.policy);
    const retryInMs =
      policyDelay === undefined || error.retryAfterMs === undefined
        ? policyDelay
        : Math.max(policyDelay, error.retryAfterMs);
    return { ...base, attempt: ctx.bound.attempt, ...(retryInMs === undefined ? {} : { retryInMs }) };
  }

  /**
   * Phase 2: a new handshake with a fresh ephemeral key. Invalid options throw ValidationError;
   * too many handshakes in flight throw ProtocolError('too_many_handshakes').
   */
  start(options: StartOptions): InitiateFederation {
    const attempt = options.attempt ?? 0;
    if (!Number.isInteger(attempt) || attempt < 0)
      throw new ValidationError('attempt must be an integer >= 0');
    if (options.targetMeshId === this.meshId) throw new ValidationError('a mesh cannot federate with itself');
    const handshakeId = uuidFromRandom(this.deps.randomBytes(16));
    const eph = ephemeralKeyFrom(this.deps.randomBytes(32));
    const checked = this.checkedCredential();
    const candidate = {
      type: 'InitiateFederation',
      handshakeId,
      sourceMeshId: this.meshId,
      targetMeshId: options.targetMeshId,
      credentials: checked ?? this.credential,
      capabilities: [...options.capabilities],
      ephemeralPublicKey: eph.multikey,
      ...(options.minTrustScore === undefined ? {} : { minTrustScore: options.minTrustScore }),
      // A copy: the caller's object may change after the initiation is signed.
      ...(options.initiateMetadata === undefined ? {} : { metadata: { ...options.initiateMetadata } }),
      ...(options.renews === undefined ? {} : { renews: options.renews }),
    };
    // The hand check when it accepts (it is the schema's verdict, see wire/handshake.ts); an
    // unchecked (invalid) credential goes through the full schema, which names its issues.
    const parsed =
      checked && isInitiateFederationValue(candidate)
        ? { success: true as const, data: candidate }
        : (checked ? InitiateWithCheckedCredentialSchema : InitiateFederationSchema).safeParse(candidate);
    const metadataOk =
      Number.isInteger(options.metadata?.ttl) &&
      options.metadata.ttl >= 1 &&
      typeof options.metadata.purpose === 'string' &&
      options.metadata.purpose.length >= 1 &&
      options.metadata.purpose.length <= 128;
    if (!parsed.success || !metadataOk) {
      zeroize(eph.secretKey);
      const issues = parsed.success
        ? [{ path: 'metadata', message: 'ttl must be a positive integer, purpose 1-128 characters' }]
        : parsed.error.issues.slice(0, 16).map((i) => ({ path: i.path.join('.'), message: i.message }));
      throw new ValidationError('invalid handshake start options', issues);
    }
    const initiate = parsed.data as InitiateFederation & { handshakeId: string };
    const entry: InitiatorEntry = {
      handshakeId,
      meshKey: options.targetMeshId,
      deadline: this.deps.now() + this.policy.timeoutMs,
      done: false,
      state: 'awaiting_challenge',
      initiate,
      responseMetadata: { ttl: options.metadata.ttl, purpose: options.metadata.purpose },
      eph,
      attempt,
    };
    try {
      this.pending.add(entry);
    } catch (error) {
      zeroize(eph.secretKey);
      throw error;
    }
    return initiate;
  }

  /**
   * Phases 2 and 4 in one message (docs/handshake.md, "Early response"), for a hub that offered
   * EARLY_RESPONSE_FEATURE: the initiation carries the response to the challenge made of the link's
   * nonce (the hub's Hello nonce) and this mesh's clock. The hub answers with
   * FederationEstablished (or a reject), never a Challenge. Throws as start() does.
   */
  async startEarly(options: StartOptions, linkNonce: string): Promise<InitiateFederation> {
    if (!NonceSchema.safeParse(linkNonce).success) throw new ValidationError('linkNonce is not a nonce');
    const initiate = this.start(options);
    const entry = this.pending.get(initiate.handshakeId!)!;
    const ctx: CallContext<InitiatorEntry> = {
      handshakeId: entry.handshakeId,
      meshId: options.targetMeshId,
      bound: entry,
    };
    return this.guard(ctx, async () => {
      const timestamp = this.deps.now();
      const challenge: Challenge = {
        type: 'Challenge',
        handshakeId: entry.handshakeId,
        nonce: linkNonce,
        timestamp,
        hash: challengeHash(entry.handshakeId, linkNonce, timestamp),
      };
      const response = await this.respondTo(entry, challenge);
      return {
        ...initiate,
        earlyResponse: {
          nonce: linkNonce,
          timestamp,
          signature: response.signature,
          verificationMethod: response.verificationMethod,
          metadata: response.metadata,
        },
      };
    });
  }

  /** Signs the response digest for `challenge` and moves the handshake on to awaiting_established. */
  private async respondTo(entry: InitiatorEntry, challenge: Challenge): Promise<ChallengeResponse> {
    entry.state = 'signing';
    const check = this.credentialCheck;
    const digest = initiationDigest(
      entry.handshakeId,
      entry.initiate,
      challenge.hash,
      { metadata: entry.responseMetadata, verificationMethod: this.signer.verificationMethod },
      // The frozen checked copy this initiation carries: its hash cannot have changed.
      check && entry.initiate.credentials === check.value ? check.hash : undefined,
    );
    const signature = await sign(this.signer, digest);
    this.ensureLive(entry);
    entry.challenge = challenge;
    entry.responseDigest = digest;
    entry.state = 'awaiting_established';
    return {
      type: 'ChallengeResponse',
      handshakeId: entry.handshakeId,
      signature: multibaseEncode(signature),
      verificationMethod: this.signer.verificationMethod,
      metadata: entry.responseMetadata,
    };
  }

  /** The validated credential, or undefined when it fails VerifiableCredentialSchema. */
  private checkedCredential(): VerifiableCredentialJson | undefined {
    let json: string | undefined;
    try {
      json = JSON.stringify(this.credential);
    } catch {
      return undefined;
    }
    if (json === undefined) return undefined;
    if (this.credentialCheck?.json === json) return this.credentialCheck.value;
    const result = VerifiableCredentialSchema.safeParse(this.credential);
    if (!result.success) return undefined;
    const value = deepFreeze(result.data);
    this.credentialCheck = { json, value, hash: credentialsHash(value) };
    return value;
  }

  /** Phase 3 -> 4: signs the response digest (which contains the spec's challenge hash). */
  async onChallenge(input: unknown): Promise<ChallengeResponse> {
    const ctx: CallContext<InitiatorEntry> = {};
    return this.guard(ctx, async () => {
      const msg = parseHandshakeMessage(input, ChallengeSchema);
      ctx.handshakeId = msg.handshakeId;
      const entry = this.pending.get(msg.handshakeId);
      if (!entry) throw new ProtocolError('unknown_handshake', 'no pending handshake has this id');
      ctx.meshId = entry.initiate.targetMeshId;
      if (entry.state !== 'awaiting_challenge') {
        throw new ProtocolError('out_of_order', `a challenge is not expected in state ${entry.state}`);
      }
      // Checked before binding: a forged challenge must not end the real handshake.
      if (challengeHash(msg.handshakeId, msg.nonce, msg.timestamp) !== msg.hash) {
        throw new ProtocolError('malformed_frame', 'the challenge hash does not match its fields');
      }
      const now = this.deps.now();
      if (Math.abs(now - msg.timestamp) > this.clockSkewMs) {
        throw new ProtocolError('clock_skew', 'the challenge timestamp is outside the accepted window');
      }
      ctx.bound = entry;
      if (now >= entry.deadline) throw new ProtocolError('handshake_timeout', 'the challenge came too late');
      return this.respondTo(entry, msg);
    });
  }

  /**
   * Phase 5: verifies the target's signature over the transcript, derives the session keys,
   * checks the target's key confirmation. Returns the session and the confirmation to send.
   */
  async onEstablished(input: unknown): Promise<{ session: Session; confirm: FederationConfirm }> {
    const ctx: CallContext<InitiatorEntry> = {};
    return this.guard(ctx, async () => {
      const msg = parseHandshakeMessage(input, FederationEstablishedSchema);
      ctx.handshakeId = msg.handshakeId;
      const entry = this.pending.get(msg.handshakeId);
      if (!entry) throw new ProtocolError('unknown_handshake', 'no pending handshake has this id');
      const init = entry.initiate;
      ctx.meshId = init.targetMeshId;
      if (entry.state !== 'awaiting_established' || !entry.challenge || !entry.responseDigest) {
        throw new ProtocolError('out_of_order', `establishment is not expected in state ${entry.state}`);
      }
      if (msg.targetMeshId !== init.targetMeshId) {
        throw new ProtocolError('unknown_mesh', 'the federation was established with another mesh');
      }
      if (didOf(msg.verificationMethod) !== init.targetMeshId) {
        throw new ProtocolError('invalid_signature', 'the acceptance is not signed by a key of the target');
      }
      ctx.bound = entry;
      if (init.renews !== undefined && msg.federationId !== init.renews) {
        throw new ProtocolError(
          'unknown_federation',
          'the renewal was established under another federationId',
        );
      }
      const now = this.deps.now();
      if (now >= entry.deadline) throw new ProtocolError('handshake_timeout', 'establishment came too late');
      if (msg.expiresAt <= now) throw new ProtocolError('expired', 'the federation has already expired');
      if (msg.expiresAt > now + entry.responseMetadata.ttl * 1000 + this.clockSkewMs) {
        throw new ProtocolError('policy_denied', 'the federation outlives the requested ttl');
      }
      entry.state = 'verifying';
      const transcript = transcriptHash({
        responseDigest: entry.responseDigest,
        handshakeId: entry.handshakeId,
        nonce: entry.challenge.nonce,
        federationId: msg.federationId,
        expiresAt: msg.expiresAt,
        routingEndpoint: msg.routingEndpoint,
        sourceMeshId: init.sourceMeshId,
        targetMeshId: init.targetMeshId,
        initiatorEphemeralKey: init.ephemeralPublicKey,
        responderEphemeralKey: msg.responderEphemeralKey,
        responderVerificationMethod: msg.verificationMethod,
      });
      await verifySignature(this.deps, msg.verificationMethod, transcript, msg.signature);
      this.ensureLive(entry);

      let shared: Uint8Array;
      try {
        shared = x25519.sharedSecret(entry.eph.secretKey, decodeX25519Multikey(msg.responderEphemeralKey));
      } catch (cause) {
        throw new ProtocolError('key_confirmation_failed', 'no shared key can be agreed with the target', {
          cause,
        });
      } finally {
        zeroize(entry.eph.secretKey);
      }
      const keys = deriveSessionKeys(shared, transcript);
      zeroize(shared);
      const expected = keyConfirmationTag(keys.confirmationKey, 'responder');
      const ours = keyConfirmationTag(keys.confirmationKey, 'initiator');
      zeroize(keys.confirmationKey);
      if (!constantTimeEqual(expected, base64urlDecode(msg.keyConfirmation))) {
        zeroize(keys.initiatorToResponder, keys.responderToInitiator, ours);
        throw new ProtocolError('key_confirmation_failed', 'the target derived different session keys');
      }
      this.end(entry);
      const session: Session = {
        federationId: msg.federationId,
        handshakeId: entry.handshakeId,
        role: 'initiator',
        localMeshId: this.meshId,
        peer: init.targetMeshId,
        sendKey: keys.initiatorToResponder,
        receiveKey: keys.responderToInitiator,
        expiresAt: msg.expiresAt,
        routingEndpoint: msg.routingEndpoint,
        capabilities: init.capabilities,
        transcriptHash: hexEncode(transcript),
      };
      const confirm: FederationConfirm = {
        type: 'FederationConfirm',
        handshakeId: entry.handshakeId,
        federationId: msg.federationId,
        keyConfirmation: base64urlEncode(ours),
      };
      return { session, confirm };
    });
  }

  protected readonly awaiting = 'answer';

  protected peerOf(entry: InitiatorEntry): string {
    return entry.initiate.targetMeshId;
  }

  /** Ends one handshake locally (the caller gave up); returns the reject to send to the hub. */
  abort(handshakeId: string, reason = 'aborted by the initiator'): HandshakeMessage | undefined {
    const entry = this.pending.get(handshakeId);
    if (!entry) return undefined;
    const ctx: CallContext<InitiatorEntry> = { handshakeId, meshId: entry.initiate.targetMeshId };
    const { failure } = this.endWith(entry, ctx, 'handshake_rejected', reason);
    return { type: 'HandshakeReject', handshakeId, code: failure.code, reason: failure.reason.slice(0, 256) };
  }

  /** Parses any handshake message and dispatches it; a type the initiator does not take is out_of_order. */
  async receive(input: unknown): Promise<InitiatorStep> {
    const msg = this.guardSync({}, () => parseHandshakeMessage(input));
    switch (msg.type) {
      case 'Challenge':
        return { send: await this.onChallenge(msg) };
      case 'FederationEstablished': {
        const { session, confirm } = await this.onEstablished(msg);
        return { session, send: confirm };
      }
      case 'HandshakeReject':
        return { failure: this.onReject(msg) };
      default:
        throw this.fail(
          { handshakeId: msg.handshakeId },
          new ProtocolError('out_of_order', `the initiator does not take ${msg.type}`),
        );
    }
  }
}

export function createInitiator(deps: HandshakeDeps, options: InitiatorOptions): HandshakeInitiator {
  return new HandshakeInitiator(deps, options);
}
