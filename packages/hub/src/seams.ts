/**
 * Seams other modules plug into: trust scores (issue #5's trust engine), forwarding to peer hubs
 * (packages/hub/src/routing and peering), and extra discovery sources (meshes behind peers).
 */

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AvailableMesh, DiscoveryQuery, Envelope } from '@fmp/core';

/** Trust score 0-100 of a mesh (spec 5.1). */
export interface TrustProvider {
  score(meshDid: string): number;
}

/**
 * Until the trust engine lands: the trustLevel of the mesh's verified MeshAgentCredential, 0 when
 * it has none or it stopped verifying. Bounded like the mesh table.
 */
export class CredentialTrustProvider implements TrustProvider {
  private readonly scores = new Map<string, number>();
  constructor(private readonly maxEntries = 100_000) {}
  score(meshDid: string): number {
    return this.scores.get(meshDid) ?? 0;
  }
  set(meshDid: string, score: number): void {
    if (!this.scores.has(meshDid) && this.scores.size >= this.maxEntries) {
      this.scores.delete(this.scores.keys().next().value as string);
    }
    this.scores.set(meshDid, score);
  }
}

/** A routing-table row as GET /v1/routes shows it (spec 6.1). */
export interface RouteRow {
  /** `source:target` */
  readonly route: string;
  readonly federationId: string;
  readonly status: string;
  /** Hub DIDs between the two ends. */
  readonly path: readonly string[];
  /** Last measured link round trip to the target (ms), null when unknown. */
  readonly latencyMs: number | null;
  readonly expiresAt: number;
}

/**
 * Where a message goes when its target is not attached to this hub: the routing/peering modules
 * implement it. `forward` returns false when no peer route reaches the target (the hub then
 * queues the message for a local reconnect or reports `unreachable`).
 */
export interface PeerRouter {
  /** Whether some peer hub announces a route to this mesh. */
  reaches(meshId: string): boolean;
  /** Hands over an envelope already hop-forwarded by this hub. */
  forward(envelope: Envelope): boolean;
  /** Extra rows for GET /v1/routes (routes learned from peers). */
  routes?(): readonly RouteRow[];
  /** Meshes behind peer hubs, for discovery. */
  discover?(query: DiscoveryQuery): readonly AvailableMesh[];
  /** Accepts a WebSocket upgrade on /v1/hub (peer hubs). */
  handlePeerUpgrade?(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Called by hub.stop(). */
  stop?(): Promise<void> | void;
}
