/**
 * SOC 2 (AICPA Trust Services Criteria, 2017 with the 2022 points of focus) and the CCPA as amended
 * by the CPRA (Cal. Civ. Code §1798.100 et seq.).
 *
 * Applies when a party is in the US (US or US-CA), a party's credential lists SOC 2, or the data
 * subjects are Californian (`dataSubjectRegion` us-ca).
 *
 * CCPA part (a party in US-CA, or Californian data subjects):
 * - §1798.120 / §1798.135: `saleOrShare` with `optOut` is denied, whatever the classification says
 *   (an opt-out means a consumer's personal information is involved).
 * - §1798.120(b): a sale/share of personal data carries a notice obligation (the right to opt out).
 * - §1798.121: sensitive personal information (special-category) carries a notice obligation (the
 *   right to limit its use and disclosure).
 * - §1798.100(a)(3): personal data carries a retention obligation with the period, or, without one,
 *   a notice obligation to disclose how long it is kept; §1798.100(c): purpose_limitation when a
 *   `purpose` is given.
 *
 * SOC 2 part (the source or the target lists SOC 2), the criteria each rule stands for:
 * - C1.1 (identify and maintain confidential information) with CC7.2 (monitor system components for
 *   anomalies): confidential data needs `auditTrail: true`, else denied.
 * - P6.2 (a complete, accurate record of authorized disclosures of personal information) with CC7.2:
 *   personal data needs `auditTrail: true`, else denied.
 * - CC7.2: a logging obligation for anything above public.
 * - C1.2 (dispose of confidential information) / P4.3 (dispose of personal information): a
 *   retention obligation when a retentionPeriod is given.
 */
import { jurisdictionOf } from '../jurisdiction.js';
import type { AdapterDecision, ComplianceAdapter, ComplianceTransaction, Obligation } from '../types.js';
import { certified, decide, isPersonal, obligation, obligationCache, SOC2 } from './common.js';

const ID = 'soc2-ccpa';

const OPT_OUT_NOTICE = obligation(
  ID,
  'notice',
  'CCPA §1798.120(b), 1798.135: notice of the right to opt out of sale/sharing ("Do Not Sell or Share")',
);
const LIMIT_NOTICE = obligation(
  ID,
  'notice',
  'CCPA §1798.121: notice of the right to limit use and disclosure of sensitive personal information',
);
const RETENTION_NOTICE = obligation(
  ID,
  'notice',
  'CCPA §1798.100(a)(3): disclose how long the personal information is kept (no retentionPeriod declared)',
);
const LOGGING = obligation(ID, 'logging', 'SOC 2 CC7.2: log the transfer for security monitoring');
const ccpaRetention = obligationCache(
  ID,
  'retention',
  (p) => `CCPA §1798.100(a)(3): keep no longer than ${p}`,
);
const ccpaPurpose = obligationCache(
  ID,
  'purpose_limitation',
  (p) => `CCPA §1798.100(c): use only for "${p}" or a compatible purpose`,
);
const soc2Retention = obligationCache(
  ID,
  'retention',
  (p) => `SOC 2 C1.2/P4.3: dispose of the data after ${p}`,
);

const ALLOW_CCPA = 'CCPA: no sale or sharing against an opt-out';
const ALLOW_SOC2 = 'SOC 2: audit trail kept for confidential and personal data';
const ALLOW_NONE = 'SOC 2 / CCPA: no SOC 2 party, no California party or data subject';

function ccpaApplies(tx: ComplianceTransaction): boolean {
  if (tx.source.jurisdiction === 'US-CA' || tx.target.jurisdiction === 'US-CA') return true;
  const dsr = tx.context.dataSubjectRegion;
  return dsr !== undefined && jurisdictionOf(dsr) === 'US-CA';
}

function soc2Applies(tx: ComplianceTransaction): boolean {
  return certified(tx.source, SOC2) || certified(tx.target, SOC2);
}

export const soc2CcpaAdapter: ComplianceAdapter = {
  id: ID,
  name: 'SOC 2 + CCPA',
  appliesTo(tx: ComplianceTransaction): boolean {
    const s = tx.source.jurisdiction;
    const t = tx.target.jurisdiction;
    return s === 'US' || s === 'US-CA' || t === 'US' || t === 'US-CA' || soc2Applies(tx) || ccpaApplies(tx);
  },
  evaluate(tx: ComplianceTransaction): AdapterDecision {
    const c = tx.context;
    const personal = isPersonal(c);
    const denials: string[] = [];
    const allow: string[] = [];
    const obligations: Obligation[] = [];

    if (ccpaApplies(tx)) {
      allow.push(ALLOW_CCPA);
      if (c.saleOrShare === true && c.optOut === true) {
        denials.push('CCPA §1798.120: the consumer opted out of sale/sharing of their personal information');
      }
      if (personal) {
        if (c.saleOrShare === true) obligations.push(OPT_OUT_NOTICE);
        if (c.dataClassification === 'special-category') obligations.push(LIMIT_NOTICE);
        obligations.push(
          c.retentionPeriod === undefined ? RETENTION_NOTICE : ccpaRetention(c.retentionPeriod),
        );
        if (c.purpose !== undefined) obligations.push(ccpaPurpose(c.purpose));
      }
    }

    if (soc2Applies(tx)) {
      allow.push(ALLOW_SOC2);
      if (!c.auditTrail) {
        if (c.dataClassification === 'confidential') {
          denials.push('SOC 2 C1.1, CC7.2: confidential data needs an audit trail (auditTrail: true)');
        } else if (personal) {
          denials.push('SOC 2 P6.2, CC7.2: disclosures of personal data must be recorded (auditTrail: true)');
        }
      }
      if (c.dataClassification !== 'public') obligations.push(LOGGING);
      if (c.retentionPeriod !== undefined && (personal || c.dataClassification === 'confidential')) {
        obligations.push(soc2Retention(c.retentionPeriod));
      }
    }

    if (allow.length === 0) allow.push(ALLOW_NONE);
    return decide(ID, denials, allow, obligations);
  },
};
