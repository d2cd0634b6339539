/**
 * GDPR (Regulation (EU) 2016/679) and the EU AI Act (Regulation (EU) 2024/1689).
 *
 * Applies when the source, the target, any hub on the route, or the data subjects
 * (`dataSubjectRegion`) are in the EU/EEA (GDPR Art. 3; the AI Act's Art. 2 reach is approximated
 * the same way). Rules:
 *
 * - AI Act Art. 5: `aiRiskLevel: 'unacceptable'` (a prohibited practice) is denied.
 * - AI Act Art. 14: `aiRiskLevel: 'high'` needs `humanReview: true`; obligations human_review
 *   (Art. 14) and logging (Art. 12 record-keeping).
 * - Art. 6(1): personal data needs a lawful basis (`processingBasis`).
 * - Art. 9(2): special categories need explicit consent (`explicitConsent: true`, 9(2)(a)) or one of
 *   the bases that map onto an Art. 9(2) exception: vital-interests (9(2)(c)), legal-obligation
 *   (9(2)(b)/(g): a duty in Union or Member State law), public-task (9(2)(g)/(i)). Plain `consent`
 *   is not enough (it must be explicit); contract and legitimate-interest have no Art. 9 exception.
 * - Art. 5(1)(e) storage limitation: personal data without a `retentionPeriod` is DENIED rather
 *   than allowed with an open-ended obligation, because an obligation without a period cannot be
 *   enforced by the retention purge and Art. 13(2)(a) requires the period to be stated up front.
 * - Art. 44-46 transfers: personal data may reach a destination (the target, and every transit hub,
 *   since a hub processes the data too) only when it is in the EEA or adequate (GDPR_ADEQUATE), or
 *   the sender declares a safeguard: `scc` (Art. 46(2)(c)), `bcr` (Art. 47), `binding-instrument`
 *   (Art. 46(2)(a)), `explicit-consent` (the Art. 49(1)(a) derogation), or, for US destinations only,
 *   `dpf` (the EU-US Data Privacy Framework decision, which covers self-certified US organisations).
 * - Obligations: retention (the period), audit when `auditTrail` (Art. 5(2) accountability, Art. 30),
 *   purpose_limitation when a `purpose` is given for personal data (Art. 5(1)(b)), explanation for
 *   AI processing of personal data (Art. 13-15, 22) or of high/limited-risk AI (AI Act Art. 86, 50).
 */
import { GDPR_ADEQUATE, inEea, jurisdictionOf } from '../jurisdiction.js';
import type {
  AdapterDecision,
  ComplianceAdapter,
  ComplianceTransaction,
  Jurisdiction,
  Obligation,
  Party,
  TransitHub,
} from '../types.js';
import { decide, isAiProcessing, isPersonal, obligation, obligationCache, where } from './common.js';

const ID = 'gdpr';

const BASIS_REASON: ReadonlyMap<string, string> = new Map([
  ['consent', 'GDPR Art. 6(1)(a): consent'],
  ['contract', 'GDPR Art. 6(1)(b): contract'],
  ['legal-obligation', 'GDPR Art. 6(1)(c): legal obligation'],
  ['vital-interests', 'GDPR Art. 6(1)(d): vital interests'],
  ['public-task', 'GDPR Art. 6(1)(e): public task'],
  ['legitimate-interest', 'GDPR Art. 6(1)(f): legitimate interest'],
]);
const ART9_BASES: ReadonlySet<string> = new Set(['vital-interests', 'legal-obligation', 'public-task']);

const HUMAN_REVIEW = obligation(
  ID,
  'human_review',
  'EU AI Act Art. 14: a human oversees the high-risk AI output',
);
const LOGGING = obligation(ID, 'logging', 'EU AI Act Art. 12: log the high-risk AI system events');
const AUDIT = obligation(ID, 'audit', 'GDPR Art. 5(2), 30: record the processing in the audit trail');
const EXPLAIN_PERSONAL = obligation(
  ID,
  'explanation',
  'GDPR Art. 13-15, 22: meaningful information about the logic of the automated processing',
);
const EXPLAIN_HIGH = obligation(
  ID,
  'explanation',
  'EU AI Act Art. 86, GDPR Art. 22: explain the AI-assisted decision to the affected person',
);
const EXPLAIN_LIMITED = obligation(
  ID,
  'explanation',
  'EU AI Act Art. 50: tell people they interact with an AI system or AI-generated content',
);
const retention = obligationCache(ID, 'retention', (p) => `GDPR Art. 5(1)(e): erase after ${p}`);
const purposeLimitation = obligationCache(
  ID,
  'purpose_limitation',
  (p) => `GDPR Art. 5(1)(b): use only for "${p}"`,
);

// What each declared safeguard stands on, for the allow reasons.
const SAFEGUARD_BASIS: ReadonlyMap<string, string> = new Map([
  ['scc', 'GDPR Art. 46(2)(c): standard contractual clauses'],
  ['bcr', 'GDPR Art. 47: binding corporate rules'],
  ['dpf', 'GDPR Art. 45: EU-US Data Privacy Framework'],
  ['binding-instrument', 'GDPR Art. 46(2)(a): binding instrument between public authorities'],
  ['explicit-consent', 'GDPR Art. 49(1)(a): explicit consent to the (occasional) transfer'],
]);

const SAFEGUARDS_US = 'scc, bcr, dpf, binding-instrument, explicit-consent';
const SAFEGUARDS_OTHER = 'scc, bcr, binding-instrument, explicit-consent; dpf covers US organisations only';

function isUs(j: Jurisdiction): boolean {
  return j === 'US' || j === 'US-CA';
}

/** The first declared safeguard that covers a transfer to `j`, if any. */
function safeguardFor(safeguards: readonly string[] | undefined, j: Jurisdiction): string | undefined {
  if (safeguards === undefined) return undefined;
  for (let i = 0; i < safeguards.length; i++) {
    const s = safeguards[i]!;
    if (SAFEGUARD_BASIS.has(s) && (s !== 'dpf' || isUs(j))) return s;
  }
  return undefined;
}

export interface GdprAdapterOptions {
  /** Destinations adequate without a safeguard; default GDPR_ADEQUATE (add a new decision here). */
  readonly adequate?: ReadonlySet<Jurisdiction>;
}

export function createGdprAdapter(options: GdprAdapterOptions = {}): ComplianceAdapter {
  const adequate = options.adequate ?? GDPR_ADEQUATE;

  function transfer(
    tx: ComplianceTransaction,
    dest: Party | TransitHub,
    hub: boolean,
    denials: string[],
    allow: string[],
  ): void {
    const j = dest.jurisdiction;
    if (adequate.has(j)) return;
    const s = safeguardFor(tx.context.safeguards, j);
    if (s !== undefined) {
      allow.push(`${SAFEGUARD_BASIS.get(s)} for ${j}`);
      return;
    }
    denials.push(
      `GDPR Art. 44-46: personal data may not ${hub ? 'transit hub' : 'go to'} ${where(dest)} ` +
        `(not adequate) without a safeguard (${isUs(j) ? SAFEGUARDS_US : SAFEGUARDS_OTHER})`,
    );
  }

  return {
    id: ID,
    name: 'GDPR + EU AI Act',
    appliesTo(tx: ComplianceTransaction): boolean {
      if (inEea(tx.source.jurisdiction) || inEea(tx.target.jurisdiction)) return true;
      const dsr = tx.context.dataSubjectRegion;
      if (dsr !== undefined && inEea(jurisdictionOf(dsr))) return true;
      const route = tx.route;
      for (let i = 0; i < route.length; i++) if (inEea(route[i]!.jurisdiction)) return true;
      return false;
    },
    evaluate(tx: ComplianceTransaction): AdapterDecision {
      const c = tx.context;
      const denials: string[] = [];
      const allow: string[] = [];
      const obligations: Obligation[] = [];

      if (c.aiRiskLevel === 'unacceptable') {
        denials.push(
          'EU AI Act Art. 5: unacceptable-risk AI practices are prohibited (aiRiskLevel unacceptable)',
        );
      } else if (c.aiRiskLevel === 'high') {
        if (c.humanReview !== true) {
          denials.push(
            'EU AI Act Art. 14: high-risk AI processing needs human oversight (humanReview: true)',
          );
        } else allow.push('EU AI Act Art. 14: human oversight declared');
        obligations.push(HUMAN_REVIEW, LOGGING);
      }

      const personal = isPersonal(c);
      if (personal) {
        const basis = c.processingBasis;
        if (basis === undefined) {
          denials.push('GDPR Art. 6(1): personal data needs a lawful basis (processingBasis)');
        } else allow.push(BASIS_REASON.get(basis) ?? `GDPR Art. 6(1): ${basis}`);

        if (
          c.dataClassification === 'special-category' &&
          c.explicitConsent !== true &&
          (basis === undefined || !ART9_BASES.has(basis))
        ) {
          denials.push(
            `GDPR Art. 9(2): special-category data needs explicit consent (explicitConsent: true) or the basis ` +
              `vital-interests, legal-obligation or public-task, not ${basis ?? 'none'}`,
          );
        }

        if (c.retentionPeriod === undefined) {
          denials.push('GDPR Art. 5(1)(e): personal data needs a retentionPeriod (storage limitation)');
        } else obligations.push(retention(c.retentionPeriod));

        transfer(tx, tx.target, false, denials, allow);
        const route = tx.route;
        for (let i = 0; i < route.length; i++) transfer(tx, route[i]!, true, denials, allow);

        if (c.purpose !== undefined) obligations.push(purposeLimitation(c.purpose));
      }

      if (c.auditTrail) obligations.push(AUDIT);
      if (isAiProcessing(tx)) {
        if (c.aiRiskLevel === 'high') obligations.push(EXPLAIN_HIGH);
        else if (personal) obligations.push(EXPLAIN_PERSONAL);
        else if (c.aiRiskLevel === 'limited') obligations.push(EXPLAIN_LIMITED);
      }
      if (!personal) allow.push('GDPR: no personal data');
      return decide(ID, denials, allow, obligations);
    },
  };
}

export const gdprAdapter: ComplianceAdapter = createGdprAdapter();
