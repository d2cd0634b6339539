/**
 * The federation handshake (spec §3, docs/handshake.md) as three pure state machines: the
 * initiator (source mesh), the coordinator (federation hub) and the responder (target mesh).
 * No sockets, no timers: the caller moves messages between them, injects clock, randomness, DID
 * key resolution, trust and credential checks, and calls `expireDue` from its own timer.
 *
 * @example
 * ```ts
 * const initiator = createInitiator(deps, { meshId: 'did:mesh:enterprise:acme-001', signer, credential });
 * const hub = createCoordinator(hubDeps, { routingEndpointBase: 'wss://hub.mesh.global/fed' });
 * const target = createResponder({ ...deps, consent: () => true }, { meshId: 'did:mesh:academic:mit-001', signer: mitSigner });
 *
 * const initiate = initiator.start({
 *   targetMeshId: 'did:mesh:academic:mit-001',
 *   capabilities: ['ml.inference'],
 *   metadata: { ttl: 86_400, purpose: 'research-collab' },
 * });
 * const challenge = hub.onInitiate(initiate);
 * const response = await initiator.onChallenge(challenge);
 * const request = await hub.onResponse(response);
 * const accept = await target.onRequest(request);          // FederationAccept or HandshakeReject
 * const established = await hub.onAccept(accept);
 * const { session, confirm } = await initiator.onEstablished(established);
 * const { confirm: relayed, federation } = hub.onConfirm(confirm);
 * const targetSession = target.onConfirm(relayed);
 * // session.sendKey equals targetSession.receiveKey, and the reverse.
 * ```
 */
export {
  asProtocolError,
  type CredentialHints,
  type CredentialVerification,
  closeSession,
  ed25519Signer,
  type HandshakeDeps,
  type HandshakeFailure,
  type HandshakeRole,
  type HandshakeSigner,
  type PresentedCredential,
  rejectFromError,
  type Session,
  type TrustDeps,
} from './common.js';
export {
  type CoordinatorDeps,
  type CoordinatorOptions,
  type CoordinatorStep,
  createCoordinator,
  type FederationRecord,
  HandshakeCoordinator,
  type HubOutbound,
  type MessageContext,
} from './coordinator.js';
export { type InMemoryHandshakeResult, runHandshakeInMemory } from './in-memory.js';
export {
  createInitiator,
  HandshakeInitiator,
  type InitiatorOptions,
  type InitiatorStep,
  type StartOptions,
} from './initiator.js';
export { ExpiringSet } from './replay.js';
export {
  type ConsentDecision,
  createResponder,
  HandshakeResponder,
  type ResponderDeps,
  type ResponderOptions,
  type ResponderStep,
} from './responder.js';
export {
  DEFAULT_RETRY_POLICY,
  nextRetryDelayMs,
  RETRYABLE_CODES,
  type RetryPolicy,
  retryDelayMs,
} from './retry.js';
export {
  challengeHash,
  credentialsHash,
  deriveSessionKeys,
  HANDSHAKE_PROTOCOL,
  KEY_CONFIRMATION_LABELS,
  keyConfirmationTag,
  RESPONSE_DOMAIN,
  type ResponseBinding,
  responseDigest,
  SESSION_KEYS_INFO,
  type SessionKeyMaterial,
  TRANSCRIPT_DOMAIN,
  type TranscriptInput,
  transcriptHash,
} from './transcript.js';
