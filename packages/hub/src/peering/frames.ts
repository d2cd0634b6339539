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
  didSchema,
  HandshakeDidSchema,
  MAX_HOPS,
  NonceSchema,
  type ParsedFrame,
  ProtocolError,
  parseFrame,
  registeredFrameTypes,
  registerFrameSchema,
  SignatureMultibaseSchema,
  sha256,
  TimestampMsSchema,
  VerificationMethodIdSchema,
} from '@fmp/core';
import { z } from 'zod';
import { routeAnnouncementSchema } from '../routing/announcement.js';

export const HUB_AUTH_DOMAIN = 'fmp/1 hub-link-auth';

export const HubHelloSchema = z.strictObject({
  type: z.literal('HubHello'),
  hubDid: HandshakeDidSchema,
  /** 32 random bytes, base64url: the challenge the other hub must sign. */
  nonce: NonceSchema,
  timestamp: TimestampMsSchema,
});
export type HubHello = z.infer<typeof HubHelloSchema>;

export const HubAuthSchema = z.strictObject({
  type: z.literal('HubAuth'),
  hubDid: HandshakeDidSchema,
  /** `<hubDid>#<key>`: the key the verifier resolves; must belong to hubDid. */
  verificationMethod: VerificationMethodIdSchema,
  /** Ed25519 over hubAuthDigest(...), multibase base58btc. */
  signature: SignatureMultibaseSchema,
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
  /** An envelope or handshake message; validated in full by parseRelayedFrame. */
  frame: z
    .record(z.string().max(128), z.json())
    .refine((f) => typeof f['type'] === 'string' && !hubLinkTypes.has(f['type']), {
      message: 'inner frame needs a string type that is not a hub-link frame',
    }),
});
export type Relay = z.infer<typeof RelaySchema>;

export const LinkPingSchema = z.strictObject({ type: z.literal('LinkPing'), sentAt: TimestampMsSchema });
export type LinkPing = z.infer<typeof LinkPingSchema>;
/** Echoes the ping's sentAt, so the pinger computes the round trip on its own clock. */
export const LinkPongSchema = z.strictObject({ type: z.literal('LinkPong'), sentAt: TimestampMsSchema });
export type LinkPong = z.infer<typeof LinkPongSchema>;

export type HubLinkFrame = HubHello | HubAuth | RouteAnnouncementFrame | Relay | LinkPing | LinkPong;

declare module '@fmp/core' {
  interface FrameTypeMap {
    HubHello: HubHello;
    HubAuth: HubAuth;
    RouteAnnouncement: RouteAnnouncementFrame;
    Relay: Relay;
    LinkPing: LinkPing;
    LinkPong: LinkPong;
  }
}

// Guarded so a second copy of this module (tests, tooling) does not throw on re-registration.
if (!registeredFrameTypes().includes('HubHello')) {
  registerFrameSchema('HubHello', HubHelloSchema);
  registerFrameSchema('HubAuth', HubAuthSchema);
  registerFrameSchema('RouteAnnouncement', RouteAnnouncementFrameSchema);
  registerFrameSchema('Relay', RelaySchema);
  registerFrameSchema('LinkPing', LinkPingSchema);
  registerFrameSchema('LinkPong', LinkPongSchema);
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

/**
 * Validates a Relay's inner frame with the frame registry (an envelope, a handshake message, or an
 * error frame on its way back to a source mesh). Throws
 * ProtocolError (malformed_frame, ...) like parseFrame.
 */
export function parseRelayedFrame(relay: Relay, maxBytes?: number): ParsedFrame {
  const parsed = parseFrame(JSON.stringify(relay.frame), maxBytes === undefined ? {} : { maxBytes });
  if (hubLinkTypes.has(parsed.kind)) {
    throw new ProtocolError('malformed_frame', `a Relay cannot carry a ${parsed.kind} frame`);
  }
  return parsed;
}
