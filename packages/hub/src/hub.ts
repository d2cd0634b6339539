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
  authenticateDigest,
  base64urlEncode,
  constantTimeEqual,
  type DiscoveryQuery,
  type Ed25519KeyPair,
  type Envelope,
  ed25519,
  encodeErrorFrame,
  type FederationStatusValue,
  type FederationSummary,
  HandshakeCoordinator,
  type HandshakeMessage,
  type HubOutbound,
  hopForward,
  multibaseDecode,
  type ParsedFrame,
  type Priority,
  ProtocolError,
  parseFrame,
  randomBytes,
  rejectFromError,
  type Terminate,
  terminateDigest,
  type VerifiableCredentialJson,
} from '@fmp/core';
import {
  authenticationKeyResolver,
  createDidResolver,
  type DidResolver,
  didKey,
  didMesh,
  MeshRegistry,
  type StatusListLoader,
  VerificationCache,
  type VerificationResult,
  verifyCredential,
} from '@fmp/identity';
import { getRequestListener } from '@hono/node-server';
import pino from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { ConflictError, HubStateError, NotFoundError } from './errors.js';
import { createHttpApp } from './http.js';
import { createHubMetrics, type HubMetrics } from './metrics.js';
import { OfflineQueue, type QueuedMessage } from './offline-queue.js';
import { checkScalarOptions, DEFAULT_LIMITS, type HubLimits } from './options.js';
import {
  type OutboundItem,
  type OutboundQueue,
  type OutboundQueueFactory,
  simpleOutboundQueue,
} from './outbound.js';
import { type FederationRow, type HubStore, type MeshRow, memoryHubStore } from './persistence.js';
import { type RateLimiter, simpleRateLimiter } from './rate-limit.js';
import { CredentialTrustProvider, type PeerRouter, type RouteRow, type TrustProvider } from './seams.js';

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
  /** The URL nodes reach this hub at (routingEndpoint base); default ws://host:port. */
  readonly publicUrl?: string;
  /** Credential issuers whose MeshAgentCredentials this hub accepts. */
  readonly trustedIssuers: readonly string[];
  /** The did:mesh registry (default: in memory). Pass one over the store for persistence. */
  readonly registry?: MeshRegistry;
  /** Federation, mesh and uptime records (default: memoryHubStore()). */
  readonly store?: HubStore;
  /** Default: did:mesh over `registry` and did:key. */
  readonly resolver?: DidResolver;
  /** Loads Bitstring Status List credentials (credentials with a status fail closed without it). */
  readonly statusListLoader?: StatusListLoader;
  /** A status list source to follow: a change triggers an immediate credential re-check. */
  readonly statusListChanges?: StatusListChanges;
  readonly trustProvider?: TrustProvider;
  readonly router?: PeerRouter;
  readonly outboundQueue?: OutboundQueueFactory;
  readonly rateLimiter?: RateLimiter;
  readonly limits?: Partial<HubLimits>;
  /** Per-federation quota; default 1,000 msg/s, burst 2,000. */
  readonly rateLimit?: { readonly messagesPerSec: number; readonly burst: number };
  /** Quota of POST /v1/identities per client address; default 5 req/s, burst 20. */
  readonly identityRateLimit?: { readonly requestsPerSec: number; readonly burst: number };
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
  readonly logger?: HubLogger;
  readonly now?: () => number;
}

export interface Hub {
  readonly did: string;
  readonly region: string;
  /** The bound port (after start). */
  readonly port: number;
  readonly url: string;
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
  meshes(): Promise<(MeshRow & { online: boolean; connectedMs: number | undefined })[]>;
  readonly registry: MeshRegistry;
  readonly resolver: DidResolver;
}

interface Connection {
  readonly id: string;
  readonly ws: WebSocket;
  readonly nonce: string;
  readonly openedAt: number;
  state: 'hello' | 'authenticating' | 'ready' | 'closed';
  meshId: string | undefined;
  session: LiveSession | undefined;
  readonly queue: OutboundQueue;
  lastSeen: number;
  awaitingPong: boolean;
  pingSentAt: number;
  rttMs: number | null;
  busy: boolean;
  readonly backlog: string[];
}

interface LiveSession {
  readonly sessionId: string;
  readonly meshId: string;
  readonly conn: Connection;
  readonly region: string;
  readonly capabilities: readonly string[];
  readonly openedAt: number;
  credential: VerifiableCredentialJson;
  credentialOk: boolean;
  credentialProblem: string | undefined;
}

interface PendingHandshake {
  readonly handshakeId: string;
  readonly source: string;
  readonly target: string;
  readonly startedAt: number;
  readonly minTrustScore: number | undefined;
  asked: boolean;
}

/** Codes of handshake failures that happen before the message is tied to its handshake. */
const UNBOUND_CODES = new Set(['malformed_frame', 'unknown_handshake', 'out_of_order']);
const CLOSE_AUTH_FAILED = 4001;
const CLOSE_REPLACED = 4002;
const CLOSE_IDLE = 4003;
const CLOSE_OVERLOADED = 4004;
const CLOSE_SHUTDOWN = 1001;

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
  private readonly rateLimiter: RateLimiter;
  private readonly identityLimiter: RateLimiter;
  private readonly outboundFactory: OutboundQueueFactory;
  private readonly offline: OfflineQueue;
  private readonly clockSkewMs: number;
  private readonly vcCache = new VerificationCache();
  private coordinator!: HandshakeCoordinator;
  private resolveAuthKey!: (vm: string) => Promise<Uint8Array>;

  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<string, LiveSession>();
  private readonly fedTable = new Map<string, FederationRow>();
  private readonly handshakes = new Map<string, PendingHandshake>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private timers: NodeJS.Timeout[] = [];
  private unwatch: (() => void) | undefined;
  private recheckTimer: NodeJS.Timeout | undefined;
  private running = false;
  private boundPort = 0;
  private publicUrl = '';

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
      adminToken: options.adminToken,
    });
    this.options = options;
    this.did = options.did;
    this.region = options.region;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.log = options.logger ?? pino({ level: 'info', base: { hub: options.did } }, pino.destination(2));
    this.now = options.now ?? Date.now;
    this.store = options.store ?? memoryHubStore({ maxRows: this.limits.maxFederations });
    if (options.trustProvider) {
      this.trust = options.trustProvider;
    } else {
      this.credentialTrust = new CredentialTrustProvider();
      this.trust = this.credentialTrust;
    }
    const rate = options.rateLimit ?? { messagesPerSec: 1_000, burst: 2_000 };
    this.rateLimiter = options.rateLimiter ?? simpleRateLimiter(rate);
    const idRate = options.identityRateLimit ?? { requestsPerSec: 5, burst: 20 };
    this.identityLimiter = simpleRateLimiter({
      messagesPerSec: idRate.requestsPerSec,
      burst: idRate.burst,
      maxKeys: 10_000,
    });
    this.outboundFactory = options.outboundQueue ?? simpleOutboundQueue;
    this.offline = new OfflineQueue(this.limits.maxQueuedPerMesh, this.limits.maxQueuedTotal);
    this.clockSkewMs = options.clockSkewMs ?? 30_000;
    this.metrics = createHubMetrics({ hub: options.did });
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return this.publicUrl;
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
      const resolver = createDidResolver({ methods: [didMesh({ registry: this.registry }), didKey()] });
      this.registry.onAppend((did) => resolver.invalidate(did));
      this.resolver = resolver;
    }
    this.resolveAuthKey = authenticationKeyResolver(this.resolver);

    for (const row of await this.store.federations.list()) {
      if (row.status === 'active' || row.status === 'suspended') this.fedTable.set(row.federationId, row);
    }
    this.updateFederationGauge();

    const host = this.options.host ?? '127.0.0.1';
    const app = createHttpApp(this.httpContext());
    const server = createServer(getRequestListener(app.fetch));
    // ws drops the link (1009) only past twice the frame limit; frames in between reach parseFrame
    // and get a typed message_too_large error frame.
    const wss = new WebSocketServer({ noServer: true, maxPayload: 2 * this.limits.maxFrameBytes });
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

    const timeoutMs = this.options.handshake?.timeoutMs ?? 5_000;
    this.coordinator = new HandshakeCoordinator(
      {
        now: this.now,
        randomBytes,
        resolveAuthenticationKey: (vm) => this.resolveAuthKey(vm),
        trustScore: (did) => this.trust.score(did),
        verifyCredential: async (credential) => {
          const result = await this.verifyMeshCredential(credential);
          return { verified: result.verified, subject: result.subject };
        },
        onFailure: (f) => {
          this.metrics.handshakes.inc({ outcome: f.code });
          this.log.info({ handshakeId: f.handshakeId, meshId: f.meshId, code: f.code }, 'handshake failed');
        },
      },
      {
        routingEndpointBase: `${this.publicUrl}/v1/federations`,
        minTrustScore: this.options.handshake?.minTrustScore ?? 50,
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
    this.timers.push(setInterval(() => this.heartbeat(), this.limits.heartbeatMs));
    this.timers.push(
      setInterval(() => void this.recheckCredentials(), this.options.credentialRecheckMs ?? 60_000),
    );
    for (const t of this.timers) t.unref();
    if (this.options.statusListChanges) {
      this.unwatch = this.options.statusListChanges.onChange((url) => {
        this.vcCache.invalidateStatusList(url);
        this.scheduleRecheck();
      });
    }
    this.running = true;
    const httpUrl = this.publicUrl.replace(/^ws/, 'http');
    this.log.info({ url: this.publicUrl, region: this.region }, 'hub started');
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
    for (const conn of [...this.connections]) {
      conn.queue.close();
      conn.ws.close(CLOSE_SHUTDOWN, 'hub shutting down');
      conn.ws.terminate();
      this.onClose(conn);
    }
    this.offline.clear();
    this.metrics.offlineQueued.set(0);
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
      if (this.options.router?.handlePeerUpgrade) this.options.router.handlePeerUpgrade(req, socket, head);
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

  private onConnection(ws: WebSocket): void {
    const now = this.now();
    const conn: Connection = {
      id: randomUUID(),
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
      backlog: [],
      queue: undefined as unknown as OutboundQueue,
    };
    (conn as { queue: OutboundQueue }).queue = this.outboundFactory({
      write: (item) => this.write(conn, item),
      writable: () => ws.bufferedAmount < 4 * 1024 * 1024,
      onDrain: (resume) => setTimeout(resume, 5).unref(),
      now: this.now,
      maxQueued: this.limits.maxOutboundPerLink,
    });
    this.connections.add(conn);
    this.metrics.connections.set(this.connections.size);
    ws.on('message', (data, isBinary) => {
      conn.lastSeen = this.now();
      const raw = isBinary ? new Uint8Array(data as Buffer) : (data as Buffer).toString('utf8');
      this.enqueueInbound(conn, raw);
    });
    ws.on('pong', () => {
      conn.lastSeen = this.now();
      if (conn.awaitingPong) conn.rttMs = Math.max(0, this.now() - conn.pingSentAt);
      conn.awaitingPong = false;
    });
    ws.on('close', () => this.onClose(conn));
    ws.on('error', (err) => {
      // ws reports an oversized frame (maxPayload) as an error and closes with 1009.
      this.log.debug({ conn: conn.id, err: err.message }, 'link error');
    });
    this.sendControl(conn, {
      type: 'Hello',
      version: 'fmp/1',
      hubDid: this.did,
      nonce: conn.nonce,
      timestamp: now,
      maxFrameBytes: this.limits.maxFrameBytes,
    });
  }

  private onClose(conn: Connection): void {
    if (conn.state === 'closed') return;
    conn.state = 'closed';
    this.connections.delete(conn);
    this.metrics.connections.set(this.connections.size);
    const rest = conn.queue.close();
    const session = conn.session;
    if (session && this.sessions.get(session.meshId) === session) {
      this.sessions.delete(session.meshId);
      this.metrics.sessions.set(this.sessions.size);
      void this.store.uptime.sessionClosed(session.meshId, this.now()).catch((err) => this.storeFailed(err));
      // Envelopes that had not reached the socket wait for the reconnect like any other.
      for (const item of rest) this.requeueUnsent(session.meshId, item);
      // A handshake cannot finish without this mesh: end it for the other party now.
      for (const hs of [...this.handshakes.values()]) {
        if (hs.source === session.meshId || hs.target === session.meshId) {
          this.failHandshake(hs, new ProtocolError('unreachable', `${session.meshId} disconnected`));
        }
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

  private write(conn: Connection, item: OutboundItem): void {
    if (conn.state === 'closed') {
      if (conn.session && item.messageId) this.requeueUnsent(conn.session.meshId, item);
      return;
    }
    this.metrics.queueSeconds.observe(
      { priority: item.priority },
      Math.max(0, this.now() - item.enqueuedAt) / 1000,
    );
    conn.ws.send(item.frame);
  }

  private sendControl(conn: Connection, frame: object, priority: Priority = 'critical'): boolean {
    if (conn.state === 'closed') return false;
    const ok = conn.queue.push({ frame: JSON.stringify(frame), priority, enqueuedAt: this.now() });
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

  /** Sends to the live session of a mesh, if any. */
  private sendToMesh(meshId: string, frame: object): boolean {
    const session = this.sessions.get(meshId);
    return session ? this.sendControl(session.conn, frame) : false;
  }

  private enqueueInbound(conn: Connection, raw: string | Uint8Array): void {
    if (conn.state === 'closed') return;
    if (conn.busy) {
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
    this.runInbound(conn, raw);
  }

  /** Frames of one link are handled in order; a frame whose handling awaits holds the ones after it. */
  private runInbound(conn: Connection, raw: string | Uint8Array): void {
    let pending: Promise<void> | undefined;
    try {
      pending = this.handleFrame(conn, raw);
    } catch (err) {
      this.sendError(conn, err);
    }
    if (!pending) return;
    conn.busy = true;
    pending
      .catch((err) => this.sendError(conn, err))
      .finally(() => {
        conn.busy = false;
        while (!conn.busy && conn.backlog.length > 0 && conn.state !== 'closed') {
          this.runInbound(conn, conn.backlog.shift()!);
        }
      });
  }

  private handleFrame(conn: Connection, raw: string | Uint8Array): Promise<void> | undefined {
    let parsed: ParsedFrame;
    try {
      parsed = parseFrame(raw, { maxBytes: this.limits.maxFrameBytes });
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
        this.routeEnvelope(conn, parsed.frame);
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
      const key = await this.resolveAuthKey(msg.verificationMethod).catch((cause) => {
        throw cause instanceof ProtocolError
          ? cause
          : new ProtocolError('did_resolution_failed', `cannot resolve ${msg.verificationMethod}`, { cause });
      });
      let signature: Uint8Array;
      try {
        signature = multibaseDecode(msg.signature);
      } catch (cause) {
        throw new ProtocolError('invalid_signature', 'signature is not base58btc', { cause });
      }
      if (!ed25519.verify(signature, authenticateDigest(msg), key)) {
        throw new ProtocolError('invalid_signature', 'Authenticate signature does not verify');
      }
      // Credentials only after the signature: an unauthenticated peer cannot make us spend milliseconds.
      const result = await this.verifyMeshCredential(msg.credential);
      if (!result.verified) {
        const code = credentialProblemCode(result);
        throw new ProtocolError(code, `credential rejected: ${result.errors.map((e) => e.code).join(', ')}`);
      }
      if (result.subject !== msg.meshId) {
        throw new ProtocolError('credential_invalid', 'the credential subject is not meshId');
      }
      if (conn.state !== 'authenticating') return; // closed meanwhile
      const trustScore = result.meshAgent?.trustLevel ?? 0;
      this.credentialTrust?.set(msg.meshId, trustScore);

      const previous = this.sessions.get(msg.meshId);
      const session: LiveSession = {
        sessionId: randomUUID(),
        meshId: msg.meshId,
        conn,
        region: msg.region,
        capabilities: msg.capabilities,
        openedAt: now,
        credential: msg.credential,
        credentialOk: true,
        credentialProblem: undefined,
      };
      if (previous) {
        // One live session per mesh: the newer link wins (a reconnect after a silent drop).
        this.sessions.delete(msg.meshId);
        previous.conn.ws.close(CLOSE_REPLACED, 'replaced by a newer session');
        this.onClose(previous.conn);
      }
      conn.state = 'ready';
      conn.meshId = msg.meshId;
      conn.session = session;
      this.sessions.set(msg.meshId, session);
      this.metrics.sessions.set(this.sessions.size);

      const existing = await this.store.meshes.get(msg.meshId);
      const row: MeshRow = {
        meshId: msg.meshId,
        region: msg.region,
        capabilities: [...msg.capabilities],
        homeHub: this.did,
        credentialIssuer: result.issuer,
        credentialExpiresAt: result.expiresAt?.getTime(),
        trustScore: this.trust.score(msg.meshId),
        firstSeenAt: existing?.firstSeenAt ?? now,
        lastSeenAt: now,
      };
      await Promise.all([this.store.meshes.put(row), this.store.uptime.sessionOpened(msg.meshId, now)]).catch(
        (err) => this.storeFailed(err),
      );
      if (conn.state !== 'ready') return;

      const federations: FederationSummary[] = [];
      for (const f of this.fedTable.values()) {
        if ((f.sourceMeshId === msg.meshId || f.targetMeshId === msg.meshId) && federations.length < 1024) {
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
      this.log.info({ meshId: msg.meshId, trustScore }, 'mesh authenticated');
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
        conn.ws.send(JSON.stringify(frame), () => conn.ws.close(CLOSE_AUTH_FAILED, frame.code));
      }
    }
  }

  private async verifyMeshCredential(credential: unknown): Promise<VerificationResult> {
    return verifyCredential(credential, {
      resolveDid: async (did) => (await this.resolver.resolveDocument(did)) as Record<string, unknown> | null,
      trustedIssuers: this.options.trustedIssuers,
      ...(this.options.statusListLoader ? { statusListLoader: this.options.statusListLoader } : {}),
      cache: this.vcCache,
      now: new Date(this.now()),
    });
  }

  // ------------------------------------------------------------------------------------------
  // Routing
  // ------------------------------------------------------------------------------------------

  private routeEnvelope(conn: Connection, env: Envelope): void {
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
      if (!decision.ok) {
        throw new ProtocolError('rate_limited', 'federation quota exceeded', {
          retryAfterMs: decision.retryAfterMs,
        });
      }
      const forwarded = hopForward(env, this.did);
      this.deliver(forwarded, conn);
    } catch (err) {
      this.metrics.messages.inc({ priority: env.priority, outcome: 'rejected' });
      this.sendError(conn, err, id, { federationId: env.federationId });
    }
  }

  private deliver(env: Envelope, from: Connection | undefined): void {
    const frame = JSON.stringify(env);
    const target = this.sessions.get(env.targetMeshId);
    if (target) {
      const ok = target.conn.queue.push({
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
    const result = this.offline.push(meshId, {
      envelope: env,
      frame,
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
    const source = from ?? this.sessions.get(env.sourceMeshId)?.conn;
    if (source) this.sendError(source, err, env.messageId, { federationId: env.federationId });
  }

  private deliverQueued(session: LiveSession, queued: QueuedMessage): void {
    const env = queued.envelope;
    if (queued.deadline <= this.now()) {
      this.reportUnreachable(queued);
      return;
    }
    const ok = session.conn.queue.push({
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
    const source = this.sessions.get(env.sourceMeshId);
    // A source that is offline too learns nothing here; it resends what it never saw Delivered for.
    if (source) {
      this.sendError(
        source.conn,
        new ProtocolError(
          'unreachable',
          `${env.targetMeshId} did not reconnect within ${this.limits.queueTtlMs} ms`,
        ),
        env.messageId,
        { federationId: env.federationId },
      );
    }
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
    const session = this.sessions.get(other);
    if (!session) return; // the source resends on its own timeout and gets the receipt then
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
      this.sendControl(session.conn, {
        type: 'Delivered',
        messageId: ack.messageId,
        federationId: ack.federationId,
        by: me,
      });
    }
  }

  // ------------------------------------------------------------------------------------------
  // Handshakes
  // ------------------------------------------------------------------------------------------

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
          if (!this.sessions.has(msg.targetMeshId)) {
            throw new ProtocolError('unreachable', `${msg.targetMeshId} is not connected`, {
              retryAfterMs: 2_000,
            });
          }
          const challenge = this.coordinator.onInitiate(msg, origin);
          this.handshakes.set(challenge.handshakeId, {
            handshakeId: challenge.handshakeId,
            source: me,
            target: msg.targetMeshId,
            startedAt: this.now(),
            minTrustScore: msg.minTrustScore,
            asked: false,
          });
          this.sendControl(conn, challenge);
          return;
        }
        case 'ChallengeResponse': {
          if (!hs || hs.source !== me)
            throw new ProtocolError('unknown_handshake', 'no pending handshake of this mesh has this id');
          const request = await this.coordinator.onResponse(msg, origin);
          if (!this.sendToMesh(hs.target, request)) {
            throw new ProtocolError('unreachable', `${hs.target} disconnected`, { retryAfterMs: 2_000 });
          }
          hs.asked = true;
          return;
        }
        case 'FederationAccept': {
          if (!hs || hs.target !== me)
            throw new ProtocolError('unknown_handshake', 'no pending handshake for this mesh has this id');
          const established = await this.coordinator.onAccept(msg);
          if (!this.sendToMesh(hs.source, established)) {
            throw new ProtocolError('unreachable', `${hs.source} disconnected`);
          }
          return;
        }
        case 'FederationConfirm': {
          if (!hs || hs.source !== me)
            throw new ProtocolError('unknown_handshake', 'no pending handshake of this mesh has this id');
          const { confirm, federation } = this.coordinator.onConfirm(msg, origin);
          this.handshakes.delete(hs.handshakeId);
          const now = this.now();
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
            path: [this.did],
            createdAt: now,
            expiresAt: federation.expiresAt,
            updatedAt: now,
            statusReason: undefined,
          };
          // In memory first, so a message sent right after the confirmation routes.
          this.fedTable.set(row.federationId, row);
          this.updateFederationGauge();
          this.sendToMesh(hs.target, confirm);
          this.metrics.handshakes.inc({ outcome: 'established' });
          this.metrics.handshakeSeconds.observe(Math.max(0, now - hs.startedAt) / 1000);
          this.log.info(
            { federationId: row.federationId, source: row.sourceMeshId, target: row.targetMeshId },
            'federation established',
          );
          await this.store.federations.put(row).catch((err) => this.storeFailed(err));
          return;
        }
        case 'HandshakeReject': {
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
  // Federation lifecycle
  // ------------------------------------------------------------------------------------------

  private async terminateFromNode(conn: Connection, msg: Terminate): Promise<void> {
    try {
      const me = conn.meshId!;
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
      const key = await this.resolveAuthKey(msg.verificationMethod);
      let sig: Uint8Array;
      try {
        sig = multibaseDecode(msg.signature);
      } catch (cause) {
        throw new ProtocolError('invalid_signature', 'signature is not base58btc', { cause });
      }
      if (!ed25519.verify(sig, terminateDigest(msg), key)) {
        throw new ProtocolError('invalid_signature', 'Terminate signature does not verify');
      }
      if (fed.status === 'terminated' || fed.status === 'expired') {
        this.sendControl(conn, {
          type: 'FederationStatus',
          federationId: fed.federationId,
          status: fed.status,
          reason: fed.statusReason ?? fed.status,
        });
        return;
      }
      this.fedTable.set(fed.federationId, fed);
      await this.setFederationStatus(
        fed.federationId,
        'terminated',
        `terminated by ${me}: ${msg.reason}`.slice(0, 256),
      );
    } catch (err) {
      this.sendError(conn, err, msg.federationId);
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
    if (status === 'active' || status === 'suspended') this.fedTable.set(federationId, row);
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
    this.sendToMesh(row.sourceMeshId, notice);
    this.sendToMesh(row.targetMeshId, notice);
    this.log.info({ federationId, status, reason: row.statusReason }, 'federation status changed');
    await this.store.federations.put(row).catch((err) => this.storeFailed(err));
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
    for (const session of [...this.sessions.values()]) {
      const result = await this.verifyMeshCredential(session.credential);
      if (this.sessions.get(session.meshId) !== session) continue;
      if (result.verified && result.subject === session.meshId) {
        session.credentialOk = true;
        session.credentialProblem = undefined;
        this.credentialTrust?.set(session.meshId, result.meshAgent?.trustLevel ?? 0);
      } else {
        session.credentialOk = false;
        session.credentialProblem = SUSPEND_REASON[credentialProblemCode(result)];
        this.credentialTrust?.set(session.meshId, 0);
      }
      this.reconcileMesh(session.meshId);
    }
  }

  /**
   * Suspends the federations of a mesh whose credential stopped verifying or whose trust fell
   * under a federation's minimum, and resumes those suspended for such a reason once fixed.
   */
  private reconcileMesh(meshId: string): void {
    for (const fed of [...this.fedTable.values()]) {
      if (fed.sourceMeshId !== meshId && fed.targetMeshId !== meshId) continue;
      const problem = this.federationProblem(fed);
      if (fed.status === 'active' && problem) {
        void this.setFederationStatus(fed.federationId, 'suspended', problem).catch((err) =>
          this.storeFailed(err),
        );
      } else if (
        fed.status === 'suspended' &&
        !problem &&
        fed.statusReason &&
        AUTO_REASONS.has(fed.statusReason)
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
    if (fed.minTrustScore !== undefined && this.trust.score(fed.targetMeshId) < fed.minTrustScore) {
      // Judge only what we can see: a disconnected target keeps its last score.
      return 'trust_too_low';
    }
    return undefined;
  }

  // ------------------------------------------------------------------------------------------
  // Timers
  // ------------------------------------------------------------------------------------------

  private sweep(): void {
    const now = this.now();
    for (const fed of [...this.fedTable.values()]) {
      if (fed.expiresAt <= now) this.expireFederation(fed);
    }
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
    for (const conn of [...this.connections]) {
      if (conn.state === 'hello' && now - conn.openedAt > this.limits.authTimeoutMs) {
        this.sendError(conn, new ProtocolError('handshake_timeout', 'no Authenticate in time'));
        conn.ws.close(CLOSE_AUTH_FAILED, 'authentication timeout');
      } else if (now - conn.lastSeen > this.limits.idleTimeoutMs) {
        conn.ws.close(CLOSE_IDLE, 'idle');
        conn.ws.terminate();
      }
    }
  }

  private heartbeat(): void {
    for (const conn of this.connections) {
      if (conn.state !== 'ready') continue;
      if (conn.awaitingPong) {
        // No pong for a whole interval: the peer is gone without a close.
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
    for (const s of this.sessions.values()) {
      const trustScore = this.trust.score(s.meshId);
      if (query.region !== undefined && s.region !== query.region) continue;
      if (query.minTrustScore !== undefined && trustScore < query.minTrustScore) continue;
      if (query.capabilities && !query.capabilities.every((c) => s.capabilities.includes(c))) continue;
      out.push({
        meshId: s.meshId,
        region: s.region,
        capabilities: [...s.capabilities],
        trustScore,
        homeHub: this.did,
      });
      if (out.length >= 256) return out;
    }
    for (const m of this.options.router?.discover?.(query) ?? []) {
      if (out.length >= 256) break;
      out.push(m);
    }
    return out;
  }

  routes(): RouteRow[] {
    const rows: RouteRow[] = [];
    for (const f of this.fedTable.values()) {
      rows.push({
        route: `${f.sourceMeshId}:${f.targetMeshId}`,
        federationId: f.federationId,
        status: f.status,
        path: [...f.path],
        latencyMs: this.sessions.get(f.targetMeshId)?.conn.rttMs ?? null,
        expiresAt: f.expiresAt,
      });
    }
    return [...rows, ...(this.options.router?.routes?.() ?? [])];
  }

  federations(): FederationRow[] {
    return [...this.fedTable.values()];
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

  private httpContext() {
    return {
      hub: this as Hub,
      isReady: () => this.running,
      adminToken: this.options.adminToken,
      maxIdentityBodyBytes: this.limits.maxIdentityBodyBytes,
      identityLimiter: this.identityLimiter,
      now: this.now,
      listFederations: async () => this.store.federations.list(),
      log: this.log,
    };
  }

  private updateFederationGauge(): void {
    let active = 0;
    let suspended = 0;
    for (const f of this.fedTable.values()) {
      if (f.status === 'active') active++;
      else if (f.status === 'suspended') suspended++;
    }
    this.metrics.federations.set({ status: 'active' }, active);
    this.metrics.federations.set({ status: 'suspended' }, suspended);
  }

  private storeFailed(err: unknown): void {
    this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'store write failed');
  }
}

/** Reasons the hub sets by itself and clears by itself once the cause is gone. */
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
