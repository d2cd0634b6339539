/**
 * The compliance evaluator: geographic restrictions first, then every adapter that applies.
 * Runs per message (source egress, each hub, target ingress), so the allowed path allocates only
 * the result and what the adapters return; denial texts are built only when something is denied.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FmpError, ValidationError, zodIssues } from '@fmp/core';
import { z } from 'zod';
import { NO_OBLIGATIONS, NO_REASONS } from './adapters/common.js';
import { gdprAdapter } from './adapters/gdpr.js';
import { iso42001Adapter } from './adapters/iso42001.js';
import { pipedaAdapter } from './adapters/pipeda.js';
import { soc2CcpaAdapter } from './adapters/soc2-ccpa.js';
import { regionAllowed } from './jurisdiction.js';
import type {
  AdapterDecision,
  ComplianceAdapter,
  ComplianceDecision,
  ComplianceTransaction,
  Obligation,
} from './types.js';

/** GDPR + EU AI Act, SOC 2 + CCPA, PIPEDA, ISO/IEC 42001 (spec 7.1). */
export const DEFAULT_ADAPTERS: readonly ComplianceAdapter[] = Object.freeze([
  gdprAdapter,
  soc2CcpaAdapter,
  pipedaAdapter,
  iso42001Adapter,
]);

/** The pseudo-adapter id of the geographicRestrictions check. */
export const GEOGRAPHY = 'geography';

const GEOGRAPHY_OK: AdapterDecision = Object.freeze({
  adapter: GEOGRAPHY,
  allow: true,
  reasons: Object.freeze(['target and every transit hub are within the geographic restrictions']),
  obligations: NO_OBLIGATIONS,
});

function geography(tx: ComplianceTransaction, restrictions: readonly string[]): AdapterDecision {
  let denials: string[] | undefined;
  if (!regionAllowed(tx.target.region, restrictions)) {
    denials = [
      `geographicRestrictions [${restrictions.join(', ')}]: target ${tx.target.did} is in ${tx.target.region}`,
    ];
  }
  const route = tx.route;
  for (let i = 0; i < route.length; i++) {
    const hub = route[i]!;
    if (regionAllowed(hub.region, restrictions)) continue;
    denials ??= [];
    denials.push(
      `geographicRestrictions [${restrictions.join(', ')}]: transit hub ${hub.did} is in ${hub.region}`,
    );
  }
  if (denials === undefined) return GEOGRAPHY_OK;
  return { adapter: GEOGRAPHY, allow: false, reasons: denials, obligations: NO_OBLIGATIONS };
}

/** An adapter that throws or returns garbage denies: compliance fails closed. */
function failed(adapter: ComplianceAdapter, what: string): AdapterDecision {
  return {
    adapter: adapter.id,
    allow: false,
    reasons: [`adapter ${adapter.id} failed: ${what.slice(0, 200)}`],
    obligations: NO_OBLIGATIONS,
  };
}

function runAdapter(adapter: ComplianceAdapter, tx: ComplianceTransaction): AdapterDecision | undefined {
  try {
    if (!adapter.appliesTo(tx)) return undefined;
    const d = adapter.evaluate(tx);
    if (
      d === null ||
      typeof d !== 'object' ||
      typeof d.allow !== 'boolean' ||
      !Array.isArray(d.reasons) ||
      !Array.isArray(d.obligations)
    ) {
      return failed(adapter, 'evaluate() did not return an AdapterDecision');
    }
    return d;
  } catch (err) {
    return failed(adapter, err instanceof Error ? err.message : String(err));
  }
}

function contains(list: readonly Obligation[], o: Obligation): boolean {
  for (let i = 0; i < list.length; i++) {
    const m = list[i]!;
    if (m === o || (m.kind === o.kind && m.detail === o.detail)) return true;
  }
  return false;
}

/**
 * Decides a transaction: when `geographicRestrictions` is set the target's and every transit
 * hub's region must satisfy it (adapter `geography`), then every adapter that applies decides.
 * Allowed only when all of them allow; the reasons are the denying decisions' reasons; the
 * obligations are the allowing adapters', de-duplicated by kind and detail (the first adapter to
 * ask keeps the credit). Every applicable adapter runs even after a denial, so the sender learns
 * all that is wrong at once.
 */
export function evaluateCompliance(
  tx: ComplianceTransaction,
  adapters: readonly ComplianceAdapter[] = DEFAULT_ADAPTERS,
): ComplianceDecision {
  const decisions: AdapterDecision[] = [];
  let allow = true;
  const restrictions = tx.context.geographicRestrictions;
  if (restrictions !== undefined) {
    const g = geography(tx, restrictions);
    decisions.push(g);
    allow = g.allow;
  }
  for (let i = 0; i < adapters.length; i++) {
    const d = runAdapter(adapters[i]!, tx);
    if (d === undefined) continue;
    decisions.push(d);
    if (!d.allow) allow = false;
  }

  let reasons: readonly string[] = NO_REASONS;
  if (!allow) {
    const all: string[] = [];
    for (const d of decisions) if (!d.allow) for (const r of d.reasons) all.push(r);
    reasons = all;
  }

  // Usually one or two adapters ask for a few obligations: a linear scan beats building keys.
  let obligations: Obligation[] | undefined;
  for (const d of decisions) {
    if (!d.allow) continue;
    for (const o of d.obligations) {
      if (obligations === undefined) obligations = [o];
      else if (!contains(obligations, o)) obligations.push(o);
    }
  }
  return { allow, decisions, reasons, obligations: obligations ?? NO_OBLIGATIONS };
}

/** An adapter module could not be imported. */
export class AdapterModuleError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('adapter_module_failed', message, options);
  }
}

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function');
const adapterShape = z.object({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be a short lowercase id (a-z, 0-9, . _ -)')
    .refine((id) => id !== GEOGRAPHY, `"${GEOGRAPHY}" is reserved`),
  name: z.string().min(1).max(128),
  appliesTo: fn,
  evaluate: fn,
});

/**
 * Imports an operator's adapter: a module (a path, relative to the working directory, or a
 * file: URL) whose default export is a ComplianceAdapter. Throws AdapterModuleError when the
 * module cannot be imported and ValidationError when its default export is not an adapter.
 */
export async function loadAdapterModule(path: string): Promise<ComplianceAdapter> {
  const url = path.startsWith('file:') ? path : pathToFileURL(isAbsolute(path) ? path : resolve(path)).href;
  let mod: unknown;
  try {
    mod = await import(url);
  } catch (err) {
    throw new AdapterModuleError(
      `cannot import compliance adapter module ${path}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const candidate = (mod as { default?: unknown }).default;
  const parsed = adapterShape.safeParse(candidate);
  if (!parsed.success) {
    throw new ValidationError(
      `compliance adapter module ${path}: the default export is not a ComplianceAdapter ` +
        '({ id, name, appliesTo(tx), evaluate(tx) })',
      zodIssues(parsed.error),
    );
  }
  // The module's own object, not zod's copy: a class instance keeps its prototype and `this`.
  return candidate as ComplianceAdapter;
}
