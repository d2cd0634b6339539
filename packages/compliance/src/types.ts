/**
 * What a compliance decision is about (spec 7): a transaction between two meshes, with its spec 7.2
 * complianceContext, the parties' jurisdictions and certifications, and the hubs the data crosses.
 * Adapters (GDPR + EU AI Act, SOC 2 + CCPA, PIPEDA, ISO/IEC 42001, or an operator's own) share one
 * interface and each answers allow/deny with reasons and obligations.
 */
import type { ComplianceContext } from '@fmp/core';

/** Legal areas the adapters reason about (ISO 3166-1 alpha-2 where one exists). */
export const JURISDICTIONS = [
  'EU',
  'EEA',
  'UK',
  'CH',
  'US',
  'US-CA',
  'CA',
  'JP',
  'KR',
  'NZ',
  'IL',
  'AR',
  'UY',
  'BR',
  'IN',
  'CN',
  'SG',
  'AU',
  'OTHER',
] as const;
export type Jurisdiction = (typeof JURISDICTIONS)[number];

export interface Party {
  readonly did: string;
  /** The mesh's region code (`eu`, `na`, `us-ca`, `apac`, ...). */
  readonly region: string;
  readonly jurisdiction: Jurisdiction;
  /** From the MeshAgentCredential's complianceCertifications (GDPR, SOC2, ISO42001, ...). */
  readonly certifications: readonly string[];
}

export interface TransitHub {
  readonly did: string;
  readonly region: string;
  readonly jurisdiction: Jurisdiction;
}

export interface ComplianceTransaction {
  readonly kind: 'message' | 'tool_call' | 'federation';
  readonly context: ComplianceContext;
  readonly source: Party;
  readonly target: Party;
  /** Hubs the data crosses, in order (as far as the evaluator knows). */
  readonly route: readonly TransitHub[];
  /** The envelope type, or the tool for a tool call. */
  readonly messageType?: string;
  readonly tool?: string;
}

export type ObligationKind =
  | 'retention'
  | 'audit'
  | 'explanation'
  | 'human_review'
  | 'logging'
  | 'notice'
  | 'purpose_limitation';

export interface Obligation {
  readonly kind: ObligationKind;
  readonly detail: string;
  /** Which adapter asked for it. */
  readonly adapter: string;
}

export interface AdapterDecision {
  readonly adapter: string;
  readonly allow: boolean;
  /** Why (for a denial: what is missing; for an allow: what made it lawful). */
  readonly reasons: readonly string[];
  readonly obligations: readonly Obligation[];
}

export interface ComplianceAdapter {
  /** Short id (`gdpr`, `soc2-ccpa`, `pipeda`, `iso42001`, or an operator's). */
  readonly id: string;
  readonly name: string;
  /** Whether the adapter applies to this transaction (by the parties' jurisdictions, the data). */
  appliesTo(tx: ComplianceTransaction): boolean;
  evaluate(tx: ComplianceTransaction): AdapterDecision;
}

export interface ComplianceDecision {
  readonly allow: boolean;
  /** One per adapter that applied, plus `geography` when geographicRestrictions are set. */
  readonly decisions: readonly AdapterDecision[];
  /** The reasons of the denying adapters (empty when allowed). */
  readonly reasons: readonly string[];
  /** Everything the allowing adapters require, de-duplicated. */
  readonly obligations: readonly Obligation[];
}
