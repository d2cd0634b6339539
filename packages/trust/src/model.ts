/**
 * The score of spec 5.1: five factors (0-100 each), their weights (a governance parameter), the
 * five levels and what each level may do. Pure functions of the factor inputs; the engine
 * (engine.ts) keeps those inputs from events.
 */
import { ValidationError } from '@fmp/core';
import { z } from 'zod';

export const TRUST_LEVELS = ['Unverified', 'Basic', 'Validated', 'Certified', 'Audited'] as const;
export type TrustLevel = (typeof TRUST_LEVELS)[number];

/** Spec 5.1: 0-24 Unverified, 25-49 Basic, 50-74 Validated, 75-89 Certified, 90-100 Audited. */
export function levelOf(score: number): TrustLevel {
  if (score >= 90) return 'Audited';
  if (score >= 75) return 'Certified';
  if (score >= 50) return 'Validated';
  if (score >= 25) return 'Basic';
  return 'Unverified';
}

/** The lowest score of each level. */
export const LEVEL_FLOOR: Record<TrustLevel, number> = {
  Unverified: 0,
  Basic: 25,
  Validated: 50,
  Certified: 75,
  Audited: 90,
};

export const FACTORS = ['credential', 'behavior', 'attestations', 'compliance', 'uptime'] as const;
export type Factor = (typeof FACTORS)[number];
export type TrustWeights = Record<Factor, number>;

/** Spec 5.1 weights. */
export const DEFAULT_WEIGHTS: TrustWeights = {
  credential: 0.3,
  behavior: 0.25,
  attestations: 0.2,
  compliance: 0.15,
  uptime: 0.1,
};

export const trustWeightsSchema = z
  .strictObject({
    credential: z.number().min(0).max(1),
    behavior: z.number().min(0).max(1),
    attestations: z.number().min(0).max(1),
    compliance: z.number().min(0).max(1),
    uptime: z.number().min(0).max(1),
  })
  .refine((w) => Math.abs(Object.values(w).reduce((a, b) => a + b, 0) - 1) < 1e-6, {
    message: 'the weights must sum to 1',
  });

export function checkWeights(weights: TrustWeights): TrustWeights {
  const r = trustWeightsSchema.safeParse(weights);
  if (!r.success) throw new ValidationError(`trust weights: ${r.error.issues[0]?.message}`);
  return r.data;
}

/** What a mesh at a level may do; enforced by hubs (discovery, handshakes, federation count). */
export interface LevelPermissions {
  /** Listed in discovery results. */
  readonly discoverable: boolean;
  /** May start federations. */
  readonly initiate: boolean;
  /** May be the target of federations. */
  readonly accept: boolean;
  /** Active federations at once (as either party). */
  readonly maxFederations: number;
}

/** Spec 5.1's wording: restricted access, limited collaboration, standard, enhanced, full. */
export const DEFAULT_LEVEL_PERMISSIONS: Record<TrustLevel, LevelPermissions> = {
  Unverified: { discoverable: false, initiate: false, accept: false, maxFederations: 0 },
  Basic: { discoverable: true, initiate: true, accept: true, maxFederations: 10 },
  Validated: { discoverable: true, initiate: true, accept: true, maxFederations: 1_000 },
  Certified: { discoverable: true, initiate: true, accept: true, maxFederations: 10_000 },
  Audited: { discoverable: true, initiate: true, accept: true, maxFederations: 1_000_000 },
};

const clamp = (x: number) => (Number.isFinite(x) ? Math.min(100, Math.max(0, x)) : 0);

export interface CredentialInput {
  readonly valid: boolean;
  /** The issuer's trustLevel claim (0-100). */
  readonly trustLevel: number;
  readonly didResolvable: boolean;
}

/** Valid, unexpired, unrevoked, from a trusted issuer: its trustLevel; halved when the DID does not resolve. */
export function credentialFactor(c: CredentialInput | undefined): number {
  if (!c?.valid) return 0;
  return clamp(c.trustLevel * (c.didResolvable ? 1 : 0.5));
}

export interface BehaviorInput {
  /** Decayed count of good outcomes (deliveries, successful tool calls, handshakes). */
  readonly positive: number;
  /** Decayed count of failed outcomes attributed to the mesh. */
  readonly negative: number;
  /** Decayed count of violations (policy, compliance, signatures, handshake failures). */
  readonly violations: number;
  /** All violations ever recorded: the permanent mark (spec: handshake failures leave one). */
  readonly violationCount: number;
}

/** Beta prior (5, 5): a newcomer starts neutral at 50; failures count 3x; violations subtract. */
export const BEHAVIOR = {
  prior: 5,
  failureWeight: 3,
  violationPenalty: 15,
  permanentPenalty: 4,
  maxPermanentPenalty: 40,
} as const;

export function behaviorFactor(b: BehaviorInput): number {
  const ratio =
    (b.positive + BEHAVIOR.prior) / (b.positive + b.negative * BEHAVIOR.failureWeight + 2 * BEHAVIOR.prior);
  const permanent = Math.min(BEHAVIOR.maxPermanentPenalty, b.violationCount * BEHAVIOR.permanentPenalty);
  return clamp(100 * ratio - b.violations * BEHAVIOR.violationPenalty - permanent);
}

export interface AttestationInput {
  /** The attester's global trust relative to average (EigenTrust value x node count; 1 = average). */
  readonly attesterRelativeTrust: number;
  /** The attester's budget share for this attestation: 1 / (its active attestations). */
  readonly share: number;
  /** The attested score, 0-100. */
  readonly score: number;
}

/**
 * 100 (1 - e^(-1.5 S)), S = sum of min(1, relative trust) x share x score/100. A mesh of average
 * global trust vouching for one partner adds up to ~0.9 to S; an attester with next to no global
 * trust (a sybil) adds next to nothing however many it writes, and its budget is split among them.
 */
export function attestationFactor(items: readonly AttestationInput[]): number {
  let s = 0;
  for (const a of items) {
    s +=
      Math.min(1, Math.max(0, a.attesterRelativeTrust)) * Math.min(1, Math.max(0, a.share)) * (a.score / 100);
  }
  return clamp(100 * (1 - Math.exp(-1.5 * s)));
}

/** Certifications the compliance factor recognizes (from the credential's complianceCertifications). */
export const RECOGNIZED_CERTIFICATIONS = [
  'GDPR',
  'SOC2',
  'ISO27001',
  'ISO42001',
  'PIPEDA',
  'CCPA',
  'HIPAA',
  'EU-AI-ACT',
] as const;

export interface ComplianceInput {
  readonly certifications: readonly string[];
  /** Decayed compliance violations reported by the compliance layer. */
  readonly violations: number;
  readonly violationCount: number;
}

/** 50 with no certification, +15 per recognized one; violations subtract (and leave a mark). */
export function complianceFactor(c: ComplianceInput): number {
  const known = new Set(c.certifications.map((x) => x.toUpperCase().replace(/[\s_]/g, '')));
  const recognized = RECOGNIZED_CERTIFICATIONS.filter(
    (r) => known.has(r.replace(/-/g, '')) || known.has(r),
  ).length;
  return clamp(50 + 15 * recognized - 20 * c.violations - Math.min(40, 5 * c.violationCount));
}

export interface UptimeInput {
  /** Decayed milliseconds connected, and observed (since first seen). */
  readonly upMs: number;
  readonly observedMs: number;
  /** Decayed heartbeats answered and missed. */
  readonly heartbeatsOk: number;
  readonly heartbeatsMissed: number;
}

/** Observation is blended with a neutral 50: half and half after this long. */
export const UPTIME_PRIOR_MS = 10 * 60_000;

export function uptimeFactor(u: UptimeInput, priorMs = UPTIME_PRIOR_MS): number {
  const availability = u.observedMs > 0 ? Math.min(1, u.upMs / u.observedMs) : 0;
  const hb =
    u.heartbeatsOk + u.heartbeatsMissed > 0 ? u.heartbeatsOk / (u.heartbeatsOk + u.heartbeatsMissed) : 1;
  const measured = 100 * availability * hb;
  const w = u.observedMs / (u.observedMs + priorMs);
  return clamp(w * measured + (1 - w) * 50);
}

export type FactorValues = Record<Factor, number>;

export function weightedScore(f: FactorValues, w: TrustWeights, penalty = 0): number {
  let s = 0;
  for (const k of FACTORS) s += w[k] * f[k];
  return clamp(s - penalty);
}

/** What would raise each factor, for explanations. */
export const HOW_TO_RAISE: Record<Factor, string> = {
  credential:
    'present a valid MeshAgentCredential with a higher trustLevel from a trusted issuer, on a resolvable DID',
  behavior:
    'deliver messages and answer tool calls successfully; violations weigh for months and leave a mark',
  attestations:
    'obtain attestations from partners with high global trust (each attester has a limited budget)',
  compliance:
    'hold recognized certifications (SOC2, ISO27001, ISO42001, ...) in the credential; avoid violations',
  uptime: 'stay connected to the home hub and answer its heartbeats',
};
