/**
 * Builders for compliance transactions in tests and benchmarks: parties and hubs get their
 * jurisdiction from their region code, DIDs name the region so reasons are easy to read.
 */
import type { ComplianceContext } from '@fmp/core';
import { jurisdictionOf } from '../jurisdiction.js';
import type { ComplianceTransaction, Party, TransitHub } from '../types.js';

export function party(
  region: string,
  certifications: readonly string[] = [],
  did = `did:fmp:mesh:${region}`,
): Party {
  return { did, region, jurisdiction: jurisdictionOf(region), certifications };
}

export function hub(region: string, did = `did:fmp:hub:${region}`): TransitHub {
  return { did, region, jurisdiction: jurisdictionOf(region) };
}

export interface TxSpec {
  readonly from: string | Party;
  readonly to: string | Party;
  /** Transit hubs' regions (or hubs). */
  readonly via?: readonly (string | TransitHub)[];
  readonly kind?: ComplianceTransaction['kind'];
  readonly ctx?: Partial<ComplianceContext>;
  readonly tool?: string;
}

/** Internal data with an audit trail unless `ctx` says otherwise. */
export function transaction(spec: TxSpec): ComplianceTransaction {
  const context = { dataClassification: 'internal', auditTrail: true, ...spec.ctx } as ComplianceContext;
  return {
    kind: spec.kind ?? 'message',
    context,
    source: typeof spec.from === 'string' ? party(spec.from) : spec.from,
    target: typeof spec.to === 'string' ? party(spec.to) : spec.to,
    route: (spec.via ?? []).map((h) => (typeof h === 'string' ? hub(h) : h)),
    ...(spec.tool !== undefined ? { tool: spec.tool } : {}),
  };
}

/** Personal data with a lawful basis, a retention period and an audit trail: the usual good case. */
export const PERSONAL: Partial<ComplianceContext> = Object.freeze({
  dataClassification: 'personal-identifiable',
  processingBasis: 'contract',
  retentionPeriod: '90-days',
  auditTrail: true,
});
