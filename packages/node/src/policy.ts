/**
 * The node's local federation policy: which partners and capabilities it accepts. Evaluated as the
 * HandshakeResponder's consent, after the initiator has been authenticated, its credential
 * verified and its trust checked against `minPartnerTrust`.
 */
import type { ConsentDecision, FederationRequest } from '@fmp/core';

export interface NodePolicy {
  /** Capabilities this node offers; a request for any other is refused. Absent: any. */
  readonly acceptCapabilities?: readonly string[];
  /** Lowest partner trust score accepted (0-100). Default 50. */
  readonly minPartnerTrust?: number;
  /** When set, only these DIDs may federate with this node. */
  readonly allow?: readonly string[];
  /** These DIDs may never federate with this node (checked first). */
  readonly deny?: readonly string[];
  /** The last word, after the rules above accepted. */
  readonly consent?: (request: FederationRequest) => ConsentDecision | Promise<ConsentDecision>;
}

/** Why a partner is refused by the allow/deny lists, or undefined. */
export function partnerRefusal(policy: NodePolicy, did: string): string | undefined {
  if (policy.deny?.includes(did)) return `${did} is on the deny list`;
  if (policy.allow && !policy.allow.includes(did)) return `${did} is not on the allow list`;
  return undefined;
}

export function policyConsent(policy: NodePolicy): (request: FederationRequest) => Promise<ConsentDecision> {
  return async (request) => {
    const refusal = partnerRefusal(policy, request.sourceMeshId);
    if (refusal) return { accept: false, reason: refusal };
    if (policy.acceptCapabilities) {
      const offered = new Set(policy.acceptCapabilities);
      const missing = request.capabilities.filter((c) => !offered.has(c));
      if (missing.length > 0)
        return { accept: false, reason: `capabilities not offered: ${missing.join(', ')}`.slice(0, 256) };
    }
    return policy.consent ? policy.consent(request) : true;
  };
}
