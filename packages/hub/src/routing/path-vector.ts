/**
 * The hub's routing table: a path-vector protocol over peer-hub links (docs/routing.md).
 *
 * Each hub announces the meshes it can reach with the full hub path; a receiver keeps at most one
 * candidate per (mesh, peer), refuses paths that contain itself or repeat a hub (loops) or that
 * would exceed maxHops, and selects per mesh: local attachment, else fewest hops, then lowest
 * latency (announced + measured link latency), then the lexicographically smallest peer DID.
 * Announcements back to a peer omit routes learned from it (split horizon); changes are reported
 * through onChange so only deltas are announced.
 *
 * "Hops" counts hubs a message traverses, self included, as the envelope's hopCount does: a route
 * with path [B, C] at hub A takes 3 hops (A, B, C), and is accepted only if 3 <= maxHops.
 */
import { MAX_HOPS, ValidationError, zodIssues } from '@fmp/core';
import { type MeshRoute, type RouteAnnouncement, routeAnnouncementSchema } from './announcement.js';

export type NextHop =
  | { readonly kind: 'local' }
  | {
      readonly kind: 'peer';
      readonly peerDid: string;
      /** Hubs after this one, from the next hop to the hub the mesh is attached to. */
      readonly path: readonly string[];
      /** Measured link latency to the next hop plus the latency it announced. */
      readonly latencyMs: number;
    };

export type RejectReason = 'loop' | 'first_hop_mismatch' | 'too_many_hops' | 'table_full' | 'paths_full';

export interface ApplyResult {
  /** Meshes whose selected route changed (also passed to onChange). */
  readonly changed: readonly string[];
  /** Announced routes not taken; each also withdraws that peer's earlier route to the mesh. */
  readonly rejected: readonly { readonly meshId: string; readonly reason: RejectReason }[];
}

/** One line of GET /v1/routes. */
export interface RouteRow {
  readonly meshId: string;
  readonly kind: 'local' | 'peer';
  readonly nextHop: string | null;
  /** Every hub on the way, this one first. */
  readonly path: readonly string[];
  readonly hops: number;
  readonly latencyMs: number;
  /** Other candidate paths held for this mesh (used on re-route). */
  readonly alternatives: number;
  readonly updatedAt: number;
}

export interface RouteTableOptions {
  selfHubDid: string;
  /** This hub's region, announced with its routes (compliance-aware routing). */
  selfRegion?: string;
  /** Most hubs a message may traverse, self included. Default and ceiling: MAX_HOPS (5). */
  maxHops?: number;
  /** Most distinct meshes (local or learned). Default 100,000. */
  maxMeshes?: number;
  /** Most candidate paths kept per mesh (one per peer). Default 8. */
  maxPathsPerMesh?: number;
  /** Most peers routes are learned from. Default 256. */
  maxPeers?: number;
  /**
   * A selected route whose latency moves by at least this much counts as changed (and is
   * re-announced). Smaller moves are not announced, so ping jitter does not ripple through the
   * network. Default 25 ms.
   */
  latencyChangeMs?: number;
  now: () => number;
}

export type RouteChangeListener = (changedMeshIds: readonly string[]) => void;

interface Candidate {
  readonly peerDid: string;
  readonly path: readonly string[];
  /** Region of each hub of path, when announced. */
  readonly regions: readonly string[] | undefined;
  readonly announcedLatencyMs: number;
}

type Selected =
  | { readonly kind: 'local'; readonly updatedAt: number }
  | {
      readonly kind: 'peer';
      readonly peerDid: string;
      readonly path: readonly string[];
      readonly regions: readonly string[] | undefined;
      readonly latencyMs: number;
      readonly updatedAt: number;
    };

function positiveInt(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(`${name} must be a positive integer`, [
      { path: name, message: 'positive integer' },
    ]);
  }
  return value;
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((hub, i) => hub === b[i]);
}

export class RouteTable {
  readonly selfHubDid: string;
  readonly selfRegion: string | undefined;
  readonly maxHops: number;
  private readonly maxMeshes: number;
  private readonly maxPathsPerMesh: number;
  private readonly maxPeers: number;
  private readonly latencyChangeMs: number;
  private readonly now: () => number;

  private readonly local = new Set<string>();
  private readonly candidates = new Map<string, Map<string, Candidate>>();
  private readonly byPeer = new Map<string, Set<string>>();
  private readonly peerLatency = new Map<string, number>();
  private readonly selected = new Map<string, Selected>();
  private readonly listeners = new Set<RouteChangeListener>();

  constructor(options: RouteTableOptions) {
    this.selfHubDid = options.selfHubDid;
    this.selfRegion = options.selfRegion;
    this.maxHops = positiveInt(options.maxHops ?? MAX_HOPS, 'maxHops');
    if (this.maxHops > MAX_HOPS) throw new ValidationError(`maxHops must be at most ${MAX_HOPS}`);
    this.maxMeshes = positiveInt(options.maxMeshes ?? 100_000, 'maxMeshes');
    this.maxPathsPerMesh = positiveInt(options.maxPathsPerMesh ?? 8, 'maxPathsPerMesh');
    this.maxPeers = positiveInt(options.maxPeers ?? 256, 'maxPeers');
    this.latencyChangeMs = options.latencyChangeMs ?? 25;
    this.now = options.now;
  }

  /** Subscribes to route changes; returns the unsubscribe function. */
  onChange(listener: RouteChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Number of meshes with a selected route. */
  get size(): number {
    return this.selected.size;
  }

  /** A mesh connected to this hub. Returns false when the table is full. */
  attach(meshId: string): boolean {
    if (this.local.has(meshId)) return true;
    if (!this.candidates.has(meshId) && this.meshCount() >= this.maxMeshes) return false;
    this.local.add(meshId);
    this.commit([meshId]);
    return true;
  }

  /** The mesh left this hub; a route through a peer, if any, takes over. */
  detach(meshId: string): void {
    if (!this.local.delete(meshId)) return;
    this.commit([meshId]);
  }

  isLocal(meshId: string): boolean {
    return this.local.has(meshId);
  }

  /**
   * Applies an announcement received from `peerDid` over a link whose measured one-way latency is
   * `linkLatencyMs`. Entries replace that peer's earlier route to the same mesh; `withdrawn` removes
   * them. Throws ValidationError on a malformed announcement (nothing applied).
   */
  applyAnnouncement(peerDid: string, announcement: RouteAnnouncement, linkLatencyMs: number): ApplyResult {
    if (peerDid === this.selfHubDid) throw new ValidationError('an announcement cannot come from this hub');
    checkLatency(linkLatencyMs);
    // Only the two announcement fields: a RouteAnnouncement frame (with its `type`) is accepted as is.
    const parsed = routeAnnouncementSchema.safeParse({
      meshes: announcement?.meshes,
      withdrawn: announcement?.withdrawn,
    });
    if (!parsed.success) {
      throw new ValidationError('invalid route announcement', zodIssues(parsed.error));
    }
    const dirty = new Set<string>();
    const rejected: { meshId: string; reason: RejectReason }[] = [];
    if (!this.peerLatency.has(peerDid) && this.peerLatency.size >= this.maxPeers) {
      for (const r of parsed.data.meshes) rejected.push({ meshId: r.meshId, reason: 'table_full' });
      return { changed: [], rejected };
    }
    this.setPeerLatency(peerDid, linkLatencyMs, dirty);
    for (const meshId of parsed.data.withdrawn) {
      if (this.removeCandidate(meshId, peerDid)) dirty.add(meshId);
    }
    for (const route of parsed.data.meshes) {
      const reason = this.validatePath(peerDid, route) ?? this.addCandidate(peerDid, route);
      if (reason) {
        rejected.push({ meshId: route.meshId, reason });
        // The peer no longer offers its earlier route to this mesh (treat as withdrawn).
        if (this.removeCandidate(route.meshId, peerDid)) dirty.add(route.meshId);
      } else {
        dirty.add(route.meshId);
      }
    }
    if (!this.byPeer.has(peerDid)) this.peerLatency.delete(peerDid);
    return { changed: this.commit(dirty), rejected };
  }

  /** New measured latency of the link to `peerDid`; re-selects routes through it. */
  updateLinkLatency(peerDid: string, linkLatencyMs: number): readonly string[] {
    checkLatency(linkLatencyMs);
    if (!this.peerLatency.has(peerDid)) return [];
    const dirty = new Set<string>();
    this.setPeerLatency(peerDid, linkLatencyMs, dirty);
    return this.commit(dirty);
  }

  /** The link to `peerDid` is down: forget every route learned from it. */
  withdrawPeer(peerDid: string): readonly string[] {
    const meshes = this.byPeer.get(peerDid);
    this.peerLatency.delete(peerDid);
    if (!meshes) return [];
    const dirty = new Set<string>();
    for (const meshId of [...meshes]) if (this.removeCandidate(meshId, peerDid)) dirty.add(meshId);
    return this.commit(dirty);
  }

  /** Where to send a message for `meshId`; undefined when unreachable. */
  nextHop(meshId: string): NextHop | undefined {
    const s = this.selected.get(meshId);
    if (!s) return undefined;
    if (s.kind === 'local') return { kind: 'local' };
    return { kind: 'peer', peerDid: s.peerDid, path: s.path, latencyMs: s.latencyMs };
  }

  /**
   * Like nextHop, among the candidate paths whose hubs all satisfy `accept` (given each hub's
   * region, undefined when not announced) and whose next hop is not in `avoid`: the best one that
   * does. Compliance-aware routing: a message restricted to some regions only takes such a path.
   */
  nextHopWhere(
    meshId: string,
    accept: (regions: readonly (string | undefined)[]) => boolean,
    avoid?: ReadonlySet<string>,
  ): NextHop | undefined {
    if (this.local.has(meshId)) return { kind: 'local' };
    let best: Candidate | undefined;
    for (const c of this.candidates.get(meshId)?.values() ?? []) {
      if (avoid?.has(c.peerDid)) continue;
      if (!accept(c.regions ?? c.path.map(() => undefined))) continue;
      if (!best || this.compare(c, best) < 0) best = c;
    }
    if (!best) return undefined;
    return { kind: 'peer', peerDid: best.peerDid, path: best.path, latencyMs: this.total(best) };
  }

  /**
   * The announcement to send to `peerDid`: every selected route (or only `meshIds`, for a delta),
   * with this hub prepended to the path. Routes learned from that peer, routes whose path already
   * contains it, and routes that would exceed maxHops at the peer are left out, and in a delta
   * they are listed as withdrawn.
   */
  exportFor(peerDid: string, meshIds?: Iterable<string>): RouteAnnouncement {
    const meshes: MeshRoute[] = [];
    const withdrawn: string[] = [];
    const delta = meshIds !== undefined;
    for (const meshId of meshIds ?? this.selected.keys()) {
      const s = this.selected.get(meshId);
      let route: MeshRoute | undefined;
      if (s?.kind === 'local') {
        // At the peer this takes 2 hops (peer, self).
        if (this.maxHops >= 2) {
          route = {
            meshId,
            path: [this.selfHubDid],
            latencyMs: 0,
            ...(this.selfRegion ? { regions: [this.selfRegion] } : {}),
          };
        }
      } else if (
        s &&
        s.peerDid !== peerDid &&
        !s.path.includes(peerDid) &&
        // At the peer the route becomes [peer, self, ...path]: 2 + path.length hubs.
        s.path.length + 2 <= this.maxHops
      ) {
        route = {
          meshId,
          path: [this.selfHubDid, ...s.path],
          latencyMs: s.latencyMs,
          ...(this.selfRegion && s.regions ? { regions: [this.selfRegion, ...s.regions] } : {}),
        };
      }
      if (route) meshes.push(route);
      else if (delta) withdrawn.push(meshId);
    }
    return { meshes, withdrawn };
  }

  /** The table for GET /v1/routes, sorted by mesh DID. */
  rows(): RouteRow[] {
    const rows: RouteRow[] = [];
    for (const [meshId, s] of this.selected) {
      const alternatives = (this.candidates.get(meshId)?.size ?? 0) - (s.kind === 'peer' ? 1 : 0);
      rows.push(
        s.kind === 'local'
          ? {
              meshId,
              kind: 'local',
              nextHop: null,
              path: [this.selfHubDid],
              hops: 1,
              latencyMs: 0,
              alternatives,
              updatedAt: s.updatedAt,
            }
          : {
              meshId,
              kind: 'peer',
              nextHop: s.peerDid,
              path: [this.selfHubDid, ...s.path],
              hops: s.path.length + 1,
              latencyMs: s.latencyMs,
              alternatives,
              updatedAt: s.updatedAt,
            },
      );
    }
    return rows.sort((a, b) => (a.meshId < b.meshId ? -1 : a.meshId > b.meshId ? 1 : 0));
  }

  /** Peers that currently have routes in the table. */
  peers(): string[] {
    return [...this.byPeer.keys()];
  }

  // --- internals ------------------------------------------------------------------------------

  private meshCount(): number {
    let n = this.candidates.size;
    for (const meshId of this.local) if (!this.candidates.has(meshId)) n++;
    return n;
  }

  private validatePath(peerDid: string, route: MeshRoute): RejectReason | undefined {
    if (route.path[0] !== peerDid) return 'first_hop_mismatch';
    if (route.path.includes(this.selfHubDid) || new Set(route.path).size !== route.path.length) return 'loop';
    if (route.path.length + 1 > this.maxHops) return 'too_many_hops';
    return undefined;
  }

  private total(c: Candidate): number {
    return c.announcedLatencyMs + (this.peerLatency.get(c.peerDid) ?? 0);
  }

  /** Negative when `a` is the better path (fewer hops, lower latency, smaller peer DID, smaller path). */
  private compare(a: Candidate, b: Candidate): number {
    if (a.path.length !== b.path.length) return a.path.length - b.path.length;
    const la = this.total(a);
    const lb = this.total(b);
    if (la !== lb) return la - lb;
    if (a.peerDid !== b.peerDid) return a.peerDid < b.peerDid ? -1 : 1;
    const pa = a.path.join(' ');
    const pb = b.path.join(' ');
    return pa < pb ? -1 : pa > pb ? 1 : 0;
  }

  private addCandidate(peerDid: string, route: MeshRoute): RejectReason | undefined {
    const candidate: Candidate = {
      peerDid,
      path: [...route.path],
      regions: route.regions ? [...route.regions] : undefined,
      announcedLatencyMs: route.latencyMs,
    };
    let perMesh = this.candidates.get(route.meshId);
    if (!perMesh) {
      if (!this.local.has(route.meshId) && this.meshCount() >= this.maxMeshes) return 'table_full';
      perMesh = new Map();
      this.candidates.set(route.meshId, perMesh);
    }
    if (!perMesh.has(peerDid) && perMesh.size >= this.maxPathsPerMesh) {
      // Keep the best maxPathsPerMesh: the newcomer replaces the worst only if it is better.
      let worst: Candidate | undefined;
      for (const c of perMesh.values()) if (!worst || this.compare(c, worst) > 0) worst = c;
      if (!worst || this.compare(candidate, worst) >= 0) return 'paths_full';
      this.removeCandidate(route.meshId, worst.peerDid);
    }
    perMesh.set(peerDid, candidate);
    let meshes = this.byPeer.get(peerDid);
    if (!meshes) {
      meshes = new Set();
      this.byPeer.set(peerDid, meshes);
    }
    meshes.add(route.meshId);
    return undefined;
  }

  private removeCandidate(meshId: string, peerDid: string): boolean {
    const perMesh = this.candidates.get(meshId);
    if (!perMesh?.delete(peerDid)) return false;
    if (perMesh.size === 0) this.candidates.delete(meshId);
    const meshes = this.byPeer.get(peerDid);
    meshes?.delete(meshId);
    if (meshes?.size === 0) this.byPeer.delete(peerDid);
    return true;
  }

  private setPeerLatency(peerDid: string, latencyMs: number, dirty: Set<string>): void {
    if (this.peerLatency.get(peerDid) === latencyMs) return;
    this.peerLatency.set(peerDid, latencyMs);
    for (const meshId of this.byPeer.get(peerDid) ?? []) dirty.add(meshId);
  }

  private select(meshId: string): Selected | undefined {
    const updatedAt = this.now();
    if (this.local.has(meshId)) return { kind: 'local', updatedAt };
    let best: Candidate | undefined;
    for (const c of this.candidates.get(meshId)?.values() ?? []) {
      if (!best || this.compare(c, best) < 0) best = c;
    }
    if (!best) return undefined;
    return {
      kind: 'peer',
      peerDid: best.peerDid,
      path: best.path,
      regions: best.regions,
      latencyMs: this.total(best),
      updatedAt,
    };
  }

  /** Re-selects the dirty meshes, records the result, notifies listeners of real changes. */
  private commit(dirty: Iterable<string>): string[] {
    const changed: string[] = [];
    for (const meshId of dirty) {
      const before = this.selected.get(meshId);
      const after = this.select(meshId);
      if (after) this.selected.set(meshId, after);
      else this.selected.delete(meshId);
      if (this.differs(before, after)) changed.push(meshId);
      else if (before && after) this.selected.set(meshId, { ...after, updatedAt: before.updatedAt });
    }
    if (changed.length > 0) for (const listener of [...this.listeners]) listener(changed);
    return changed;
  }

  private differs(a: Selected | undefined, b: Selected | undefined): boolean {
    if (!a || !b) return a !== b;
    if (a.kind !== b.kind) return true;
    if (a.kind === 'local' || b.kind === 'local') return false;
    return (
      a.peerDid !== b.peerDid ||
      !samePath(a.path, b.path) ||
      Math.abs(a.latencyMs - b.latencyMs) >= this.latencyChangeMs
    );
  }
}

function checkLatency(ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) throw new ValidationError('link latency must be a finite number >= 0');
}
