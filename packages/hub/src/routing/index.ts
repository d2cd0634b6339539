/**
 * Path-vector routing between hubs (docs/routing.md).
 *
 * @example
 * ```ts
 * import { RouteTable } from './routing/index.js';
 *
 * const table = new RouteTable({ selfHubDid: 'did:mesh:hub:eu', now: Date.now });
 * table.onChange((changed) => {
 *   for (const peer of links.connectedPeers()) links.sendAnnouncement(peer, table.exportFor(peer, changed));
 * });
 * table.attach('did:mesh:academic:mit-001');               // a node authenticated here
 * table.applyAnnouncement(peerDid, frame, links.latency(peerDid) ?? 0); // on RouteAnnouncement
 * const hop = table.nextHop(envelope.targetMeshId);        // local | peer | undefined (unreachable)
 * ```
 */
export * from './announcement.js';
export * from './path-vector.js';
