/**
 * @fmp/hub: the Federation Gateway Hub. One port: HTTP (health, metrics, DID resolution,
 * discovery, routes, admin) and WebSocket links for mesh nodes (`/v1/mesh`) and peer hubs
 * (`/v1/hub`, through the PeerRouter seam). docs/link-protocol.md describes the node link.
 *
 * @example
 * ```ts
 * import { ed25519 } from '@fmp/core';
 * import { createHub } from '@fmp/hub';
 *
 * const keyPair = ed25519.generateKeyPair();
 * const hub = createHub({
 *   did: didKeyFromEd25519PublicKey(keyPair.publicKey), keyPair, region: 'eu',
 *   trustedIssuers: ['did:mesh:authority:foundation'], registry, // a MeshRegistry holding the issuer
 *   limits: { queueTtlMs: 60_000 }, rateLimit: { messagesPerSec: 1000, burst: 2000 },
 * });
 * const { url } = await hub.start(); // ws://127.0.0.1:<port>; nodes connect to `${url}/v1/mesh`
 * // Federation network: another hub dials this one (which lists it in `allowedPeers`).
 * const other = createHub({ ...otherOptions, peers: [{ did: hub.did, url }] });
 * await hub.stop();
 * ```
 */
export {
  AdminUnauthorizedError,
  ConflictError,
  HubConfigError,
  HubStateError,
  httpError,
  NotFoundError,
} from './errors.js';
export {
  createHub,
  type Hub,
  type HubLogger,
  type HubOptions,
  type HubTrustEvent,
  type RemoteTrust,
  type StatusListChanges,
} from './hub.js';
export {
  HubLedger,
  type HubLedgerOptions,
  LedgerForwardError,
  LedgerRoleError,
  ledgerOrigin,
} from './ledger.js';
export { createHubMetrics, type HubMetrics } from './metrics.js';
export { OfflineQueue } from './offline-queue.js';
export { DEFAULT_LIMITS, type HubLimits } from './options.js';
export {
  type OutboundItem,
  type OutboundQueue,
  type OutboundQueueContext,
  type OutboundQueueFactory,
  simpleOutboundQueue,
} from './outbound.js';
export {
  type FederationRow,
  type FederationStore,
  type HubStore,
  type MeshRow,
  type MeshStore,
  memoryHubStore,
  StoreFullError,
  type TrustAttestationRow,
  type TrustEdgeRow,
  type TrustStore,
  type TrustSubjectRow,
  type UptimeRow,
  type UptimeStore,
} from './persistence.js';
export {
  type RateDecision,
  type RateLimiter,
  type RateLimitOptions,
  simpleRateLimiter,
} from './rate-limit.js';
export type { MeshInfo, RouteRow as PeerRouteRow } from './routing/index.js';
export { CredentialTrustProvider, type PeerRouter, type RouteRow, type TrustProvider } from './seams.js';
export { hubStoreFrom } from './store-adapter.js';
export { HubTrustFeed } from './trust-feed.js';
