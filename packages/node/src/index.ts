/**
 * @fmp/node: the mesh node SDK. Connects to a home hub, federates with other meshes through the
 * handshake (spec 3), and exchanges signed, sealed messages verified end to end.
 *
 * @example
 * ```ts
 * import { createMeshNode } from '@fmp/node';
 *
 * const node = createMeshNode({
 *   did: 'did:mesh:enterprise:acme-001', keyPair, credential, meshLog,
 *   capabilities: ['ml.inference'], region: 'eu', hubUrl: 'ws://127.0.0.1:7443',
 *   trustedIssuers: ['did:mesh:authority:foundation'],
 *   policy: { acceptCapabilities: ['ml.inference'], minPartnerTrust: 60 },
 * });
 * await node.start();
 * node.onMessage((m) => console.log(m.source, m.type, m.data));
 * const [mit] = await node.discover({ capabilities: ['ml.inference'] });
 * const fed = await node.federate(mit.meshId, { capabilities: ['ml.inference'], purpose: 'research', ttlSeconds: 3600 });
 * await node.send(fed.federationId, 'agent.task.request', { task: 'summarize' }, { priority: 'high' });
 * // Renewed automatically at 80 % of its lifetime (option `renewal`), or now: same id, new keys.
 * await node.renew(fed.federationId);
 * await node.terminate(fed.federationId);
 * await node.stop();
 * ```
 */

export { ComplianceDeniedError, ComplianceGate, type NodeComplianceOptions, partyOf } from './compliance.js';
export {
  ComputeMeter,
  type LedgerClient,
  MAX_METERED_PROVIDERS,
} from './compute-meter.js';
export {
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
export * from './mcp/index.js';
export {
  type AttestOptions,
  createMeshNode,
  type DeliveryReceipt,
  type FederateOptions,
  type FederationInfo,
  type FederationStatusEvent,
  type IncomingMessage,
  type MeshNode,
  type MeshNodeOptions,
  type NodeLogger,
  type PartnerCredentialCheck,
  type PartnerInfo,
  type RenewalOptions,
  type SendOptions,
} from './node.js';
export { type NodePolicy, partnerRefusal, policyConsent } from './policy.js';
export { type HubMeshMethodOptions, hubBackedResolver, hubMeshMethod } from './resolver.js';
