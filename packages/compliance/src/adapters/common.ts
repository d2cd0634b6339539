/**
 * Small pieces the built-in adapters share. Everything here is allocation-free or returns frozen
 * constants, because adapters run per message.
 */
import type { ComplianceContext } from '@fmp/core';
import type {
  AdapterDecision,
  ComplianceTransaction,
  Obligation,
  ObligationKind,
  Party,
  TransitHub,
} from '../types.js';

export const NO_OBLIGATIONS: readonly Obligation[] = Object.freeze([]);
export const NO_REASONS: readonly string[] = Object.freeze([]);

/** Personal data in the GDPR / CCPA / PIPEDA sense (special categories are personal data too). */
export function isPersonal(c: ComplianceContext): boolean {
  return c.dataClassification === 'personal-identifiable' || c.dataClassification === 'special-category';
}

/** AI processing: a tool call (an agent acting on the data) or a declared AI Act risk class. */
export function isAiProcessing(tx: ComplianceTransaction): boolean {
  return tx.kind === 'tool_call' || tx.context.aiRiskLevel !== undefined;
}

// Credentials spell certifications freely (`SOC2`, `SOC 2 Type II`, `ISO/IEC 42001:2023`).
export const SOC2 = /^soc[\s_-]?2(?![0-9])/i;
export const ISO42001 = /^(?:iso(?:\/iec)?[\s_-]?)?42001(?![0-9])/i;

export function certified(p: Party, cert: RegExp): boolean {
  const list = p.certifications;
  for (let i = 0; i < list.length; i++) if (cert.test(list[i]!)) return true;
  return false;
}

/** `did:... in US (us-east)` for reasons a human reads. */
export function where(p: Party | TransitHub): string {
  return `${p.did} in ${p.jurisdiction} (${p.region})`;
}

export function obligation(adapter: string, kind: ObligationKind, detail: string): Obligation {
  return Object.freeze({ kind, detail, adapter });
}

/**
 * Memoizes obligations whose detail depends on one short context value (a retention period, a
 * purpose), so a steady stream of messages reuses one frozen object. Bounded: past `max` entries it
 * builds a fresh one each time.
 */
export function obligationCache(
  adapter: string,
  kind: ObligationKind,
  detail: (value: string) => string,
  max = 256,
): (value: string) => Obligation {
  const cache = new Map<string, Obligation>();
  return (value) => {
    let o = cache.get(value);
    if (o === undefined) {
      o = obligation(adapter, kind, detail(value));
      if (cache.size < max) cache.set(value, o);
    }
    return o;
  };
}

/** Denied when any rule failed (obligations only attach to an allowed transaction). */
export function decide(
  adapter: string,
  denials: readonly string[],
  allowReasons: readonly string[],
  obligations: readonly Obligation[],
): AdapterDecision {
  if (denials.length > 0) return { adapter, allow: false, reasons: denials, obligations: NO_OBLIGATIONS };
  return { adapter, allow: true, reasons: allowReasons, obligations };
}
