/**
 * The mesh node: holds the organization's DID key, keeps an authenticated link to its home hub
 * (reconnecting with backoff), runs the federation handshake as initiator and responder, and
 * sends and receives envelopes that are signed, sealed and verified end to end.
 *
 * Session keys live in memory only: after a restart of the node its federations must be
 * established again (the hub still lists them; this node can no longer decrypt them).
 */
import { randomUUID } from 'node:crypto';
import {
  type Authenticated,
  type AvailableMesh,
  asProtocolError,
  authenticateDigest,
  BATCH_FEATURE,
  batcherForSocket,
  type ClearPayload,
  type ComplianceContext,
  type ConsentDecision,
  CryptoError,
  closeSession,
  createEnvelope,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_RETRY_POLICY,
  type DiscoveryQuery,
  EARLY_RESPONSE_FEATURE,
  type Ed25519KeyPair,
  type Envelope,
  ed25519,
  ed25519Signer,
  type FederationRequest,
  type FederationStatusValue,
  type FrameBatcher,
  framesOf,
  type HandshakeFailure,
  HandshakeInitiator,
  type HandshakeMessage,
  HandshakeResponder,
  type Hello,
  InvalidSignatureError,
  MAX_TRUST_REPORT_COUNT,
  multibaseEncode,
  openPayload,
  type ParsedFrame,
  type PresentedCredential,
  type Priority,
  ProtocolError,
  parseFrame,
  ReplayWindow,
  type RetryPolicy,
  randomBytes,
  rejectFromError,
  type Session,
  sealPayload,
  signAttestation,
  signEnvelope,
  type TrustAttestation,
  TrustAttestationSchema,
  type TrustReportOutcome,
  terminateDigest,
  type VerifiableCredentialJson,
  verifyEnvelope,
  type WireErrorCode,
} from '@fmp/core';
import { connectGrpcLink, isGrpcUrl, loadGrpc } from '@fmp/core/grpc';
import {
  authenticationKeyResolver,
  type DidResolver,
  type FetchFunction,
  type StatusListLoader,
  VerificationCache,
  type VerificationResult,
  verifyCredential,
} from '@fmp/identity';
import WebSocket from 'ws';
import { ComplianceGate, type NodeComplianceOptions, partyOf } from './compliance.js';
import {
  DeliveryError,
  FederationFailedError,
  NodeAuthenticationError,
  NodeBusyError,
  NodeConfigError,
  NodeConnectionError,
  NodeNotConnectedError,
  NodeTimeoutError,
  UnknownFederationError,
} from './errors.js';
import { type NodePolicy, partnerRefusal, policyConsent } from './policy.js';
import { hubBackedResolver } from './resolver.js';

export interface NodeLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const silentLogger: NodeLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface MeshNodeOptions {
  readonly did: string;
  readonly keyPair: Ed25519KeyPair;
  /** Default `${did}#key-1`. */
  readonly verificationMethod?: string;
  /** This mesh's MeshAgentCredential. */
  readonly credential: VerifiableCredentialJson;
  readonly capabilities: readonly string[];
  readonly region: string;
  /**
   * The hub: `ws://host:port` (the `/v1/mesh` path is added when missing), or `grpc://host:port` /
   * `grpcs://host:port` for the hub's gRPC link listener (its `grpcPort`).
   */
  readonly hubUrl: string;
  /** Default: hubUrl with http(s); required with a grpc(s):// hubUrl. */
  readonly hubHttpUrl?: string;
  /** This mesh's own did:mesh operation log, uploaded at authentication. */
  readonly meshLog?: readonly Record<string, unknown>[];
  /** Issuers whose credentials this node accepts from partners. */
  readonly trustedIssuers: readonly string[];
  readonly statusListLoader?: StatusListLoader;
  /** Default: did:mesh through the hub's op log (verified here) and did:key. */
  readonly resolver?: DidResolver;
  readonly fetch?: FetchFunction;
  readonly policy?: NodePolicy;
  readonly logger?: NodeLogger;
  readonly now?: () => number;
  /** Delay before reconnect attempt n (1, 2, ...). Default min(60 s, 2^n s). */
  readonly reconnectDelayMs?: (attempt: number) => number;
  /**
   * A link on which nothing arrived for this long (frames, the hub's pings, answers to ours) is
   * dropped and dialed again: a hub gone silent (a partition, a frozen process) is noticed even when
   * no TCP error ever comes. The node pings the hub itself after half of it. Default 60,000 ms.
   */
  readonly hubIdleTimeoutMs?: number;
  /** Handshake timeout and retries (spec 3.3). */
  readonly retryPolicy?: RetryPolicy;
  /**
   * Send the challenge response with the initiation when the hub offers it (docs/handshake.md,
   * "Early response"): one round trip fewer per handshake. Default true; false: the spec's four
   * phases, each its own message.
   */
  readonly earlyHandshake?: boolean;
  /** Wait this long for Delivered before resending. Default 5,000. */
  readonly sendTimeoutMs?: number;
  /**
   * The receipt (Ack) of a message leaves once every message handler has finished, or this long
   * after they were called if one is still running, or with the first message the node sends on
   * that federation meanwhile (an answer: both in one batch, one message fewer on every hop).
   * Default 20 ms. Must stay well under the sender's sendTimeoutMs.
   */
  readonly receiptWithinMs?: number;
  /** Transmissions per message, the first included. Default 4. */
  readonly maxSendAttempts?: number;
  /** Oldest incoming message accepted (must exceed the hub's queue TTL). Default 5 min. */
  readonly maxMessageAgeMs?: number;
  /** Default 30,000. */
  readonly clockSkewMs?: number;
  /**
   * Message ids remembered for replay protection (each until its envelope could no longer pass the
   * timestamp check: maxMessageAgeMs + clockSkewMs, and up to a time slice more). Default 4,000,000
   * (16-22 bytes each when full: at most ~90 MB): a node takes ~11,000 messages per second, sustained,
   * at the default message age; past that, messages are refused with `rate_limited` until older ids
   * expire.
   */
  readonly replayCapacity?: number;
  /** Messages awaiting a receipt. Default 10,000. */
  readonly maxInFlight?: number;
  /** Request timeout for discovery and terminate. Default 5,000. */
  readonly requestTimeoutMs?: number;
  /** Renewal before expiry (a fresh handshake that keeps the federation id). */
  readonly renewal?: RenewalOptions;
  /**
   * Compliance enforcement (spec 7): jurisdiction adapters and local Cedar policy at egress and
   * ingress, content inspection, the audit trail, payload retention. Absent: none (docs/compliance.md).
   */
  readonly compliance?: NodeComplianceOptions;
}

export interface RenewalOptions {
  /**
   * Which federations this node renews by itself: those it initiated ('initiator', default),
   * all of them ('both'; the other end then usually renews too), or none ('off': call renew()).
   */
  readonly auto?: 'initiator' | 'both' | 'off';
  /** When, as a fraction of the current lifetime (establishment to expiresAt); default 0.8. */
  readonly at?: number;
  /**
   * After a switch to new session keys, messages under the previous keys are still accepted for
   * this long (in flight, or resent unchanged); then the previous keys are zeroed. Default 30,000.
   */
  readonly overlapMs?: number;
}

export interface FederationInfo {
  readonly federationId: string;
  readonly peer: string;
  readonly role: 'initiator' | 'responder';
  readonly status: FederationStatusValue;
  readonly capabilities: readonly string[];
  readonly purpose: string;
  readonly expiresAt: number;
  readonly statusReason: string | undefined;
  /** False when the hub lists the federation but this node lost its keys (restart). */
  readonly usable: boolean;
  /**
   * Hub DIDs between the two ends, the coordinating hub first, as that hub reported them
   * (unsigned: informational). Undefined when unknown (resumed after a restart).
   */
  readonly path: readonly string[] | undefined;
  /** The handshake whose session keys are in use (a renewal replaces it; the id stays). */
  readonly handshakeId: string | undefined;
}

export interface FederateOptions {
  readonly capabilities: readonly string[];
  readonly purpose: string;
  /** Requested lifetime; default 86,400 s. */
  readonly ttlSeconds?: number;
  /** Lowest trust score accepted for the target (checked by the hub). */
  readonly minTrustScore?: number;
}

export interface SendOptions {
  readonly priority?: Priority;
  readonly complianceContext?: ComplianceContext;
  readonly traceparent?: string;
  /**
   * Called once the sealed message is queued on the link (with the receipts of messages on this
   * federation whose handlers are still running): a handler that answers can resolve then.
   */
  readonly onQueued?: () => void;
}

export interface IncomingMessage {
  readonly federationId: string;
  readonly messageId: string;
  readonly source: string;
  readonly type: string;
  readonly data: ClearPayload['data'];
  readonly priority: Priority;
  readonly timestamp: number;
  readonly complianceContext: ComplianceContext | undefined;
  readonly traceparent: string | undefined;
  /** Hub DIDs the message crossed. */
  readonly route: readonly string[];
}

export interface DeliveryReceipt {
  readonly messageId: string;
  readonly federationId: string;
  /** Transmissions it took (1 = first try). */
  readonly attempts: number;
}

export interface FederationStatusEvent {
  readonly federationId: string;
  readonly status: FederationStatusValue;
  readonly reason: string;
}

export interface MeshNode {
  readonly did: string;
  /** Connects and authenticates; rejects with NodeAuthenticationError or NodeConnectionError. */
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly connected: boolean;
  /** Trust score the hub assigned at the last authentication. */
  readonly trustScore: number | undefined;
  discover(query?: DiscoveryQuery): Promise<AvailableMesh[]>;
  federate(targetDid: string, options: FederateOptions): Promise<FederationInfo>;
  send(
    federationId: string,
    type: string,
    data: ClearPayload['data'],
    options?: SendOptions,
  ): Promise<DeliveryReceipt>;
  /** Each message is verified, decrypted and de-duplicated before the handler sees it. Returns an unsubscribe. */
  onMessage(handler: (message: IncomingMessage) => void | Promise<void>): () => void;
  /** Federations established (either role) and status changes. Returns an unsubscribe. */
  onFederation(handler: (federation: FederationInfo) => void): () => void;
  onStatus(handler: (event: FederationStatusEvent) => void): () => void;
  federations(): FederationInfo[];
  /** One federation by id (either role), or undefined: what `federations()` lists for it, without listing them all. */
  federation(federationId: string): FederationInfo | undefined;
  terminate(federationId: string, reason?: string): Promise<void>;
  /**
   * Renews an active federation before it expires: a fresh handshake with the same partner that
   * keeps the federation id, extends expiresAt and switches both ends to new session keys (the
   * previous ones stay valid for incoming messages during `renewal.overlapMs`, then are zeroed).
   * Also restores the keys of a federation this node lost them for (restart). Rejects with
   * UnknownFederationError, or FederationFailedError (`expired`, `policy_denied`, ...).
   */
  renew(federationId: string): Promise<FederationInfo>;
  /**
   * Checks a partner's MeshAgentCredential as the handshake does (proof, issuer among
   * `trustedIssuers`, expiry, revocation; cached). Until the trust engine lands, the trust score
   * is the credential's trustLevel; 0 when it does not verify.
   */
  checkCredential(credential: unknown): Promise<PartnerCredentialCheck>;
  /**
   * What the hubs say of a partner (region, certifications, trust score), looked up when a
   * federation with it is established and on request; undefined until known.
   */
  partnerInfo(did: string): PartnerInfo | undefined;
  /** Looks a partner up through the home hub now (discovery by mesh id). */
  refreshPartner(did: string): Promise<PartnerInfo | undefined>;
  /** The compliance gate (adapters, local policy, audit) when `compliance` is configured. */
  readonly compliance: ComplianceGate | undefined;
  /**
   * Vouches for a partner (spec 5.2, peer attestations): a signed TrustAttestation the hub checks
   * and counts, weighted by this mesh's global trust and split over its attestation budget. Only
   * partners this mesh is or was federated with. Rejects with DeliveryError (`policy_denied` when
   * the budget is spent or the subject is no partner).
   */
  attest(subject: string, options: AttestOptions): Promise<TrustAttestation>;
  /**
   * Tells the hub how an interaction with the partner of `federationId` went (a tool call that
   * failed, a policy violation): input of the partner's trust score. Fire and forget; a refused
   * report is logged. Tool-call outcomes are counted and sent about once a second (the hub takes
   * no more of them than the tool calls it routed on the federation); violations go at once.
   */
  reportInteraction(federationId: string, outcome: TrustReportOutcome, detail?: string): void;
}

/** A trust report waiting for the next flush (tool calls are counted, not sent one by one). */
interface PendingReport {
  readonly federationId: string;
  readonly subject: string;
  readonly outcome: TrustReportOutcome;
  readonly detail: string | undefined;
  count: number;
}

/** How long tool-call counts are gathered before they are reported. */
const REPORT_FLUSH_MS = 1_000;
/** Distinct (federation, outcome, detail) counts held at once; past it they are sent early. */
const MAX_PENDING_REPORTS = 1_024;

export interface PartnerInfo {
  readonly region: string;
  readonly certifications: readonly string[];
  readonly trustScore: number;
  readonly homeHub: string;
  readonly at: number;
}

export interface AttestOptions {
  /** 0-100. */
  readonly score: number;
  /** What is vouched for (`reliable ml.inference partner`). */
  readonly claim: string;
  /** Default 30 days; at most a year. */
  readonly ttlSeconds?: number;
}

export interface PartnerCredentialCheck {
  readonly verified: boolean;
  /** The DID the credential is about. */
  readonly subject: string | undefined;
  readonly trustScore: number;
  readonly error: string | undefined;
}

interface LocalFederation {
  readonly federationId: string;
  readonly peer: string;
  readonly role: 'initiator' | 'responder';
  status: FederationStatusValue;
  statusReason: string | undefined;
  readonly capabilities: readonly string[];
  readonly purpose: string;
  expiresAt: number;
  session: Session | undefined;
  /** The partner's Ed25519 key, resolved once at establishment. */
  peerKey: Uint8Array | undefined;
  path: readonly string[] | undefined;
  /** Requested lifetime, reused by renewals. */
  ttlSeconds: number;
  /** When the current keys were established (start of the lifetime the renewal point is taken from). */
  keyedAt: number;
  /** The keys a renewal replaced, accepted for incoming messages until `until`. */
  previous: { session: Session; until: number } | undefined;
  renewing: boolean;
  /** No automatic renewal before this time (after a failed one). */
  retryRenewAt: number;
}

interface PendingSend {
  readonly messageId: string;
  readonly federationId: string;
  readonly frame: string;
  attempts: number;
  timer: NodeJS.Timeout | undefined;
  readonly resolve: (r: DeliveryReceipt) => void;
  readonly reject: (e: Error) => void;
}

interface PendingRequest<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface PendingHandshake {
  readonly resolve: (f: FederationInfo) => void;
  readonly reject: (failure: HandshakeFailure) => void;
  readonly purpose: string;
  readonly ttlSeconds: number;
  /** A renewal of this federation. */
  readonly renews: string | undefined;
  peerVerificationMethod?: string;
}

interface IncomingHandshake {
  readonly request: FederationRequest;
  readonly at: number;
}

const MAX_HANDLERS = 64;

function toWsUrl(url: string): string {
  const u = new URL(url);
  // A gRPC link (the hub's grpcPort): the URL as given, host and port only.
  if (u.protocol === 'grpc:' || u.protocol === 'grpcs:') return `${u.protocol}//${u.host}`;
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/mesh';
  return u.toString();
}

function toHttpUrl(url: string): string {
  const u = new URL(url);
  u.protocol = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:';
  return `${u.protocol}//${u.host}`;
}

class Node implements MeshNode {
  readonly did: string;
  private readonly o: MeshNodeOptions;
  private readonly vm: string;
  private readonly log: NodeLogger;
  private readonly now: () => number;
  private readonly resolver: DidResolver;
  private readonly resolveKey: (vm: string) => Promise<Uint8Array>;
  private readonly vcCache = new VerificationCache();
  private readonly initiator: HandshakeInitiator;
  private readonly responder: HandshakeResponder;
  private readonly policy: NodePolicy;
  private readonly seen: ReplayWindow;
  private readonly pendingReports = new Map<string, PendingReport>();
  private reportTimer: NodeJS.Timeout | undefined;
  private readonly wsUrl: string;
  /** When the link last brought anything (performance.now()), and when we last pinged the hub. */
  private lastHeard = 0;
  private pingedAt = 0;
  private readonly sendTimeoutMs: number;
  private readonly receiptWithinMs: number;
  /** Messages whose handlers are running and whose receipt has not left yet, per federation. */
  private readonly receiptsDue = new Map<string, Set<Envelope>>();
  /**
   * Settles once the audit entries of every message received so far are durable (entries become
   * durable in order: the latest one's promise). Receipts and sends wait for it.
   */
  private ingressDurable: Promise<unknown> = Promise.resolve();
  private readonly maxSendAttempts: number;
  private readonly maxMessageAgeMs: number;
  private readonly clockSkewMs: number;
  private readonly maxInFlight: number;
  private readonly requestTimeoutMs: number;
  private readonly retryPolicy: RetryPolicy;
  private readonly autoRenew: 'initiator' | 'both' | 'off';
  private readonly renewAt: number;
  private readonly overlapMs: number;

  private ws: WebSocket | undefined;
  /** The current socket's writer: frames of one turn leave together (batched once Hello allows). */
  private out: FrameBatcher | undefined;
  private state: 'idle' | 'connecting' | 'ready' | 'stopped' = 'idle';
  private everAuthenticated = false;
  private reconnectAttempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  /** The link's nonce when the hub takes early handshake responses (its Hello offered them). */
  private earlyNonce: string | undefined;
  private hubTrustScore: number | undefined;
  private startWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;

  private readonly feds = new Map<string, LocalFederation>();
  private readonly sends = new Map<string, PendingSend>();
  private readonly discoveries = new Map<string, PendingRequest<AvailableMesh[]>>();
  private readonly terminations = new Map<string, PendingRequest<void>>();
  private readonly attestations = new Map<string, PendingRequest<void>>();
  /** Partners' region and certifications as their hubs report them (bounded). */
  private readonly partners = new Map<string, PartnerInfo>();
  private readonly gate: ComplianceGate | undefined;
  private readonly outgoing = new Map<string, PendingHandshake>();
  private readonly incoming = new Map<string, IncomingHandshake>();
  /** Credentials of initiators being checked, for the trust score (see trustOf). */
  private readonly presented = new Map<string, VerifiableCredentialJson>();
  /**
   * The last check of each credential object received (weak: bounded by `presented`). A responder
   * asks for the partner's trust right after checking its credential; the second check would only
   * redo the cache lookup (canonicalization and hash of the whole credential). Reused for 1 s.
   */
  private readonly justVerified = new WeakMap<object, { result: VerificationResult; at: number }>();
  private readonly messageHandlers = new Set<(m: IncomingMessage) => void | Promise<void>>();
  private readonly federationHandlers = new Set<(f: FederationInfo) => void>();
  private readonly statusHandlers = new Set<(e: FederationStatusEvent) => void>();
  private readonly sleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  constructor(options: MeshNodeOptions) {
    if (typeof options.did !== 'string' || !options.did.startsWith('did:'))
      throw new NodeConfigError('did must be a DID');
    if (options.keyPair?.publicKey?.length !== 32) {
      throw new NodeConfigError('keyPair must be an Ed25519 key pair');
    }
    if (!Array.isArray(options.trustedIssuers) || options.trustedIssuers.length === 0) {
      throw new NodeConfigError('trustedIssuers must list at least one issuer DID');
    }
    try {
      this.wsUrl = toWsUrl(options.hubUrl);
    } catch {
      throw new NodeConfigError('hubUrl must be a ws(s)://, http(s):// or grpc(s):// URL');
    }
    if (isGrpcUrl(this.wsUrl) && !options.hubHttpUrl) {
      throw new NodeConfigError('hubHttpUrl is required when hubUrl is a grpc(s):// URL');
    }
    this.o = options;
    this.did = options.did;
    this.vm = options.verificationMethod ?? `${options.did}#key-1`;
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.policy = options.policy ?? {};
    this.sendTimeoutMs = options.sendTimeoutMs ?? 5_000;
    this.receiptWithinMs = options.receiptWithinMs ?? 20;
    this.maxSendAttempts = options.maxSendAttempts ?? 4;
    this.maxMessageAgeMs = options.maxMessageAgeMs ?? 5 * 60_000;
    this.clockSkewMs = options.clockSkewMs ?? 30_000;
    this.maxInFlight = options.maxInFlight ?? 10_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    this.retryPolicy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
    const renewal = options.renewal ?? {};
    if (renewal.auto !== undefined && !['initiator', 'both', 'off'].includes(renewal.auto)) {
      throw new NodeConfigError("renewal.auto must be 'initiator', 'both' or 'off'");
    }
    if (renewal.at !== undefined && !(renewal.at > 0 && renewal.at < 1)) {
      throw new NodeConfigError('renewal.at must be a fraction between 0 and 1 (exclusive)');
    }
    if (renewal.overlapMs !== undefined && !(Number.isInteger(renewal.overlapMs) && renewal.overlapMs >= 0)) {
      throw new NodeConfigError('renewal.overlapMs must be an integer >= 0');
    }
    this.autoRenew = renewal.auto ?? 'initiator';
    this.renewAt = renewal.at ?? 0.8;
    this.overlapMs = renewal.overlapMs ?? 30_000;
    this.seen = new ReplayWindow({
      capacity: options.replayCapacity ?? 4_000_000,
      horizonMs: this.maxMessageAgeMs + 2 * this.clockSkewMs,
    });
    if (options.compliance) {
      const subject = options.credential.credentialSubject as
        | { complianceCertifications?: unknown }
        | undefined;
      const own = Array.isArray(subject?.complianceCertifications)
        ? (subject.complianceCertifications.filter((c) => typeof c === 'string') as string[])
        : [];
      this.gate = new ComplianceGate(options.compliance, {
        self: () => partyOf(this.did, options.region, own),
        partner: (did) => {
          const p = this.partners.get(did);
          return partyOf(did, p?.region, p?.certifications ?? []);
        },
        trustOf: (did) => this.partners.get(did)?.trustScore ?? 0,
        now: () => this.now(),
      });
    }
    this.resolver =
      options.resolver ??
      hubBackedResolver({
        hubHttpUrl: options.hubHttpUrl ?? toHttpUrl(options.hubUrl),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      });
    this.resolveKey = authenticationKeyResolver(this.resolver);
    const signer = ed25519Signer(this.vm, options.keyPair);
    const base = {
      now: this.now,
      randomBytes,
      resolveAuthenticationKey: (vm: string) => this.resolveKey(vm),
      onFailure: (f: HandshakeFailure) => this.log.info({ ...f }, 'handshake failure'),
    };
    this.initiator = new HandshakeInitiator(base, {
      meshId: this.did,
      signer,
      credential: options.credential,
      retryPolicy: this.retryPolicy,
      clockSkewMs: this.clockSkewMs,
    });
    this.responder = new HandshakeResponder(
      {
        ...base,
        trustScore: (did, presented) => this.trustOf(did, presented),
        // The handshake hashed the credential for its digest: the verification cache's key, as is.
        verifyCredential: async (credential, hints) => {
          const result = await this.verifyPartnerCredential(credential, hints?.canonicalHash);
          return { verified: result.verified, subject: result.subject };
        },
        consent: this.consentTo(policyConsent(this.policy)),
      },
      {
        meshId: this.did,
        signer,
        minTrustScore: this.policy.minPartnerTrust ?? 50,
        timeoutMs: this.retryPolicy.timeoutMs,
        clockSkewMs: this.clockSkewMs,
      },
    );
  }

  private stopped(): boolean {
    return this.state === 'stopped';
  }

  get connected(): boolean {
    return this.state === 'ready';
  }

  get trustScore(): number | undefined {
    return this.hubTrustScore;
  }

  // ------------------------------------------------------------------------------------------
  // Lifecycle and link
  // ------------------------------------------------------------------------------------------

  start(): Promise<void> {
    if (this.state !== 'idle')
      return Promise.reject(new NodeConnectionError(`cannot start a node that is ${this.state}`));
    this.tickTimer = setInterval(() => this.tick(), 250);
    this.tickTimer.unref();
    return new Promise<void>((resolve, reject) => {
      this.startWaiter = { resolve, reject };
      if (!isGrpcUrl(this.wsUrl)) {
        this.connect();
        return;
      }
      // Loaded only by nodes that link over gRPC (the library takes ~60 ms to load).
      loadGrpc().then(
        () => this.connect(),
        (err: unknown) => {
          this.startWaiter = undefined;
          reject(new NodeConnectionError(`cannot load the gRPC transport: ${String(err)}`));
        },
      );
    });
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.flushReports(); // while the link is still open
    this.state = 'stopped';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.tickTimer) clearInterval(this.tickTimer);
    for (const s of this.sleeps) {
      clearTimeout(s.timer);
      s.resolve();
    }
    this.sleeps.clear();
    const stopped = new NodeNotConnectedError('the node stopped');
    for (const send of this.sends.values()) {
      if (send.timer) clearTimeout(send.timer);
      send.reject(stopped);
    }
    this.sends.clear();
    for (const [id, p] of this.discoveries) {
      clearTimeout(p.timer);
      p.reject(stopped);
      this.discoveries.delete(id);
    }
    for (const [id, p] of this.terminations) {
      clearTimeout(p.timer);
      p.reject(stopped);
      this.terminations.delete(id);
    }
    for (const id of [...this.outgoing.keys()]) this.initiator.abort(id, 'the node stopped');
    for (const fed of this.feds.values()) {
      if (fed.session) closeSession(fed.session);
      this.dropPrevious(fed);
    }
    this.startWaiter?.reject(stopped);
    this.startWaiter = undefined;
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      await new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close(1000, 'node stopping');
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 1_000).unref();
      });
    }
  }

  private connect(): void {
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    // A GrpcLinkSocket has the part of ws's API this link uses (send, readyState, close, terminate,
    // the message/close/error events; it answers the hub's pings itself, as ws does).
    const ws = isGrpcUrl(this.wsUrl)
      ? (connectGrpcLink(this.wsUrl, {
          maxMessageBytes: DEFAULT_MAX_FRAME_BYTES * 4,
        }) as unknown as WebSocket)
      : new WebSocket(this.wsUrl, { maxPayload: DEFAULT_MAX_FRAME_BYTES * 4 });
    this.ws = ws;
    this.lastHeard = performance.now();
    const heard = () => {
      if (this.ws === ws) this.lastHeard = performance.now();
    };
    ws.on('ping', heard);
    ws.on('pong', heard);
    // Made on Hello, which says whether the hub takes batches and its largest message.
    this.out = undefined;
    let authFailure: NodeAuthenticationError | undefined;
    const onRaw = (raw: string | Uint8Array) => {
      let parsed: ParsedFrame;
      try {
        parsed = parseFrame(raw, { maxBytes: DEFAULT_MAX_FRAME_BYTES * 4 });
      } catch (err) {
        this.log.warn({ code: asProtocolError(err).wireCode }, 'unparseable frame from hub');
        return;
      }
      if (this.state === 'connecting' && parsed.kind === 'error') {
        authFailure = new NodeAuthenticationError(parsed.frame.code, parsed.frame.message);
        return;
      }
      this.onFrame(ws, parsed).catch((err) => this.log.error({ err: String(err) }, 'frame handling failed'));
    };
    ws.on('message', (data, isBinary) => {
      if (this.ws !== ws) return;
      this.lastHeard = performance.now();
      if (isBinary) {
        onRaw(new Uint8Array(data as Buffer));
        return;
      }
      // A batch (we announced `batch` in Authenticate): its frames in order, as if sent apart.
      try {
        for (const frame of framesOf((data as Buffer).toString('utf8'))) onRaw(frame);
      } catch (err) {
        this.log.warn({ code: asProtocolError(err).wireCode }, 'unparseable batch from hub');
      }
    });
    ws.on('error', (err) => {
      this.log.debug({ err: err.message }, 'link error');
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      const wasReady = this.state === 'ready';
      if (this.state === 'stopped') return;
      this.state = 'connecting';
      this.onDisconnected();
      if (!this.everAuthenticated && this.startWaiter) {
        // The first connection decides start(): a refused authentication is final.
        const waiter = this.startWaiter;
        this.startWaiter = undefined;
        waiter.reject(
          authFailure ??
            new NodeConnectionError(`link closed before authentication (${code} ${reason.toString()})`),
        );
        void this.stop();
        return;
      }
      if (wasReady) this.log.info({ code }, 'link lost, reconnecting');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.state === 'stopped' || this.reconnectTimer) return;
    this.reconnectAttempt++;
    const delay =
      this.o.reconnectDelayMs?.(this.reconnectAttempt) ?? Math.min(60_000, 2 ** this.reconnectAttempt * 1000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private onDisconnected(): void {
    // Handshakes cannot survive the link: end them now (the caller retries per spec 3.3).
    for (const id of [...this.outgoing.keys()]) {
      const pending = this.outgoing.get(id);
      this.outgoing.delete(id);
      this.initiator.abort(id, 'link to the hub lost');
      pending?.reject({
        role: 'initiator',
        handshakeId: id,
        meshId: undefined,
        code: 'unreachable',
        reason: 'link to the hub lost',
        retryInMs: this.retryPolicy.baseDelayMs * 2,
      });
    }
    for (const [id, p] of this.discoveries) {
      clearTimeout(p.timer);
      p.reject(new NodeNotConnectedError('link to the hub lost'));
      this.discoveries.delete(id);
    }
  }

  /**
   * Writes a frame after those already queued on the link. `flush`: leave now (a step of a
   * sequential exchange); else at the end of this event-loop turn, batched with its neighbours.
   */
  private raw(frame: object, flush = true): boolean {
    const ws = this.ws;
    const out = this.out;
    if (!ws || !out || ws.readyState !== WebSocket.OPEN) return false;
    out.write(JSON.stringify(frame));
    if (flush) out.flush();
    return true;
  }

  private send_(frame: object): void {
    if (this.state !== 'ready' || !this.raw(frame)) throw new NodeNotConnectedError();
  }

  private async onFrame(ws: WebSocket, parsed: ParsedFrame): Promise<void> {
    switch (parsed.kind) {
      case 'Hello':
        this.authenticate(ws, parsed.frame);
        return;
      case 'Authenticated':
        this.onAuthenticated(parsed.frame);
        return;
      case 'error':
        this.onErrorFrame(parsed.frame);
        return;
      case 'Delivered': {
        const send = this.sends.get(parsed.frame.messageId);
        if (!send) return;
        this.sends.delete(send.messageId);
        if (send.timer) clearTimeout(send.timer);
        send.resolve({ messageId: send.messageId, federationId: send.federationId, attempts: send.attempts });
        return;
      }
      case 'discovery.result': {
        const p = this.discoveries.get(parsed.frame.inReplyTo);
        if (!p) return;
        this.discoveries.delete(parsed.frame.inReplyTo);
        clearTimeout(p.timer);
        p.resolve(parsed.frame.meshes);
        return;
      }
      case 'TrustAttestationAck': {
        const p = this.attestations.get(parsed.frame.id);
        if (!p) return;
        this.attestations.delete(parsed.frame.id);
        clearTimeout(p.timer);
        p.resolve();
        return;
      }
      case 'FederationStatus':
        this.onStatusFrame(
          parsed.frame.federationId,
          parsed.frame.status,
          parsed.frame.reason,
          parsed.frame.expiresAt,
        );
        return;
      case 'Challenge':
      case 'FederationEstablished':
        await this.onInitiatorFrame(parsed.frame);
        return;
      case 'FederationRequest':
        await this.onRequest(parsed.frame);
        return;
      case 'FederationConfirm':
        this.onConfirm(parsed.frame);
        return;
      case 'HandshakeReject':
        this.onReject(parsed.frame);
        return;
      case 'envelope':
        await this.onEnvelope(parsed.frame);
        return;
      default:
        this.log.debug({ kind: parsed.kind }, 'unexpected frame from hub');
    }
  }

  private authenticate(ws: WebSocket, hello: Hello): void {
    if (this.state !== 'connecting' || this.ws !== ws) return;
    const timestamp = this.now();
    const binding = {
      hubDid: hello.hubDid,
      nonce: hello.nonce,
      meshId: this.did,
      verificationMethod: this.vm,
      capabilities: [...this.o.capabilities],
      region: this.o.region,
      credential: this.o.credential,
      timestamp,
    };
    this.maxFrameBytes = hello.maxFrameBytes;
    this.earlyNonce =
      this.o.earlyHandshake !== false && hello.features?.includes(EARLY_RESPONSE_FEATURE)
        ? hello.nonce
        : undefined;
    // The hub takes batches from us (and sends them to us: we say so in Authenticate).
    this.out = batcherForSocket(ws, {
      batching: hello.features?.includes(BATCH_FEATURE) ?? false,
      maxBytes: hello.maxFrameBytes,
    });
    const signature = multibaseEncode(ed25519.sign(authenticateDigest(binding), this.o.keyPair));
    this.raw({
      type: 'Authenticate',
      ...binding,
      ...(this.o.meshLog && this.o.meshLog.length > 0 ? { meshLog: this.o.meshLog } : {}),
      features: [BATCH_FEATURE],
      signature,
    });
  }

  private onAuthenticated(msg: Authenticated): void {
    if (msg.meshId !== this.did) return;
    this.state = 'ready';
    this.everAuthenticated = true;
    this.reconnectAttempt = 0;
    this.hubTrustScore = msg.trustScore;
    this.maxFrameBytes = msg.limits.maxFrameBytes;
    // Resume: the hub's view of our federations wins for status; keys are only ours.
    const listed = new Map(msg.federations.map((f) => [f.federationId, f]));
    for (const fed of this.feds.values()) {
      const remote = listed.get(fed.federationId);
      if (!remote) {
        if (fed.status === 'active' || fed.status === 'suspended')
          this.applyStatus(fed, 'expired', 'unknown to the hub');
      } else {
        if (remote.status === 'active' || remote.status === 'suspended') fed.expiresAt = remote.expiresAt;
        if (remote.status !== fed.status) this.applyStatus(fed, remote.status, 'status at reconnect');
      }
    }
    for (const remote of msg.federations) {
      if (this.feds.has(remote.federationId)) continue;
      // Listed by the hub but we hold no keys (we restarted): visible, not usable.
      const peer = remote.sourceMeshId === this.did ? remote.targetMeshId : remote.sourceMeshId;
      this.feds.set(remote.federationId, {
        federationId: remote.federationId,
        peer,
        role: remote.sourceMeshId === this.did ? 'initiator' : 'responder',
        status: remote.status,
        statusReason: 'keys lost: establish the federation again',
        capabilities: remote.capabilities,
        purpose: remote.purpose,
        expiresAt: remote.expiresAt,
        session: undefined,
        peerKey: undefined,
        path: undefined,
        ttlSeconds: Math.max(1, Math.round((remote.expiresAt - this.now()) / 1000)),
        keyedAt: this.now(),
        previous: undefined,
        renewing: false,
        retryRenewAt: 0,
      });
      if (this.feds.size > 10_000) break;
    }
    const waiter = this.startWaiter;
    this.startWaiter = undefined;
    waiter?.resolve();
    // At-least-once: anything not yet acknowledged goes out again with the same messageId.
    for (const send of this.sends.values()) this.transmit(send);
  }

  private onErrorFrame(frame: {
    code: WireErrorCode;
    message: string;
    inReplyTo?: string | undefined;
    retryAfterMs?: number | undefined;
  }): void {
    const id = frame.inReplyTo;
    const send = id ? this.sends.get(id) : undefined;
    if (send) {
      // Sealed under new keys that reached the partner before its FederationConfirm did (a
      // renewal in progress): the same bytes will open once it has them.
      const renewing = frame.code === 'decryption_failed' && this.recentlyRekeyed(send.federationId);
      if ((frame.code === 'rate_limited' || renewing) && send.attempts < this.maxSendAttempts) {
        if (send.timer) clearTimeout(send.timer);
        send.timer = setTimeout(() => this.transmit(send), Math.max(10, frame.retryAfterMs ?? 100));
        return;
      }
      this.sends.delete(send.messageId);
      if (send.timer) clearTimeout(send.timer);
      send.reject(new DeliveryError(send.messageId, frame.code, frame.message, frame.retryAfterMs));
      return;
    }
    const discovery = id ? this.discoveries.get(id) : undefined;
    if (discovery && id) {
      this.discoveries.delete(id);
      clearTimeout(discovery.timer);
      discovery.reject(new DeliveryError(id, frame.code, frame.message));
      return;
    }
    const attestation = id ? this.attestations.get(id) : undefined;
    if (attestation && id) {
      this.attestations.delete(id);
      clearTimeout(attestation.timer);
      attestation.reject(new DeliveryError(id, frame.code, frame.message, frame.retryAfterMs));
      return;
    }
    const termination = id ? this.terminations.get(id) : undefined;
    if (termination && id) {
      this.terminations.delete(id);
      clearTimeout(termination.timer);
      termination.reject(new DeliveryError(id, frame.code, frame.message));
      return;
    }
    this.log.info({ code: frame.code, inReplyTo: id }, 'error frame from hub');
  }

  /** Liveness of the link (a real clock: options.now may be a test's, moved by hours). */
  private checkLink(): void {
    const ws = this.ws;
    // Before authentication too: a hub that never says Hello must not hold start() forever.
    if (!ws || this.state === 'stopped' || ws.readyState !== WebSocket.OPEN) return;
    const idleMs = this.o.hubIdleTimeoutMs ?? 60_000;
    const silent = performance.now() - this.lastHeard;
    if (silent > idleMs) {
      this.log.warn({ silentMs: Math.round(silent) }, 'hub link silent, reconnecting');
      ws.terminate();
    } else if (silent > idleMs / 2 && this.pingedAt < this.lastHeard) {
      this.pingedAt = performance.now();
      ws.ping();
    }
  }

  private tick(): void {
    this.checkLink();
    const now = this.now();
    for (const failure of this.initiator.expireDue(now)) this.settleFailure(failure);
    this.responder.expireDue(now);
    for (const [id, inc] of this.incoming) {
      if (now - inc.at > 2 * this.retryPolicy.timeoutMs + this.clockSkewMs) this.incoming.delete(id);
    }
    for (const fed of this.feds.values()) {
      if ((fed.status === 'active' || fed.status === 'suspended') && fed.expiresAt <= now) {
        this.applyStatus(fed, 'expired', 'ttl elapsed');
      }
      if (fed.previous && now >= fed.previous.until) this.dropPrevious(fed);
      if (this.renewalDue(fed, now)) {
        fed.renewing = true;
        this.renew(fed.federationId).then(
          () => undefined,
          (err: unknown) => {
            // Try again after half the remaining lifetime (bounded), until it expires as usual.
            fed.retryRenewAt =
              this.now() + Math.min(60_000, Math.max(1_000, (fed.expiresAt - this.now()) / 2));
            this.log.warn({ federationId: fed.federationId, err: String(err) }, 'automatic renewal failed');
          },
        );
      }
    }
  }

  private renewalDue(fed: LocalFederation, now: number): boolean {
    if (this.autoRenew === 'off' || (this.autoRenew === 'initiator' && fed.role !== 'initiator'))
      return false;
    if (fed.renewing || fed.status !== 'active' || !fed.session || this.state !== 'ready') return false;
    if (now < fed.retryRenewAt || fed.expiresAt <= now) return false;
    return now >= fed.keyedAt + (fed.expiresAt - fed.keyedAt) * this.renewAt;
  }

  private recentlyRekeyed(federationId: string): boolean {
    const fed = this.feds.get(federationId);
    return fed?.previous !== undefined && this.now() < fed.previous.until;
  }

  /** Zeroes the keys a renewal replaced. */
  private dropPrevious(fed: LocalFederation): void {
    if (!fed.previous) return;
    closeSession(fed.previous.session);
    fed.previous = undefined;
  }

  /**
   * Switches a federation to the session of its renewal. The replaced keys stay for incoming
   * messages during the overlap window (forward secrecy afterwards: they are zeroed).
   */
  private rekey(fed: LocalFederation, session: Session, path: readonly string[] | undefined): void {
    this.dropPrevious(fed);
    if (fed.session && this.overlapMs > 0) {
      fed.previous = { session: fed.session, until: this.now() + this.overlapMs };
    } else if (fed.session) {
      closeSession(fed.session);
    }
    fed.session = session;
    fed.expiresAt = session.expiresAt;
    fed.keyedAt = this.now();
    fed.retryRenewAt = 0;
    if (path) fed.path = path;
    fed.status = 'active';
    fed.statusReason = 'renewed';
    this.emitStatus(fed, 'active', 'renewed');
    this.emitFederation(this.info(fed));
  }

  /** The responder's consent, preceded for a renewal by: we hold that federation, with that partner. */
  private consentTo(
    policy: (request: FederationRequest) => Promise<ConsentDecision>,
  ): (request: FederationRequest) => Promise<ConsentDecision> {
    return async (request) => {
      if (request.renews !== undefined) {
        const fed = this.feds.get(request.renews);
        if (!fed || fed.peer !== request.sourceMeshId) {
          return { accept: false, reason: 'no federation with this id and this partner here' };
        }
        if (fed.status !== 'active') return { accept: false, reason: `the federation is ${fed.status}` };
      }
      if (this.gate?.options.policy) {
        if (!this.partners.has(request.sourceMeshId))
          await this.refreshPartner(request.sourceMeshId).catch(() => undefined);
        const d = await this.gate.federate(
          request.sourceMeshId,
          request.capabilities,
          request.response.metadata.purpose,
        );
        if (d && !d.allow) {
          const why = d.policyIds.length
            ? `forbidden by ${d.policyIds.join(', ')}`
            : 'no local policy permits it';
          return { accept: false, reason: `local policy: ${why}`.slice(0, 256) };
        }
      }
      return policy(request);
    };
  }

  /** The compliance gate, when configured (the MCP bridge asks it about tool calls). */
  get compliance(): ComplianceGate | undefined {
    return this.gate;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleeps.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.sleeps.add(entry);
    });
  }

  // ------------------------------------------------------------------------------------------
  // Trust and credentials of partners
  // ------------------------------------------------------------------------------------------

  /** `cacheKey`: the credential's VerificationCache key, when the caller computed it from this object. */
  private async verifyPartnerCredential(credential: unknown, cacheKey?: string): Promise<VerificationResult> {
    const now = this.now();
    const key = typeof credential === 'object' && credential !== null ? credential : undefined;
    const recent = key && this.justVerified.get(key);
    if (
      recent &&
      now - recent.at >= 0 &&
      now - recent.at < 1_000 &&
      (recent.result.expiresAt === undefined || now < recent.result.expiresAt.getTime())
    ) {
      return recent.result;
    }
    const result = await verifyCredential(credential, {
      resolveDid: async (did) => (await this.resolver.resolveDocument(did)) as Record<string, unknown> | null,
      trustedIssuers: this.o.trustedIssuers,
      ...(this.o.statusListLoader ? { statusListLoader: this.o.statusListLoader } : {}),
      cache: this.vcCache,
      ...(cacheKey ? { cacheKey } : {}),
      now: new Date(now),
    });
    if (key) this.justVerified.set(key, { result, at: now });
    return result;
  }

  async checkCredential(credential: unknown): Promise<PartnerCredentialCheck> {
    const result = await this.verifyPartnerCredential(credential);
    return {
      verified: result.verified,
      subject: result.subject,
      trustScore: result.verified ? (result.meshAgent?.trustLevel ?? 0) : 0,
      error: result.verified ? undefined : (result.errors[0]?.message ?? 'the credential does not verify'),
    };
  }

  /**
   * Until the trust engine lands: the trustLevel of the credential the partner presented (in this
   * handshake, when the responder hands it over with its hash), once the credential verifies.
   */
  private async trustOf(did: string, presented?: PresentedCredential): Promise<number> {
    const credential = presented?.credential ?? this.presented.get(did);
    if (!credential) return 0;
    const result = await this.verifyPartnerCredential(credential, presented?.canonicalHash);
    return result.verified && result.subject === did ? (result.meshAgent?.trustLevel ?? 0) : 0;
  }

  // ------------------------------------------------------------------------------------------
  // Handshakes
  // ------------------------------------------------------------------------------------------

  async federate(targetDid: string, options: FederateOptions): Promise<FederationInfo> {
    const refusal = partnerRefusal(this.policy, targetDid);
    if (refusal) throw new FederationFailedError('policy_denied', refusal);
    return this.handshakeWith(targetDid, options, undefined);
  }

  async renew(federationId: string): Promise<FederationInfo> {
    const fed = this.feds.get(federationId);
    if (!fed) throw new UnknownFederationError(federationId, 'not known to this node');
    try {
      if (fed.status === 'expired' || fed.expiresAt <= this.now()) {
        throw new FederationFailedError('expired', 'the federation has expired: establish a new one');
      }
      if (fed.status !== 'active') {
        throw new FederationFailedError(
          'policy_denied',
          `the federation is ${fed.status}: it cannot be renewed`,
        );
      }
      fed.renewing = true;
      return await this.handshakeWith(
        fed.peer,
        { capabilities: fed.capabilities, purpose: fed.purpose, ttlSeconds: fed.ttlSeconds },
        federationId,
      );
    } finally {
      fed.renewing = false;
    }
  }

  /** Runs the initiator's handshake with retries (spec 3.3); `renews` makes it a renewal. */
  private async handshakeWith(
    targetDid: string,
    options: FederateOptions,
    renews: string | undefined,
  ): Promise<FederationInfo> {
    const ttlSeconds = options.ttlSeconds ?? 86_400;
    for (let attempt = 0; ; attempt++) {
      if (this.state !== 'ready') throw new NodeNotConnectedError();
      let initiate: HandshakeMessage;
      const start = {
        targetMeshId: targetDid,
        capabilities: [...options.capabilities],
        metadata: { ttl: ttlSeconds, purpose: options.purpose },
        ...(options.minTrustScore === undefined ? {} : { minTrustScore: options.minTrustScore }),
        ...(renews === undefined ? {} : { renews }),
        attempt,
      };
      try {
        // With the hub's consent, the response to the link's challenge goes with the initiation.
        const early = this.earlyNonce;
        initiate =
          early === undefined ? this.initiator.start(start) : await this.initiator.startEarly(start, early);
      } catch (err) {
        const e = asProtocolError(err);
        throw new FederationFailedError(e.wireCode, e.message);
      }
      const handshakeId = initiate.handshakeId!;
      const outcome = new Promise<FederationInfo>((resolve, reject) => {
        this.outgoing.set(handshakeId, {
          resolve,
          reject: (f) => reject(f),
          purpose: options.purpose,
          ttlSeconds,
          renews,
        });
      });
      if (!this.raw(initiate)) {
        this.outgoing.delete(handshakeId);
        this.initiator.abort(handshakeId, 'not connected');
        throw new NodeNotConnectedError();
      }
      try {
        return await outcome;
      } catch (failure) {
        const f = failure as HandshakeFailure;
        if (f.retryInMs === undefined || this.stopped()) throw new FederationFailedError(f.code, f.reason);
        this.log.info({ targetDid, code: f.code, retryInMs: f.retryInMs }, 'handshake failed, retrying');
        await this.sleep(f.retryInMs);
        if (this.stopped()) throw new FederationFailedError(f.code, f.reason);
      }
    }
  }

  private settleFailure(failure: HandshakeFailure): void {
    if (!failure.handshakeId) return;
    const pending = this.outgoing.get(failure.handshakeId);
    if (!pending) return;
    this.outgoing.delete(failure.handshakeId);
    pending.reject(failure);
  }

  private async onInitiatorFrame(msg: HandshakeMessage): Promise<void> {
    const id = msg.handshakeId!;
    const pending = this.outgoing.get(id);
    if (!pending) return;
    try {
      const step = await this.initiator.receive(msg);
      if (step.session) {
        const established = msg as Extract<HandshakeMessage, { type: 'FederationEstablished' }>;
        const peerKey = await this.resolveKey(established.verificationMethod);
        const session = step.session;
        const renewed = pending.renews === undefined ? undefined : this.feds.get(pending.renews);
        if (renewed && renewed.peer === session.peer && renewed.status === 'active') {
          // Confirm first: the partner must hold the new keys before messages sealed with them.
          this.outgoing.delete(id);
          if (step.send) this.raw(step.send);
          renewed.peerKey ??= peerKey;
          this.rekey(renewed, session, established.path);
          pending.resolve(this.info(renewed));
          return;
        }
        if (pending.renews !== undefined) {
          // The federation ended locally while renewing: the new keys have no use.
          closeSession(session);
          this.outgoing.delete(id);
          pending.reject({
            role: 'initiator',
            handshakeId: id,
            meshId: session.peer,
            code: 'expired',
            reason: 'the federation ended while it was being renewed',
          });
          return;
        }
        const fed: LocalFederation = {
          federationId: session.federationId,
          peer: session.peer,
          role: 'initiator',
          status: 'active',
          statusReason: undefined,
          capabilities: session.capabilities,
          purpose: pending.purpose,
          expiresAt: session.expiresAt,
          session,
          peerKey,
          path: established.path,
          ttlSeconds: pending.ttlSeconds,
          keyedAt: this.now(),
          previous: undefined,
          renewing: false,
          retryRenewAt: 0,
        };
        this.feds.set(fed.federationId, fed);
        this.outgoing.delete(id);
        if (step.send) this.raw(step.send);
        const info = this.info(fed);
        pending.resolve(info);
        this.emitFederation(info);
      } else if (step.send) {
        this.raw(step.send);
      }
    } catch (err) {
      const e = asProtocolError(err);
      // A failure tied to this handshake ended it: tell the hub, and settle the caller.
      if (!['malformed_frame', 'unknown_handshake', 'out_of_order'].includes(e.wireCode)) {
        this.raw(rejectFromError(id, e));
        this.settleFailure({
          role: 'initiator',
          handshakeId: id,
          meshId: undefined,
          code: e.wireCode,
          reason: e.message,
        });
      }
    }
  }

  private async onRequest(request: FederationRequest): Promise<void> {
    this.presented.set(request.sourceMeshId, request.credentials);
    if (this.presented.size > 1_000) this.presented.delete(this.presented.keys().next().value as string);
    try {
      const answer = await this.responder.onRequest(request);
      if (answer.type === 'FederationAccept') {
        this.incoming.set(request.handshakeId, { request, at: this.now() });
        if (this.incoming.size > 1_000) this.incoming.delete(this.incoming.keys().next().value as string);
      }
      this.raw(answer);
    } catch (err) {
      // Every failed check is answered, so the initiator learns why (the hub relays it).
      this.raw(rejectFromError(request.handshakeId, err));
    }
  }

  private onConfirm(msg: HandshakeMessage & { type: 'FederationConfirm' }): void {
    const inc = this.incoming.get(msg.handshakeId);
    try {
      const session = this.responder.onConfirm(msg);
      this.incoming.delete(msg.handshakeId);
      if (!inc) {
        closeSession(session);
        return;
      }
      const renews = inc.request.renews;
      if (renews !== undefined) {
        const renewed = this.feds.get(renews);
        if (!renewed || renewed.peer !== session.peer || renewed.status !== 'active') {
          closeSession(session);
          return;
        }
        this.rekey(renewed, session, msg.path);
        return;
      }
      const fed: LocalFederation = {
        federationId: session.federationId,
        peer: session.peer,
        role: 'responder',
        status: 'active',
        statusReason: undefined,
        capabilities: session.capabilities,
        purpose: inc.request.response.metadata.purpose,
        expiresAt: session.expiresAt,
        session,
        peerKey: undefined,
        path: msg.path,
        ttlSeconds: inc.request.response.metadata.ttl,
        keyedAt: this.now(),
        previous: undefined,
        renewing: false,
        retryRenewAt: 0,
      };
      this.feds.set(fed.federationId, fed);
      void this.resolveKey(inc.request.response.verificationMethod).then(
        (key) => {
          fed.peerKey = key;
        },
        (err) => this.log.warn({ err: String(err) }, 'cannot resolve the partner key'),
      );
      this.emitFederation(this.info(fed));
    } catch (err) {
      this.log.info({ code: asProtocolError(err).wireCode }, 'federation confirm rejected');
    }
  }

  private onReject(msg: HandshakeMessage & { type: 'HandshakeReject' }): void {
    if (this.outgoing.has(msg.handshakeId)) {
      try {
        this.settleFailure(this.initiator.onReject(msg));
      } catch {
        // Not pending any more at the initiator: nothing to settle.
      }
      return;
    }
    this.incoming.delete(msg.handshakeId);
    try {
      this.responder.onReject(msg);
    } catch {
      // Unknown here: the hub's reject crossed our own.
    }
  }

  // ------------------------------------------------------------------------------------------
  // Federations
  // ------------------------------------------------------------------------------------------

  private info(fed: LocalFederation): FederationInfo {
    return {
      federationId: fed.federationId,
      peer: fed.peer,
      role: fed.role,
      status: fed.status,
      capabilities: fed.capabilities,
      purpose: fed.purpose,
      expiresAt: fed.expiresAt,
      statusReason: fed.statusReason,
      usable: fed.session !== undefined && fed.status === 'active',
      path: fed.path,
      handshakeId: fed.session?.handshakeId,
    };
  }

  federations(): FederationInfo[] {
    return [...this.feds.values()].map((f) => this.info(f));
  }

  federation(federationId: string): FederationInfo | undefined {
    const fed = this.feds.get(federationId);
    return fed && this.info(fed);
  }

  private onStatusFrame(
    federationId: string,
    status: FederationStatusValue,
    reason: string,
    expiresAt: number | undefined,
  ): void {
    const fed = this.feds.get(federationId);
    // The hub's expiresAt is the truth for a live federation (a renewal extends it).
    if (fed && expiresAt !== undefined && (status === 'active' || status === 'suspended')) {
      fed.expiresAt = expiresAt;
    }
    if (fed) this.applyStatus(fed, status, reason);
    const t = this.terminations.get(federationId);
    if (t && (status === 'terminated' || status === 'expired')) {
      this.terminations.delete(federationId);
      clearTimeout(t.timer);
      t.resolve();
    }
  }

  private applyStatus(fed: LocalFederation, status: FederationStatusValue, reason: string): void {
    if (fed.status === status && fed.statusReason === reason) return;
    fed.status = status;
    fed.statusReason = reason;
    if ((status === 'terminated' || status === 'expired') && fed.session) {
      closeSession(fed.session);
      fed.session = undefined;
    }
    if (status === 'terminated' || status === 'expired') this.dropPrevious(fed);
    this.emitStatus(fed, status, reason);
  }

  private emitStatus(fed: LocalFederation, status: FederationStatusValue, reason: string): void {
    for (const h of this.statusHandlers) {
      try {
        h({ federationId: fed.federationId, status, reason });
      } catch (err) {
        this.log.warn({ err: String(err) }, 'status handler failed');
      }
    }
  }

  async terminate(federationId: string, reason = 'terminated by the application'): Promise<void> {
    const fed = this.feds.get(federationId);
    if (!fed) throw new UnknownFederationError(federationId, 'not known to this node');
    if (this.terminations.size >= 1_000) throw new NodeBusyError('terminations', 1_000);
    const timestamp = this.now();
    const binding = { federationId, verificationMethod: this.vm, reason: reason.slice(0, 256), timestamp };
    const signature = multibaseEncode(ed25519.sign(terminateDigest(binding), this.o.keyPair));
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.terminations.delete(federationId);
        reject(new NodeTimeoutError('terminate'));
      }, this.requestTimeoutMs);
      this.terminations.set(federationId, { resolve, reject, timer });
    });
    try {
      this.send_({ type: 'Terminate', ...binding, signature });
    } catch (err) {
      const t = this.terminations.get(federationId);
      if (t) clearTimeout(t.timer);
      this.terminations.delete(federationId);
      throw err;
    }
    // Stop using the keys at once, whatever the hub answers.
    if (fed.session) closeSession(fed.session);
    fed.session = undefined;
    this.dropPrevious(fed);
    await done;
  }

  // ------------------------------------------------------------------------------------------
  // Messages
  // ------------------------------------------------------------------------------------------

  async send(
    federationId: string,
    type: string,
    data: ClearPayload['data'],
    options: SendOptions = {},
  ): Promise<DeliveryReceipt> {
    const fed = this.feds.get(federationId);
    if (!fed) throw new UnknownFederationError(federationId, 'not known to this node');
    if (fed.status !== 'active')
      throw new UnknownFederationError(federationId, `federation is ${fed.status}`);
    if (!fed.session) throw new UnknownFederationError(federationId, 'no session keys (establish it again)');
    if (this.sends.size >= this.maxInFlight) throw new NodeBusyError('messages', this.maxInFlight);
    const body = { type, data };
    const context = this.gate ? this.gate.contextFor(options.complianceContext) : options.complianceContext;
    const draft = createEnvelope(
      {
        type,
        federationId,
        sourceMeshId: this.did,
        targetMeshId: fed.peer,
        payload: body,
        ...(options.priority ? { priority: options.priority } : {}),
        ...(context ? { complianceContext: context } : {}),
        ...(options.traceparent ? { traceparent: options.traceparent } : {}),
      },
      { now: this.now },
    );
    // The entry that lets this message leave is written first; its delivery receipt (to the caller)
    // waits until that entry is durable too.
    let egressDurable: Promise<unknown> | undefined;
    if (this.gate && context) {
      // Egress enforcement (spec 7): refused transfers throw ComplianceDeniedError, audited.
      if (!this.partners.has(fed.peer)) await this.refreshPartner(fed.peer).catch(() => undefined);
      egressDurable = (await this.gate.egress(fed.peer, federationId, draft.messageId, type, context))
        .durable;
    }
    const session = fed.session;
    if (!session || fed.status !== 'active') {
      throw new UnknownFederationError(federationId, `federation is ${fed.status}`);
    }
    // draft.payload: the copy createEnvelope checked (the caller's data may have changed since,
    // during the egress check), sealed without a second check.
    const envelope = signEnvelope(
      { ...draft, payload: sealPayload(session.sendKey, draft, draft.payload as ClearPayload) },
      this.o.keyPair,
    );
    const frame = JSON.stringify(envelope);
    if (Buffer.byteLength(frame) > this.maxFrameBytes) {
      throw new ProtocolError('message_too_large', `the sealed message exceeds ${this.maxFrameBytes} bytes`);
    }
    // Anything leaving may acknowledge a received message (an answer, the receipts below): the
    // entries of the messages received so far must be on disk first (usually long since).
    if (this.gate) await this.ingressDurable;
    // Receipts of messages on this federation whose handlers are still running go first, in the
    // same write (see onEnvelope).
    const due = this.receiptsDue.get(federationId);
    if (due) {
      this.receiptsDue.delete(federationId);
      for (const env of due) this.ack(env);
    }
    return new Promise<DeliveryReceipt>((resolve, reject) => {
      const send: PendingSend = {
        messageId: envelope.messageId,
        federationId,
        frame,
        attempts: 0,
        timer: undefined,
        resolve: egressDurable ? (r) => egressDurable.then(() => resolve(r), reject) : resolve,
        reject,
      };
      this.sends.set(send.messageId, send);
      this.transmit(send);
      options.onQueued?.();
    });
  }

  /** Sends (again) with the same bytes, hence the same messageId; the target de-duplicates. */
  private transmit(send: PendingSend): void {
    if (send.timer) clearTimeout(send.timer);
    if (this.state === 'ready' && this.ws?.readyState === WebSocket.OPEN) {
      send.attempts++;
      this.out?.write(send.frame);
      // Alone in flight (a request, an answer), nothing would share its write at the end of the turn:
      // it leaves now, with the receipts written before it. Under load sends still batch.
      if (this.sends.size <= 1) this.out?.flush();
    }
    send.timer = setTimeout(() => {
      if (!this.sends.has(send.messageId)) return;
      if (send.attempts >= this.maxSendAttempts) {
        this.sends.delete(send.messageId);
        send.reject(
          new DeliveryError(send.messageId, 'timeout', `no receipt after ${send.attempts} attempts`),
        );
        return;
      }
      this.transmit(send);
    }, this.sendTimeoutMs);
  }

  /**
   * The receipt of a delivered message, once the audit entries of the messages received so far are
   * durable (a receipt acknowledges its message). If they cannot be, no receipt: the sender resends.
   */
  private receiptWhenDurable(env: Envelope): void {
    if (!this.gate) {
      this.ack(env);
      return;
    }
    this.ingressDurable.then(
      () => this.ack(env),
      () => undefined,
    );
  }

  private ack(envelope: Envelope, error?: { code: WireErrorCode; message: string }): void {
    // Receipts are not a sequential step: they leave with the turn's other frames.
    this.raw(
      {
        type: 'Ack',
        messageId: envelope.messageId,
        federationId: envelope.federationId,
        ...(error ? { error: { code: error.code, message: error.message.slice(0, 1024) } } : {}),
      },
      false,
    );
  }

  private async onEnvelope(env: Envelope): Promise<void> {
    const fed = this.feds.get(env.federationId);
    if (!fed || env.targetMeshId !== this.did || env.sourceMeshId !== fed.peer) {
      this.ack(env, { code: 'unknown_federation', message: 'no federation with this id and these parties' });
      return;
    }
    if (!fed.session || fed.status !== 'active') {
      this.ack(env, {
        code: 'unknown_federation',
        message: `federation is ${fed.status}${fed.session ? '' : ' (no keys)'}`,
      });
      return;
    }
    const now = this.now();
    if (env.timestamp > now + this.clockSkewMs || env.timestamp < now - this.maxMessageAgeMs) {
      this.ack(env, { code: 'clock_skew', message: 'message timestamp is outside the accepted window' });
      return;
    }
    try {
      fed.peerKey ??= await this.resolveKey(`${fed.peer}#key-1`);
      verifyEnvelope(env, fed.peerKey);
    } catch (err) {
      const code: WireErrorCode =
        err instanceof InvalidSignatureError
          ? 'invalid_signature'
          : asProtocolError(err, 'did_resolution_failed').wireCode;
      this.ack(env, { code, message: 'the message signature does not verify' });
      return;
    }
    // A verified duplicate (a resend whose receipt got lost) is acknowledged again, not delivered.
    if (this.seen.has(env.messageId, now)) {
      // Not before the first copy's entry is durable (its own receipt waited for that too).
      this.receiptWhenDurable(env);
      return;
    }
    let body: ClearPayload;
    try {
      body = this.open(fed, env, now);
    } catch (err) {
      const code: WireErrorCode = err instanceof CryptoError ? 'decryption_failed' : 'malformed_frame';
      this.ack(env, { code, message: 'the payload does not decrypt under the federation key' });
      return;
    }
    if (this.gate) {
      // Ingress enforcement (spec 7): adapters, local policy, content inspection; audited.
      if (!this.partners.has(env.sourceMeshId))
        await this.refreshPartner(env.sourceMeshId).catch(() => undefined);
      const verdict = await this.gate
        .ingress(
          env.sourceMeshId,
          env.federationId,
          env.messageId,
          body.type,
          env.complianceContext,
          body.data,
        )
        .catch((err: unknown) => ({
          ok: false as const,
          message: `compliance check failed: ${String(err)}`,
        }));
      if (!verdict.ok) {
        this.ack(env, { code: 'compliance_denied', message: verdict.message });
        return;
      }
      // Entries become durable in the order they were written: the latest stands for all.
      if (verdict.durable) this.ingressDurable = verdict.durable;
    }
    if (!this.seen.add(env.messageId, env.timestamp + this.maxMessageAgeMs + this.clockSkewMs, now)) {
      this.ack(env, { code: 'rate_limited', message: 'replay cache full' });
      return;
    }
    const message: IncomingMessage = {
      federationId: env.federationId,
      messageId: env.messageId,
      source: env.sourceMeshId,
      type: body.type,
      data: body.data,
      priority: env.priority,
      timestamp: env.timestamp,
      complianceContext: env.complianceContext,
      traceparent: env.traceparent,
      route: env.route,
    };
    // Handlers run one after the other; the receipt waits for them at most receiptWithinMs, and
    // leaves with the first message the node sends on this federation meanwhile (an answer is proof
    // of receipt: both share one write).
    let due = this.receiptsDue.get(env.federationId);
    if (!due) {
      due = new Set();
      this.receiptsDue.set(env.federationId, due);
    }
    due.add(env);
    // Sends the receipt unless it already left (with an answer, or at receiptWithinMs), once the
    // message's audit entry is durable (receiptWhenDurable).
    const receipt = () => {
      const set = this.receiptsDue.get(env.federationId);
      if (!set?.delete(env)) return;
      if (set.size === 0) this.receiptsDue.delete(env.federationId);
      this.receiptWhenDurable(env);
    };
    const receiptDue = () => this.receiptsDue.get(env.federationId)?.has(env) === true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let cap: Promise<false> | undefined;
    for (const handler of this.messageHandlers) {
      try {
        const pending = handler(message);
        if (!pending || typeof (pending as Promise<void>).then !== 'function') continue;
        const done = Promise.resolve(pending).then(
          () => true as const,
          (err: unknown) => {
            this.log.warn({ err: String(err), messageId: env.messageId }, 'message handler failed');
            return true as const;
          },
        );
        if (receiptDue()) {
          cap ??= new Promise<false>((resolve) => {
            timer = setTimeout(() => resolve(false), this.receiptWithinMs);
          });
          if (!(await Promise.race([done, cap]))) receipt();
        }
        await done;
      } catch (err) {
        this.log.warn({ err: String(err), messageId: env.messageId }, 'message handler failed');
      }
    }
    if (timer) clearTimeout(timer);
    receipt();
  }

  /** Opens with the current keys, or during a renewal's overlap window with the replaced ones. */
  private open(fed: LocalFederation, env: Envelope, now: number): ClearPayload {
    try {
      return openPayload(fed.session!.receiveKey, env);
    } catch (err) {
      const previous = fed.previous;
      if (!previous || now >= previous.until || !(err instanceof CryptoError)) throw err;
      return openPayload(previous.session.receiveKey, env);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Discovery and subscriptions
  // ------------------------------------------------------------------------------------------

  async attest(subject: string, options: AttestOptions): Promise<TrustAttestation> {
    if (this.attestations.size >= 64) throw new NodeBusyError('attestations', 64);
    const issuedAt = this.now();
    const ttl = options.ttlSeconds ?? 30 * 86_400;
    const attestation = signAttestation(
      {
        type: 'TrustAttestation',
        id: randomUUID(),
        attester: this.did,
        subject,
        score: options.score,
        claim: options.claim,
        issuedAt,
        expiresAt: issuedAt + ttl * 1000,
        verificationMethod: this.vm,
      },
      this.o.keyPair,
    );
    const parsed = TrustAttestationSchema.safeParse(attestation);
    if (!parsed.success) throw new NodeConfigError(`attestation: ${parsed.error.issues[0]?.message}`);
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.attestations.delete(attestation.id);
        reject(new NodeTimeoutError('attestation'));
      }, this.requestTimeoutMs);
      this.attestations.set(attestation.id, { resolve, reject, timer });
    });
    try {
      this.send_(attestation);
    } catch (err) {
      const p = this.attestations.get(attestation.id);
      if (p) clearTimeout(p.timer);
      this.attestations.delete(attestation.id);
      throw err;
    }
    await done;
    return attestation;
  }

  reportInteraction(federationId: string, outcome: TrustReportOutcome, detail?: string): void {
    const fed = this.feds.get(federationId);
    if (!fed) throw new UnknownFederationError(federationId, 'not known to this node');
    const report: PendingReport = {
      federationId,
      subject: fed.peer,
      outcome,
      detail: detail ? detail.slice(0, 256) : undefined,
      count: 1,
    };
    if (outcome !== 'tool_call_ok' && outcome !== 'tool_call_failed') {
      this.sendReport(report, true);
      return;
    }
    // Tool calls are counted and reported about once a second, one report per federation, outcome
    // and detail (a report per call was a frame per call, refused past the hub's 50 reports/s).
    const key = `${federationId}\n${outcome}\n${report.detail ?? ''}`;
    const held = this.pendingReports.get(key);
    if (held && held.count < MAX_TRUST_REPORT_COUNT) {
      held.count++;
      return;
    }
    if (held || this.pendingReports.size >= MAX_PENDING_REPORTS) this.flushReports();
    this.pendingReports.set(key, report);
    if (!this.reportTimer) {
      this.reportTimer = setTimeout(() => this.flushReports(), REPORT_FLUSH_MS);
      this.reportTimer.unref();
    }
  }

  /** Sends the tool-call counts gathered so far (one batch at the end of this turn). */
  private flushReports(): void {
    if (this.reportTimer) clearTimeout(this.reportTimer);
    this.reportTimer = undefined;
    const reports = [...this.pendingReports.values()];
    this.pendingReports.clear();
    for (const r of reports) this.sendReport(r, false);
  }

  private sendReport(r: PendingReport, flush: boolean): void {
    const frame = {
      type: 'TrustReport',
      reportId: randomUUID(),
      subject: r.subject,
      federationId: r.federationId,
      outcome: r.outcome,
      ...(r.detail ? { detail: r.detail } : {}),
      ...(r.count > 1 ? { count: r.count } : {}),
    };
    if (!this.raw(frame, flush)) {
      this.log.debug(
        { federationId: r.federationId, outcome: r.outcome },
        'trust report not sent: not connected',
      );
    }
  }

  discover(query: DiscoveryQuery = {}): Promise<AvailableMesh[]> {
    if (this.discoveries.size >= 64) return Promise.reject(new NodeBusyError('discoveries', 64));
    const requestId = randomUUID();
    const result = new Promise<AvailableMesh[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.discoveries.delete(requestId);
        reject(new NodeTimeoutError('discovery'));
      }, this.requestTimeoutMs);
      this.discoveries.set(requestId, { resolve, reject, timer });
    });
    try {
      this.send_({ type: 'discovery.query', requestId, query });
    } catch (err) {
      const p = this.discoveries.get(requestId);
      if (p) clearTimeout(p.timer);
      this.discoveries.delete(requestId);
      return Promise.reject(err);
    }
    return result;
  }

  onMessage(handler: (message: IncomingMessage) => void | Promise<void>): () => void {
    if (this.messageHandlers.size >= MAX_HANDLERS) throw new NodeBusyError('message handlers', MAX_HANDLERS);
    this.messageHandlers.add(handler);
    return () => this.messageHandlers.delete(handler);
  }

  onFederation(handler: (federation: FederationInfo) => void): () => void {
    if (this.federationHandlers.size >= MAX_HANDLERS)
      throw new NodeBusyError('federation handlers', MAX_HANDLERS);
    this.federationHandlers.add(handler);
    return () => this.federationHandlers.delete(handler);
  }

  onStatus(handler: (event: FederationStatusEvent) => void): () => void {
    if (this.statusHandlers.size >= MAX_HANDLERS) throw new NodeBusyError('status handlers', MAX_HANDLERS);
    this.statusHandlers.add(handler);
    return () => this.statusHandlers.delete(handler);
  }

  partnerInfo(did: string): PartnerInfo | undefined {
    return this.partners.get(did);
  }

  async refreshPartner(did: string): Promise<PartnerInfo | undefined> {
    const [m] = await this.discover({ meshIds: [did] });
    if (!m || m.meshId !== did) return this.partners.get(did);
    const info: PartnerInfo = {
      region: m.region,
      certifications: m.certifications ?? [],
      trustScore: m.trustScore,
      homeHub: m.homeHub,
      at: this.now(),
    };
    this.partners.delete(did);
    this.partners.set(did, info);
    if (this.partners.size > 10_000) this.partners.delete(this.partners.keys().next().value as string);
    return info;
  }

  private emitFederation(info: FederationInfo): void {
    // Region and certifications of the partner, for compliance checks (best effort, in the background).
    if (info.status === 'active' && !this.partners.has(info.peer) && this.state === 'ready') {
      void this.refreshPartner(info.peer).catch((err) =>
        this.log.debug({ peer: info.peer, err: String(err) }, 'partner lookup failed'),
      );
    }
    for (const h of this.federationHandlers) {
      try {
        h(info);
      } catch (err) {
        this.log.warn({ err: String(err) }, 'federation handler failed');
      }
    }
  }
}

/** Creates a mesh node (not started). Throws NodeConfigError for invalid options. */
export function createMeshNode(options: MeshNodeOptions): MeshNode {
  return new Node(options);
}
