/**
 * Hub-to-hub links (docs/routing.md, "Peering"). Importing this module registers the hub-link
 * frames (HubHello, HubAuth, RouteAnnouncement, Relay, LinkPing, LinkPong) with parseFrame.
 *
 * @example
 * ```ts
 * import { PeerLinks } from './peering/index.js';
 *
 * const links = new PeerLinks({
 *   self: { did: hubDid, keyPair, verificationMethod: `${hubDid}#key-1` },
 *   resolveKey: authenticationKeyResolver(resolver),
 *   peers: [{ did: 'did:mesh:hub:na', url: 'ws://na.example:7400/v1/hub' }],
 *   onUp: (peer, latencyMs) => links.sendAnnouncement(peer, table.exportFor(peer)),
 *   onDown: (peer) => table.withdrawPeer(peer),
 *   onLatency: (peer, ms) => table.updateLinkLatency(peer, ms),
 *   onFrame: (peer, frame, inner) => {
 *     if (frame.type === 'RouteAnnouncement') table.applyAnnouncement(peer, frame, links.latency(peer) ?? 0);
 *     else if (frame.type === 'Relay' && inner) deliverOrForward(frame, inner);
 *   },
 *   reconnect: { baseMs: 1000, maxMs: 60_000 }, pingIntervalMs: 5000, now: Date.now, logger,
 * });
 * links.start();
 * wss.on('connection', (ws, req) => { if (req.url === '/v1/hub') links.handleUpgrade(ws); });
 * ```
 */
export * from './errors.js';
export * from './frames.js';
export * from './links.js';
