/**
 * Hub-to-hub frames on `/v1/hub` (docs/routing.md, "Peering"). They are registered with @fmp/core's
 * frame registry, so `parseFrame` validates them like every other frame; importing this module is
 * what registers them.
 *
 * Link authentication signs `hubAuthDigest`: a domain-separated canonical transcript of both hub
 * DIDs and both nonces, signer first, so a signature proves possession of the key to this verifier
 * for this connection and can be neither replayed on another link nor reflected back.
 */
import {
  canonicalBytes,
  capabilitySchema,
  DEFAULT_MAX_FRAME_BYTES,
  didSchema,
  featuresSchema,
  federationStatusSchema,
  frameText,
  HandshakeDidSchema,
  isDidValue,
  isHandshakeDidValue,
  isPlainJsonValue,
  isUuidValue,
  MAX_HOPS,
  matchSealedEnvelope,
  NonceSchema,
  ownCopy,
  type ParsedFrame,
  ProtocolError,
  parseFrameValue,
  registeredFrameTypes,
  registerFrameSchema,
  SignatureMultibaseSchema,
  sha256,
  TimestampMsSchema,
  TrustAttestationSchema,
  uuidSchema,
  VerificationMethodIdSchema,
} from '@fmp/core';
import { z } from 'zod';
import { routeAnnouncementSchema } from '../routing/announcement.js';

export const HUB_AUTH_DOMAIN = 'fmp/1 hub-link-auth';
export const FEDERATION_ANNOUNCE_DOMAIN = 'fmp/1 federation-announce';
/** Most operations of a hub's own did:mesh log carried in HubAuth. */
export const MAX_HUB_LOG_OPS = 16;
/** Most did:mesh operations in one IdentityOps frame. */
export const MAX_IDENTITY_OPS = 64;
/** Most trust attestations in one TrustAttestations frame. */
export const MAX_ATTESTATIONS = 64;

export const HubHelloSchema = z.strictObject({
  type: z.literal('HubHello'),
  hubDid: HandshakeDidSchema,
  /** 32 random bytes, base64url: the challenge the other hub must sign. */
  nonce: NonceSchema,
  timestamp: TimestampMsSchema,
  /** What the sender accepts beyond single frames (`batch`, see @fmp/core's wire/batch.ts). */
  features: featuresSchema.optional(),
  /** The largest message the sender takes, UTF-8 bytes: batches sent to it stay under it. */
  maxFrameBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .optional(),
});
export type HubHello = z.infer<typeof HubHelloSchema>;

export const HubAuthSchema = z.strictObject({
  type: z.literal('HubAuth'),
  hubDid: HandshakeDidSchema,
  /** `<hubDid>#<key>`: the key the verifier resolves; must belong to hubDid. */
  verificationMethod: VerificationMethodIdSchema,
  /** Ed25519 over hubAuthDigest(...), multibase base58btc. */
  signature: SignatureMultibaseSchema,
  /**
   * The signer's own did:mesh operations (self-certifying, so unsigned here): the verifier imports
   * them before resolving the key, so two hubs that never met can authenticate each other.
   */
  log: z
    .array(z.record(z.string().max(64), z.json()))
    .max(MAX_HUB_LOG_OPS)
    .optional(),
});
export type HubAuth = z.infer<typeof HubAuthSchema>;

export const RouteAnnouncementFrameSchema = routeAnnouncementSchema.extend({
  type: z.literal('RouteAnnouncement'),
});
export type RouteAnnouncementFrame = z.infer<typeof RouteAnnouncementFrameSchema>;

/** The hub-link frame types; a Relay may not carry one of them. */
export const HUB_LINK_FRAME_TYPES = [
  'HubHello',
  'HubAuth',
  'RouteAnnouncement',
  'Relay',
  'LinkPing',
  'LinkPong',
  'IdentityOps',
  'TrustAttestations',
] as const;
const hubLinkTypes = new Set<string>(HUB_LINK_FRAME_TYPES);

export const RelaySchema = z.strictObject({
  type: z.literal('Relay'),
  /** The mesh the inner frame is for; the receiving hub delivers it or relays it further. */
  toMeshId: didSchema,
  /** The hub that first put the frame on a hub link. */
  fromHub: HandshakeDidSchema,
  /**
   * Hubs the relay has passed, fromHub first (optional extension): a hub finding itself here
   * drops the frame as a routing loop, for inner frames (handshake messages) that have no hopCount.
   */
  route: z
    .array(HandshakeDidSchema)
    .max(MAX_HOPS)
    .refine((r) => new Set(r).size === r.length, 'route visits a hub twice')
    .optional(),
  /**
   * The hub the frame is for when the mesh has no route of its own (offline at its home hub, which
   * queues it), or the hub that coordinates the handshake a reply belongs to.
   */
  toHub: HandshakeDidSchema.optional(),
  /** An envelope or handshake message; validated in full by parseRelayedFrame. */
  frame: z
    .record(z.string().max(128), z.json())
    .refine((f) => typeof f['type'] === 'string' && !hubLinkTypes.has(f['type']), {
      message: 'inner frame needs a string type that is not a hub-link frame',
    }),
});
export type Relay = z.infer<typeof RelaySchema>;

const RELAY_KEYS = new Set(['type', 'toMeshId', 'fromHub', 'route', 'toHub', 'frame']);

/**
 * RelaySchema's check by hand (the hot path between hubs: zod's strict object and z.json() union
 * cost more than routing the frame). True only for values RelaySchema accepts unchanged (a
 * `__proto__` key anywhere, or an inner frame nested past MAX_JSON_DEPTH, defers to it); the inner frame is parsed in full afterwards
 * (parseRelayedFrame) either way.
 */
export function isRelayFrame(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  for (const key in v) if (!RELAY_KEYS.has(key)) return false;
  if (v['type'] !== 'Relay' || !isDidValue(v['toMeshId']) || !isHandshakeDidValue(v['fromHub'])) return false;
  const toHub = v['toHub'];
  if (toHub !== undefined && !isHandshakeDidValue(toHub)) return false;
  const route = v['route'];
  if (route !== undefined) {
    if (!Array.isArray(route) || route.length > MAX_HOPS) return false;
    for (const hub of route) if (!isHandshakeDidValue(hub)) return false;
    if (new Set(route).size !== route.length) return false;
  }
  const f = v['frame'];
  // The inner frame sits one level down (isPlainJsonValue bounds the depth, as parseFrame does).
  if (typeof f !== 'object' || f === null || Array.isArray(f) || !isPlainJsonValue(f, 1)) return false;
  for (const key in f) if (key.length > 128) return false;
  const type = (f as Record<string, unknown>)['type'];
  return typeof type === 'string' && !hubLinkTypes.has(type);
}

export const LinkPingSchema = z.strictObject({ type: z.literal('LinkPing'), sentAt: TimestampMsSchema });
export type LinkPing = z.infer<typeof LinkPingSchema>;
/** Echoes the ping's sentAt, so the pinger computes the round trip on its own clock. */
export const LinkPongSchema = z.strictObject({ type: z.literal('LinkPong'), sentAt: TimestampMsSchema });
export type LinkPong = z.infer<typeof LinkPongSchema>;

/** did:mesh operations a hub passes on to its peers (self-certifying: each receiver verifies them). */
export const IdentityOpsSchema = z.strictObject({
  type: z.literal('IdentityOps'),
  ops: z
    .array(z.record(z.string().max(64), z.json()))
    .min(1)
    .max(MAX_IDENTITY_OPS),
});
export type IdentityOps = z.infer<typeof IdentityOpsSchema>;

/** A federation as the coordinating hub announces it to the hub of the other end. */
export const AnnouncedFederationSchema = z.strictObject({
  federationId: uuidSchema,
  handshakeId: uuidSchema,
  sourceMeshId: didSchema,
  targetMeshId: didSchema,
  status: federationStatusSchema,
  statusReason: z.string().max(256).optional(),
  capabilities: z.array(capabilitySchema).max(64),
  purpose: z.string().max(128),
  minTrustScore: z.number().min(0).max(100).optional(),
  routingEndpoint: z.string().max(512),
  /** Hubs between the two ends, the coordinating (source's) hub first. */
  path: z.array(HandshakeDidSchema).min(1).max(MAX_HOPS),
  createdAt: TimestampMsSchema,
  expiresAt: TimestampMsSchema,
  updatedAt: TimestampMsSchema,
});
export type AnnouncedFederation = z.infer<typeof AnnouncedFederationSchema>;

/**
 * Coordinating hub -> the hub of the other end (inside a Relay, routed like any frame for that
 * mesh): the federation was established or changed status. Signed by the coordinator, so hubs in
 * between cannot invent or alter federations.
 */
export const FederationAnnounceSchema = z.strictObject({
  type: z.literal('FederationAnnounce'),
  coordinator: HandshakeDidSchema,
  federation: AnnouncedFederationSchema,
  verificationMethod: VerificationMethodIdSchema,
  signature: SignatureMultibaseSchema,
});
export type FederationAnnounce = z.infer<typeof FederationAnnounceSchema>;

/** Trust attestations a hub passes on to its peers (self-certifying: each receiver verifies them). */
export const TrustAttestationsSchema = z.strictObject({
  type: z.literal('TrustAttestations'),
  attestations: z.array(TrustAttestationSchema).min(1).max(MAX_ATTESTATIONS),
});
export type TrustAttestations = z.infer<typeof TrustAttestationsSchema>;

export type HubLinkFrame =
  | HubHello
  | HubAuth
  | RouteAnnouncementFrame
  | Relay
  | LinkPing
  | LinkPong
  | IdentityOps
  | TrustAttestations;

declare module '@fmp/core' {
  interface FrameTypeMap {
    HubHello: HubHello;
    HubAuth: HubAuth;
    RouteAnnouncement: RouteAnnouncementFrame;
    Relay: Relay;
    LinkPing: LinkPing;
    LinkPong: LinkPong;
    IdentityOps: IdentityOps;
    FederationAnnounce: FederationAnnounce;
    TrustAttestations: TrustAttestations;
  }
}

// Guarded so a second copy of this module (tests, tooling) does not throw on re-registration.
if (!registeredFrameTypes().includes('HubHello')) {
  registerFrameSchema('HubHello', HubHelloSchema);
  registerFrameSchema('HubAuth', HubAuthSchema);
  registerFrameSchema('RouteAnnouncement', RouteAnnouncementFrameSchema);
  registerFrameSchema('Relay', RelaySchema, { fastCheck: isRelayFrame });
  registerFrameSchema('LinkPing', LinkPingSchema);
  registerFrameSchema('LinkPong', LinkPongSchema);
}
if (!registeredFrameTypes().includes('IdentityOps')) {
  registerFrameSchema('IdentityOps', IdentityOpsSchema);
  registerFrameSchema('FederationAnnounce', FederationAnnounceSchema);
}
if (!registeredFrameTypes().includes('TrustAttestations')) {
  registerFrameSchema('TrustAttestations', TrustAttestationsSchema);
}

/** What the coordinating hub signs in a FederationAnnounce (absent optionals are null). */
export function federationAnnounceDigest(a: {
  coordinator: string;
  federation: AnnouncedFederation;
  verificationMethod: string;
}): Uint8Array {
  const f = a.federation;
  return sha256(
    canonicalBytes({
      domain: FEDERATION_ANNOUNCE_DOMAIN,
      coordinator: a.coordinator,
      verificationMethod: a.verificationMethod,
      federation: { ...f, statusReason: f.statusReason ?? null, minTrustScore: f.minTrustScore ?? null },
    }),
  );
}

/** What a hub signs to authenticate a link: the 32-byte SHA-256 of the canonical transcript. */
export function hubAuthDigest(t: {
  signerDid: string;
  verifierDid: string;
  signerNonce: string;
  verifierNonce: string;
  verificationMethod: string;
}): Uint8Array {
  return sha256(
    canonicalBytes({
      domain: HUB_AUTH_DOMAIN,
      signer: t.signerDid,
      verifier: t.verifierDid,
      signerNonce: t.signerNonce,
      verifierNonce: t.verifierNonce,
      verificationMethod: t.verificationMethod,
    }),
  );
}

/** A relayed frame, parsed, with the text it was parsed from (an envelope is forwarded as it). */
export type RelayedFrame = ParsedFrame & { readonly text: string };

/**
 * Validates a Relay's inner frame with the frame registry (an envelope, a handshake message, or an
 * error frame on its way back to a source mesh). Throws
 * ProtocolError (malformed_frame, ...) like parseFrame.
 */
export function parseRelayedFrame(relay: Relay, maxBytes?: number): RelayedFrame {
  const text = JSON.stringify(relay.frame);
  // The inner frame was parsed with the Relay: its text is checked for size, its value as parseFrame
  // would check the text (not parsed a second time).
  frameText(text, maxBytes ?? DEFAULT_MAX_FRAME_BYTES);
  const parsed = parseFrameValue(relay.frame);
  if (hubLinkTypes.has(parsed.kind)) {
    throw new ProtocolError('malformed_frame', `a Relay cannot carry a ${parsed.kind} frame`);
  }
  return { ...parsed, text };
}

// A Relay carrying a sealed envelope, as every fmp hub writes one (PeerLinks.send: the outer members
// in RelaySchema's order, the envelope text last, spliced in as it came). Member values without a
// quote or a backslash; what a DID must be is checked after the match.
const PLAIN = String.raw`[^"\\]`;
const RELAY_HEAD_TEXT = new RegExp(
  `\\{"type":"Relay","toMeshId":"(${PLAIN}+)","fromHub":"(${PLAIN}+)"` +
    `(?:,"route":\\[("${PLAIN}+"(?:,"${PLAIN}+")*)\\])?(?:,"toHub":"(${PLAIN}+)")?,"frame":`,
  'y',
);

const DELIVERED_TEXT = new RegExp(
  `\\{"type":"Delivered","messageId":"([0-9A-Fa-f-]{36})","federationId":"([0-9A-Fa-f-]{36})","by":"(${PLAIN}+)"\\}\\}`,
  'y',
);

/**
 * A Relay of a Delivered receipt (one per routed message crosses every hub link back to its source)
 * read from its text in the layout hubs write; undefined for anything else (the general path).
 */
function matchDelivered(
  text: string,
  at: number,
  relay: Omit<Relay, 'frame'>,
  maxBytes: number,
): RelayMatch | undefined {
  DELIVERED_TEXT.lastIndex = at;
  const m = DELIVERED_TEXT.exec(text);
  if (m === null || DELIVERED_TEXT.lastIndex !== text.length) return undefined;
  const [, messageId, federationId, by] = m;
  if (!isUuidValue(messageId) || !isUuidValue(federationId) || !isDidValue(by)) return undefined;
  const innerText = text.slice(at, -1);
  if (innerText.length > maxBytes || Buffer.byteLength(innerText) > maxBytes) return undefined;
  const frame = {
    type: 'Delivered',
    messageId: ownCopy(messageId!),
    federationId: ownCopy(federationId!),
    by: ownCopy(by!),
  };
  return {
    relay: { ...relay, frame } as Relay,
    inner: { kind: 'Delivered', frame, text: innerText } as RelayedFrame,
  };
}

type RelayMatch = { relay: Relay; inner: RelayedFrame };

/**
 * The Relay and its inner sealed envelope or Delivered receipt read from a hub link's frame text
 * written in the layout above, without JSON.parse of the whole and without serializing the inner
 * frame again: an envelope by core's matchSealedEnvelope, its text the slice it came as. Exactly
 * what JSON.parse, the Relay check and parseRelayedFrame give for such a text; undefined for
 * anything else (another layout, another inner frame, a bad member, an inner frame over
 * `maxBytes`), which takes the general path and its errors.
 */
export function matchRelayedFrame(text: string, maxBytes: number): RelayMatch | undefined {
  RELAY_HEAD_TEXT.lastIndex = 0;
  const m = RELAY_HEAD_TEXT.exec(text);
  if (m === null) return undefined;
  const at = RELAY_HEAD_TEXT.lastIndex;
  const [, toMeshId, fromHub, routeText, toHub] = m;
  if (!isDidValue(toMeshId) || !isHandshakeDidValue(fromHub)) return undefined;
  if (toHub !== undefined && !isHandshakeDidValue(toHub)) return undefined;
  let route: string[] | undefined;
  if (routeText !== undefined) {
    route = routeText.slice(1, -1).split('","');
    if (route.length > MAX_HOPS || new Set(route).size !== route.length) return undefined;
    for (const hub of route) if (!isHandshakeDidValue(hub)) return undefined;
  }
  const outer = {
    type: 'Relay' as const,
    toMeshId: ownCopy(toMeshId),
    fromHub: ownCopy(fromHub),
    ...(route ? { route: route.map(ownCopy) } : {}),
    ...(toHub === undefined ? {} : { toHub: ownCopy(toHub) }),
  };
  if (text.charCodeAt(at + 9) === 68 /* D */) return matchDelivered(text, at, outer, maxBytes);
  const matched = matchSealedEnvelope(text, at);
  if (matched === undefined || matched.end !== text.length - 1 || text.charCodeAt(matched.end) !== 125) {
    return undefined;
  }
  // A sealed envelope's type is a lowercase message type: never one of the hub-link frame types.
  const envelope = matched.envelope;
  const innerText = text.slice(at, matched.end);
  // parseRelayedFrame's size rule, measured the same way (UTF-8 bytes of the inner text).
  if (innerText.length > maxBytes || Buffer.byteLength(innerText) > maxBytes) return undefined;
  const relay = { ...outer, frame: envelope } as Relay;
  return { relay, inner: { kind: 'envelope', frame: envelope, text: innerText } as RelayedFrame };
}
