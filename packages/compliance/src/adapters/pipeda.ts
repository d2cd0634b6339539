/**
 * PIPEDA (Personal Information Protection and Electronic Documents Act, S.C. 2000, c. 5) and its
 * Schedule 1 fair information principles.
 *
 * Applies when the source or the target is in Canada, or the data subjects are (`dataSubjectRegion`
 * ca, ca-*). Rules for personal data (personal-identifiable, special-category):
 *
 * - Principle 4.3 consent: `processingBasis` must be `consent`, or one of the s. 7 exceptions the
 *   bases map onto: `legal-obligation` (s. 7(3)(i), required by law) and `vital-interests`
 *   (s. 7(3)(e), an emergency threatening life, health or security). PIPEDA has no general
 *   contract or legitimate-interest ground, so those are denied.
 * - Principle 4.3.6: sensitive information (special-category) under consent needs express consent
 *   (`explicitConsent: true`).
 * - Principles 4.2 / 4.5 (identifying purposes, limiting use, disclosure and retention): a `purpose`
 *   is required.
 * - Principles 4.1.3 / 4.8 and the OPC's Guidelines for processing personal data across borders
 *   (2009): personal data leaving Canada (the source is in Canada, the target or a transit hub is
 *   not) needs `crossBorderNotice: true` (the individuals were told it may be processed abroad).
 * - Obligations: notice (Principles 4.2.3, 4.8: the purpose and practices are made known),
 *   retention (Principle 4.5.3: destroy or anonymize after the period, or once the purpose is
 *   fulfilled) and purpose_limitation (Principle 4.5).
 */
import { jurisdictionOf } from '../jurisdiction.js';
import type {
  AdapterDecision,
  ComplianceAdapter,
  ComplianceTransaction,
  Obligation,
  Party,
  TransitHub,
} from '../types.js';
import { decide, isPersonal, NO_OBLIGATIONS, obligation, obligationCache, where } from './common.js';

const ID = 'pipeda';

const CONSENT_BASES: ReadonlyMap<string, string> = new Map([
  ['consent', 'PIPEDA Principle 4.3: consent'],
  ['legal-obligation', 'PIPEDA s. 7(3)(i): required by law'],
  ['vital-interests', 'PIPEDA s. 7(3)(e): emergency threatening life, health or security'],
]);

const RETENTION_OPEN = obligation(
  ID,
  'retention',
  'PIPEDA Principle 4.5.3: destroy or anonymize once the purpose is fulfilled (no retentionPeriod declared)',
);
const retention = obligationCache(
  ID,
  'retention',
  (p) => `PIPEDA Principle 4.5.3: destroy or anonymize after ${p}`,
);
const notice = obligationCache(
  ID,
  'notice',
  (p) => `PIPEDA Principles 4.2.3, 4.8: tell the individuals the purpose "${p}" and how the data is handled`,
);
const purposeLimitation = obligationCache(
  ID,
  'purpose_limitation',
  (p) => `PIPEDA Principle 4.5: use and disclose only for "${p}"`,
);

const NOT_PERSONAL: AdapterDecision = Object.freeze({
  adapter: ID,
  allow: true,
  reasons: Object.freeze(['PIPEDA: no personal information']),
  obligations: NO_OBLIGATIONS,
});
const ALLOW_CROSS_BORDER = 'PIPEDA Principle 4.1.3: cross-border notice given';

function abroad(dest: Party | TransitHub, hub: boolean, denials: string[], noticeGiven: boolean): boolean {
  if (dest.jurisdiction === 'CA') return false;
  if (!noticeGiven) {
    denials.push(
      `PIPEDA Principles 4.1.3, 4.8: personal information leaving Canada ${hub ? 'through hub' : 'for'} ` +
        `${where(dest)} needs notice to the individuals (crossBorderNotice: true)`,
    );
  }
  return true;
}

export const pipedaAdapter: ComplianceAdapter = {
  id: ID,
  name: 'PIPEDA',
  appliesTo(tx: ComplianceTransaction): boolean {
    if (tx.source.jurisdiction === 'CA' || tx.target.jurisdiction === 'CA') return true;
    const dsr = tx.context.dataSubjectRegion;
    return dsr !== undefined && jurisdictionOf(dsr) === 'CA';
  },
  evaluate(tx: ComplianceTransaction): AdapterDecision {
    const c = tx.context;
    if (!isPersonal(c)) return NOT_PERSONAL;
    const denials: string[] = [];
    const allow: string[] = [];
    const obligations: Obligation[] = [];

    const basis = c.processingBasis;
    const lawful = basis === undefined ? undefined : CONSENT_BASES.get(basis);
    if (lawful === undefined) {
      denials.push(
        `PIPEDA Principle 4.3: personal information needs the individual's consent (processingBasis consent); ` +
          `${basis ?? 'no basis'} is not a s. 7 exception`,
      );
    } else allow.push(lawful);
    if (c.dataClassification === 'special-category' && basis === 'consent' && c.explicitConsent !== true) {
      denials.push(
        'PIPEDA Principle 4.3.6: sensitive information needs express consent (explicitConsent: true)',
      );
    }

    if (c.purpose === undefined) {
      denials.push('PIPEDA Principles 4.2, 4.5: personal information needs an identified purpose (purpose)');
    } else obligations.push(notice(c.purpose), purposeLimitation(c.purpose));

    if (tx.source.jurisdiction === 'CA') {
      const given = c.crossBorderNotice === true;
      let left = abroad(tx.target, false, denials, given);
      const route = tx.route;
      for (let i = 0; i < route.length; i++) left = abroad(route[i]!, true, denials, given) || left;
      if (left && given) allow.push(ALLOW_CROSS_BORDER);
    }

    obligations.push(c.retentionPeriod === undefined ? RETENTION_OPEN : retention(c.retentionPeriod));
    return decide(ID, denials, allow, obligations);
  },
};
