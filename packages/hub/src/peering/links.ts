/**
 * Authenticated hub-to-hub links over WebSocket (docs/routing.md, "Peering").
 *
 * Both ends send HubHello (DID, fresh 32-byte nonce, timestamp), then HubAuth: an Ed25519
 * signature over hubAuthDigest (both DIDs, both nonces, the verification method). Each end resolves
 * the other's key and verifies it, then sends a LinkPing; a link is up once an end has verified the
 * other AND received the other's first LinkPing (proof the other verified it), so neither end is
 * ever up alone. A hub outside allowedPeers, a bad signature, an unresolvable key, a stale hello or
 * a slow handshake gets a typed error frame and the socket is closed. Up links are pinged; latency
 * is an EWMA of RTT/2 (the first sample is the hello/auth round trip). Configured peers are dialed and re-dialed with capped 2^n backoff. Data frames go
 * through a LinkScheduler per link, so priorities hold and a slow peer queues boundedly.
 *
 * When both hubs dial each other, the link dialed by the hub with the smaller DID is kept (both
 * ends apply the same rule); when the same side dialed twice, the newer link wins.
 */
import {
  BATCH_FEATURE,
  base64urlEncode,
  DEFAULT_MAX_FRAME_BYTES,
  type Ed25519KeyPair,
  type ErrorFrame,
  ed25519,
  encodeErrorFrame,
  FmpError,
  frameText,
  isBatchText,
  multibaseDecode,
  multibaseEncode,
  type ParsedFrame,
  ProtocolError,
  parseFrame,
  randomBytes,
  splitBatch,
  ValidationError,
} from '@fmp/core';
import { connectGrpcLink, isGrpcUrl } from '@fmp/core/grpc';
import WebSocket from 'ws';
import { type LinkDropReason, type LinkQueueOptions, LinkScheduler } from '../qos/link-scheduler.js';
import type { QosClass } from '../qos/priority-queue.js';
import { enableBatching, flushNow, linkWriter, wsSink } from '../qos/ws-sink.js';
import { type RouteAnnouncement, splitAnnouncement } from '../routing/announcement.js';
import {
  PeerAuthenticationError,
  type PeerLinkError,
  PeerNotAllowedError,
  PeerProtocolError,
  PeerRefusedError,
} from './errors.js';
import {
  type HubAuth,
  type HubHello,
  hubAuthDigest,
  type IdentityOps,
  MAX_HUB_LOG_OPS,
  matchRelayedFrame,
  parseRelayedFrame,
  type Relay,
  type RelayedFrame,
  type RouteAnnouncementFrame,
  type TrustAttestations,
} from './frames.js';

/** Frames a link hands to the hub (control frames are handled here). */
export type PeerDataFrame = RouteAnnouncementFrame | Relay | ErrorFrame | IdentityOps | TrustAttestations;

/** What can be sent to a peer through `send`. */
export type PeerOutboundFrame = RouteAnnouncementFrame | Relay | ErrorFrame | IdentityOps | TrustAttestations;

export interface PeerLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface PeerRefusal {
  /** The other hub's DID when known (dialed, or claimed in its HubHello). */
  readonly peerDid: string | undefined;
  readonly direction: 'inbound' | 'outbound';
  readonly error: PeerLinkError;
}

export interface PeerLinksQosOptions {
  queue: LinkQueueOptions;
  highWaterMark?: number;
  onSent?: (peerDid: string, frame: PeerOutboundFrame, priority: QosClass, waitedMs: number) => void;
  /** A frame accepted by `send` that will not be delivered on this link (never silent). */
  onDropped?: (peerDid: string, frame: PeerOutboundFrame, reason: LinkDropReason | 'link_down') => void;
}

export interface PeerLinksOptions {
  self: { did: string; keyPair: Ed25519KeyPair; verificationMethod: string };
  /** Resolves `did#fragment` to an Ed25519 public key (e.g. identity's authenticationKeyResolver). */
  resolveKey: (verificationMethod: string) => Promise<Uint8Array>;
  /**
   * Peers this hub dials and keeps connected: `ws(s)://host:port/v1/hub`, or `grpc(s)://host:port`
   * (`/fmp.v1.HubLink/Connect`; the caller has awaited @fmp/core's loadGrpc()).
   */
  peers: readonly { did: string; url: string }[];
  /** Hubs accepted on inbound links. Absent: only the configured peers (fail closed). */
  allowedPeers?: readonly string[];
  onFrame: (peerDid: string, frame: PeerDataFrame, relayed?: RelayedFrame) => void;
  onUp: (peerDid: string, latencyMs: number) => void;
  onDown: (peerDid: string) => void;
  /** The EWMA latency of an up link moved (after each pong). */
  onLatency?: (peerDid: string, latencyMs: number) => void;
  onRefused?: (refusal: PeerRefusal) => void;
  /** This hub's own did:mesh operations, sent in HubAuth (at most 16). */
  selfLog?: () => readonly Record<string, unknown>[];
  /**
   * Imports the did:mesh operations an allowed peer sent in its HubAuth, before its key is
   * resolved (a rejection refuses the link with did_resolution_failed).
   */
  importPeerLog?: (peerDid: string, ops: readonly Record<string, unknown>[]) => Promise<void>;
  /** Re-dial delay: min(maxMs, baseMs * 2^attempt), attempt reset when a link comes up. */
  reconnect: { baseMs: number; maxMs: number };
  pingIntervalMs: number;
  now: () => number;
  logger?: PeerLogger;
  /** Handshake deadline. Default 10 s. */
  authTimeoutMs?: number;
  /** Accepted HubHello clock skew. Default 5 min. */
  maxSkewMs?: number;
  /** A link silent for this long is dropped. Default 3 * pingIntervalMs. */
  idleTimeoutMs?: number;
  /** ws maxPayload and parseFrame limit. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Unauthenticated inbound links at once. Default 64. */
  maxPendingInbound?: number;
  /** EWMA weight of a new latency sample. Default 0.25. */
  latencyAlpha?: number;
  qos?: PeerLinksQosOptions;
}

type Direction = 'inbound' | 'outbound';

interface QueuedFrame {
  readonly frame: PeerOutboundFrame;
  readonly data: string;
}

interface Link {
  readonly ws: WebSocket;
  readonly direction: Direction;
  /** For outbound links: the hub we dialed. */
  readonly expectedDid: string | undefined;
  readonly nonce: string;
  /** hello: awaiting HubHello; auth: awaiting HubAuth; verified: awaiting the peer's first LinkPing. */
  state: 'hello' | 'auth' | 'verified' | 'up' | 'closed';
  /** Latency from the hello/auth round trip, the first sample. */
  initialLatencyMs: number;
  helloSentAt: number;
  peerHello: HubHello | undefined;
  latencyMs: number;
  lastSeen: number;
  chain: Promise<void>;
  pending: number;
  authTimer: ReturnType<typeof setTimeout> | undefined;
  scheduler: LinkScheduler<QueuedFrame> | undefined;
  superseded: boolean;
}

interface DialState {
  readonly url: string;
  attempt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  link: Link | undefined;
}

const noopLogger: PeerLogger = { debug() {}, info() {}, warn() {} };
/** Frames waiting to be processed on one link; more means the peer floods faster than we verify. */
const MAX_PENDING_FRAMES = 1024;
const CLOSE_POLICY = 1008;
const CLOSE_DUPLICATE = 4000;
const CLOSE_GOING_AWAY = 1001;

export class PeerLinks {
  private readonly options: PeerLinksOptions;
  private readonly logger: PeerLogger;
  private readonly allowed: ReadonlySet<string>;
  private readonly dials = new Map<string, DialState>();
  private readonly active = new Map<string, Link>();
  private readonly links = new Set<Link>();
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private started = false;

  constructor(options: PeerLinksOptions) {
    const { reconnect, pingIntervalMs } = options;
    if (!(reconnect.baseMs > 0) || !(reconnect.maxMs >= reconnect.baseMs)) {
      throw new ValidationError('reconnect needs 0 < baseMs <= maxMs');
    }
    if (!(pingIntervalMs > 0)) throw new ValidationError('pingIntervalMs must be positive');
    if (!options.self.verificationMethod.startsWith(`${options.self.did}#`)) {
      throw new ValidationError('self.verificationMethod must be a key of self.did');
    }
    this.options = options;
    this.logger = options.logger ?? noopLogger;
    const allowed = new Set(options.allowedPeers ?? []);
    for (const p of options.peers) {
      if (p.did === options.self.did) throw new ValidationError('a hub cannot peer with itself');
      allowed.add(p.did);
      this.dials.set(p.did, { url: p.url, attempt: 0, timer: undefined, link: undefined });
    }
    this.allowed = allowed;
  }

  /** Dials the configured peers and starts heartbeats. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const did of this.dials.keys()) this.dial(did);
    this.pingTimer = setInterval(() => this.heartbeat(), this.options.pingIntervalMs);
    this.pingTimer.unref?.();
  }

  /** Closes every link and stops re-dialing; resolves once all sockets are closed. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    for (const d of this.dials.values()) {
      if (d.timer) clearTimeout(d.timer);
      d.timer = undefined;
    }
    const closing = [...this.links].map(
      (link) =>
        new Promise<void>((resolve) => {
          if (link.ws.readyState === WebSocket.CLOSED) return resolve();
          link.ws.once('close', () => resolve());
          // A peer that does not answer the close handshake is cut off.
          const t = setTimeout(() => link.ws.terminate(), 1000);
          t.unref?.();
          link.ws.close(CLOSE_GOING_AWAY, 'hub stopping');
        }),
    );
    await Promise.all(closing);
  }

  /** Takes an inbound socket from the hub server (upgraded on /v1/hub). */
  handleUpgrade(ws: WebSocket): void {
    if (!this.started) {
      ws.close(CLOSE_GOING_AWAY, 'not accepting hub links');
      return;
    }
    let pendingInbound = 0;
    for (const l of this.links) if (l.direction === 'inbound' && l.state !== 'up') pendingInbound++;
    if (pendingInbound >= (this.options.maxPendingInbound ?? 64)) {
      ws.close(1013, 'too many pending hub links');
      return;
    }
    const link = this.track(ws, 'inbound', undefined);
    this.sendHello(link);
  }

  /**
   * Queues a frame for `peerDid` at `priority` (default normal). False when there is no up link or
   * its queue is full: the frame was not taken. `innerText`: a Relay's inner frame already
   * serialized (an envelope forwarded as the text it came in, hop-edited), spliced in rather than
   * serialized again from `frame.frame`.
   */
  send(
    peerDid: string,
    frame: PeerOutboundFrame,
    priority: QosClass = 'normal',
    innerText?: string,
  ): boolean {
    const link = this.active.get(peerDid);
    if (!link?.scheduler) return false;
    let data: string;
    if (innerText !== undefined && frame.type === 'Relay') {
      const { frame: _inner, ...outer } = frame;
      data = `${JSON.stringify(outer).slice(0, -1)},"frame":${innerText}}`;
    } else {
      data = JSON.stringify(frame);
    }
    return link.scheduler.enqueue({ frame, data }, priority, data.length);
  }

  /** Sends an announcement as one or more RouteAnnouncement frames at critical priority. */
  sendAnnouncement(peerDid: string, announcement: RouteAnnouncement): boolean {
    let ok = true;
    for (const part of splitAnnouncement(announcement)) {
      ok = this.send(peerDid, { type: 'RouteAnnouncement', ...part }, 'critical') && ok;
    }
    return ok;
  }

  /** Peers with an authenticated link. */
  connectedPeers(): string[] {
    return [...this.active.keys()];
  }

  isUp(peerDid: string): boolean {
    return this.active.has(peerDid);
  }

  /** Current latency estimate (EWMA of RTT/2) of the link to `peerDid`. */
  latency(peerDid: string): number | undefined {
    return this.active.get(peerDid)?.latencyMs;
  }

  /** Queue depth per up link (for metrics). */
  queueDepths(): Record<string, Record<QosClass, number>> {
    const out: Record<string, Record<QosClass, number>> = {};
    for (const [did, link] of this.active) if (link.scheduler) out[did] = link.scheduler.counts();
    return out;
  }

  // --- connection management ------------------------------------------------------------------

  private dial(peerDid: string): void {
    const d = this.dials.get(peerDid);
    if (!d || !this.started || d.link || d.timer || this.active.has(peerDid)) return;
    let ws: WebSocket;
    try {
      if (isGrpcUrl(d.url)) {
        // A GrpcLinkSocket has the part of ws's WebSocket API a link uses.
        ws = connectGrpcLink(d.url, {
          maxMessageBytes: this.maxFrameBytes(),
          kind: 'hub',
        }) as unknown as WebSocket;
      } else {
        ws = new WebSocket(d.url, {
          maxPayload: this.maxFrameBytes(),
          handshakeTimeout: this.options.authTimeoutMs ?? 10_000,
        });
      }
    } catch (err) {
      this.logger.warn({ peer: peerDid, err: describe(err) }, 'hub link: cannot dial');
      this.scheduleRedial(peerDid);
      return;
    }
    d.link = this.track(ws, 'outbound', peerDid);
    ws.once('open', () => this.sendHello(d.link!));
  }

  private scheduleRedial(peerDid: string): void {
    const d = this.dials.get(peerDid);
    if (!d || !this.started || d.timer || d.link || this.active.has(peerDid)) return;
    const { baseMs, maxMs } = this.options.reconnect;
    const delay = Math.min(maxMs, baseMs * 2 ** Math.min(d.attempt, 30));
    d.attempt++;
    this.logger.debug({ peer: peerDid, delay }, 'hub link: re-dial scheduled');
    d.timer = setTimeout(() => {
      d.timer = undefined;
      this.dial(peerDid);
    }, delay);
    d.timer.unref?.();
  }

  private track(ws: WebSocket, direction: Direction, expectedDid: string | undefined): Link {
    const now = this.options.now();
    const link: Link = {
      ws,
      direction,
      expectedDid,
      nonce: base64urlEncode(randomBytes(32)),
      state: 'hello',
      initialLatencyMs: 0,
      helloSentAt: now,
      peerHello: undefined,
      latencyMs: 0,
      lastSeen: now,
      chain: Promise.resolve(),
      pending: 0,
      authTimer: undefined,
      scheduler: undefined,
      superseded: false,
    };
    this.links.add(link);
    link.authTimer = setTimeout(
      () => this.refuse(link, new PeerProtocolError('handshake_timeout', 'hub link handshake timed out')),
      this.options.authTimeoutMs ?? 10_000,
    );
    link.authTimer.unref?.();
    ws.on('error', (err) => this.logger.debug({ err: describe(err), direction }, 'hub link: socket error'));
    ws.on('message', (data, isBinary) => this.receive(link, data, isBinary));
    ws.once('close', () => this.closed(link));
    return link;
  }

  private receive(link: Link, data: WebSocket.RawData, isBinary: boolean): void {
    if (link.state === 'closed') return;
    if (++link.pending > MAX_PENDING_FRAMES) {
      link.ws.terminate();
      return;
    }
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    // Frames are handled one at a time, in order: key resolution during the handshake is async.
    link.chain = link.chain
      .then(() => this.handle(link, bytes, isBinary))
      .catch((err) => this.logger.warn({ err: describe(err) }, 'hub link: frame handler failed'))
      .finally(() => {
        link.pending--;
      });
  }

  private async handle(link: Link, bytes: Uint8Array, isBinary: boolean): Promise<void> {
    if (link.state === 'closed') return;
    link.lastSeen = this.options.now();
    let parsed: ParsedFrame;
    try {
      if (isBinary) throw new ProtocolError('malformed_frame', 'hub link frames are JSON text');
      const text = frameText(bytes, this.maxFrameBytes());
      if (link.state === 'up' && isBatchText(text)) {
        this.handleBatch(link, text);
        return;
      }
      if (link.state === 'up' && this.relayedFrame(link, text)) return;
      parsed = parseFrame(text, { maxBytes: this.maxFrameBytes() });
    } catch (err) {
      if (link.state !== 'up') {
        const code = err instanceof ProtocolError ? err.wireCode : 'malformed_frame';
        this.refuse(link, new PeerProtocolError(code, 'malformed handshake frame', { cause: err }));
        return;
      }
      this.sendRaw(link, encodeErrorFrame(err));
      return;
    }
    if (link.state === 'up') return this.handleUp(link, parsed);
    if (parsed.kind === 'error') {
      const e = parsed.frame;
      this.refuse(link, new PeerRefusedError(e.code, e.message), false);
      return;
    }
    if (link.state === 'hello' && parsed.kind === 'HubHello') return this.onHello(link, parsed.frame);
    if (link.state === 'auth' && parsed.kind === 'HubAuth') return this.onAuth(link, parsed.frame);
    if (link.state === 'verified' && parsed.kind === 'LinkPing') {
      // The peer pings only after verifying us: both ends are now authenticated.
      this.up(link, link.peerHello!.hubDid, link.initialLatencyMs);
      if ((link.state as Link['state']) === 'up') {
        this.sendRaw(link, { type: 'LinkPong', sentAt: parsed.frame.sentAt });
      }
      return;
    }
    this.refuse(link, new PeerProtocolError('out_of_order', `unexpected ${parsed.kind} during handshake`));
  }

  /** A batch (we announced `batch` in HubHello): its frames one by one, in order. */
  private handleBatch(link: Link, text: string): void {
    for (const part of splitBatch(text)) {
      if (link.state !== 'up') return;
      if (this.relayedFrame(link, part)) continue;
      let parsed: ParsedFrame;
      try {
        parsed = parseFrame(part, { maxBytes: this.maxFrameBytes() });
      } catch (err) {
        this.sendRaw(link, encodeErrorFrame(err));
        continue;
      }
      try {
        this.handleUp(link, parsed);
      } catch (err) {
        // As for a frame that came alone (the chain's catch): logged, and the batch goes on.
        this.logger.warn({ err: describe(err) }, 'hub link: frame handler failed');
      }
    }
  }

  private onHello(link: Link, hello: HubHello): void {
    const self = this.options.self;
    const skew = Math.abs(this.options.now() - hello.timestamp);
    if (skew > (this.options.maxSkewMs ?? 300_000)) {
      this.refuse(link, new PeerProtocolError('clock_skew', 'HubHello timestamp outside the window'));
      return;
    }
    if (hello.hubDid === self.did) {
      this.refuse(link, new PeerNotAllowedError('a hub cannot peer with itself'));
      return;
    }
    if (link.expectedDid !== undefined && hello.hubDid !== link.expectedDid) {
      this.refuse(link, new PeerNotAllowedError(`dialed ${link.expectedDid}, answered by another hub`));
      return;
    }
    if (!this.allowed.has(hello.hubDid)) {
      this.refuse(link, new PeerNotAllowedError('hub is not an allowed peer'), true, hello.hubDid);
      return;
    }
    link.peerHello = hello;
    link.state = 'auth';
    if (hello.features?.includes(BATCH_FEATURE)) enableBatching(link.ws, hello.maxFrameBytes);
    const digest = hubAuthDigest({
      signerDid: self.did,
      verifierDid: hello.hubDid,
      signerNonce: link.nonce,
      verifierNonce: hello.nonce,
      verificationMethod: self.verificationMethod,
    });
    const log = this.options.selfLog?.() ?? [];
    const auth: HubAuth = {
      type: 'HubAuth',
      hubDid: self.did,
      verificationMethod: self.verificationMethod,
      signature: multibaseEncode(ed25519.sign(digest, self.keyPair)),
      ...(log.length > 0 ? { log: log.slice(0, MAX_HUB_LOG_OPS) as HubAuth['log'] } : {}),
    };
    this.sendRaw(link, auth);
  }

  private async onAuth(link: Link, auth: HubAuth): Promise<void> {
    // The peer sent HubAuth on receiving our hello: one round trip after we sent it.
    const rttMs = Math.max(0, this.options.now() - link.helloSentAt);
    const hello = link.peerHello!;
    if (auth.hubDid !== hello.hubDid || !auth.verificationMethod.startsWith(`${hello.hubDid}#`)) {
      this.refuse(
        link,
        new PeerAuthenticationError('invalid_signature', 'HubAuth key does not belong to the hello DID'),
      );
      return;
    }
    let publicKey: Uint8Array;
    try {
      // Only the peer's own operations: an allowed hub cannot fill our registry through HubAuth.
      const own = (auth.log ?? []).filter((op) => op['did'] === hello.hubDid);
      if (own.length > 0 && this.options.importPeerLog) await this.options.importPeerLog(hello.hubDid, own);
      publicKey = await this.options.resolveKey(auth.verificationMethod);
    } catch (err) {
      this.refuse(
        link,
        new PeerAuthenticationError('did_resolution_failed', 'cannot resolve the hub key', { cause: err }),
      );
      return;
    }
    if (link.state !== 'auth') return; // closed while resolving
    const digest = hubAuthDigest({
      signerDid: hello.hubDid,
      verifierDid: this.options.self.did,
      signerNonce: hello.nonce,
      verifierNonce: link.nonce,
      verificationMethod: auth.verificationMethod,
    });
    let valid = false;
    try {
      valid = ed25519.verify(multibaseDecode(auth.signature), digest, publicKey);
    } catch {
      valid = false;
    }
    if (!valid) {
      this.refuse(
        link,
        new PeerAuthenticationError('invalid_signature', 'HubAuth signature does not verify'),
      );
      return;
    }
    link.state = 'verified';
    link.initialLatencyMs = rttMs / 2;
    // Tells the peer we verified it; we are up once its own LinkPing says the same.
    this.sendRaw(link, { type: 'LinkPing', sentAt: this.options.now() });
  }

  private up(link: Link, peerDid: string, latencyMs: number): void {
    if (link.authTimer) clearTimeout(link.authTimer);
    link.authTimer = undefined;
    const existing = this.active.get(peerDid);
    if (existing && !this.prefer(link, existing, peerDid)) {
      link.superseded = true;
      link.state = 'closed';
      link.ws.close(CLOSE_DUPLICATE, 'duplicate hub link');
      return;
    }
    if (existing) {
      // Replacing the link: report it down so routes and queued frames are settled, then up again.
      existing.superseded = true;
      this.down(existing, peerDid);
      existing.ws.close(CLOSE_DUPLICATE, 'duplicate hub link');
    }
    link.state = 'up';
    link.latencyMs = latencyMs;
    this.active.set(peerDid, link);
    const d = this.dials.get(peerDid);
    if (d) {
      d.attempt = 0;
      if (d.timer) clearTimeout(d.timer);
      d.timer = undefined;
    }
    const qos = this.options.qos;
    link.scheduler = new LinkScheduler<QueuedFrame>({
      ...wsSink<QueuedFrame>(link.ws, { serialize: (q) => q.data }),
      highWaterMark: qos?.highWaterMark,
      queue: qos?.queue ?? { maxItems: 10_000, maxBytes: 64 * 1024 * 1024, ttlMs: 30_000 },
      now: this.options.now,
      onSent: (q, entry) => qos?.onSent?.(peerDid, q.frame, entry.priority, entry.waitedMs),
      onDropped: (q, reason) => this.dropped(peerDid, q.frame, reason),
    });
    this.logger.info({ peer: peerDid, direction: link.direction, latencyMs }, 'hub link up');
    this.options.onUp(peerDid, latencyMs);
  }

  /** Whether `candidate` should replace `existing` as the link to `peerDid`. */
  private prefer(candidate: Link, existing: Link, peerDid: string): boolean {
    const dialer = (l: Link) => (l.direction === 'outbound' ? this.options.self.did : peerDid);
    const a = dialer(candidate);
    const b = dialer(existing);
    if (a === b) return true; // same side dialed again: the old link is probably dead
    const smaller = this.options.self.did < peerDid ? this.options.self.did : peerDid;
    return a === smaller;
  }

  /**
   * A Relay of a sealed envelope or a Delivered receipt in the layout hubs write, read from its text
   * (matchRelayedFrame): handed on as handleUp would hand it. False: the general path decides.
   */
  private relayedFrame(link: Link, text: string): boolean {
    const matched = matchRelayedFrame(text, this.maxFrameBytes());
    if (matched === undefined) return false;
    const peerDid = link.peerHello!.hubDid;
    if (this.active.get(peerDid) !== link) return true; // superseded, closing
    this.options.onFrame(peerDid, matched.relay, matched.inner);
    return true;
  }

  private handleUp(link: Link, parsed: ParsedFrame): void {
    const peerDid = link.peerHello!.hubDid;
    if (this.active.get(peerDid) !== link) return; // superseded, closing
    switch (parsed.kind) {
      case 'LinkPing':
        this.sendRaw(link, { type: 'LinkPong', sentAt: parsed.frame.sentAt });
        return;
      case 'LinkPong': {
        const rtt = this.options.now() - parsed.frame.sentAt;
        // Only our own recent pings count; a forged or stale sentAt is ignored.
        if (rtt < 0 || rtt > (this.options.idleTimeoutMs ?? 3 * this.options.pingIntervalMs)) return;
        const alpha = this.options.latencyAlpha ?? 0.25;
        link.latencyMs = link.latencyMs * (1 - alpha) + (rtt / 2) * alpha;
        this.options.onLatency?.(peerDid, link.latencyMs);
        return;
      }
      case 'RouteAnnouncement':
      case 'IdentityOps':
      case 'TrustAttestations':
      case 'error':
        this.options.onFrame(peerDid, parsed.frame);
        return;
      case 'Relay': {
        let inner: RelayedFrame;
        try {
          inner = parseRelayedFrame(parsed.frame, this.maxFrameBytes());
        } catch (err) {
          this.sendRaw(link, encodeErrorFrame(err));
          return;
        }
        this.options.onFrame(peerDid, parsed.frame, inner);
        return;
      }
      default:
        this.sendRaw(
          link,
          encodeErrorFrame(new ProtocolError('out_of_order', `${parsed.kind} is not a hub-link frame`)),
        );
    }
  }

  private heartbeat(): void {
    const now = this.options.now();
    const idle = this.options.idleTimeoutMs ?? 3 * this.options.pingIntervalMs;
    for (const [peerDid, link] of this.active) {
      if (now - link.lastSeen > idle) {
        this.logger.warn({ peer: peerDid }, 'hub link idle: dropping');
        link.ws.terminate();
        continue;
      }
      this.sendRaw(link, { type: 'LinkPing', sentAt: now });
      link.scheduler?.drainExpired();
    }
  }

  private refuse(link: Link, error: PeerLinkError, tellPeer = true, claimedDid?: string): void {
    if (link.state === 'closed') return;
    const peerDid = link.expectedDid ?? claimedDid ?? link.peerHello?.hubDid;
    if (tellPeer) {
      this.sendRaw(link, encodeErrorFrame(new ProtocolError(error.wireCode, error.message)));
    }
    link.state = 'closed';
    if (link.authTimer) clearTimeout(link.authTimer);
    link.authTimer = undefined;
    this.logger.warn({ peer: peerDid, direction: link.direction, code: error.code }, 'hub link refused');
    this.options.onRefused?.({ peerDid, direction: link.direction, error });
    link.ws.close(CLOSE_POLICY, error.code);
  }

  private closed(link: Link): void {
    if (link.authTimer) clearTimeout(link.authTimer);
    link.authTimer = undefined;
    link.state = 'closed';
    this.links.delete(link);
    const peerDid = link.peerHello?.hubDid;
    if (peerDid && this.active.get(peerDid) === link) this.down(link, peerDid);
    if (link.direction === 'outbound' && link.expectedDid) {
      const d = this.dials.get(link.expectedDid);
      if (d?.link === link) d.link = undefined;
      this.scheduleRedial(link.expectedDid);
    }
  }

  private down(link: Link, peerDid: string): void {
    this.active.delete(peerDid);
    link.state = 'closed';
    for (const entry of link.scheduler?.close() ?? []) this.dropped(peerDid, entry.item.frame, 'link_down');
    this.logger.info({ peer: peerDid }, 'hub link down');
    this.options.onDown(peerDid);
    // A configured peer reached over its inbound link is re-dialed when that link is lost.
    if (!link.superseded) this.scheduleRedial(peerDid);
  }

  private dropped(peerDid: string, frame: PeerOutboundFrame, reason: LinkDropReason | 'link_down'): void {
    if (this.options.qos?.onDropped) this.options.qos.onDropped(peerDid, frame, reason);
    else this.logger.warn({ peer: peerDid, type: frame.type, reason }, 'hub link: frame dropped');
  }

  private sendHello(link: Link): void {
    link.helloSentAt = this.options.now();
    const hello: HubHello = {
      type: 'HubHello',
      hubDid: this.options.self.did,
      nonce: link.nonce,
      timestamp: link.helloSentAt,
      features: [BATCH_FEATURE],
      ...(this.maxFrameBytes() >= 1024 ? { maxFrameBytes: this.maxFrameBytes() } : {}),
    };
    this.sendRaw(link, hello);
  }

  /** Control frames bypass the queue: they are small and must not wait behind bulk traffic. */
  private sendRaw(link: Link, frame: object): void {
    if (link.ws.readyState !== WebSocket.OPEN) return;
    // Through the socket's writer, after the data frames already queued there (order holds).
    linkWriter(link.ws).write(JSON.stringify(frame));
    flushNow(link.ws);
  }

  private maxFrameBytes(): number {
    return this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }
}

function describe(err: unknown): string {
  if (err instanceof FmpError) return `${err.name}(${err.code})`;
  return err instanceof Error ? err.name : 'unknown error';
}
