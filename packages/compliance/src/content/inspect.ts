/**
 * Content filtering (spec 6.3: "policy-based payload inspection"): the receiving node runs
 * inspectors over a decrypted payload and gets findings back; what a finding leads to (deny,
 * audit, alert) is the caller's policy. Inspectors are pluggable.
 */
import type { ComplianceContext } from '@fmp/core';
import { personalDataInspector } from './personal-data.js';

export interface Finding {
  /** The inspector's id. */
  readonly inspector: string;
  /** What was found (`email`, `payment-card`, ..., `inspection-limit`, `inspector-error`). */
  readonly kind: string;
  /** Where in the payload, as a JSON path (`$.customer.emails[0]`). */
  readonly path: string;
  /** For a human; never the matched value itself (findings are logged and audited). */
  readonly detail: string;
}

export interface ContentInspector {
  readonly id: string;
  inspect(data: unknown, context: ComplianceContext): Finding[];
}

/** The built-in inspectors: personal data where the classification says there is none. */
export const DEFAULT_INSPECTORS: readonly ContentInspector[] = Object.freeze([personalDataInspector]);

/**
 * Runs every inspector over the payload and returns all findings. An inspector that throws yields
 * an `inspector-error` finding instead of losing the others' (and is not taken as "nothing found").
 */
export function inspectContent(
  data: unknown,
  context: ComplianceContext,
  inspectors: readonly ContentInspector[] = DEFAULT_INSPECTORS,
): Finding[] {
  const findings: Finding[] = [];
  for (const inspector of inspectors) {
    try {
      for (const f of inspector.inspect(data, context)) findings.push(f);
    } catch (err) {
      findings.push({
        inspector: inspector.id,
        kind: 'inspector-error',
        path: '$',
        detail: `inspector ${inspector.id} failed: ${(err instanceof Error ? err.message : String(err)).slice(0, 200)}`,
      });
    }
  }
  return findings;
}
