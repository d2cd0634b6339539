/**
 * The hub server: one port with HTTP (hono) and WebSocket (`/v1/mesh` for nodes, `/v1/hub` for
 * peers through the PeerRouter seam). A node's link is authenticated once (Hello -> Authenticate
 * -> Authenticated) and bound to its DID; envelopes on it are then routed without a per-message
 * signature check (the target node verifies end to end), handshakes are coordinated with core's
 * HandshakeCoordinator, and federations move through active / suspended / expired / terminated.
 * docs/link-protocol.md describes the frames and checks.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type Ack,
  type Authenticate,
  type AvailableMesh,
  asProtocolError,
  attestationDigest,
  authenticateDigest,
  BATCH_FEATURE,
  base64urlEncode,
  canonicalJson,
  constantTimeEqual,
  type DiscoveryQuery,
  decodeMultikey,
  EARLY_RESPONSE_FEATURE,
  type Ed25519KeyPair,
  type Envelope,
  type Explanation,
  ed25519,
  encodeErrorFrame,
  encodeMultikey,
  type FederationConfirm,
  type FederationRecord,
  type FederationRequest,
  type FederationStatusValue,
  type FederationSummary,
  type FrameScan,
  flatString,
  forwardedEnvelopeText,
  framesOf,
  HandshakeCoordinator,
  type HandshakeMessage,
  type HubOutbound,
  hopForward,
  hopForwardedText,
  intern,
  internList,
  MAX_HOPS,
  multibaseDecode,
  multibaseEncode,
  ownCopy,
  type ParsedFrame,
  type Priority,
  ProtocolError,
  parseFrame,
  randomBytes,
  regionAllowed,
  rejectFromError,
  type Terminate,
  type TrustAttestation,
  type TrustReport,
  terminateDigest,
} from '@fmp/core';
import { type GrpcLinkServer, isGrpcUrl, listenGrpcLink, loadGrpc } from '@fmp/core/grpc';
import {
  authenticationKeyResolver,
  createDidResolver,
  type DidResolver,
  didKey,
  didMesh,
  ed25519PublicKeyFromDidKey,
  MeshRegistry,
  type StatusListLoader,
  VerificationCache,
  type VerificationResult,
  type VerifyCredentialOptions,
  verifyCachedCredential,
  verifyCredential,
} from '@fmp/identity';
import { MESH, type Params, parseMesh } from '@fmp/ledger';
import {
  type Anomaly,
  type AttestationRecord,
  AttestationRefusedError,
  type EdgeSnapshot,
  LEVEL_FLOOR,
  levelOf as levelOfScore,
  type SubjectSnapshot,
  TrustEngine,
  type TrustEngineOptions,
  type TrustExplanation,
  type TrustLevel,
} from '@fmp/trust';
import { getRequestListener } from '@hono/node-server';
import pino from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { ConflictError, HubConfigError, HubStateError, NotFoundError } from './errors.js';
import { FederationTable, liveFederations } from './federation-table.js';
import { createHttpApp } from './http.js';
import { HubLedger, type HubLedgerOptions } from './ledger.js';
import { type FederationStatusUpdate, federationStatusUpdateDigest } from './lifecycle.js';
import { createHubMetrics, type HubMetrics } from './metrics.js';
import { OfflineQueue, type QueuedMessage } from './offline-queue.js';
import { checkScalarOptions, DEFAULT_LIMITS, type HubLimits } from './options.js';
import {
  type OutboundItem,
  type OutboundQueue,
  type OutboundQueueFactory,
  simpleOutboundQueue,
} from './outbound.js';
import { MAX_ATTESTATIONS, MAX_IDENTITY_OPS, type RelayedFrame } from './peering/frames.js';
import {
  type AnnouncedFederation,
  type FederationAnnounce,
  federationAnnounceDigest,
  type IdentityOps,
  type PeerDataFrame,
  PeerLinks,
  type PeerOutboundFrame,
  type Relay,
} from './peering/index.js';
import { type FederationRow, type HubStore, type MeshRow, memoryHubStore } from './persistence.js';
import {
  DEFAULT_HIGH_WATER_MARK,
  enableBatching,
  LinkScheduler,
  linkWriter,
  RateLimiter as QosRateLimiter,
  rateLimitedError,
  wsSink,
} from './qos/index.js';
import type { RateLimiter } from './rate-limit.js';
import { type MeshInfo, type RouteRow as PeerRouteRow, RouteTable } from './routing/index.js';
import type { CredentialTrustProvider, PeerRouter, RouteRow, TrustProvider } from './seams.js';
import { HANDSHAKE_VIOLATIONS, HubTrustFeed } from './trust-feed.js';

export type HubLogger = Pick<pino.Logger, 'debug' | 'info' | 'warn' | 'error'>;

/** A status list source to follow (a StatusListRegistry in the same process). */
export interface StatusListChanges {
  onChange(listener: (statusListCredential: string) => void): () => void;
}

export interface HubOptions {
  /** The hub's DID (did:key, or did:mesh:hub:<name> registered in `registry`). */
  readonly did: string;
  readonly keyPair: Ed25519KeyPair;
  readonly region: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  /**
   * Also serve mesh links over gRPC (`/fmp.v1.Link/Connect`, docs/protocol.md) on this port of
   * `host` (0: any free port); default: WebSocket only. Nodes connect with `grpc://host:port`.
   */
  readonly grpcPort?: number;
  /** The URL nodes reach this hub at (routingEndpoint base); default ws://host:port. */
  readonly publicUrl?: string;
  /** Credential issuers whose MeshAgentCredentials this hub accepts. */
  readonly trustedIssuers: readonly string[];
  /** The did:mesh registry (default: in memory). Pass one over the store for persistence. */
  readonly registry?: MeshRegistry;
  /** Federation, mesh and uptime records (default: memoryHubStore()). */
  readonly store?: HubStore;
  /**
   * How long a changed federation's row may wait to be written with the others changed meanwhile
   * (one transaction, one fsync); default 10 ms. Nothing waits for these writes: see saveFederation.
   */
  readonly federationWriteDelayMs?: number;
  /** Default: did:mesh over `registry` and did:key. */
  readonly resolver?: DidResolver;
  /** Loads Bitstring Status List credentials (credentials with a status fail closed without it). */
  readonly statusListLoader?: StatusListLoader;
  /** A status list source to follow: a change triggers an immediate credential re-check. */
  readonly statusListChanges?: StatusListChanges;
  /** Replaces the trust engine with another score source (tests, custom deployments). */
  readonly trustProvider?: TrustProvider;
  /** The trust engine (spec 5; docs/trust.md). Default: one engine with this hub and the trusted issuers pre-trusted. */
  readonly trust?: {
    readonly engine?: TrustEngine;
    readonly options?: Omit<TrustEngineOptions, 'now' | 'preTrusted'>;
    /** EigenTrust recompute period; default 30,000 ms. */
    readonly recomputeMs?: number;
    /** How often the engine's state is written to the store (when it keeps trust); default 5,000 ms. */
    readonly persistMs?: number;
    /**
     * How often meshes whose trust state changed only by answered heartbeats (every connected mesh,
     * every heartbeat interval) are written too; default 60,000 ms, and at stop. A hub that dies
     * loses at most this much of their uptime counters.
     */
    readonly routinePersistMs?: number;
    /** Partners' reports accepted per reporter; default 50/s, burst 200. */
    readonly reportsPerSec?: number;
  };
  readonly router?: PeerRouter;
  readonly outboundQueue?: OutboundQueueFactory;
  readonly rateLimiter?: RateLimiter;
  readonly limits?: Partial<HubLimits>;
  /** Per-federation quota; default 1,000 msg/s, burst 2,000. */
  readonly rateLimit?: { readonly messagesPerSec: number; readonly burst: number };
  /** The mesh ledger: run it (default) or mirror another hub's (docs/ledger.md). */
  readonly ledger?: HubLedgerOptions;
  /** Quota of POST /v1/identities per client address; default 5 req/s, burst 20. */
  readonly identityRateLimit?: { readonly requestsPerSec: number; readonly burst: number };
  /**
   * Quota of POST /v1/ledger/entries and /v1/ledger/cosignatures per client address; default 500 req/s,
   * burst 1,000 (a mirror hub forwards all its clients' entries from one address).
   */
  readonly ledgerRateLimit?: { readonly requestsPerSec: number; readonly burst: number };
  readonly handshake?: {
    readonly minTrustScore?: number;
    readonly timeoutMs?: number;
    readonly maxTtlSeconds?: number;
  };
  /** Default 30,000. */
  readonly clockSkewMs?: number;
  /** Period of the expiry/TTL sweep; default 1,000. */
  readonly sweepMs?: number;
  /** Period of the credential re-check of connected meshes; default 60,000. */
  readonly credentialRecheckMs?: number;
  /** Bearer token for /v1/admin/*; admin endpoints answer 401 when unset. */
  readonly adminToken?: string;
  /**
   * Peer hubs this hub dials and keeps linked (`url`: `ws://host:port`, `/v1/hub` added when the
   * path is empty). With peers or allowedPeers the hub runs path-vector routing over the links.
   */
  readonly peers?: readonly { readonly did: string; readonly url: string }[];
  /** Hubs accepted on inbound `/v1/hub` links besides `peers` (fail closed: nobody else). */
  readonly allowedPeers?: readonly string[];
  readonly peering?: {
    /** Link ping period (latency, liveness); default 5,000. */
    readonly pingIntervalMs?: number;
    /** Re-dial backoff min(max, base * 2^n); defaults 500 / 30,000. */
    readonly reconnectBaseMs?: number;
    readonly reconnectMaxMs?: number;
    readonly authTimeoutMs?: number;
  };
  /** The hub key's verification method (`<did>#...`); default: found in the hub's DID document. */
  readonly verificationMethod?: string;
  readonly logger?: HubLogger;
  readonly now?: () => number;
}

export interface Hub {
  readonly did: string;
  readonly region: string;
  /** The bound port (after start). */
  readonly port: number;
  readonly url: string;
  /** `grpc://host:port` while running with `grpcPort` (mesh links over gRPC), else undefined. */
  readonly grpcUrl: string | undefined;
  readonly metrics: HubMetrics;
  start(): Promise<{ url: string; httpUrl: string }>;
  stop(): Promise<void>;
  /** Re-verifies the credentials of connected meshes now; suspends or resumes federations. */
  recheckCredentials(): Promise<void>;
  federations(): FederationRow[];
  setFederationStatus(
    federationId: string,
    status: FederationStatusValue,
    reason: string,
  ): Promise<FederationRow>;
  discover(query: DiscoveryQuery): AvailableMesh[];
  routes(): RouteRow[];
  /** Routes of the path-vector table (destinations: meshes and hubs); empty without peering. */
  peerRoutes(): PeerRouteRow[];
  /** Peer hubs with an authenticated link. */
  connectedPeers(): string[];
  meshes(): Promise<(MeshRow & { online: boolean; connectedMs: number | undefined })[]>;
  readonly registry: MeshRegistry;
  readonly resolver: DidResolver;
  /** The trust engine (undefined when a trustProvider replaces it). */
  readonly trustEngine: TrustEngine | undefined;
  /** Trust events operators can follow: anomalies and level changes. Returns an unsubscribe. */
  onTrustEvent(listener: (event: HubTrustEvent) => void): () => void;
  /**
   * A mesh's score explained (factors, events, what would raise it) when this hub scores it; for a
   * mesh attached to another hub, the score its home hub announced. Undefined when unknown.
   */
  trustOf(did: string): TrustExplanation | RemoteTrust | undefined;
  /** Spec 7.3: why this hub routed (or refused) a message with geographicRestrictions. */
  explanation(actionId: string): RoutingExplanation | undefined;
  /**
   * The mesh ledger as this hub holds it (docs/ledger.md): run here (sequencer) or mirrored and
   * witnessed (mirror); after start.
   */
  readonly ledger: HubLedger | undefined;
  /** The governance parameters in effect (the ledger's), once started. */
  readonly ledgerParams: Params | undefined;
  /** Reports staked meshes' availability to the ledger now (also done every `ledger.uptimeReportMs`). */
  reportUptime(): Promise<number>;
}

/** Spec 7.3 for a routing decision or refusal of this hub. */
export interface RoutingExplanation {
  readonly actionId: string;
  readonly at: number;
  readonly decision: 'allow' | 'deny';
  readonly explanation: Explanation;
}

/** A score another hub announced for a mesh attached there. */
export interface RemoteTrust {
  readonly did: string;
  readonly score: number;
  readonly level: TrustLevel;
  readonly scoredBy: string;
}

/** What `onTrustEvent` (and `GET /v1/trust/events`) reports. */
export type HubTrustEvent =
  | ({ readonly type: 'anomaly' } & Anomaly)
  | {
      /** `level`: the mesh changed level; `score`: its score moved by a point or more. */
      readonly type: 'level' | 'score';
      readonly subject: string;
      readonly score: number;
      readonly level: TrustLevel;
      readonly previous: number | undefined;
      readonly at: number;
    };

interface Connection {
  readonly id: string;
  readonly ws: WebSocket;
  /** The Hello nonce: what Authenticate signs, then the challenge of early handshake responses. */
  nonce: string;
  readonly openedAt: number;
  state: 'hello' | 'authenticating' | 'ready' | 'closed';
  meshId: string | undefined;
  session: LiveSession | undefined;
  /**
   * Frames waiting for the socket. Idle links hold none (thousands of sessions): frames go straight
   * to the socket while it is under its high-water mark; a LinkScheduler is made when it is not,
   * and dropped by the sweep once empty. With `outboundQueue` set, that queue, made at connect.
   */
  queue: LinkQueue | undefined;
  lastSeen: number;
  awaitingPong: boolean;
  pingSentAt: number;
  rttMs: number | null;
  busy: boolean;
  /** Frames received while an earlier one was still being handled (made on first use). */
  backlog: string[] | undefined;
  /** Heartbeat slot: each tick pings one slot, so pings spread over the interval. */
  readonly pingSlot: number;
}

/** Where a mesh link's socket keeps its connection, for the shared listeners. */
const CONNECTION = Symbol('fmp.connection');
type LinkSocket = WebSocket & { [CONNECTION]: Connection };

interface LinkQueue extends OutboundQueue {
  /** Stops the queue and releases what it holds on the socket; returns what was not sent. */
  close(): OutboundItem[];
}

interface LiveSession {
  readonly sessionId: string;
  readonly meshId: string;
  readonly conn: Connection;
  readonly region: string;
  readonly capabilities: readonly string[];
  /** complianceCertifications of its verified credential (parties' compliance checks). */
  certifications: readonly string[];
  readonly openedAt: number;
  /**
   * The verification cache's key of the credential presented at authentication (the hash of its
   * canonical JSON): the periodic re-check takes the cached result by it. The text itself is kept
   * in the store with the mesh's row and read only when the cache no longer holds the result (about
   * 1 KB per session the hub's memory does not hold, 10,000 sessions a hub).
   */
  readonly credentialKey: string;
  /** The credential text, held here only when the store failed to keep it (the re-check needs it). */
  credentialText: string | undefined;
  credentialOk: boolean;
  credentialProblem: string | undefined;
  /** The credential's trustLevel at the last check (0 when it failed). */
  credentialTrustLevel: number;
}

interface RemoteHandshake {
  readonly handshakeId: string;
  readonly source: string;
  readonly target: string;
  /** The source's hub, which runs the coordinator. */
  readonly coordinator: string;
  readonly startedAt: number;
}

interface PendingHandshake {
  readonly handshakeId: string;
  readonly source: string;
  readonly target: string;
  readonly startedAt: number;
  readonly minTrustScore: number | undefined;
  asked: boolean;
  /** A renewal: the federation it renews (kept, with fresh keys and a new expiresAt). */
  readonly renews: string | undefined;
  /** The hubs between the two ends, fixed when the target accepted (sent in FederationEstablished). */
  path?: readonly string[];
}

/** Codes of handshake failures that happen before the message is tied to its handshake. */
const UNBOUND_CODES = new Set(['malformed_frame', 'unknown_handshake', 'out_of_order']);
const CLOSE_AUTH_FAILED = 4001;
const CLOSE_REPLACED = 4002;
const CLOSE_IDLE = 4003;
const CLOSE_OVERLOADED = 4004;
const CLOSE_SHUTDOWN = 1001;
/** The heartbeat interval is cut in this many ticks, each pinging the links of one slot. */
const HEARTBEAT_SLOTS = 32;

/** Spec 6.1's tool call (an MCP tools/call across the federation): what TrustReports count. */
const TASK_REQUEST_TYPE = 'agent.task.request';

const HANDSHAKE_TYPES = new Set([
  'InitiateFederation',
  'Challenge',
  'ChallengeResponse',
  'FederationRequest',
  'FederationAccept',
  'FederationEstablished',
  'FederationConfirm',
  'HandshakeReject',
]);

function credentialProblemCode(
  result: VerificationResult,
): 'credential_revoked' | 'expired' | 'credential_invalid' {
  const codes = result.errors.map((e) => e.code);
  if (codes.includes('revoked') || codes.includes('suspended')) return 'credential_revoked';
  if (codes.includes('expired')) return 'expired';
  return 'credential_invalid';
}

/**
 * An item that waits in a link's queue holds a text of its own: a forwarded envelope's text is
 * made of views of the batch it arrived in (tens of KB, see ownCopy), which the queue's byte
 * bound does not see.
 */
function waiting(item: OutboundItem): OutboundItem {
  return { ...item, frame: ownCopy(item.frame) };
}

/** What a hub offers every node in its Hello: batches, and early handshake responses. */
const HELLO_FEATURES = [BATCH_FEATURE, EARLY_RESPONSE_FEATURE];

/**
 * A sealed envelope or an Ack the batch split already read and checked (FrameScan), when its size
 * is surely within the limit (three UTF-8 bytes per UTF-16 unit at most); else undefined, and
 * parseFrame decides.
 */
function scannedFrame(
  raw: string | Uint8Array,
  scan: FrameScan | undefined,
  maxBytes: number,
): ParsedFrame | undefined {
  if (scan === undefined || raw.length * 3 > maxBytes) return undefined;
  if ('envelope' in scan) return { kind: 'envelope', frame: scan.envelope };
  if ('ack' in scan) return { kind: 'Ack', frame: scan.ack };
  return undefined;
}

class HubServer implements Hub {
  readonly did: string;
  readonly region: string;
  readonly metrics: HubMetrics;
  registry!: MeshRegistry;
  resolver!: DidResolver;

  private readonly options: HubOptions;
  private readonly limits: HubLimits;
  private readonly log: HubLogger;
  private readonly now: () => number;
  private readonly store: HubStore;
  private readonly trust: TrustProvider;
  private readonly credentialTrust: CredentialTrustProvider | undefined;
  private readonly trustFeed: HubTrustFeed | undefined;
  /** Meshes whose score moved: their federations are re-judged on the next trust tick. */
  private readonly reconcileDue = new Set<string>();
  private readonly trustListeners = new Set<(event: HubTrustEvent) => void>();
  /** Explanation records (spec 7.3) of routing decisions and refusals made for compliance (LRU). */
  private readonly explanations = new Map<string, RoutingExplanation>();
  /** Attestation ids already ingested (gossip is flooded: each hub passes each on once). */
  private readonly seenAttestations = new Set<string>();
  private attestationBatch: TrustAttestation[] = [];
  private readonly reportLimiter: RateLimiter;
  /** Last violation report per reporter and subject (one an hour counts). */
  private readonly lastViolationReport = new Map<string, number>();
  private readonly rateLimiter: RateLimiter;
  private readonly identityLimiter: RateLimiter;
  private readonly ledgerLimiter: RateLimiter;
  private readonly outboundFactory: OutboundQueueFactory;
  /** Default: a qos LinkScheduler per node link; `outboundQueue` plugs in another queue. */
  private readonly useScheduler: boolean;
  private readonly offline: OfflineQueue;
  private readonly clockSkewMs: number;
  private readonly vcCache = new VerificationCache();
  private coordinator!: HandshakeCoordinator;
  private resolveAuthKey!: (vm: string) => Promise<Uint8Array>;

  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<string, LiveSession>();
  /** Active and suspended federations, indexed by mesh and by expiry (at most maxFederations). */
  private readonly fedTable: FederationTable;
  private readonly handshakes = new Map<string, PendingHandshake>();
  /** Handshakes coordinated by another hub whose target is attached here. */
  private readonly remoteHandshakes = new Map<string, RemoteHandshake>();
  /** Discovery data of meshes behind peers, from their announcements (bounded). */
  private readonly remoteInfo = new Map<string, MeshInfo>();
  /** Last `updatedAt` accepted per federation from the other end's hub (orders updates, bounded). */
  private readonly lastStatusUpdate = new Map<string, number>();
  /**
   * Federations suspended by the other end's hub (announce or status update): only that hub lifts
   * its suspension, so this hub's own credential re-check must not resume them (in memory).
   */
  private readonly remoteSuspension = new Set<string>();
  /** Frames of one peer are handled in order (some steps await key resolution). */
  private readonly peerChains = new Map<string, { tail: Promise<void>; pending: number }>();
  private links: PeerLinks | undefined;
  private table: RouteTable | undefined;
  private unsubscribeAppend: (() => void) | undefined;
  ledger: HubLedger | undefined;
  /** Governance's cap on hops (the ledger's maxHops parameter). */
  private maxHopsCap = MAX_HOPS;
  private uptimeTimer: NodeJS.Timeout | undefined;
  /** Per mesh: when its availability was last reported, and its connected time then. */
  private readonly uptimeBaselines = new Map<string, { at: number; connectedMs: number }>();
  private identityBatch: IdentityOps['ops'] = [];
  private selfVm = '';
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private grpc: GrpcLinkServer | undefined;
  private grpcLinkUrl: string | undefined;
  private timers: NodeJS.Timeout[] = [];
  /** Store writes nobody awaits (persist()); bounded by the store's write queue, which refuses past its limit. */
  private readonly storeWrites = new Set<Promise<void>>();
  /**
   * Federation rows changed and not yet handed to the store, by id, in the order they changed
   * (a later change of the same federation replaces the earlier row): see saveFederation.
   */
  private readonly unsavedFederations = new Map<string, FederationRow>();
  private unsavedTimer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private recheckTimer: NodeJS.Timeout | undefined;
  private running = false;
  private nextPingSlot = 0;
  private connectionSeq = 0;
  private heartbeatSlot = 0;
  private boundPort = 0;
  private publicUrl = '';
  private federationGaugeStale = true;

  constructor(options: HubOptions) {
    checkScalarOptions({
      did: options.did,
      region: options.region,
      host: options.host,
      port: options.port,
      publicUrl: options.publicUrl,
      trustedIssuers: options.trustedIssuers,
      limits: options.limits,
      rateLimit: options.rateLimit,
      identityRateLimit: options.identityRateLimit,
      handshake: options.handshake,
      clockSkewMs: options.clockSkewMs,
      sweepMs: options.sweepMs,
      credentialRecheckMs: options.credentialRecheckMs,
      federationWriteDelayMs: options.federationWriteDelayMs,
      adminToken: options.adminToken,
      peers: options.peers,
      allowedPeers: options.allowedPeers,
      peering: options.peering,
      verificationMethod: options.verificationMethod,
    });
    this.options = options;
    this.did = options.did;
    this.region = options.region;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.fedTable = new FederationTable(this.limits.maxFederations);
    this.log = options.logger ?? pino({ level: 'info', base: { hub: options.did } }, pino.destination(2));
    this.now = options.now ?? Date.now;
    this.store = options.store ?? memoryHubStore({ maxRows: this.limits.maxFederations });
    if (options.trustProvider) {
      this.trust = options.trustProvider;
    } else {
      const engine =
        options.trust?.engine ??
        new TrustEngine({
          // Bonded MESH on the ledger (read when the engine reports a mesh's stake).
          stake: { stakeOf: (did) => Number((this.ledger?.state.stakeOf(did) ?? 0n) / MESH) },
          ...options.trust?.options,
          now: this.now,
          // EigenTrust's pre-trusted peers: this hub and the authorities it trusts.
          preTrusted: [options.did, ...options.trustedIssuers],
        });
      this.trustFeed = new HubTrustFeed(engine, this.now);
      this.trust = this.trustFeed;
      engine.onChange((c) => {
        this.reconcileDue.add(c.did);
        if (this.trustListeners.size === 0) return;
        this.emitTrust({
          type: c.previous === undefined || levelOfScore(c.previous) !== c.level ? 'level' : 'score',
          subject: c.did,
          score: c.score,
          level: c.level,
          previous: c.previous,
          at: this.now(),
        });
      });
      engine.onAnomaly((a) => {
        this.metrics.trustAnomalies.inc({ signal: a.signal });
        this.log.warn({ meshId: a.subject, signal: a.signal, z: a.z }, 'trust anomaly');
        this.emitTrust({ type: 'anomaly', ...a });
      });
    }
    const rate = options.rateLimit ?? { messagesPerSec: 1_000, burst: 2_000 };
    // Token buckets per federation (qos/): a flooding federation only empties its own bucket.
    this.rateLimiter =
      options.rateLimiter ??
      new QosRateLimiter({
        defaultQuota: { ratePerSec: rate.messagesPerSec, burst: rate.burst },
        maxKeys: this.limits.maxFederations,
        now: this.now,
      });
    const idRate = options.identityRateLimit ?? { requestsPerSec: 5, burst: 20 };
    this.identityLimiter = new QosRateLimiter({
      defaultQuota: { ratePerSec: idRate.requestsPerSec, burst: idRate.burst },
      maxKeys: 10_000,
      now: this.now,
    });
    const ledgerRate = options.ledgerRateLimit ?? { requestsPerSec: 500, burst: 1_000 };
    this.ledgerLimiter = new QosRateLimiter({
      defaultQuota: { ratePerSec: ledgerRate.requestsPerSec, burst: ledgerRate.burst },
      maxKeys: 10_000,
      now: this.now,
    });
    const reports = options.trust?.reportsPerSec ?? 50;
    this.reportLimiter = new QosRateLimiter({
      defaultQuota: { ratePerSec: reports, burst: reports * 4 },
      maxKeys: 100_000,
      now: this.now,
    });
    this.outboundFactory = options.outboundQueue ?? simpleOutboundQueue;
    this.useScheduler = options.outboundQueue === undefined;
    this.offline = new OfflineQueue(this.limits.maxQueuedPerMesh, this.limits.maxQueuedTotal);
    this.clockSkewMs = options.clockSkewMs ?? 30_000;
    this.metrics = createHubMetrics({ hub: options.did });
    (this.metrics.federations as unknown as { collect: () => void }).collect = () =>
      this.refreshFederationGauge();
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return this.publicUrl;
  }

  /** `grpc://host:port` of the gRPC link listener while running with `grpcPort`, else undefined. */
  get grpcUrl(): string | undefined {
    return this.grpcLinkUrl;
  }

  // ------------------------------------------------------------------------------------------
  // Lifecycle
  // ------------------------------------------------------------------------------------------

  async start(): Promise<{ url: string; httpUrl: string }> {
    if (this.running || this.server) throw new HubStateError('the hub is already running');
    this.registry = this.options.registry ?? (await MeshRegistry.open());
    if (this.options.resolver) {
      this.resolver = this.options.resolver;
    } else {
      const resolver = createDidResolver({
        methods: [didMesh({ registry: this.registry }), didKey()],
        cache: { maxEntries: 1_024 },
      });
      this.registry.onAppend((did) => resolver.invalidate(did));
      this.resolver = resolver;
    }
    this.resolveAuthKey = authenticationKeyResolver(this.resolver);
    await this.openLedger();

    // Every active and suspended federation, in pages (not one bounded list of every status).
    let restored = 0;
    for await (const page of liveFederations(this.store.federations))
      restored += this.restoreFederations(page);
    if (restored > 0) this.log.info({ federations: restored }, 'federations restored');
    await this.restoreTrust();

    const host = this.options.host ?? '127.0.0.1';
    const app = createHttpApp(this.httpContext());
    const server = createServer(getRequestListener(app.fetch));
    // ws drops the link (1009) only past twice the frame limit; frames in between reach parseFrame
    // and get a typed message_too_large error frame.
    // No client tracking: the hub keeps its own connections (and a listener and Set entry per link add up).
    const wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: 2 * this.limits.maxFrameBytes,
    });
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.server = server;
    this.wss = wss;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as AddressInfo).port;
    const hostForUrl = host.includes(':') ? `[${host}]` : host;
    this.publicUrl = this.options.publicUrl ?? `ws://${hostForUrl}:${this.boundPort}`;
    if (this.options.grpcPort !== undefined) {
      // The library (~60 ms to load) is loaded here, only by hubs that serve gRPC.
      this.grpc = await listenGrpcLink({
        host,
        port: this.options.grpcPort,
        // As on WebSocket: past twice the frame limit the stream is cut, in between a typed error.
        maxMessageBytes: 2 * this.limits.maxFrameBytes,
        accept: () => this.running && this.connections.size < this.limits.maxSessions,
        // A GrpcLinkSocket has the part of ws's API a mesh link uses (send with a callback,
        // bufferedAmount, readyState, ping, close, terminate, the message/pong/close/error events).
        onLink: (socket) => this.onConnection(socket as unknown as WebSocket),
        // Hub links: as an upgrade on /v1/hub, to the peering layer when this hub peers.
        onHubLink: (socket) => {
          if (this.links) this.links.handleUpgrade(socket as unknown as WebSocket);
          else socket.close(1008, 'not accepting hub links');
        },
      });
      this.grpcLinkUrl = `grpc://${hostForUrl}:${this.grpc.port}`;
    }

    const timeoutMs = this.options.handshake?.timeoutMs ?? 5_000;
    this.coordinator = new HandshakeCoordinator(
      {
        now: this.now,
        randomBytes,
        resolveAuthenticationKey: (vm) => this.resolveAuthKey(vm),
        trustScore: (did) => this.scoreOf(did),
        // The handshake hashed the credential for its digest: the verification cache's key, as is.
        verifyCredential: async (credential, hints) => {
          const result = await this.verifyMeshCredential(credential, hints?.canonicalHash);
          return { verified: result.verified, subject: result.subject };
        },
        onFailure: (f) => {
          this.metrics.handshakes.inc({ outcome: f.code });
          this.log.info({ handshakeId: f.handshakeId, meshId: f.meshId, code: f.code }, 'handshake failed');
        },
      },
      {
        routingEndpointBase: `${this.publicUrl}/v1/federations`,
        // With the trust engine a newcomer with a valid credential starts Basic: it may federate.
        minTrustScore: this.options.handshake?.minTrustScore ?? (this.trustFeed ? LEVEL_FLOOR.Basic : 50),
        timeoutMs,
        clockSkewMs: this.clockSkewMs,
        maxPendingPerMesh: this.limits.maxPendingHandshakesPerMesh,
        ...(this.options.handshake?.maxTtlSeconds === undefined
          ? {}
          : { maxTtlSeconds: this.options.handshake.maxTtlSeconds }),
      },
    );

    const sweepMs = this.options.sweepMs ?? 1_000;
    this.timers.push(setInterval(() => this.sweep(), sweepMs));
    // One slot of the sessions per tick: 10,000 sessions do not all get a ping in the same turn.
    this.timers.push(
      setInterval(() => this.heartbeat(), Math.max(1, Math.floor(this.limits.heartbeatMs / HEARTBEAT_SLOTS))),
    );
    this.timers.push(
      setInterval(() => void this.recheckCredentials(), this.options.credentialRecheckMs ?? 60_000),
    );
    if (this.trustFeed) {
      this.timers.push(setInterval(() => this.trustTick(), 1_000));
      if (this.store.trust) {
        this.timers.push(setInterval(() => void this.persistTrust(), this.options.trust?.persistMs ?? 5_000));
      }
      this.timers.push(setInterval(() => this.recomputeTrust(), this.options.trust?.recomputeMs ?? 30_000));
    }
    for (const t of this.timers) t.unref();
    if (this.options.statusListChanges) {
      this.unwatch = this.options.statusListChanges.onChange((url) => {
        this.vcCache.invalidateStatusList(url);
        this.scheduleRecheck();
      });
    }
    this.running = true;
    await this.startNetwork();
    const httpUrl = this.publicUrl.replace(/^ws/, 'http');
    this.log.info(
      {
        url: this.publicUrl,
        region: this.region,
        ...(this.grpcLinkUrl ? { grpcUrl: this.grpcLinkUrl } : {}),
      },
      'hub started',
    );
    return { url: this.publicUrl, httpUrl };
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    this.recheckTimer = undefined;
    this.unwatch?.();
    this.unwatch = undefined;
    await this.options.router?.stop?.();
    this.unsubscribeAppend?.();
    this.unsubscribeAppend = undefined;
    clearInterval(this.uptimeTimer);
    this.uptimeTimer = undefined;
    await this.ledger?.close();
    const links = this.links;
    this.links = undefined;
    await links?.stop();
    this.metrics.peerLinks.set(0);
    for (const conn of [...this.connections]) {
      conn.queue?.close();
      conn.ws.close(CLOSE_SHUTDOWN, 'hub shutting down');
      conn.ws.terminate();
      this.onClose(conn);
    }
    await this.grpc?.close();
    this.grpc = undefined;
    this.grpcLinkUrl = undefined;
    this.offline.clear();
    this.metrics.offlineQueued.set(0);
    this.trustFeed?.flush();
    // Writes the federation rows not written yet and waits for every write under way.
    void this.flushFederations();
    while (this.storeWrites.size > 0) await Promise.all([...this.storeWrites]);
    // A periodic write may be under way with part of the changes: let it end, then write the rest.
    await this.persistingTrust;
    await this.persistTrust(true);
    const server = this.server;
    this.server = undefined;
    this.wss?.close();
    this.wss = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.log.info({}, 'hub stopped');
  }

  // ------------------------------------------------------------------------------------------
  // Connections
  // ------------------------------------------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (!this.running || !this.wss) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    if (path === '/v1/hub') {
      const links = this.links;
      if (links) this.wss.handleUpgrade(req, socket, head, (ws) => links.handleUpgrade(ws));
      else if (this.options.router?.handlePeerUpgrade)
        this.options.router.handlePeerUpgrade(req, socket, head);
      else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    if (path !== '/v1/mesh') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    if (this.connections.size >= this.limits.maxSessions) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  /** A mesh link's socket listeners, shared by every link (`this` is the socket). */
  private readonly linkListeners = ((hub: HubServer) => ({
    message(this: WebSocket, data: unknown, isBinary: boolean) {
      const conn = (this as LinkSocket)[CONNECTION];
      conn.lastSeen = hub.now();
      if (isBinary) {
        hub.enqueueInbound(conn, new Uint8Array(data as Buffer));
        return;
      }
      // A batch (Hello announced `batch`): its frames one by one, as if they came separately.
      let frames: string[];
      const spans: (FrameScan | undefined)[] = [];
      try {
        frames = framesOf((data as Buffer).toString('utf8'), spans);
      } catch (err) {
        hub.sendError(conn, err);
        return;
      }
      for (let k = 0; k < frames.length; k++) hub.enqueueInbound(conn, frames[k]!, spans[k]);
    },
    pong(this: WebSocket) {
      const conn = (this as LinkSocket)[CONNECTION];
      conn.lastSeen = hub.now();
      if (conn.awaitingPong) {
        conn.rttMs = Math.max(0, hub.now() - conn.pingSentAt);
        if (conn.state === 'ready' && conn.meshId) hub.trustFeed?.heartbeat(conn.meshId, true, conn.rttMs);
      }
      conn.awaitingPong = false;
    },
    close(this: WebSocket) {
      hub.onClose((this as LinkSocket)[CONNECTION]);
    },
    error(this: WebSocket, err: Error) {
      // ws reports an oversized frame (maxPayload) as an error and closes with 1009.
      hub.log.debug({ conn: (this as LinkSocket)[CONNECTION].id, err: err.message }, 'link error');
    },
  }))(this);

  private onConnection(ws: WebSocket): void {
    const now = this.now();
    const conn: Connection = {
      // A short id (logs, handshake origin): a UUID per link is half a KB of heap at 10,000 links.
      id: `c${++this.connectionSeq}`,
      ws,
      nonce: base64urlEncode(randomBytes(32)),
      openedAt: now,
      state: 'hello',
      meshId: undefined,
      session: undefined,
      lastSeen: now,
      awaitingPong: false,
      pingSentAt: 0,
      rttMs: null,
      busy: false,
      backlog: undefined,
      pingSlot: this.nextPingSlot++ % HEARTBEAT_SLOTS,
      queue: undefined,
    };
    if (!this.useScheduler)
      conn.queue = this.outboundFactory({
        write: (item) => this.write(conn, item),
        writable: () => ws.bufferedAmount < 4 * 1024 * 1024,
        onDrain: (resume) => setTimeout(resume, 5).unref(),
        now: this.now,
        maxQueued: this.limits.maxOutboundPerLink,
      });
    this.connections.add(conn);
    this.metrics.connections.set(this.connections.size);
    // The same four listeners for every link (they find their connection on the socket): closures
    // made per link cost ~0.3 KB each at 10,000 sessions.
    (ws as LinkSocket)[CONNECTION] = conn;
    const on = this.linkListeners;
    ws.on('message', on.message);
    ws.on('pong', on.pong);
    ws.on('close', on.close);
    ws.on('error', on.error);
    this.sendControl(conn, {
      type: 'Hello',
      version: 'fmp/1',
      hubDid: this.did,
      nonce: conn.nonce,
      timestamp: now,
      maxFrameBytes: this.limits.maxFrameBytes,
      features: HELLO_FEATURES,
    });
  }

  private onClose(conn: Connection): void {
    if (conn.state === 'closed') return;
    conn.state = 'closed';
    this.connections.delete(conn);
    this.metrics.connections.set(this.connections.size);
    const rest = conn.queue?.close() ?? [];
    conn.queue = undefined;
    const session = conn.session;
    if (session && this.sessions.get(session.meshId) === session) {
      this.sessions.delete(session.meshId);
      this.metrics.sessions.set(this.sessions.size);
      this.table?.detach(session.meshId);
      this.trustFeed?.engine.record({
        kind: 'session',
        subject: session.meshId,
        at: this.now(),
        connected: false,
      });
      void this.store.uptime.sessionClosed(session.meshId, this.now()).catch((err) => this.storeFailed(err));
      // Envelopes that had not reached the socket wait for the reconnect like any other.
      for (const item of rest) this.requeueUnsent(session.meshId, item);
      // A handshake cannot finish without this mesh: end it for the other party now.
      for (const hs of [...this.handshakes.values()]) {
        if (hs.source === session.meshId || hs.target === session.meshId) {
          this.failHandshake(hs, new ProtocolError('unreachable', `${session.meshId} disconnected`));
        }
      }
      for (const rh of [...this.remoteHandshakes.values()]) {
        if (rh.target !== session.meshId) continue;
        this.remoteHandshakes.delete(rh.handshakeId);
        const reject = rejectFromError(
          rh.handshakeId,
          new ProtocolError('unreachable', `${rh.target} disconnected`),
        );
        this.sendToMesh(rh.source, reject, rh.coordinator);
      }
      this.log.info({ meshId: session.meshId }, 'session closed');
    }
  }

  private requeueUnsent(meshId: string, item: OutboundItem): void {
    if (!item.messageId) return;
    try {
      const parsed = parseFrame(item.frame, { maxBytes: this.limits.maxFrameBytes });
      if (parsed.kind !== 'envelope') return;
      this.queueOffline(meshId, parsed.frame, item.frame);
    } catch {
      // Frames in the queue were produced by this hub and always parse.
    }
  }

  /**
   * A node link's outbound queue: a qos LinkScheduler (4 classes, critical first, bounded, writes
   * only while the socket is under its high-water mark) behind the OutboundQueue interface.
   */
  private schedulerQueue(conn: Connection): LinkQueue {
    const sink = wsSink<OutboundItem>(conn.ws, { serialize: (item) => item.frame });
    const scheduler = new LinkScheduler<OutboundItem>({
      ...sink,
      queue: {
        maxItems: this.limits.maxOutboundPerLink,
        maxBytes: 64 * 1024 * 1024,
        ttlMs: this.limits.queueTtlMs,
      },
      now: this.now,
      onSent: (_item, entry) =>
        this.metrics.queueSeconds.observe({ priority: entry.priority, link: 'node' }, entry.waitedMs / 1000),
      onDropped: (item, reason) => {
        const meshId = conn.session?.meshId;
        if (!item.messageId || !meshId) return; // control frames of a dead or stuck link
        if (reason === 'send_failed') this.requeueUnsent(meshId, item);
        else if (item.sourceMeshId) {
          this.metrics.messages.inc({ priority: item.priority, outcome: 'expired' });
          this.errorToMesh(
            item.sourceMeshId,
            new ProtocolError(
              'unreachable',
              `${meshId} did not read its link within ${this.limits.queueTtlMs} ms`,
            ),
            item.messageId,
            { federationId: item.federationId ?? '' },
          );
        }
      },
    });
    return {
      push: (item) => scheduler.enqueue(item, item.priority, item.frame.length),
      get size() {
        return scheduler.size;
      },
      close: () => {
        sink.dispose();
        return scheduler.close().map((e) => e.item);
      },
    };
  }

  /**
   * Sends a frame on a node link (false: the link's queue is full). While the socket keeps up and
   * nothing waits, the frame is written now (the common case, and no queue held per link); else it
   * goes through the link's queue, made on first need.
   */
  private push(conn: Connection, item: OutboundItem, flush = false): boolean {
    if (conn.queue) return conn.queue.push(waiting(item));
    const ws = conn.ws;
    if (ws.readyState !== ws.OPEN) {
      // A link going away: an envelope waits for the reconnect like any other; control frames
      // for a dead link are moot.
      if (item.messageId && conn.session) this.requeueUnsent(conn.session.meshId, item);
      return true;
    }
    const writer = linkWriter(ws);
    if (ws.bufferedAmount + writer.pendingBytes >= DEFAULT_HIGH_WATER_MARK) {
      conn.queue = this.schedulerQueue(conn);
      return conn.queue.push(waiting(item));
    }
    // Same metric as a frame that went through the scheduler without waiting.
    this.metrics.queueSeconds.observe({ priority: item.priority, link: 'node' }, 0);
    writer.write(item.frame);
    // Out now, with whatever this turn queued before it: one step of a sequential exchange.
    if (flush) writer.flush();
    return true;
  }

  private write(conn: Connection, item: OutboundItem): void {
    if (conn.state === 'closed') {
      if (conn.session && item.messageId) this.requeueUnsent(conn.session.meshId, item);
      return;
    }
    this.metrics.queueSeconds.observe(
      { priority: item.priority, link: 'node' },
      Math.max(0, this.now() - item.enqueuedAt) / 1000,
    );
    linkWriter(conn.ws).write(item.frame);
  }

  private sendControl(conn: Connection, frame: object, priority: Priority = 'critical'): boolean {
    // Handshake steps are sequential round trips: they do not wait for the turn's batch.
    const flush = HANDSHAKE_TYPES.has((frame as { type?: string }).type ?? '');
    return this.sendControlText(conn, JSON.stringify(frame), priority, flush);
  }

  /** sendControl for a frame already serialized. */
  private sendControlText(conn: Connection, text: string, priority: Priority, flush = false): boolean {
    if (conn.state === 'closed') return false;
    const ok = this.push(conn, { frame: text, priority, enqueuedAt: this.now() }, flush);
    if (!ok) {
      // A link that cannot take control frames is not being read: drop it rather than grow.
      this.log.warn({ conn: conn.id, meshId: conn.meshId }, 'outbound queue full, closing link');
      conn.ws.close(CLOSE_OVERLOADED, 'outbound queue full');
    }
    return ok;
  }

  private sendError(
    conn: Connection,
    err: unknown,
    inReplyTo?: string,
    details?: Record<string, string>,
  ): void {
    const frame = encodeErrorFrame(err, inReplyTo === undefined ? {} : { inReplyTo });
    if (details && frame.code !== 'internal_error') frame.details = { ...frame.details, ...details };
    this.metrics.frameErrors.inc({ code: frame.code });
    if (frame.code === 'internal_error')
      this.log.error({ conn: conn.id, err: String(err) }, 'internal error');
    this.sendControl(conn, frame);
  }

  /**
   * Sends to the live session of a mesh, else (with peering) over the best route toward it or
   * toward `toHub` (its home hub, or the hub a reply is for) inside a Relay.
   */
  private sendToMesh(meshId: string, frame: object, toHub?: string): boolean {
    const session = this.sessions.get(meshId);
    if (session) return this.sendControl(session.conn, frame);
    if (!this.links || toHub === this.did) return false;
    return this.relayTo(meshId, frame as Relay['frame'], { toHub, priority: 'critical' });
  }

  /** An error frame for a mesh here or behind a peer; a source that is nowhere learns nothing. */
  private errorToMesh(
    meshId: string,
    err: unknown,
    inReplyTo: string | undefined,
    details?: Record<string, string>,
    toHub?: string,
  ): void {
    const session = this.sessions.get(meshId);
    if (session) {
      this.sendError(session.conn, err, inReplyTo, details);
      return;
    }
    const frame = encodeErrorFrame(err, inReplyTo === undefined ? {} : { inReplyTo });
    if (details && frame.code !== 'internal_error') frame.details = { ...frame.details, ...details };
    this.metrics.frameErrors.inc({ code: frame.code });
    if (this.links && toHub !== this.did) this.relayTo(meshId, frame as unknown as Relay['frame'], { toHub });
  }

  /** `scan`: what the batch split found of the frame (see FrameScan); lost when the frame waits. */
  private enqueueInbound(conn: Connection, raw: string | Uint8Array, scan?: FrameScan): void {
    if (conn.state === 'closed') return;
    if (conn.busy) {
      conn.backlog ??= [];
      if (conn.backlog.length >= this.limits.maxInboundBacklog) {
        this.sendError(
          conn,
          new ProtocolError('rate_limited', 'too many frames in flight on this link', { retryAfterMs: 100 }),
        );
        return;
      }
      conn.backlog.push(typeof raw === 'string' ? raw : Buffer.from(raw).toString('latin1'));
      return;
    }
    this.runInbound(conn, raw, scan);
  }

  /** Frames of one link are handled in order; a frame whose handling awaits holds the ones after it. */
  private runInbound(conn: Connection, raw: string | Uint8Array, scan?: FrameScan): void {
    let pending: Promise<void> | undefined;
    try {
      pending = this.handleFrame(conn, raw, scan);
    } catch (err) {
      this.sendError(conn, err);
    }
    if (!pending) return;
    conn.busy = true;
    pending
      .catch((err) => this.sendError(conn, err))
      .finally(() => {
        conn.busy = false;
        while (!conn.busy && conn.backlog && conn.backlog.length > 0 && conn.state !== 'closed') {
          this.runInbound(conn, conn.backlog.shift()!);
        }
        if (conn.backlog?.length === 0) conn.backlog = undefined;
      });
  }

  private handleFrame(
    conn: Connection,
    raw: string | Uint8Array,
    scan?: FrameScan,
  ): Promise<void> | undefined {
    let parsed: ParsedFrame;
    try {
      parsed =
        scannedFrame(raw, scan, this.limits.maxFrameBytes) ??
        parseFrame(raw, { maxBytes: this.limits.maxFrameBytes });
    } catch (err) {
      // Never answer an error frame with an error frame: a frame that merely fails to parse
      // cannot be told apart, so answer once and rely on the peer's own rule.
      this.sendError(conn, err);
      return undefined;
    }
    if (parsed.kind === 'error') {
      this.log.debug({ conn: conn.id, code: parsed.frame.code }, 'error frame from node');
      return undefined;
    }
    if (conn.state !== 'ready') {
      if (parsed.kind === 'Authenticate' && conn.state === 'hello') {
        conn.state = 'authenticating';
        return this.authenticate(conn, parsed.frame);
      }
      this.sendError(conn, new ProtocolError('unauthorized', 'authenticate first'));
      return undefined;
    }
    switch (parsed.kind) {
      case 'envelope':
        this.routeEnvelope(conn, parsed.frame, typeof raw === 'string' ? raw : undefined, scan);
        return undefined;
      case 'Ack':
        this.relayAck(conn, parsed.frame);
        return undefined;
      case 'discovery.query':
        this.sendControl(conn, {
          type: 'discovery.result',
          inReplyTo: parsed.frame.requestId,
          meshes: this.discover(parsed.frame.query),
        });
        return undefined;
      case 'Terminate':
        return this.terminateFromNode(conn, parsed.frame);
      case 'TrustAttestation':
        return this.attestationFromNode(conn, parsed.frame);
      case 'TrustReport':
        this.reportFromNode(conn, parsed.frame);
        return undefined;
      default:
        if (HANDSHAKE_TYPES.has(parsed.kind)) return this.handshake(conn, parsed.frame as HandshakeMessage);
        this.sendError(conn, new ProtocolError('out_of_order', `the hub does not take ${parsed.kind} here`));
        return undefined;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Authentication
  // ------------------------------------------------------------------------------------------

  private async authenticate(conn: Connection, msg: Authenticate): Promise<void> {
    try {
      const now = this.now();
      if (msg.hubDid !== this.did) throw new ProtocolError('unauthorized', 'Authenticate names another hub');
      if (!constantTimeEqual(Buffer.from(msg.nonce), Buffer.from(conn.nonce))) {
        throw new ProtocolError('replay_detected', 'Authenticate does not carry this link nonce');
      }
      if (Math.abs(now - msg.timestamp) > this.clockSkewMs) {
        throw new ProtocolError('clock_skew', 'Authenticate timestamp is outside the accepted window');
      }
      const hash = msg.verificationMethod.indexOf('#');
      if (msg.verificationMethod.slice(0, hash) !== msg.meshId) {
        throw new ProtocolError('unauthorized', 'the verification method does not belong to meshId');
      }
      if (msg.meshLog && msg.meshLog.length > 0) {
        try {
          await this.registry.importLog(msg.meshLog);
        } catch (cause) {
          throw new ProtocolError('did_resolution_failed', 'the did:mesh log does not verify', { cause });
        }
      }
      await this.checkSignature(
        msg.verificationMethod,
        msg.signature,
        authenticateDigest(msg),
        'Authenticate',
      );
      // Credentials only after the signature: an unauthenticated peer cannot make us spend milliseconds.
      // Canonical JSON once: the store keeps the text, its hash is the verification cache's key
      // (one copy, held by the cache and the session).
      const credentialText = canonicalJson(msg.credential);
      const credentialKey = this.vcCache.keyOfCanonical(credentialText);
      const result = await this.verifyMeshCredential(msg.credential, credentialKey);
      if (!result.verified) {
        // The signature held, so the mesh is who it says: its credential problem is on its record.
        this.trustFeed?.engine.record({
          kind: 'credential',
          subject: msg.meshId,
          at: now,
          valid: false,
          trustLevel: 0,
          certifications: [],
          didResolvable: true,
          reason: result.errors.map((e) => e.code).join(', '),
        });
        const code = credentialProblemCode(result);
        throw new ProtocolError(code, `credential rejected: ${result.errors.map((e) => e.code).join(', ')}`);
      }
      if (result.subject !== msg.meshId) {
        throw new ProtocolError('credential_invalid', 'the credential subject is not meshId');
      }
      if (conn.state !== 'authenticating') return; // closed meanwhile
      this.checkEntryStake(msg.meshId);
      const trustScore = result.meshAgent?.trustLevel ?? 0;
      this.credentialTrust?.set(msg.meshId, trustScore);
      this.trustFeed?.engine.record({
        kind: 'credential',
        subject: msg.meshId,
        at: now,
        valid: true,
        trustLevel: trustScore,
        certifications: result.meshAgent?.complianceCertifications ?? [],
        ...(result.issuer ? { issuer: result.issuer } : {}),
        didResolvable: true,
      });

      const previous = this.sessions.get(msg.meshId);
      // Regions and capability lists recur across sessions: one copy each (intern, internList).
      const region = intern(msg.region);
      const capabilities = internList(msg.capabilities);
      const session: LiveSession = {
        sessionId: randomUUID(),
        meshId: msg.meshId,
        conn,
        region,
        capabilities,
        certifications: internList(result.meshAgent?.complianceCertifications ?? NO_CERTIFICATIONS),
        openedAt: now,
        credentialKey,
        credentialText: undefined,
        credentialOk: true,
        credentialProblem: undefined,
        credentialTrustLevel: trustScore,
      };
      if (previous) {
        // One live session per mesh: the newer link wins (a reconnect after a silent drop).
        this.sessions.delete(msg.meshId);
        previous.conn.ws.close(CLOSE_REPLACED, 'replaced by a newer session');
        this.onClose(previous.conn);
      }
      conn.state = 'ready';
      // The nonce stays: it is the link's challenge for early handshake responses.
      conn.meshId = msg.meshId;
      if (msg.features?.includes(BATCH_FEATURE)) enableBatching(conn.ws);
      conn.session = session;
      this.sessions.set(msg.meshId, session);
      this.metrics.sessions.set(this.sessions.size);
      this.table?.attach(msg.meshId);
      this.trustFeed?.engine.record({ kind: 'session', subject: msg.meshId, at: now, connected: true });

      const existing = await this.store.meshes.get(msg.meshId);
      const row: MeshRow = {
        meshId: msg.meshId,
        region,
        capabilities: [...capabilities],
        homeHub: this.did,
        credentialIssuer: result.issuer,
        credentialExpiresAt: result.expiresAt?.getTime(),
        trustScore: this.trust.score(msg.meshId),
        firstSeenAt: existing?.firstSeenAt ?? now,
        lastSeenAt: now,
      };
      const [stored] = await Promise.all([
        this.store.meshes.put(row, credentialText).then(
          () => true,
          (err: unknown) => {
            this.storeFailed(err);
            return false;
          },
        ),
        this.store.uptime.sessionOpened(msg.meshId, now).catch((err: unknown) => this.storeFailed(err)),
      ]);
      // Not kept by the store: the session holds it, or its credential could not be checked again.
      if (!stored) session.credentialText = flatString(credentialText);
      if (conn.state !== 'ready') return;

      const federations: FederationSummary[] = [];
      for (const f of this.fedTable.byMesh(msg.meshId)) {
        if (federations.length < 1024) {
          federations.push({
            federationId: f.federationId,
            sourceMeshId: f.sourceMeshId,
            targetMeshId: f.targetMeshId,
            status: f.status,
            capabilities: [...f.capabilities],
            purpose: f.purpose,
            expiresAt: f.expiresAt,
          });
        }
      }
      const rate = this.options.rateLimit ?? { messagesPerSec: 1_000, burst: 2_000 };
      this.sendControl(conn, {
        type: 'Authenticated',
        sessionId: session.sessionId,
        meshId: msg.meshId,
        hubDid: this.did,
        trustScore: this.trust.score(msg.meshId),
        heartbeatMs: this.limits.heartbeatMs,
        idleTimeoutMs: this.limits.idleTimeoutMs,
        limits: {
          maxFrameBytes: this.limits.maxFrameBytes,
          queueTtlMs: this.limits.queueTtlMs,
          maxQueuedPerMesh: this.limits.maxQueuedPerMesh,
          messagesPerSec: rate.messagesPerSec,
          burst: rate.burst,
        },
        federations,
      });
      this.log.info({ meshId: msg.meshId, trustScore: this.trust.score(msg.meshId) }, 'mesh authenticated');
      // Messages held while the mesh was away, oldest first.
      for (const queued of this.offline.take(msg.meshId)) this.deliverQueued(session, queued);
      this.metrics.offlineQueued.set(this.offline.size);
      // A federation may have been suspended for this mesh's credential: it is valid again.
      this.reconcileMesh(msg.meshId);
    } catch (err) {
      this.metrics.frameErrors.inc({ code: asProtocolError(err).wireCode });
      this.log.info({ conn: conn.id, code: asProtocolError(err).wireCode }, 'authentication failed');
      const frame = encodeErrorFrame(err);
      if (conn.state !== 'closed') {
        // Bypass the queue: the frame must be on the wire before the close.
        const writer = linkWriter(conn.ws);
        writer.write(JSON.stringify(frame), () => conn.ws.close(CLOSE_AUTH_FAILED, frame.code));
        writer.flush();
      }
    }
  }

  private async verifyMeshCredential(credential: unknown, cacheKey?: string): Promise<VerificationResult> {
    return verifyCredential(credential, { ...this.credentialOptions(), ...(cacheKey ? { cacheKey } : {}) });
  }

  private credentialOptions(): VerifyCredentialOptions & { cache: VerificationCache } {
    return {
      resolveDid: async (did) => (await this.resolver.resolveDocument(did)) as Record<string, unknown> | null,
      trustedIssuers: this.options.trustedIssuers,
      ...(this.options.statusListLoader ? { statusListLoader: this.options.statusListLoader } : {}),
      cache: this.vcCache,
      now: new Date(this.now()),
    };
  }

  // ------------------------------------------------------------------------------------------
  // Routing
  // ------------------------------------------------------------------------------------------

  /** `text`: the frame as received, so the forwarded frame can be made by editing it. */
  private routeEnvelope(conn: Connection, env: Envelope, text?: string, scan?: FrameScan): void {
    const id = env.messageId;
    try {
      if (env.sourceMeshId !== conn.meshId) {
        throw new ProtocolError('unauthorized', 'sourceMeshId is not the DID this link authenticated');
      }
      const fed = this.fedTable.get(env.federationId);
      const parties =
        fed &&
        ((fed.sourceMeshId === env.sourceMeshId && fed.targetMeshId === env.targetMeshId) ||
          (fed.targetMeshId === env.sourceMeshId && fed.sourceMeshId === env.targetMeshId));
      if (!fed || !parties) {
        throw new ProtocolError('unknown_federation', 'no federation with this id between source and target');
      }
      const now = this.now();
      if (fed.status === 'active' && fed.expiresAt <= now) this.expireFederation(fed);
      if (fed.status !== 'active') {
        const current = this.fedTable.get(fed.federationId) ?? fed;
        throw new ProtocolError(
          current.status === 'expired' ? 'expired' : 'policy_denied',
          `federation is ${current.status}${current.statusReason ? `: ${current.statusReason}` : ''}`,
        );
      }
      if (env.timestamp > now + this.clockSkewMs || env.timestamp < now - this.limits.maxMessageAgeMs) {
        throw new ProtocolError('clock_skew', 'envelope timestamp is outside the accepted window');
      }
      const decision = this.rateLimiter.take(env.federationId, now);
      if (!decision.ok) throw rateLimitedError(decision.retryAfterMs);
      const restrict = env.complianceContext?.geographicRestrictions;
      if (restrict && restrict.length > 0) this.checkGeography(env.targetMeshId, restrict);
      const forwarded = hopForward(env, this.did);
      this.deliver(forwarded, conn, fed, this.forwardedText(env, forwarded, text, scan));
      this.trustFeed?.messageRouted(env.sourceMeshId);
      // What the caller may later report on (TrustReport counts are bounded by it).
      if (env.type === TASK_REQUEST_TYPE) this.fedTable.creditTask(fed, env.sourceMeshId);
    } catch (err) {
      this.metrics.messages.inc({ priority: env.priority, outcome: 'rejected' });
      if (conn.meshId) this.trustFeed?.messageRejected(conn.meshId, asProtocolError(err).wireCode);
      this.sendError(conn, err, id, { federationId: env.federationId });
    }
  }

  /** The received text with only hopCount and route edited, when it can be edited; else undefined. */
  private forwardedText(
    env: Envelope,
    forwarded: Envelope,
    text?: string,
    scan?: FrameScan,
  ): string | undefined {
    if (scan === undefined || !('envelope' in scan))
      return text && hopForwardedText(text, forwarded, scan && 'hop' in scan ? scan : undefined);
    // The split's envelope (not one parseFrame made of the same text, which has no spans).
    return scan.envelope === env
      ? forwardedEnvelopeText(scan, forwarded)
      : text && hopForwardedText(text, forwarded);
  }

  /**
   * Hands a hop-forwarded envelope on: to the target's session here, else over the best peer
   * route (toward the target, or its home hub when the target has no route of its own), else to
   * the offline queue when the target's home is this hub, else `unreachable` to the source.
   */
  private deliver(env: Envelope, from: Connection | undefined, fed?: FederationRow, text?: string): void {
    // The received text with only hopCount and route edited, else the envelope serialized.
    const frame = text ?? JSON.stringify(env);
    const target = this.sessions.get(env.targetMeshId);
    if (!target && this.links && fed) {
      const home = homeHubOf(fed, env.targetMeshId);
      if (home !== this.did) {
        this.forwardEnvelope(env, home, frame);
        return;
      }
    }
    if (target) {
      const ok = this.push(target.conn, {
        frame,
        priority: env.priority,
        enqueuedAt: this.now(),
        messageId: env.messageId,
        sourceMeshId: env.sourceMeshId,
        federationId: env.federationId,
      });
      if (ok) {
        this.metrics.messages.inc({ priority: env.priority, outcome: 'delivered' });
        return;
      }
      // The target's link is saturated: hold the message like for an offline target.
    } else if (this.options.router?.reaches(env.targetMeshId) && this.options.router.forward(env)) {
      this.metrics.messages.inc({ priority: env.priority, outcome: 'forwarded' });
      return;
    }
    this.queueOffline(env.targetMeshId, env, frame, from);
  }

  private queueOffline(meshId: string, env: Envelope, frame: string, from?: Connection): void {
    const now = this.now();
    // A queued message may wait minutes: its text and envelope get storage of their own, not views
    // of the batch it arrived in (tens of KB; see ownCopy). The text is the envelope's JSON.
    const text = ownCopy(frame);
    const result = this.offline.push(meshId, {
      envelope: JSON.parse(text) as Envelope,
      frame: text,
      enqueuedAt: now,
      deadline: now + this.limits.queueTtlMs,
    });
    this.metrics.offlineQueued.set(this.offline.size);
    if (result.ok) {
      this.metrics.messages.inc({ priority: env.priority, outcome: 'queued' });
      return;
    }
    this.metrics.messages.inc({ priority: env.priority, outcome: 'rejected' });
    const err = new ProtocolError('unreachable', `${meshId} is offline and its queue is full`, {
      retryAfterMs: this.limits.queueTtlMs,
    });
    if (from) this.sendError(from, err, env.messageId, { federationId: env.federationId });
    else
      this.errorToMesh(
        env.sourceMeshId,
        err,
        env.messageId,
        { federationId: env.federationId },
        env.route[0],
      );
  }

  private deliverQueued(session: LiveSession, queued: QueuedMessage): void {
    const env = queued.envelope;
    if (queued.deadline <= this.now()) {
      this.reportUnreachable(queued);
      return;
    }
    const ok = this.push(session.conn, {
      frame: queued.frame,
      priority: env.priority,
      enqueuedAt: queued.enqueuedAt,
      messageId: env.messageId,
      sourceMeshId: env.sourceMeshId,
      federationId: env.federationId,
    });
    this.metrics.messages.inc({ priority: env.priority, outcome: ok ? 'delivered' : 'rejected' });
    if (!ok) this.reportUnreachable(queued);
  }

  private reportUnreachable(queued: QueuedMessage): void {
    const env = queued.envelope;
    this.metrics.messages.inc({ priority: env.priority, outcome: 'expired' });
    this.trustFeed?.unreachable(env.sourceMeshId, env.targetMeshId);
    // A source that is offline too learns nothing here; it resends what it never saw Delivered for.
    this.errorToMesh(
      env.sourceMeshId,
      new ProtocolError(
        'unreachable',
        `${env.targetMeshId} did not reconnect within ${this.limits.queueTtlMs} ms`,
      ),
      env.messageId,
      { federationId: env.federationId },
      env.route[0],
    );
  }

  private relayAck(conn: Connection, ack: Ack): void {
    const fed = this.fedTable.get(ack.federationId);
    const me = conn.meshId!;
    if (!fed || (fed.sourceMeshId !== me && fed.targetMeshId !== me)) {
      this.sendError(
        conn,
        new ProtocolError('unknown_federation', 'no federation with this id for this mesh'),
        ack.messageId,
      );
      return;
    }
    const other = fed.sourceMeshId === me ? fed.targetMeshId : fed.sourceMeshId;
    // The receiver's verdict on the sender's message: who served whom well.
    this.trustFeed?.receipt(other, me, ack.error?.code);
    const session = this.sessions.get(other);
    if (!session) {
      // Behind a peer: the receipt travels back in a Relay. Else the source resends on its own
      // timeout and gets the receipt then.
      if (this.links) this.relayReceipt(ack, me, other, homeHubOf(fed, other));
      return;
    }
    if (ack.error) {
      const frame = {
        type: 'error',
        code: ack.error.code,
        message: ack.error.message,
        inReplyTo: ack.messageId,
        details: { federationId: ack.federationId, by: me },
      };
      this.metrics.frameErrors.inc({ code: ack.error.code });
      this.sendControl(session.conn, frame);
    } else {
      // One per message: written by hand. Both ids passed the UUID check and `me` is a DID the
      // link authenticated (DID syntax has no character JSON would escape).
      this.sendControlText(
        session.conn,
        `{"type":"Delivered","messageId":"${ack.messageId}","federationId":"${ack.federationId}","by":"${me}"}`,
        'critical',
      );
    }
  }

  // ------------------------------------------------------------------------------------------
  // Handshakes
  // ------------------------------------------------------------------------------------------

  /** The request of a checked response to the handshake's target; unreachable when it is gone. */
  private askTarget(hs: PendingHandshake, request: FederationRequest): void {
    if (!this.sendToMesh(hs.target, request)) {
      throw new ProtocolError('unreachable', `${hs.target} disconnected`, { retryAfterMs: 2_000 });
    }
    hs.asked = true;
  }

  private async handshake(conn: Connection, msg: HandshakeMessage): Promise<void> {
    const me = conn.meshId!;
    const origin = { origin: conn.id };
    const id = msg.type === 'InitiateFederation' ? msg.handshakeId : msg.handshakeId;
    const hs = id === undefined ? undefined : this.handshakes.get(id);
    try {
      switch (msg.type) {
        case 'InitiateFederation': {
          if (msg.sourceMeshId !== me) {
            throw new ProtocolError('unauthorized', 'sourceMeshId is not the DID this link authenticated');
          }
          if (msg.renews === undefined) {
            this.checkRoomForFederation();
            this.checkLevelAllows(me, msg.targetMeshId);
          }
          if (
            !this.sessions.has(msg.targetMeshId) &&
            this.table?.nextHop(msg.targetMeshId)?.kind !== 'peer'
          ) {
            throw new ProtocolError(
              'unreachable',
              `${msg.targetMeshId} is not connected to any reachable hub`,
              {
                retryAfterMs: 2_000,
              },
            );
          }
          if (msg.renews !== undefined) await this.checkRenewable(msg.renews, me, msg.targetMeshId);
          // With an early response (the link's nonce as the challenge) the initiation goes straight
          // to the target, one round trip fewer (docs/handshake.md, "Early response").
          const answer =
            msg.earlyResponse === undefined
              ? this.coordinator.onInitiate(msg, origin)
              : await this.coordinator.onEarlyInitiate(msg, { ...origin, linkNonce: conn.nonce });
          const started: PendingHandshake = {
            handshakeId: answer.handshakeId,
            source: me,
            target: msg.targetMeshId,
            startedAt: this.now(),
            minTrustScore: msg.minTrustScore,
            asked: false,
            renews: msg.renews,
          };
          this.handshakes.set(answer.handshakeId, started);
          if (answer.type === 'Challenge') this.sendControl(conn, answer);
          else this.askTarget(started, answer);
          return;
        }
        case 'ChallengeResponse': {
          if (!hs || hs.source !== me)
            throw new ProtocolError('unknown_handshake', 'no pending handshake of this mesh has this id');
          this.askTarget(hs, await this.coordinator.onResponse(msg, origin));
          return;
        }
        case 'FederationAccept': {
          const remote = this.remoteHandshakes.get(msg.handshakeId);
          if (!hs && remote?.target === me) {
            // Coordinated by the source's hub: the acceptance goes back there.
            if (!this.sendToMesh(remote.source, msg, remote.coordinator)) {
              throw new ProtocolError('unreachable', `no route to the hub of ${remote.source}`);
            }
            return;
          }
          if (!hs || hs.target !== me)
            throw new ProtocolError('unknown_handshake', 'no pending handshake for this mesh has this id');
          await this.acceptFromTarget(hs, msg);
          return;
        }
        case 'FederationConfirm': {
          if (!hs || hs.source !== me)
            throw new ProtocolError('unknown_handshake', 'no pending handshake of this mesh has this id');
          // Full since the initiation: refused before the coordinator records the federation.
          if (hs.renews === undefined) this.checkRoomForFederation();
          const { confirm, federation } = this.coordinator.onConfirm(msg, origin);
          this.handshakes.delete(hs.handshakeId);
          if (hs.renews !== undefined) {
            await this.completeRenewal(hs, federation, confirm);
            return;
          }
          const now = this.now();
          const hop = this.sessions.has(hs.target) ? undefined : this.table?.nextHop(hs.target);
          const row: FederationRow = {
            federationId: federation.federationId,
            handshakeId: federation.handshakeId,
            sourceMeshId: federation.sourceMeshId,
            targetMeshId: federation.targetMeshId,
            status: 'active',
            capabilities: [...federation.capabilities],
            purpose: federation.purpose,
            minTrustScore: hs.minTrustScore,
            routingEndpoint: federation.routingEndpoint,
            // The hubs between the two ends, this (the coordinating) hub first: as told to the
            // initiator in FederationEstablished when the target accepted.
            path: hs.path ?? (hop?.kind === 'peer' ? [this.did, ...hop.path] : [this.did]),
            createdAt: now,
            expiresAt: federation.expiresAt,
            updatedAt: now,
            statusReason: undefined,
          };
          // In memory first, so a message sent right after the confirmation routes.
          this.fedTable.set(row);
          this.updateFederationGauge();
          // The target's hub learns the federation before the confirmation (same route, same class).
          if (row.path.length > 1) this.announceFederation(row);
          this.sendToMesh(hs.target, { ...confirm, path: [...row.path] });
          this.metrics.handshakes.inc({ outcome: 'established' });
          this.trustFeed?.handshakeOk(row.sourceMeshId, row.targetMeshId);
          this.metrics.handshakeSeconds.observe(Math.max(0, now - hs.startedAt) / 1000);
          this.log.info(
            { federationId: row.federationId, source: row.sourceMeshId, target: row.targetMeshId },
            'federation established',
          );
          this.saveFederation(row);
          return;
        }
        case 'HandshakeReject': {
          const remote = this.remoteHandshakes.get(msg.handshakeId);
          if (!hs && remote?.target === me) {
            this.remoteHandshakes.delete(msg.handshakeId);
            this.sendToMesh(remote.source, msg, remote.coordinator);
            return;
          }
          if (!hs || (hs.source !== me && hs.target !== me)) {
            throw new ProtocolError('unknown_handshake', 'no pending handshake of this mesh has this id');
          }
          const outs = this.coordinator.onReject(msg, hs.source === me ? 'initiator' : 'responder', origin);
          this.handshakes.delete(hs.handshakeId);
          this.sendOutbound(outs);
          return;
        }
        default:
          throw new ProtocolError('out_of_order', `the hub does not take ${msg.type}`);
      }
    } catch (error) {
      const err = asProtocolError(error);
      if (HANDSHAKE_VIOLATIONS.has(err.wireCode)) {
        // The hub itself found this in what the mesh sent: spec 5 says it leaves a permanent mark.
        this.trustFeed?.engine.record({
          kind: 'violation',
          subject: me,
          at: this.now(),
          violation: 'handshake_failure',
          detail: `${msg.type}: ${err.wireCode}`,
        });
      }
      if (msg.type === 'InitiateFederation') {
        if (id !== undefined) this.sendControl(conn, rejectFromError(id, err));
        else this.sendError(conn, err);
        return;
      }
      if (UNBOUND_CODES.has(err.wireCode) || !hs) {
        this.sendError(conn, err, id);
        return;
      }
      this.failHandshake(hs, err);
    }
  }

  /** Ends a handshake on the hub's side and tells both ends (the target only if it was asked). */
  private failHandshake(hs: PendingHandshake, err: ProtocolError): void {
    this.handshakes.delete(hs.handshakeId);
    const outs = this.coordinator.abort(hs.handshakeId, err);
    if (outs.length > 0) {
      this.sendOutbound(outs);
      return;
    }
    // The coordinator already ended it (a check failed after the message was bound).
    const reject = rejectFromError(hs.handshakeId, err);
    this.sendToMesh(hs.source, reject);
    if (hs.asked) this.sendToMesh(hs.target, reject);
  }

  private sendOutbound(outs: readonly HubOutbound[]): void {
    for (const out of outs) this.sendToMesh(out.meshId, out.message);
  }

  // ------------------------------------------------------------------------------------------
  // Federation network: peer links, path-vector routes, relays, identity sync
  // ------------------------------------------------------------------------------------------

  private async startNetwork(): Promise<void> {
    const peers = (this.options.peers ?? []).map((p) => ({ did: p.did, url: peerUrl(p.url) }));
    if (peers.length === 0 && (this.options.allowedPeers ?? []).length === 0) return;
    // Peers dialed over gRPC: the library is loaded here, once (see grpcPort for inbound ones).
    if (peers.some((p) => isGrpcUrl(p.url))) await loadGrpc();
    this.selfVm = this.options.verificationMethod ?? (await this.findOwnVerificationMethod());
    const table = new RouteTable({
      selfHubDid: this.did,
      selfRegion: this.region,
      now: this.now,
      maxMeshes: this.limits.maxFederations,
    });
    // Hubs are destinations too: a message for a mesh that is offline at its home hub goes there.
    table.attach(this.did);
    for (const meshId of this.sessions.keys()) table.attach(meshId);
    this.table = table;
    const peering = this.options.peering ?? {};
    const links = new PeerLinks({
      self: { did: this.did, keyPair: this.options.keyPair, verificationMethod: this.selfVm },
      resolveKey: (vm) => this.resolveAuthKey(vm),
      peers,
      ...(this.options.allowedPeers ? { allowedPeers: this.options.allowedPeers } : {}),
      selfLog: () => this.registry.history(this.did) as unknown as Record<string, unknown>[],
      importPeerLog: async (_peer, ops) => {
        await this.registry.importLog(ops);
      },
      onUp: (peer) => {
        this.metrics.peerLinks.set(links.connectedPeers().length);
        this.announce(peer);
        this.sendIdentities(peer);
      },
      onDown: (peer) => {
        this.metrics.peerLinks.set(links.connectedPeers().length);
        this.peerChains.delete(peer);
        table.withdrawPeer(peer);
      },
      onLatency: (peer, ms) => table.updateLinkLatency(peer, ms),
      onFrame: (peer, frame, inner) => this.onPeerFrame(peer, frame, inner),
      onRefused: (r) => {
        this.metrics.frameErrors.inc({ code: r.error.wireCode });
        this.log.warn(
          { peer: r.peerDid, direction: r.direction, code: r.error.wireCode },
          'hub link refused',
        );
      },
      reconnect: { baseMs: peering.reconnectBaseMs ?? 500, maxMs: peering.reconnectMaxMs ?? 30_000 },
      pingIntervalMs: peering.pingIntervalMs ?? 5_000,
      ...(peering.authTimeoutMs === undefined ? {} : { authTimeoutMs: peering.authTimeoutMs }),
      now: this.now,
      logger: this.log,
      maxFrameBytes: this.limits.maxFrameBytes,
      qos: {
        queue: {
          maxItems: this.limits.maxOutboundPerLink,
          maxBytes: 64 * 1024 * 1024,
          ttlMs: this.limits.queueTtlMs,
        },
        onSent: (_peer, _frame, priority, waitedMs) =>
          this.metrics.queueSeconds.observe({ priority, link: 'peer' }, waitedMs / 1000),
        // Settled after onDown has withdrawn the peer's routes, so a re-route picks another path.
        onDropped: (peer, frame, reason) => queueMicrotask(() => this.peerFrameDropped(peer, frame, reason)),
      },
    });
    table.onChange((changed) => {
      for (const peer of links.connectedPeers()) this.announce(peer, changed);
    });
    // New did:mesh operations (from nodes, POST /v1/identities or a peer) go to every peer.
    this.unsubscribeAppend = this.registry.onAppend((did) => {
      const op = this.registry.history(did).at(-1);
      if (!op) return;
      if (this.identityBatch.length === 0) queueMicrotask(() => this.flushIdentities());
      this.identityBatch.push(op as unknown as IdentityOps['ops'][number]);
    });
    this.links = links;
    links.start();
  }

  /** The verification method of this hub's key in its own DID document. */
  private async findOwnVerificationMethod(): Promise<string> {
    const own = encodeMultikey('ed25519-pub', this.options.keyPair.publicKey);
    const doc = (await this.resolver.resolveDocument(this.did).catch(() => null)) as {
      verificationMethod?: { id: string; publicKeyMultibase?: string }[];
      authentication?: (string | { id: string; publicKeyMultibase?: string })[];
    } | null;
    const methods = new Map((doc?.verificationMethod ?? []).map((m) => [m.id, m]));
    for (const entry of doc?.authentication ?? []) {
      const m = typeof entry === 'string' ? methods.get(entry) : entry;
      if (m?.publicKeyMultibase === own) return m.id.startsWith('#') ? `${this.did}${m.id}` : m.id;
    }
    throw new HubConfigError(
      `cannot find this hub's key among the authentication keys of ${this.did}; register its DID or pass verificationMethod`,
    );
  }

  /** Sends `peer` the routes it should know (all, or the changed ones), with discovery data. */
  private announce(peer: string, changed?: readonly string[]): void {
    if (!this.links || !this.table) return;
    const ann = this.table.exportFor(peer, changed);
    if (ann.meshes.length === 0 && ann.withdrawn.length === 0) return;
    const meshes = ann.meshes.map((r) => {
      const info = this.meshInfo(r.meshId);
      return info ? { ...r, info } : r;
    });
    this.links.sendAnnouncement(peer, { meshes, withdrawn: ann.withdrawn });
  }

  private meshInfo(meshId: string): MeshInfo | undefined {
    const s = this.sessions.get(meshId);
    if (s) {
      return {
        region: s.region,
        capabilities: [...s.capabilities],
        trustScore: this.trust.score(meshId),
        ...(s.certifications.length > 0 ? { certifications: [...s.certifications] } : {}),
      };
    }
    return this.remoteInfo.get(meshId);
  }

  /** Why a restricted message took the path it took (spec 7.3), with the paths it could not take. */
  private explainRoute(env: Envelope, restrict: readonly string[]): void {
    const rows = this.table?.rows().find((r) => r.meshId === env.targetMeshId);
    const taken = this.table?.nextHopWhere(env.targetMeshId, (regions) =>
      regions.every((r) => r !== undefined && regionAllowed(r, restrict)),
    );
    const best = this.table?.nextHop(env.targetMeshId);
    const detour = best?.kind === 'peer' && taken?.kind === 'peer' && best.peerDid !== taken.peerDid;
    this.explain({
      actionId: env.messageId,
      at: this.now(),
      decision: 'allow',
      explanation: {
        reasoning: detour
          ? `Routed through ${[this.did, ...(taken.kind === 'peer' ? taken.path : [])].join(' > ')} instead of the best path through ${best.kind === 'peer' ? best.path.join(' > ') : ''}: geographicRestrictions ${restrict.join(', ')}`
          : `The best path already lies in ${restrict.join(', ')}`,
        dataUsed: ['complianceContext.geographicRestrictions', 'route-table', 'hub-regions'],
        alternatives: rows ? [`${rows.alternatives} other candidate path(s)`] : [],
        humanReviewable: true,
      },
    });
  }

  private explain(record: RoutingExplanation): void {
    this.explanations.set(record.actionId, record);
    if (this.explanations.size > 10_000)
      this.explanations.delete(this.explanations.keys().next().value as string);
  }

  explanation(actionId: string): RoutingExplanation | undefined {
    return this.explanations.get(actionId);
  }

  /**
   * geographicRestrictions at this hub (spec 7.2): this hub must lie in an allowed region, and so
   * must the target when its region is known. Paths are chosen in forwardEnvelope.
   */
  private checkGeography(targetMeshId: string, restrict: readonly string[]): void {
    if (!regionAllowed(this.region, restrict)) {
      this.logDenial(targetMeshId, `hub ${this.did} is in ${this.region}, outside ${restrict.join(', ')}`);
      throw new ProtocolError(
        'compliance_denied',
        `hub ${this.did} is in ${this.region}, outside the message's geographicRestrictions (${restrict.join(', ')})`,
      );
    }
    const region = this.sessions.get(targetMeshId)?.region ?? this.remoteInfo.get(targetMeshId)?.region;
    if (region !== undefined && !regionAllowed(region, restrict)) {
      throw new ProtocolError(
        'compliance_denied',
        `${targetMeshId} is in ${region}, outside the message's geographicRestrictions (${restrict.join(', ')})`,
      );
    }
  }

  private logDenial(target: string, why: string): void {
    // The sender learns why from the error frame; operators see it in the log.
    this.log.info({ target, why }, 'compliance_denied at the hub');
  }

  /** Trust of a mesh: the local provider for meshes here, the home hub's announced score otherwise. */
  private scoreOf(meshId: string): number {
    return this.visibleTrust(meshId) ?? 0;
  }

  /** A mesh's score as this hub knows it: its own view of local meshes, else the home hub's announcement. */
  private visibleTrust(meshId: string): number | undefined {
    if (this.options.trustProvider || this.sessions.has(meshId)) return this.trust.score(meshId);
    if (this.trustFeed?.engine.known(meshId)) {
      const remote = this.remoteInfo.get(meshId);
      // A mesh attached elsewhere is judged by its home hub, which sees its sessions.
      return remote ? remote.trustScore : this.trust.score(meshId);
    }
    return this.remoteInfo.get(meshId)?.trustScore;
  }

  /** On link up: what this hub holds of the did:mesh registry (bounded), its own ops first. */
  private sendIdentities(peer: string): void {
    const all = this.registry.exportLog() as unknown as IdentityOps['ops'];
    const ops = all.slice(-MAX_SYNC_OPS);
    for (let i = 0; i < ops.length; i += MAX_IDENTITY_OPS) {
      this.links?.send(peer, { type: 'IdentityOps', ops: ops.slice(i, i + MAX_IDENTITY_OPS) }, 'high');
    }
  }

  private flushIdentities(): void {
    const batch = this.identityBatch;
    this.identityBatch = [];
    if (!this.links || batch.length === 0) return;
    for (const peer of this.links.connectedPeers()) {
      for (let i = 0; i < batch.length; i += MAX_IDENTITY_OPS) {
        this.links.send(peer, { type: 'IdentityOps', ops: batch.slice(i, i + MAX_IDENTITY_OPS) }, 'high');
      }
    }
  }

  /** Queues a peer frame behind the ones before it (bounded); they run one at a time. */
  private onPeerFrame(peer: string, frame: PeerDataFrame, inner?: RelayedFrame): void {
    let chain = this.peerChains.get(peer);
    if (!chain) {
      chain = { tail: Promise.resolve(), pending: 0 };
      this.peerChains.set(peer, chain);
    }
    if (chain.pending >= this.limits.maxInboundBacklog) {
      this.metrics.relayed.inc({ kind: inner?.kind ?? frame.type, outcome: 'dropped' });
      if (inner?.kind === 'envelope') {
        this.relayEnvelopeError(
          inner.frame,
          new ProtocolError('rate_limited', 'hub link backlog full', { retryAfterMs: 100 }),
        );
      }
      return;
    }
    chain.pending++;
    const c = chain;
    c.tail = c.tail
      .then(() => this.handlePeerFrame(peer, frame, inner))
      .catch((err) => this.log.warn({ peer, err: describeError(err) }, 'peer frame failed'))
      .finally(() => {
        c.pending--;
      });
  }

  private async handlePeerFrame(peer: string, frame: PeerDataFrame, inner?: RelayedFrame): Promise<void> {
    if (!this.links || !this.table) return;
    switch (frame.type) {
      case 'RouteAnnouncement': {
        // Info first: applying the routes announces them on at once, with this info.
        for (const r of frame.meshes) {
          if (!r.info) continue;
          if (!this.remoteInfo.has(r.meshId) && this.remoteInfo.size >= this.limits.maxFederations) {
            this.remoteInfo.delete(this.remoteInfo.keys().next().value as string);
          }
          this.remoteInfo.set(r.meshId, r.info);
        }
        // Discovery shows only meshes with a selected peer route, so refused entries stay hidden.
        this.table.applyAnnouncement(peer, frame, this.links.latency(peer) ?? 0);
        return;
      }
      case 'IdentityOps':
        // One by one: a bad or conflicting op (verified by importLog) does not stop the others.
        for (const op of frame.ops) await this.registry.importLog([op]).catch(() => undefined);
        return;
      case 'TrustAttestations':
        // Self-certifying: each is checked here (signature, time, budget) before it counts.
        if (!this.trustFeed) return;
        for (const a of frame.attestations) {
          await this.ingestAttestation(a).catch((err: unknown) =>
            this.log.debug({ peer, id: a.id, err: String(err) }, 'attestation from peer refused'),
          );
        }
        return;
      case 'error':
        this.log.info({ peer, code: frame.code, message: frame.message }, 'error frame from peer hub');
        return;
      case 'Relay':
        if (inner) await this.onRelay(peer, frame, inner);
        return;
    }
  }

  private async onRelay(peer: string, relay: Relay, inner: RelayedFrame): Promise<void> {
    this.metrics.relayed.inc({ kind: inner.kind, outcome: 'received' });
    if (inner.kind === 'envelope') {
      this.onRelayedEnvelope(relay, inner.frame, inner.text);
      return;
    }
    if (relay.route?.includes(this.did)) {
      this.metrics.relayed.inc({ kind: inner.kind, outcome: 'dropped' });
      this.log.warn({ peer, kind: inner.kind }, 'relay loop: dropped');
      return;
    }
    const forMe =
      this.sessions.has(relay.toMeshId) || relay.toHub === this.did || relay.toMeshId === this.did;
    if (!forMe) {
      // Not for a mesh here: pass it on (route grows by this hub; it is bounded by the schema).
      if (
        (relay.route?.length ?? 0) >= MAX_RELAY_ROUTE ||
        !this.relayTo(relay.toMeshId, relay.frame, {
          toHub: relay.toHub,
          fromHub: relay.fromHub,
          route: relay.route ?? [relay.fromHub],
          priority: 'critical',
        })
      ) {
        this.metrics.relayed.inc({ kind: inner.kind, outcome: 'dropped' });
        this.log.info({ peer, kind: inner.kind, to: relay.toMeshId }, 'relay: no route onward, dropped');
      }
      return;
    }
    const session = this.sessions.get(relay.toMeshId);
    switch (inner.kind) {
      case 'FederationRequest': {
        const msg = inner.frame;
        if (!session || msg.targetMeshId !== relay.toMeshId) {
          const reject = rejectFromError(
            msg.handshakeId,
            new ProtocolError('unreachable', `${relay.toMeshId} is not here`),
          );
          this.sendToMesh(msg.sourceMeshId, reject, relay.fromHub);
          return;
        }
        this.sweepRemoteHandshakes();
        if (this.remoteHandshakes.size >= MAX_REMOTE_HANDSHAKES) {
          const reject = rejectFromError(
            msg.handshakeId,
            new ProtocolError('too_many_handshakes', 'too many handshakes', { retryAfterMs: 5_000 }),
          );
          this.sendToMesh(msg.sourceMeshId, reject, relay.fromHub);
          return;
        }
        this.remoteHandshakes.set(msg.handshakeId, {
          handshakeId: msg.handshakeId,
          source: msg.sourceMeshId,
          target: msg.targetMeshId,
          coordinator: relay.fromHub,
          startedAt: this.now(),
        });
        this.sendControl(session.conn, msg);
        return;
      }
      case 'FederationConfirm': {
        const rh = this.remoteHandshakes.get(inner.frame.handshakeId);
        if (!rh || !session || rh.target !== relay.toMeshId) return;
        this.remoteHandshakes.delete(rh.handshakeId);
        this.sendControl(session.conn, inner.frame);
        return;
      }
      case 'FederationAccept':
      case 'HandshakeReject':
        await this.handshakeFromPeer(relay, inner.frame);
        return;
      case 'FederationAnnounce':
        await this.onFederationAnnounce(relay, inner.frame);
        return;
      case 'FederationStatusUpdate':
        await this.onFederationStatusUpdate(relay, inner.frame);
        return;
      case 'Terminate': {
        const signer = inner.frame.verificationMethod.slice(0, inner.frame.verificationMethod.indexOf('#'));
        await this.applyTerminate(signer, inner.frame).catch((err) =>
          this.log.info({ code: asProtocolError(err).wireCode }, 'relayed Terminate refused'),
        );
        return;
      }
      case 'Delivered':
      case 'FederationStatus':
      case 'error':
        // Receipts, statuses and errors for a mesh here; one that left learns nothing (it resends).
        if (session) this.sendControl(session.conn, inner.frame);
        return;
      default:
        this.metrics.relayed.inc({ kind: inner.kind, outcome: 'dropped' });
        this.log.info({ kind: inner.kind }, 'relay: frame type not taken');
    }
  }

  /**
   * An envelope from a peer: hop-forwarded here (routing_loop, hop_limit_exceeded), then delivered
   * if the target is attached here (after checking this hub knows the federation), else passed on.
   * `text`: the envelope as it came, forwarded hop-edited rather than serialized again.
   */
  private onRelayedEnvelope(relay: Relay, env: Envelope, text?: string): void {
    try {
      // Every hub in transit enforces geographicRestrictions too (a peer may route badly).
      const restrict = env.complianceContext?.geographicRestrictions;
      if (restrict && restrict.length > 0) this.checkGeography(env.targetMeshId, restrict);
      const forwarded = hopForward(env, this.did);
      const edited = text === undefined ? undefined : hopForwardedText(text, forwarded);
      const local = this.sessions.has(env.targetMeshId) || relay.toHub === this.did;
      if (!local) {
        this.forwardEnvelope(forwarded, relay.toHub, edited);
        return;
      }
      const fed = this.fedTable.get(env.federationId);
      const parties =
        fed &&
        ((fed.sourceMeshId === env.sourceMeshId && fed.targetMeshId === env.targetMeshId) ||
          (fed.targetMeshId === env.sourceMeshId && fed.sourceMeshId === env.targetMeshId));
      if (!fed || !parties) {
        throw new ProtocolError(
          'unknown_federation',
          'the target hub knows no federation with this id between these meshes',
        );
      }
      if (fed.status !== 'active') {
        throw new ProtocolError(
          fed.status === 'expired' ? 'expired' : 'policy_denied',
          `federation is ${fed.status}`,
        );
      }
      this.deliver(forwarded, undefined, undefined, edited);
    } catch (err) {
      this.metrics.messages.inc({ priority: env.priority, outcome: 'rejected' });
      this.relayEnvelopeError(env, err);
    }
  }

  /** An envelope this hub cannot take further: the error goes back to the source's hub. */
  private relayEnvelopeError(env: Envelope, err: unknown): void {
    this.errorToMesh(env.sourceMeshId, err, env.messageId, { federationId: env.federationId }, env.route[0]);
  }

  /**
   * Sends a hop-forwarded envelope over the best route not leading back to a hub it passed;
   * `routing_loop` when the only route does, `unreachable` to the source when there is none.
   * `text`: `env` serialized already (hop-edited from the text it came in), carried as it is.
   */
  private forwardEnvelope(env: Envelope, toHub: string | undefined, text?: string): void {
    // Governance may cap routes below the protocol's MAX_HOPS (the ledger's maxHops parameter).
    if (env.hopCount >= this.maxHopsCap) {
      throw new ProtocolError(
        'hop_limit_exceeded',
        `routes are capped at ${this.maxHopsCap} hops by governance`,
      );
    }
    const restrict = env.complianceContext?.geographicRestrictions;
    const ok = this.relayTo(env.targetMeshId, env as unknown as Relay['frame'], {
      toHub,
      priority: env.priority,
      avoid: env.route,
      envelope: true,
      ...(restrict && restrict.length > 0 ? { regions: restrict } : {}),
      ...(text === undefined ? {} : { frameText: text }),
    });
    if (ok) {
      this.metrics.messages.inc({ priority: env.priority, outcome: 'forwarded' });
      if (restrict && restrict.length > 0) this.explainRoute(env, restrict);
      return;
    }
    this.metrics.messages.inc({ priority: env.priority, outcome: 'rejected' });
    if (restrict && restrict.length > 0 && this.table?.nextHop(env.targetMeshId)) {
      this.explain({
        actionId: env.messageId,
        at: this.now(),
        decision: 'deny',
        explanation: {
          reasoning: `No path to ${env.targetMeshId} lies wholly in ${restrict.join(', ')}: the message was refused rather than routed outside`,
          dataUsed: ['complianceContext.geographicRestrictions', 'route-table', 'hub-regions'],
          alternatives: ['wait for a compliant path', 'send without the restriction (if lawful)'],
          humanReviewable: true,
        },
      });
      // A route exists, but none through hubs where the data may go: never a detour outside.
      this.relayEnvelopeError(
        env,
        new ProtocolError(
          'compliance_denied',
          `no route to ${env.targetMeshId} through hubs in ${restrict.join(', ')} only (geographicRestrictions)`,
        ),
      );
      return;
    }
    const best = this.table?.nextHop(env.targetMeshId) ?? (toHub ? this.table?.nextHop(toHub) : undefined);
    const loops = best?.kind === 'peer' && env.route.includes(best.peerDid);
    this.relayEnvelopeError(
      env,
      loops
        ? new ProtocolError('routing_loop', `the route to ${env.targetMeshId} leads back to ${best.peerDid}`)
        : new ProtocolError('unreachable', `no route to ${env.targetMeshId}`, { retryAfterMs: 2_000 }),
    );
  }

  /**
   * Puts a frame in a Relay toward `meshId` (or `toHub` when the mesh has no route), on the best
   * link not leading back to a hub already passed. False when there is no such link or it is full.
   */
  private relayTo(
    meshId: string,
    frame: Relay['frame'],
    options: {
      toHub?: string | undefined;
      fromHub?: string;
      route?: readonly string[];
      priority?: Priority;
      avoid?: readonly string[];
      envelope?: boolean;
      /** geographicRestrictions: only a path whose every hub lies in these regions. */
      regions?: readonly string[];
      /** `frame` serialized already (see PeerLinks.send). */
      frameText?: string;
    },
  ): boolean {
    if (!this.links || !this.table) return false;
    const links = this.links;
    const passed = new Set([...(options.route ?? []), ...(options.avoid ?? [])]);
    let peer: string | undefined;
    for (const dest of [meshId, options.toHub]) {
      if (dest === undefined || dest === this.did) continue;
      let hop: ReturnType<RouteTable['nextHop']>;
      if (options.regions) {
        const allowed = options.regions;
        const avoid = new Set([...passed, ...this.table.peers().filter((p) => !links.isUp(p))]);
        // Unknown regions (a hub that did not announce one) do not count as inside.
        hop = this.table.nextHopWhere(
          dest,
          (regions) => regions.every((r) => r !== undefined && regionAllowed(r, allowed)),
          avoid,
        );
      } else {
        hop = this.table.nextHop(dest);
      }
      if (hop?.kind === 'peer' && !passed.has(hop.peerDid) && links.isUp(hop.peerDid)) {
        peer = hop.peerDid;
        break;
      }
    }
    if (!peer) return false;
    const relay: Relay = {
      type: 'Relay',
      toMeshId: meshId,
      fromHub: options.fromHub ?? this.did,
      // Envelopes carry their own route and hop count; other frames get the relay's.
      ...(options.envelope ? {} : { route: [...(options.route ?? []), this.did] }),
      ...(options.toHub === undefined ? {} : { toHub: options.toHub }),
      frame,
    };
    const ok = this.links.send(peer, relay, options.priority ?? 'normal', options.frameText);
    this.metrics.relayed.inc({ kind: String(frame['type'] ?? 'envelope'), outcome: ok ? 'sent' : 'dropped' });
    return ok;
  }

  /** A frame queued for a peer that will not be sent on that link: re-route it or answer its source. */
  private peerFrameDropped(peer: string, frame: PeerOutboundFrame, reason: string): void {
    if (frame.type !== 'Relay') return; // announcements and identities are re-sent on the next link up
    const inner = frame.frame;
    const isEnvelope =
      typeof inner['messageId'] === 'string' &&
      typeof inner['federationId'] === 'string' &&
      Array.isArray(inner['route']);
    if (reason === 'link_down' || reason === 'send_failed') {
      const ok = this.relayTo(frame.toMeshId, inner, {
        toHub: frame.toHub,
        fromHub: frame.fromHub,
        route: frame.route?.slice(0, -1) ?? [],
        priority: 'high',
        avoid: isEnvelope ? [...(inner['route'] as string[]), peer] : [peer],
        envelope: isEnvelope,
      });
      this.metrics.relayed.inc({ kind: String(inner['type']), outcome: ok ? 'rerouted' : 'dropped' });
      if (ok) return;
    }
    if (isEnvelope) {
      const env = inner as unknown as Envelope;
      this.metrics.messages.inc({ priority: env.priority, outcome: 'expired' });
      this.relayEnvelopeError(
        env,
        new ProtocolError('unreachable', `the link toward ${env.targetMeshId} was lost (${reason})`, {
          retryAfterMs: 2_000,
        }),
      );
    }
  }

  /** A target's Ack for a source behind a peer: Delivered or the target's error, relayed back. */
  private relayReceipt(ack: Ack, by: string, source: string, toHub: string | undefined): void {
    const frame = ack.error
      ? {
          type: 'error',
          code: ack.error.code,
          message: ack.error.message,
          inReplyTo: ack.messageId,
          details: { federationId: ack.federationId, by },
        }
      : { type: 'Delivered', messageId: ack.messageId, federationId: ack.federationId, by };
    this.relayTo(source, frame as unknown as Relay['frame'], { toHub, priority: 'critical' });
  }

  /** FederationAccept / HandshakeReject from a target behind a peer, for a handshake coordinated here. */
  private async handshakeFromPeer(relay: Relay, msg: HandshakeMessage): Promise<void> {
    const id = (msg as { handshakeId: string }).handshakeId;
    const hs = this.handshakes.get(id);
    if (!hs) {
      // A reject for a target here from a coordinator elsewhere (it gave up): pass it to the target.
      const rh = this.remoteHandshakes.get(id);
      if (msg.type === 'HandshakeReject' && rh && rh.target === relay.toMeshId) {
        this.remoteHandshakes.delete(id);
        this.sendToMesh(rh.target, msg);
      }
      return;
    }
    try {
      if (msg.type === 'HandshakeReject') {
        const outs = this.coordinator.onReject(msg, 'responder');
        this.handshakes.delete(hs.handshakeId);
        this.sendOutbound(outs);
        return;
      }
      if (msg.type !== 'FederationAccept' || msg.verificationMethod.split('#')[0] !== hs.target) {
        throw new ProtocolError('unknown_handshake', 'no pending handshake for this mesh has this id');
      }
      await this.acceptFromTarget(hs, msg);
    } catch (error) {
      const err = asProtocolError(error);
      if (UNBOUND_CODES.has(err.wireCode)) {
        this.log.info({ handshakeId: id, code: err.wireCode }, 'relayed handshake message refused');
        return;
      }
      this.failHandshake(hs, err);
    }
  }

  private async acceptFromTarget(hs: PendingHandshake, msg: HandshakeMessage): Promise<void> {
    const established = await this.coordinator.onAccept(msg);
    hs.path = this.pathFor(hs);
    // The path is informational (unsigned): the initiator shows it, it decides nothing.
    if (!this.sendToMesh(hs.source, { ...established, path: [...hs.path] })) {
      throw new ProtocolError('unreachable', `${hs.source} disconnected`);
    }
  }

  /** Tells the hub of the other end about a federation coordinated here (signed). */
  private announceFederation(row: FederationRow): void {
    if (!this.links) return;
    const federation: AnnouncedFederation = {
      federationId: row.federationId,
      handshakeId: row.handshakeId,
      sourceMeshId: row.sourceMeshId,
      targetMeshId: row.targetMeshId,
      status: row.status,
      ...(row.statusReason === undefined ? {} : { statusReason: row.statusReason }),
      capabilities: [...row.capabilities],
      purpose: row.purpose,
      ...(row.minTrustScore === undefined ? {} : { minTrustScore: row.minTrustScore }),
      routingEndpoint: row.routingEndpoint,
      path: [...row.path],
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      updatedAt: row.updatedAt,
    };
    const unsigned = { coordinator: this.did, federation, verificationMethod: this.selfVm };
    const frame: FederationAnnounce = {
      type: 'FederationAnnounce',
      ...unsigned,
      signature: multibaseEncode(ed25519.sign(federationAnnounceDigest(unsigned), this.options.keyPair)),
    };
    const home = row.path.at(-1);
    this.relayTo(row.targetMeshId, frame as unknown as Relay['frame'], { toHub: home, priority: 'critical' });
  }

  /**
   * A federation announced by the hub that coordinated it: checked (it is the first hub of the
   * path, relayed from it, this hub is the last, its signature) and then held like a local one.
   */
  private async onFederationAnnounce(relay: Relay, msg: FederationAnnounce): Promise<void> {
    const f = msg.federation;
    try {
      if (msg.coordinator !== f.path[0] || relay.fromHub !== msg.coordinator || f.path.at(-1) !== this.did) {
        throw new ProtocolError(
          'unauthorized',
          'FederationAnnounce: coordinator, relay origin and path disagree',
        );
      }
      if (!msg.verificationMethod.startsWith(`${msg.coordinator}#`)) {
        throw new ProtocolError('unauthorized', 'FederationAnnounce: key of another DID');
      }
      await this.checkSignature(
        msg.verificationMethod,
        msg.signature,
        federationAnnounceDigest(msg),
        'FederationAnnounce',
      );
    } catch (err) {
      this.metrics.frameErrors.inc({ code: asProtocolError(err).wireCode });
      this.log.warn(
        { federationId: f.federationId, code: asProtocolError(err).wireCode },
        'FederationAnnounce refused',
      );
      return;
    }
    const current = this.fedTable.get(f.federationId) ?? (await this.store.federations.get(f.federationId));
    if (
      current &&
      (current.path[0] !== msg.coordinator ||
        current.sourceMeshId !== f.sourceMeshId ||
        current.targetMeshId !== f.targetMeshId)
    ) {
      // A valid signature of another hub: it may announce its own federations, not rewrite ours.
      this.metrics.frameErrors.inc({ code: 'unauthorized' });
      this.log.warn(
        { federationId: f.federationId, coordinator: msg.coordinator },
        'FederationAnnounce for a federation coordinated by another hub: refused',
      );
      return;
    }
    if (current && (current.status === 'terminated' || current.status === 'expired')) return;
    const row: FederationRow = {
      federationId: f.federationId,
      handshakeId: f.handshakeId,
      sourceMeshId: f.sourceMeshId,
      targetMeshId: f.targetMeshId,
      status: f.status,
      capabilities: f.capabilities,
      purpose: f.purpose,
      minTrustScore: f.minTrustScore,
      routingEndpoint: f.routingEndpoint,
      path: f.path,
      createdAt: current?.createdAt ?? f.createdAt,
      expiresAt: f.expiresAt,
      updatedAt: this.now(),
      statusReason: f.statusReason,
    };
    if (row.status === 'active' || row.status === 'suspended') {
      if (!this.holdFederation(row)) return;
      if (row.status === 'suspended') this.remoteSuspension.add(row.federationId);
      else this.remoteSuspension.delete(row.federationId);
    } else {
      this.remoteSuspension.delete(row.federationId);
      this.fedTable.delete(row.federationId);
      this.rateLimiter.forget?.(row.federationId);
    }
    this.updateFederationGauge();
    this.saveFederation(row);
  }

  /** The hubs between the two ends of a handshake: the renewed federation's, else the route's. */
  private pathFor(hs: PendingHandshake): readonly string[] {
    const renewed = hs.renews === undefined ? undefined : this.fedTable.get(hs.renews);
    if (renewed) return renewed.path;
    const hop = this.sessions.has(hs.target) ? undefined : this.table?.nextHop(hs.target);
    return hop?.kind === 'peer' ? [this.did, ...hop.path] : [this.did];
  }

  /**
   * A renewal may start only for an active, unexpired federation between exactly these two meshes
   * (either may renew), and one renewal at a time per federation on this hub.
   */
  private async checkRenewable(federationId: string, me: string, target: string): Promise<void> {
    const fed = this.fedTable.get(federationId) ?? (await this.store.federations.get(federationId));
    const parties =
      fed &&
      ((fed.sourceMeshId === me && fed.targetMeshId === target) ||
        (fed.targetMeshId === me && fed.sourceMeshId === target));
    if (!fed || !parties) {
      throw new ProtocolError('unknown_federation', 'no federation with this id between these two meshes');
    }
    if (fed.status === 'expired' || (fed.status === 'active' && fed.expiresAt <= this.now())) {
      if (fed.status === 'active') this.expireFederation(fed);
      throw new ProtocolError('expired', 'the federation has expired: establish a new one');
    }
    if (fed.status !== 'active') {
      throw new ProtocolError('policy_denied', `the federation is ${fed.status}: it cannot be renewed`);
    }
    for (const hs of this.handshakes.values()) {
      if (hs.renews === federationId) {
        throw new ProtocolError('too_many_handshakes', 'this federation is being renewed', {
          retryAfterMs: this.options.handshake?.timeoutMs ?? 5_000,
        });
      }
    }
  }

  /**
   * Both ends confirmed a renewal: the federation keeps its id, gets the new handshake (whose keys
   * the ends now use) and expiresAt, stays active; the other end's hub and both ends are told.
   */
  private async completeRenewal(
    hs: PendingHandshake,
    federation: FederationRecord,
    confirm: FederationConfirm,
  ): Promise<void> {
    const now = this.now();
    const current = this.fedTable.get(federation.federationId);
    if (current?.status !== 'active' || current.expiresAt <= now) {
      if (current?.status === 'active') this.expireFederation(current);
      throw new ProtocolError(
        current?.status === 'suspended' ? 'policy_denied' : 'expired',
        'the federation ended while it was being renewed',
      );
    }
    const row: FederationRow = {
      ...current,
      handshakeId: federation.handshakeId,
      expiresAt: federation.expiresAt,
      updatedAt: now,
      statusReason: 'renewed',
    };
    this.fedTable.set(row);
    // The other end's hub first (same route, same class as the confirmation that follows).
    if (row.path.length > 1) {
      if (row.path[0] === this.did) this.announceFederation(row);
      else this.sendStatusUpdate(row);
    }
    this.sendToMesh(hs.target, { ...confirm, path: [...row.path] });
    const notice = {
      type: 'FederationStatus',
      federationId: row.federationId,
      status: 'active',
      reason: 'renewed',
      expiresAt: row.expiresAt,
    };
    this.sendToMesh(row.sourceMeshId, notice, homeHubOf(row, row.sourceMeshId));
    this.sendToMesh(row.targetMeshId, notice, homeHubOf(row, row.targetMeshId));
    this.metrics.handshakes.inc({ outcome: 'renewed' });
    this.metrics.handshakeSeconds.observe(Math.max(0, now - hs.startedAt) / 1000);
    this.log.info({ federationId: row.federationId, expiresAt: row.expiresAt }, 'federation renewed');
    this.saveFederation(row);
  }

  /** Tells the hub of the other end about a status decided here (signed, inside a Relay). */
  private sendStatusUpdate(row: FederationRow): void {
    if (!this.links) return;
    const other = row.path[0] === this.did ? row.path.at(-1) : row.path[0];
    if (other === undefined || other === this.did) return;
    const unsigned = {
      hub: this.did,
      federationId: row.federationId,
      handshakeId: row.handshakeId,
      status: row.status,
      reason: (row.statusReason ?? row.status).slice(0, 256),
      expiresAt: row.expiresAt,
      updatedAt: row.updatedAt,
      verificationMethod: this.selfVm,
    };
    const frame: FederationStatusUpdate = {
      type: 'FederationStatusUpdate',
      ...unsigned,
      signature: multibaseEncode(ed25519.sign(federationStatusUpdateDigest(unsigned), this.options.keyPair)),
    };
    // Addressed to the other hub itself: hubs are destinations in the route table.
    if (!this.relayTo(other, frame as unknown as Relay['frame'], { toHub: other, priority: 'critical' })) {
      this.log.warn(
        { federationId: row.federationId, hub: other },
        'status update: no route to the other hub',
      );
    }
  }

  /**
   * A status decided at the other end's hub: checked (relayed from the hub that signed it, which is
   * one end of the federation's path and this hub the other, time window, newer than the last one,
   * signature) and applied here without telling the ends again (the deciding hub told both).
   */
  private async onFederationStatusUpdate(relay: Relay, msg: FederationStatusUpdate): Promise<void> {
    let fed: FederationRow | undefined;
    try {
      if (relay.fromHub !== msg.hub || msg.hub === this.did) {
        throw new ProtocolError('unauthorized', 'FederationStatusUpdate: signer and relay origin disagree');
      }
      if (!msg.verificationMethod.startsWith(`${msg.hub}#`)) {
        throw new ProtocolError('unauthorized', 'FederationStatusUpdate: key of another DID');
      }
      const now = this.now();
      if (msg.updatedAt > now + this.clockSkewMs || msg.updatedAt < now - this.limits.maxMessageAgeMs) {
        throw new ProtocolError(
          'clock_skew',
          'FederationStatusUpdate: updatedAt outside the accepted window',
        );
      }
      fed = this.fedTable.get(msg.federationId) ?? (await this.store.federations.get(msg.federationId));
      if (!fed) throw new ProtocolError('unknown_federation', 'FederationStatusUpdate: unknown federation');
      const ends = [fed.path[0], fed.path.at(-1)];
      if (fed.path.length < 2 || !ends.includes(msg.hub) || !ends.includes(this.did)) {
        throw new ProtocolError('unauthorized', 'FederationStatusUpdate: not from the other end of the path');
      }
      const last = this.lastStatusUpdate.get(msg.federationId);
      if (last !== undefined && msg.updatedAt <= last) {
        throw new ProtocolError('replay_detected', 'FederationStatusUpdate: not newer than the last one');
      }
      await this.checkSignature(
        msg.verificationMethod,
        msg.signature,
        federationStatusUpdateDigest(msg),
        'FederationStatusUpdate',
      );
    } catch (err) {
      this.metrics.frameErrors.inc({ code: asProtocolError(err).wireCode });
      this.log.warn(
        { federationId: msg.federationId, hub: msg.hub, code: asProtocolError(err).wireCode },
        'FederationStatusUpdate refused',
      );
      return;
    }
    if (
      this.lastStatusUpdate.size >= this.limits.maxFederations &&
      !this.lastStatusUpdate.has(fed.federationId)
    ) {
      this.lastStatusUpdate.delete(this.lastStatusUpdate.keys().next().value as string);
    }
    this.lastStatusUpdate.set(fed.federationId, msg.updatedAt);
    // A terminal status is final, whichever hub reached it first.
    const current = this.fedTable.get(fed.federationId) ?? fed;
    if (current.status === 'terminated' || current.status === 'expired') return;
    const row: FederationRow = {
      ...current,
      status: msg.status,
      statusReason: msg.reason,
      handshakeId: msg.handshakeId,
      expiresAt: msg.expiresAt,
      updatedAt: this.now(),
    };
    if (row.status === 'active' || row.status === 'suspended') {
      this.holdFederation(row);
      if (row.status === 'suspended') this.remoteSuspension.add(row.federationId);
      else this.remoteSuspension.delete(row.federationId);
    } else {
      this.fedTable.delete(row.federationId);
      this.remoteSuspension.delete(row.federationId);
      this.rateLimiter.forget?.(row.federationId);
    }
    this.updateFederationGauge();
    this.log.info(
      { federationId: row.federationId, status: row.status, reason: row.statusReason, by: msg.hub },
      'federation status from the other end hub',
    );
    this.saveFederation(row);
    await this.flushFederations();
  }

  private sweepRemoteHandshakes(): void {
    const stale = this.now() - 2 * (this.options.handshake?.timeoutMs ?? 5_000) - this.clockSkewMs;
    for (const rh of [...this.remoteHandshakes.values()]) {
      if (rh.startedAt < stale) this.remoteHandshakes.delete(rh.handshakeId);
    }
  }

  peerRoutes(): PeerRouteRow[] {
    return this.table?.rows() ?? [];
  }

  connectedPeers(): string[] {
    return this.links?.connectedPeers() ?? [];
  }

  // ------------------------------------------------------------------------------------------
  // Federation lifecycle
  // ------------------------------------------------------------------------------------------

  private async terminateFromNode(conn: Connection, msg: Terminate): Promise<void> {
    try {
      await this.applyTerminate(conn.meshId!, msg, conn);
    } catch (err) {
      this.sendError(conn, err, msg.federationId);
    }
  }

  /**
   * A signed Terminate from party `me` (the link's mesh, or the signer of a relayed one). The hub
   * that did not coordinate the federation also passes it on to the coordinator.
   */
  private async applyTerminate(me: string, msg: Terminate, conn?: Connection): Promise<void> {
    {
      const fed = this.fedTable.get(msg.federationId) ?? (await this.store.federations.get(msg.federationId));
      if (!fed || (fed.sourceMeshId !== me && fed.targetMeshId !== me)) {
        throw new ProtocolError('unknown_federation', 'no federation with this id for this mesh');
      }
      if (msg.verificationMethod.slice(0, msg.verificationMethod.indexOf('#')) !== me) {
        throw new ProtocolError('unauthorized', 'Terminate must be signed by the mesh of this link');
      }
      if (Math.abs(this.now() - msg.timestamp) > this.clockSkewMs) {
        throw new ProtocolError('clock_skew', 'Terminate timestamp is outside the accepted window');
      }
      await this.checkSignature(msg.verificationMethod, msg.signature, terminateDigest(msg), 'Terminate');
      if (fed.status === 'terminated' || fed.status === 'expired') {
        if (conn) {
          this.sendControl(conn, {
            type: 'FederationStatus',
            federationId: fed.federationId,
            status: fed.status,
            reason: fed.statusReason ?? fed.status,
          });
        }
        return;
      }
      const coordinator = fed.path[0];
      if (conn && this.links && coordinator !== undefined && coordinator !== this.did) {
        const other = fed.sourceMeshId === me ? fed.targetMeshId : fed.sourceMeshId;
        this.sendToMesh(other, msg, coordinator);
      }
      this.holdFederation(fed);
      await this.setFederationStatus(
        fed.federationId,
        'terminated',
        `terminated by ${me}: ${msg.reason}`.slice(0, 256),
      );
    }
  }

  async setFederationStatus(
    federationId: string,
    status: FederationStatusValue,
    reason: string,
  ): Promise<FederationRow> {
    const current = this.fedTable.get(federationId) ?? (await this.store.federations.get(federationId));
    if (!current) throw new NotFoundError(`federation ${federationId}`);
    if (current.status === 'terminated' || current.status === 'expired') {
      if (status === current.status) return current;
      throw new ConflictError(`federation ${federationId} is ${current.status}`);
    }
    if (status === 'active' && current.expiresAt <= this.now()) {
      throw new ConflictError(`federation ${federationId} has expired`);
    }
    const row: FederationRow = {
      ...current,
      status,
      statusReason: reason.slice(0, 256),
      updatedAt: this.now(),
    };
    if (status === 'active' || status === 'suspended') this.holdFederation(row);
    else {
      this.fedTable.delete(federationId);
      this.rateLimiter.forget?.(federationId);
    }
    this.updateFederationGauge();
    const notice = {
      type: 'FederationStatus',
      federationId,
      status,
      reason: row.statusReason ?? '',
      expiresAt: row.expiresAt,
    };
    this.sendToMesh(row.sourceMeshId, notice, homeHubOf(row, row.sourceMeshId));
    this.sendToMesh(row.targetMeshId, notice, homeHubOf(row, row.targetMeshId));
    // Both end hubs stay in step (each enforces the status): the coordinator re-announces, the
    // other end's hub sends a signed status update back.
    this.remoteSuspension.delete(federationId);
    if (row.path.length > 1) {
      if (row.path[0] === this.did) this.announceFederation(row);
      else if (row.path.at(-1) === this.did) this.sendStatusUpdate(row);
    }
    this.log.info({ federationId, status, reason: row.statusReason }, 'federation status changed');
    this.saveFederation(row);
    await this.flushFederations();
    return row;
  }

  private expireFederation(fed: FederationRow): void {
    void this.setFederationStatus(fed.federationId, 'expired', 'ttl elapsed').catch((err) =>
      this.storeFailed(err),
    );
  }

  private scheduleRecheck(): void {
    if (this.recheckTimer || !this.running) return;
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = undefined;
      void this.recheckCredentials();
    }, 10);
    this.recheckTimer.unref();
  }

  async recheckCredentials(): Promise<void> {
    let checked = 0;
    let unreadable = 0;
    let options = this.credentialOptions();
    for (const session of [...this.sessions.values()]) {
      // Cached checks resolve without I/O: yield now and then, or 10,000 sessions stall every link.
      // The options (and their clock) are made again after each wait, not for every session.
      if (++checked % 64 === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        options = this.credentialOptions();
      }
      // While the verification cache holds the credential's result (until its expiry, a status
      // list's refresh or ten minutes), that result is all a full check would give: taken by the
      // hash of the text, without parsing and canonicalizing it again.
      let result = verifyCachedCredential(session.credentialKey, options);
      if (!result) {
        const text =
          session.credentialText ??
          (await this.store.meshes.credential(session.meshId).catch((err: unknown) => {
            this.storeFailed(err);
            return undefined;
          }));
        options = this.credentialOptions();
        if (this.sessions.get(session.meshId) !== session) continue;
        // Not readable now (the store failed), or a newer session's (the row moved on): the session
        // keeps its last verdict and is checked again on the next pass.
        if (text === undefined || this.vcCache.keyOfCanonical(text) !== session.credentialKey) {
          unreadable++;
          continue;
        }
        result = await verifyCredential(JSON.parse(text), options);
        options = this.credentialOptions();
      }
      if (this.sessions.get(session.meshId) !== session) continue;
      const ok = result.verified && result.subject === session.meshId;
      const level = ok ? (result.meshAgent?.trustLevel ?? 0) : 0;
      const problem = ok ? undefined : SUSPEND_REASON[credentialProblemCode(result)];
      // Unchanged: nothing to record (the trust state would only be written again) or reconcile.
      if (
        ok === session.credentialOk &&
        level === session.credentialTrustLevel &&
        problem === session.credentialProblem
      ) {
        continue;
      }
      session.credentialOk = ok;
      session.credentialProblem = problem;
      session.credentialTrustLevel = level;
      this.credentialTrust?.set(session.meshId, level);
      this.trustFeed?.engine.record({
        kind: 'credential',
        subject: session.meshId,
        at: this.now(),
        valid: ok,
        trustLevel: level,
        certifications: ok ? (result.meshAgent?.complianceCertifications ?? []) : [],
        ...(result.issuer ? { issuer: result.issuer } : {}),
        didResolvable: true,
        ...(ok ? {} : { reason: result.errors.map((e) => e.code).join(', ') }),
      });
      this.reconcileMesh(session.meshId);
    }
    if (unreadable > 0) {
      this.log.warn(
        { sessions: unreadable },
        'credential re-check: the store could not give back these credentials',
      );
    }
  }

  /**
   * Suspends the federations of a mesh whose credential stopped verifying or whose trust fell
   * under a federation's minimum, and resumes those suspended for such a reason once fixed.
   */
  private reconcileMesh(meshId: string): void {
    for (const fed of this.fedTable.byMesh(meshId)) this.reconcileFederation(fed);
  }

  private reconcileFederation(fed: FederationRow): void {
    {
      const problem = this.federationProblem(fed);
      if (fed.status === 'active' && problem) {
        void this.setFederationStatus(fed.federationId, 'suspended', problem).catch((err) =>
          this.storeFailed(err),
        );
      } else if (
        fed.status === 'suspended' &&
        !problem &&
        fed.statusReason &&
        AUTO_REASONS.has(fed.statusReason) &&
        !this.remoteSuspension.has(fed.federationId)
      ) {
        void this.setFederationStatus(fed.federationId, 'active', 'resumed').catch((err) =>
          this.storeFailed(err),
        );
      }
    }
  }

  private federationProblem(fed: FederationRow): string | undefined {
    for (const meshId of [fed.sourceMeshId, fed.targetMeshId]) {
      const session = this.sessions.get(meshId);
      if (session && !session.credentialOk) return session.credentialProblem ?? 'credential_invalid';
    }
    if (fed.minTrustScore !== undefined) {
      // Either party below the federation's minimum (spec 5: suspended, resumed when it recovers).
      // Judge only what we can see: a mesh this hub knows nothing of keeps its standing.
      for (const meshId of [fed.sourceMeshId, fed.targetMeshId]) {
        const score = this.visibleTrust(meshId);
        if (score !== undefined && score < fed.minTrustScore) return 'trust_too_low';
      }
    }
    return undefined;
  }

  // ------------------------------------------------------------------------------------------
  // Ledger (docs/ledger.md)
  // ------------------------------------------------------------------------------------------

  /**
   * Opens the ledger (sequencer or mirror, per `options.ledger`) and applies its parameters as they
   * take effect: the hop cap, the per-federation rate limit and the trust weights.
   */
  private async openLedger(): Promise<void> {
    const ledger = await HubLedger.open(
      {
        did: this.did,
        keyPair: this.options.keyPair,
        now: this.now,
        registry: this.registry,
        log: this.log,
        resolveKey: async (did) => {
          const state = this.registry.state(did);
          if (state && !state.deactivated) return decodeMultikey(state.signingKey).key;
          return did.startsWith('did:key:') ? ed25519PublicKeyFromDidKey(did) : undefined;
        },
      },
      this.options.ledger,
    );
    ledger.onParams((p) => this.applyLedgerParams(p));
    this.applyLedgerParams(ledger.state.params);
    this.ledger = ledger;
    const every = this.options.ledger?.uptimeReportMs ?? 86_400_000;
    if (every > 0) {
      this.uptimeTimer = setInterval(() => {
        void this.reportUptime().catch((err: unknown) =>
          this.log.warn({ err: String(err) }, 'uptime reports failed'),
        );
      }, every);
      this.uptimeTimer.unref();
    }
  }

  /**
   * Reports the availability of the staked meshes homed here since the last report (spec 9.2:
   * uptime rewards). The first call only takes the baseline. Returns how many the ledger accepted.
   */
  async reportUptime(): Promise<number> {
    if (!this.ledger) return 0;
    const state = this.ledger.state;
    // Only hubs with the hub stake may report (the ledger would refuse).
    if (state.stakeOf(this.did) < parseMesh(state.params.hubStake)) return 0;
    const now = this.now();
    // Reported a minute back (the same length of time): a report must not end after the
    // sequencer's clock, which may run a little behind this hub's.
    const SKEW_MS = 60_000;
    const reports: { subject: string; from: number; to: number; availabilityPpm: number }[] = [];
    for (const m of await this.store.meshes.list()) {
      if (m.homeHub !== this.did || this.ledger.state.stakeOf(m.meshId) <= 0n) continue;
      const u = await this.store.uptime.uptime(m.meshId, now);
      if (!u) continue;
      const base = this.uptimeBaselines.get(m.meshId);
      this.uptimeBaselines.set(m.meshId, { at: now, connectedMs: u.connectedMs });
      if (!base || now <= base.at) continue;
      const ppm = Math.round(((u.connectedMs - base.connectedMs) / (now - base.at)) * 1_000_000);
      reports.push({
        subject: m.meshId,
        from: base.at - SKEW_MS,
        to: now - SKEW_MS,
        availabilityPpm: Math.max(0, Math.min(1_000_000, ppm)),
      });
    }
    return this.ledger.reportUptime(reports);
  }

  private applyLedgerParams(p: Params): void {
    this.maxHopsCap = p.maxHops;
    const limiter = this.rateLimiter as {
      setDefaultQuota?: (q: { ratePerSec: number; burst: number }) => void;
    };
    // A rate limit given in the hub's own options wins over governance (an operator's override).
    if (!this.options.rateLimit) {
      limiter.setDefaultQuota?.({ ratePerSec: p.federationRatePerSec, burst: p.federationBurst });
    }
    const w = p.trustWeightsBps;
    // Weights given in the hub's own options win too.
    if (this.options.trust?.options?.weights) return;
    this.trustEngine?.setWeights({
      credential: w.credential / 10_000,
      behavior: w.behavior / 10_000,
      attestations: w.attestations / 10_000,
      compliance: w.compliance / 10_000,
      uptime: w.uptime / 10_000,
    });
  }

  /**
   * Spec 5.3, "entry stake: basic participation": with `ledger.requireEntryStake`, a mesh needs the
   * entry stake (a governance parameter) bonded on the ledger to open a session here.
   */
  private checkEntryStake(meshId: string): void {
    if (!this.options.ledger?.requireEntryStake || !this.ledger) return;
    const state = this.ledger.state;
    const need = parseMesh(state.params.entryStake);
    if (state.stakeOf(meshId) < need) {
      throw new ProtocolError(
        'policy_denied',
        `this hub requires the entry stake: ${state.params.entryStake} MESH bonded on the ledger`,
      );
    }
  }

  /** The current governance parameters (the ledger's), for operators and tests. */
  get ledgerParams(): Params | undefined {
    return this.ledger?.state.params;
  }

  // ------------------------------------------------------------------------------------------
  // Trust (docs/trust.md)
  // ------------------------------------------------------------------------------------------

  get trustEngine(): TrustEngine | undefined {
    return this.trustFeed?.engine;
  }

  trustOf(did: string): TrustExplanation | RemoteTrust | undefined {
    const engine = this.trustFeed?.engine;
    const remote = this.remoteInfo.get(did);
    if (remote && !this.sessions.has(did)) {
      const hop = this.table?.nextHop(did);
      const scoredBy = hop?.kind === 'peer' ? (hop.path.at(-1) ?? hop.peerDid) : 'unknown';
      return { did, score: remote.trustScore, level: levelOfScore(remote.trustScore), scoredBy };
    }
    return engine?.known(did) ? engine.explain(did) : undefined;
  }

  onTrustEvent(listener: (event: HubTrustEvent) => void): () => void {
    if (this.trustListeners.size >= 1_000) throw new HubStateError('too many trust event listeners');
    this.trustListeners.add(listener);
    return () => this.trustListeners.delete(listener);
  }

  private emitTrust(event: HubTrustEvent): void {
    for (const l of this.trustListeners) {
      try {
        l(event);
      } catch (err) {
        this.log.warn({ err: String(err) }, 'trust event listener failed');
      }
    }
  }

  /** Once a second: counts to the engine, federations of meshes whose score moved re-judged, gossip out. */
  private trustTick(): void {
    this.trustFeed?.flush();
    if (this.reconcileDue.size > 0) {
      const due = new Set(this.reconcileDue);
      this.reconcileDue.clear();
      // Each federation once, though both its meshes moved.
      const feds = new Map<string, FederationRow>();
      for (const meshId of due)
        for (const fed of this.fedTable.byMesh(meshId)) feds.set(fed.federationId, fed);
      for (const fed of feds.values()) this.reconcileFederation(fed);
      // Peers judge meshes attached here by the score in the announcements: send the new ones.
      const local = [...due].filter((did) => this.sessions.has(did));
      if (this.links && local.length > 0)
        for (const peer of this.links.connectedPeers()) this.announce(peer, local);
    }
    this.flushAttestations();
  }

  /** The engine's state as the store last saw it (subjects, graph edges, attestations). */
  private async restoreTrust(): Promise<void> {
    const engine = this.trustFeed?.engine;
    if (!engine || !this.store.trust) return;
    const state = await this.store.trust.load({ limit: 1_000_000 });
    const r = engine.restore({
      subjects: state.subjects.map((row) => [row.did, row.state as unknown as SubjectSnapshot]),
      edges: state.edges.map((row) => row.state as unknown as EdgeSnapshot),
      attestations: state.attestations.map((row) => row.body as unknown as AttestationRecord),
    });
    for (const row of state.attestations) this.seenAttestations.add(row.id);
    if (r.skipped > 0) this.log.error({ skipped: r.skipped }, 'trust state rows that could not be restored');
    engine.recomputeGlobal(true);
  }

  /** The trust write under way, if any (stop waits for it before the last one). */
  private persistingTrust: Promise<void> | undefined;

  /** When meshes changed only by answered heartbeats were last written (see routinePersistMs). */
  private routineWrittenAt = 0;

  /**
   * Writes what changed in the engine since the last call (group commit in the store); meshes changed
   * only by answered heartbeats every routinePersistMs, or when `all`.
   */
  private persistTrust(all = false): Promise<void> {
    if (this.persistingTrust) return this.persistingTrust;
    const now = this.now();
    const routine = all || now - this.routineWrittenAt >= (this.options.trust?.routinePersistMs ?? 60_000);
    if (routine) this.routineWrittenAt = now;
    const run = this.writeTrust(routine).finally(() => {
      this.persistingTrust = undefined;
    });
    this.persistingTrust = run;
    return run;
  }

  private async writeTrust(routine: boolean): Promise<void> {
    const trustStore = this.store.trust;
    const engine = this.trustFeed?.engine;
    if (!trustStore || !engine) return;
    try {
      const now = this.now();
      // Plain JSON (no undefined members): the store refuses anything else.
      const json = (x: unknown) => JSON.parse(JSON.stringify(x)) as Record<string, unknown>;
      const yieldNow = () => new Promise<void>((resolve) => setImmediate(resolve));
      // In chunks of 500, snapshots taken per chunk and a yield between chunks: 10,000 dirty meshes
      // must neither stall every link at once nor be held as snapshots all together. What changes
      // during the write waits for the next one (the chunks stop at what was dirty at the start).
      let left = engine.dirtyCount + (routine ? engine.routineDirtyCount : 0);
      while (left > 0) {
        await yieldNow();
        const d = engine.takeDirty(500, { routine });
        const taken = d.subjects.length + d.edges.length + d.attestations.length;
        if (taken === 0) break;
        left -= taken;
        if (d.subjects.length > 0) {
          await trustStore.putSubjects(
            d.subjects.map(([did, state]) => ({ did, state: json(state), updatedAt: now })),
          );
        }
        if (d.edges.length > 0) {
          await trustStore.putEdges(
            d.edges.map((e) => ({ from: e.from, to: e.to, state: json(e), updatedAt: now })),
          );
        }
        if (d.attestations.length > 0) {
          await trustStore.putAttestations(
            d.attestations.map((a) => ({
              id: a.id,
              attester: a.attester,
              subject: a.subject,
              body: json(a),
              expiresAt: a.expiresAt,
            })),
          );
        }
      }
      await trustStore.deleteExpiredAttestations(now);
    } catch (err) {
      this.storeFailed(err);
    }
  }

  private recomputeTrust(): void {
    // Scores also move with time (decay, uptime): re-judge every federation that has a minimum.
    for (const fed of this.fedTable.withMinimum()) this.reconcileFederation(fed);
    const r = this.trustFeed?.engine.recomputeGlobal();
    if (r) {
      this.metrics.trustRecomputeSeconds.set(r.ms / 1000);
      this.log.debug({ ...r }, 'global trust recomputed');
    }
  }

  /** The federation table is bounded (limits.maxFederations): a new federation needs room in it. */
  private checkRoomForFederation(): void {
    if (this.fedTable.full) {
      throw new ProtocolError(
        'policy_denied',
        `this hub holds its maximum of ${this.limits.maxFederations} federations`,
      );
    }
  }

  /** Spec 5.1 levels: what the initiator and the target may do (initiate, accept, how many federations). */
  private checkLevelAllows(source: string, target: string): void {
    const engine = this.trustFeed?.engine;
    if (!engine || this.options.trustProvider) return;
    const level = engine.level(source);
    const perms = engine.permissions(source);
    if (!perms.initiate) {
      throw new ProtocolError(
        'trust_too_low',
        `${source} is ${level} (${engine.score(source)}): it may not start federations`,
      );
    }
    const active = this.fedTable.activeCount(source);
    if (active >= perms.maxFederations) {
      throw new ProtocolError(
        'trust_too_low',
        `${level} meshes may hold ${perms.maxFederations} active federations; ${source} holds ${active}`,
      );
    }
    if (this.sessions.has(target) && !engine.permissions(target).accept) {
      throw new ProtocolError(
        'trust_too_low',
        `${target} is ${engine.level(target)}: it may not take federations`,
      );
    }
  }

  private async attestationFromNode(conn: Connection, a: TrustAttestation): Promise<void> {
    try {
      if (!this.trustFeed)
        throw new ProtocolError('not_implemented', 'this hub runs without the trust engine');
      if (a.attester !== conn.meshId) {
        throw new ProtocolError('unauthorized', 'the attester is not the DID this link authenticated');
      }
      // Only partners vouch for each other: an attestation about a stranger is noise, and a sybil's tool.
      if (!this.haveFederated(a.attester, a.subject)) {
        throw new ProtocolError(
          'policy_denied',
          `${a.attester} has no federation with ${a.subject} to attest`,
        );
      }
      await this.ingestAttestation(a);
      this.sendControl(conn, { type: 'TrustAttestationAck', id: a.id });
    } catch (err) {
      this.sendError(conn, err, a.id);
    }
  }

  private haveFederated(a: string, b: string): boolean {
    if (this.fedTable.between(a, b).length > 0) return true;
    return this.trustFeed?.engine.hasEdge(a, b) === true || this.trustFeed?.engine.hasEdge(b, a) === true;
  }

  /** Checks an attestation (time, signature, budget) and counts it; passes it on to peer hubs. */
  private async ingestAttestation(a: TrustAttestation): Promise<void> {
    const engine = this.trustFeed!.engine;
    if (this.seenAttestations.has(a.id)) return;
    const now = this.now();
    if (a.issuedAt > now + this.clockSkewMs)
      throw new ProtocolError('clock_skew', 'the attestation is issued in the future');
    if (a.expiresAt <= now) throw new ProtocolError('expired', 'the attestation has expired');
    if (a.expiresAt - a.issuedAt > 366 * 86_400_000) {
      throw new ProtocolError('policy_denied', 'an attestation is valid for at most a year');
    }
    await this.checkSignature(a.verificationMethod, a.signature, attestationDigest(a), 'TrustAttestation');
    try {
      engine.record({
        kind: 'attestation',
        at: now,
        attestation: {
          id: a.id,
          attester: a.attester,
          subject: a.subject,
          score: a.score,
          claim: a.claim,
          issuedAt: a.issuedAt,
          expiresAt: a.expiresAt,
        },
      });
    } catch (err) {
      if (err instanceof AttestationRefusedError) throw new ProtocolError('policy_denied', err.message);
      throw err;
    }
    this.seenAttestations.add(a.id);
    if (this.seenAttestations.size > 100_000) {
      this.seenAttestations.delete(this.seenAttestations.values().next().value as string);
    }
    if (this.links && this.attestationBatch.length < 10_000) this.attestationBatch.push(a);
  }

  private flushAttestations(): void {
    const batch = this.attestationBatch;
    this.attestationBatch = [];
    if (!this.links || batch.length === 0) return;
    for (const peer of this.links.connectedPeers()) {
      for (let i = 0; i < batch.length; i += MAX_ATTESTATIONS) {
        this.links.send(
          peer,
          { type: 'TrustAttestations', attestations: batch.slice(i, i + MAX_ATTESTATIONS) },
          'normal',
        );
      }
    }
  }

  /** A partner's account of an interaction; attributed to the session it came on. */
  private reportFromNode(conn: Connection, r: TrustReport): void {
    const me = conn.meshId!;
    const engine = this.trustFeed?.engine;
    try {
      if (!engine) throw new ProtocolError('not_implemented', 'this hub runs without the trust engine');
      const fed = this.fedTable.get(r.federationId);
      const parties =
        fed &&
        ((fed.sourceMeshId === me && fed.targetMeshId === r.subject) ||
          (fed.targetMeshId === me && fed.sourceMeshId === r.subject));
      if (!parties)
        throw new ProtocolError(
          'unknown_federation',
          'no federation with this id between you and the subject',
        );
      const now = this.now();
      const rate = this.reportLimiter.take(me, now);
      if (!rate.ok)
        throw new ProtocolError('rate_limited', 'too many trust reports', {
          retryAfterMs: rate.retryAfterMs,
        });
      if (r.outcome === 'tool_call_ok' || r.outcome === 'tool_call_failed') {
        // Only calls this hub saw: a reporter cannot make up tool calls it never sent (a count past
        // them is cut to them).
        const count = this.fedTable.takeTaskCredits(r.federationId, me, r.count ?? 1);
        if (count === 0) {
          throw new ProtocolError(
            'policy_denied',
            'no tool calls routed here on this federation are left to report on',
          );
        }
        engine.record({
          kind: 'interaction',
          subject: r.subject,
          counterpart: me,
          at: now,
          outcome: r.outcome,
          count,
          ...(r.detail ? { detail: r.detail } : {}),
        });
        return;
      }
      // A violation report weighs on the subject: only from a reporter of standing, one an hour per pair.
      if (engine.score(me) < LEVEL_FLOOR.Validated) {
        throw new ProtocolError(
          'trust_too_low',
          'violation reports are taken from Validated meshes and above',
        );
      }
      const key = `${me}\n${r.subject}`;
      const last = this.lastViolationReport.get(key);
      if (last !== undefined && now - last < 3_600_000) return;
      this.lastViolationReport.set(key, now);
      if (this.lastViolationReport.size > 100_000) {
        this.lastViolationReport.delete(this.lastViolationReport.keys().next().value as string);
      }
      engine.record({
        kind: 'violation',
        subject: r.subject,
        counterpart: me,
        at: now,
        violation: r.outcome === 'compliance_violation' ? 'compliance' : 'policy',
        detail: `reported by ${me}${r.detail ? `: ${r.detail}` : ''}`,
      });
    } catch (err) {
      this.sendError(conn, err, r.reportId);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Timers
  // ------------------------------------------------------------------------------------------

  private sweep(): void {
    const now = this.now();
    for (const fed of this.fedTable.due(now)) this.expireFederation(fed);
    for (const queued of this.offline.expire(now)) this.reportUnreachable(queued);
    this.metrics.offlineQueued.set(this.offline.size);
    const outs = this.coordinator.expireDue(now);
    for (const out of outs) {
      if (out.message.handshakeId !== undefined) this.handshakes.delete(out.message.handshakeId);
    }
    this.sendOutbound(outs);
    // Entries the coordinator no longer holds (it timed them out) are dropped after twice the timeout.
    const stale = now - 2 * (this.options.handshake?.timeoutMs ?? 5_000) - this.clockSkewMs;
    for (const hs of [...this.handshakes.values()])
      if (hs.startedAt < stale) this.handshakes.delete(hs.handshakeId);
    this.sweepRemoteHandshakes();
    for (const conn of [...this.connections]) {
      if (conn.state === 'hello' && now - conn.openedAt > this.limits.authTimeoutMs) {
        this.sendError(conn, new ProtocolError('handshake_timeout', 'no Authenticate in time'));
        conn.ws.close(CLOSE_AUTH_FAILED, 'authentication timeout');
      } else if (now - conn.lastSeen > this.limits.idleTimeoutMs) {
        conn.ws.close(CLOSE_IDLE, 'idle');
        conn.ws.terminate();
      } else if (this.useScheduler && conn.queue && conn.queue.size === 0) {
        // The socket caught up: back to direct writes, the scheduler is garbage.
        conn.queue.close();
        conn.queue = undefined;
      }
    }
  }

  /** Pings the links of the current slot; each link is visited once per heartbeatMs. */
  private heartbeat(): void {
    const slot = this.heartbeatSlot;
    this.heartbeatSlot = (slot + 1) % HEARTBEAT_SLOTS;
    for (const conn of this.connections) {
      if (conn.state !== 'ready' || conn.pingSlot !== slot) continue;
      if (conn.awaitingPong) {
        // No pong for a whole interval: the peer is gone without a close.
        if (conn.meshId) this.trustFeed?.heartbeat(conn.meshId, false);
        conn.ws.terminate();
        continue;
      }
      conn.awaitingPong = true;
      conn.pingSentAt = this.now();
      conn.ws.ping();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Queries (HTTP, discovery)
  // ------------------------------------------------------------------------------------------

  discover(query: DiscoveryQuery): AvailableMesh[] {
    const out: AvailableMesh[] = [];
    const only = query.meshIds ? new Set(query.meshIds) : undefined;
    for (const s of only ? [...only].flatMap((id) => this.sessions.get(id) ?? []) : this.sessions.values()) {
      const trustScore = this.trust.score(s.meshId);
      // Spec 5.1: an Unverified mesh has restricted access, it is not offered to others.
      if (this.trustFeed && !this.trustFeed.engine.permissions(s.meshId).discoverable) continue;
      if (query.region !== undefined && s.region !== query.region) continue;
      if (query.minTrustScore !== undefined && trustScore < query.minTrustScore) continue;
      if (query.capabilities && !query.capabilities.every((c) => s.capabilities.includes(c))) continue;
      out.push({
        meshId: s.meshId,
        region: s.region,
        capabilities: [...s.capabilities],
        trustScore,
        homeHub: this.did,
        ...this.certificationsOf(s.meshId, s.certifications),
      });
      if (out.length >= 256) return out;
    }
    // Meshes behind peers, as their home hubs announced them, while a route to them exists.
    for (const [meshId, info] of this.remoteInfo) {
      if (out.length >= 256) return out;
      if (this.sessions.has(meshId) || (only && !only.has(meshId))) continue;
      const hop = this.table?.nextHop(meshId);
      if (hop?.kind !== 'peer') continue;
      if (query.region !== undefined && info.region !== query.region) continue;
      if (query.minTrustScore !== undefined && info.trustScore < query.minTrustScore) continue;
      if (query.capabilities && !query.capabilities.every((c) => info.capabilities.includes(c))) continue;
      out.push({
        meshId,
        region: info.region,
        capabilities: [...info.capabilities],
        trustScore: info.trustScore,
        homeHub: hop.path.at(-1) ?? hop.peerDid,
        ...this.certificationsOf(meshId, info.certifications ?? []),
      });
    }
    for (const m of this.options.router?.discover?.(query) ?? []) {
      if (out.length >= 256) break;
      out.push(m);
    }
    return out;
  }

  /**
   * What discovery shows of a mesh's certifications: its credential's claims and the standards
   * certifications compliance auditors signed on the ledger (still valid now).
   */
  private certificationsOf(meshId: string, fromCredential: readonly string[]): { certifications?: string[] } {
    const onLedger = this.ledger?.state.certifications(meshId, this.now()).map((c) => c.standard) ?? [];
    const all = [...new Set([...fromCredential, ...onLedger])].slice(0, 64);
    return all.length > 0 ? { certifications: all } : {};
  }

  routes(): RouteRow[] {
    const rows: RouteRow[] = [];
    for (const f of this.fedTable.values()) {
      rows.push({
        route: `${f.sourceMeshId}:${f.targetMeshId}`,
        federationId: f.federationId,
        status: f.status,
        path: [...f.path],
        latencyMs: this.routeLatency(f),
        expiresAt: f.expiresAt,
      });
    }
    return [...rows, ...(this.options.router?.routes?.() ?? [])];
  }

  federations(): FederationRow[] {
    return [...this.fedTable.values()];
  }

  /**
   * Puts stored federations in the in-memory table (active and suspended ones; the others are
   * history) and returns how many it kept. start() restores the store's rows through it; the
   * scale benchmark (bench/worker-federations.ts) calls it with up to a million rows that no store
   * holds, to measure this table alone. Not on the Hub interface: rows bypass the store.
   */
  restoreFederations(rows: Iterable<FederationRow>): number {
    let kept = 0;
    let over = 0;
    for (const row of rows) {
      if (row.status !== 'active' && row.status !== 'suspended') continue;
      if (!this.fedTable.hasRoomFor(row.federationId)) over++;
      else {
        this.fedTable.set(row);
        kept++;
      }
    }
    if (over > 0) {
      this.log.error(
        { left: over, maxFederations: this.limits.maxFederations },
        'federation table full: stored federations left out (raise limits.maxFederations)',
      );
    }
    this.updateFederationGauge();
    return kept;
  }

  /**
   * Holds an active or suspended row in the table; false (logged) for a new one when the table is
   * full: it stays in the store, but this hub does not route it.
   */
  private holdFederation(row: FederationRow): boolean {
    if (!this.fedTable.hasRoomFor(row.federationId)) {
      this.log.warn(
        { federationId: row.federationId, maxFederations: this.limits.maxFederations },
        'federation table full: federation not held in memory',
      );
      return false;
    }
    this.fedTable.set(row);
    return true;
  }

  /** Latency toward the other end: the node link's RTT here, the route's latency behind a peer. */
  private routeLatency(f: FederationRow): number | null {
    const other = f.path[0] === this.did ? f.targetMeshId : f.sourceMeshId;
    const session = this.sessions.get(other);
    if (session) return session.conn.rttMs;
    const hop = this.table?.nextHop(other);
    return hop?.kind === 'peer' ? Math.round(hop.latencyMs * 100) / 100 : null;
  }

  async meshes(): Promise<(MeshRow & { online: boolean; connectedMs: number | undefined })[]> {
    const now = this.now();
    const rows = await this.store.meshes.list();
    return Promise.all(
      rows.map(async (m) => ({
        ...m,
        trustScore: this.sessions.has(m.meshId) ? this.trust.score(m.meshId) : m.trustScore,
        online: this.sessions.has(m.meshId),
        connectedMs: (await this.store.uptime.uptime(m.meshId, now))?.connectedMs,
      })),
    );
  }

  /**
   * Verifies a signed frame (Authenticate, Terminate, FederationAnnounce, FederationStatusUpdate)
   * against the Ed25519 key its verification method names; every failure is a ProtocolError.
   */
  private async checkSignature(
    verificationMethod: string,
    signature: string,
    digest: Uint8Array,
    what: string,
  ): Promise<void> {
    const key = await this.resolveAuthKey(verificationMethod).catch((cause) => {
      throw cause instanceof ProtocolError
        ? cause
        : new ProtocolError('did_resolution_failed', `cannot resolve ${verificationMethod}`, { cause });
    });
    let bytes: Uint8Array;
    try {
      bytes = multibaseDecode(signature);
    } catch (cause) {
      throw new ProtocolError('invalid_signature', 'signature is not base58btc', { cause });
    }
    if (!ed25519.verify(bytes, digest, key)) {
      throw new ProtocolError('invalid_signature', `${what} signature does not verify`);
    }
  }

  private httpContext() {
    return {
      hub: this as Hub,
      isReady: () => this.running,
      adminToken: this.options.adminToken,
      maxIdentityBodyBytes: this.limits.maxIdentityBodyBytes,
      identityLimiter: this.identityLimiter,
      ledgerLimiter: this.ledgerLimiter,
      now: this.now,
      listFederations: async () => {
        await this.flushFederations();
        return this.store.federations.list();
      },
      log: this.log,
    };
  }

  /**
   * Marks the federation gauge stale; it is recounted when scraped (its collect). Counting the
   * whole table on every change cost O(federations) per handshake.
   */
  private updateFederationGauge(): void {
    this.federationGaugeStale = true;
  }

  private refreshFederationGauge(): void {
    if (!this.federationGaugeStale) return;
    this.federationGaugeStale = false;
    this.metrics.federations.set({ status: 'active' }, this.fedTable.countOf('active'));
    this.metrics.federations.set({ status: 'suspended' }, this.fedTable.countOf('suspended'));
  }

  /**
   * Writes a federation's row soon: within federationWriteDelayMs, together with every other
   * row changed meanwhile (one transaction, one fsync). Nobody waits for these writes (the hub
   * holds its federations in memory, and both ends were told before the row was written even when it
   * was written at once), so a handshake's commit and fsync, ~0.8 ms of the hub's CPU per
   * handshake on the benchmark machine, no longer sits in front of the frames that come next (the
   * initiator's next handshake, the target's acceptance). The price: a crash loses the rows of the
   * last few milliseconds instead of the last one. Rows of one federation keep their order: a later
   * change replaces the row not yet written, and any write awaited (a status change) writes the
   * pending rows first.
   */
  private saveFederation(row: FederationRow): void {
    this.unsavedFederations.delete(row.federationId);
    this.unsavedFederations.set(row.federationId, row);
    if (this.unsavedFederations.size >= MAX_UNSAVED_FEDERATIONS) {
      void this.flushFederations();
      return;
    }
    this.unsavedTimer ??= setTimeout(
      () => void this.flushFederations(),
      this.options.federationWriteDelayMs ?? FEDERATION_WRITE_DELAY_MS,
    );
  }

  /** Hands every unsaved federation row to the store; resolves once they are written. */
  private flushFederations(): Promise<void> {
    clearTimeout(this.unsavedTimer);
    this.unsavedTimer = undefined;
    if (this.unsavedFederations.size === 0) return Promise.resolve();
    const rows = [...this.unsavedFederations.values()];
    this.unsavedFederations.clear();
    // Issued in one turn: the store's group commit makes them one transaction.
    return Promise.all(rows.map((row) => this.persist(this.store.federations.put(row)))).then(() => {});
  }

  /** A write the caller does not wait for; stop() waits for every one still under way. */
  private persist(write: Promise<unknown>): Promise<void> {
    const tracked: Promise<void> = write.then(
      () => {
        this.storeWrites.delete(tracked);
      },
      (err: unknown) => {
        this.storeWrites.delete(tracked);
        this.storeFailed(err);
      },
    );
    this.storeWrites.add(tracked);
    return tracked;
  }

  private storeFailed(err: unknown): void {
    this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'store write failed');
  }
}

/** Most did:mesh operations sent to a peer when its link comes up. */
const MAX_SYNC_OPS = 4_096;
const MAX_REMOTE_HANDSHAKES = 10_000;
/** Default federationWriteDelayMs (see saveFederation). */
const FEDERATION_WRITE_DELAY_MS = 10;
/** Federation rows waiting at most: more are written at once (one transaction's worth). */
const MAX_UNSAVED_FEDERATIONS = 256;
/** A Relay's route holds at most MAX_HOPS hubs (frame schema). */
const MAX_RELAY_ROUTE = 5;

/** The hub a party of a federation is attached to: the source's is first on the path, the target's last. */
function homeHubOf(fed: FederationRow, meshId: string): string | undefined {
  return meshId === fed.sourceMeshId ? fed.path[0] : fed.path.at(-1);
}

/** A peer URL without a path gets `/v1/hub`. */
function peerUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'grpc:' || u.protocol === 'grpcs:') return `${u.protocol}//${u.host}`;
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/hub';
  return u.toString();
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Reasons the hub sets by itself and clears by itself once the cause is gone. */
const NO_CERTIFICATIONS: readonly string[] = Object.freeze([]);

const AUTO_REASONS = new Set([
  'credential_revoked',
  'credential_invalid',
  'credential_expired',
  'trust_too_low',
]);
const SUSPEND_REASON = {
  credential_revoked: 'credential_revoked',
  expired: 'credential_expired',
  credential_invalid: 'credential_invalid',
} as const;

/**
 * Creates a hub (not started). Throws HubConfigError for invalid options.
 */
export function createHub(options: HubOptions): Hub {
  return new HubServer(options);
}

export type { HttpContext } from './http.js';
