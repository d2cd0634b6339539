/**
 * One suite for every adapter, run through the ComplianceAdapter interface only: a table of
 * transactions with the expected applicability, decision, reason and obligation kinds (at least
 * one case per rule), then properties every adapter must keep on arbitrary transactions.
 */
import { AI_RISK_LEVELS, DATA_CLASSIFICATIONS, PROCESSING_BASES, TRANSFER_SAFEGUARDS } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTERS } from '../evaluate.js';
import type { ComplianceAdapter, ComplianceTransaction, ObligationKind } from '../types.js';
import { createGdprAdapter, gdprAdapter } from './gdpr.js';
import { PERSONAL, party, transaction as tx } from './testing.js';

interface Case {
  readonly name: string;
  readonly adapter: string;
  readonly tx: ComplianceTransaction;
  /** Default true; when false only appliesTo is checked. */
  readonly applies?: boolean;
  readonly allow?: boolean;
  /** A substring of one of the decision's reasons. */
  readonly reason?: string;
  /** The exact set of obligation kinds (for an allow). */
  readonly obligations?: readonly ObligationKind[];
  /** A substring of one obligation's detail. */
  readonly detail?: string;
}

const SPECIAL = { ...PERSONAL, dataClassification: 'special-category' } as const;
const CA_OK = { ...PERSONAL, processingBasis: 'consent', purpose: 'payroll' } as const;
const AI_OK = { ...PERSONAL, purpose: 'credit scoring' } as const;

const CASES: readonly Case[] = [
  // ---- GDPR + EU AI Act ----------------------------------------------------------------------
  {
    name: 'applies to an EU source',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'jp' }),
    applies: true,
    allow: true,
  },
  {
    name: 'applies to an EEA target',
    adapter: 'gdpr',
    tx: tx({ from: 'jp', to: 'eea' }),
    applies: true,
    allow: true,
  },
  {
    name: 'applies to EU data subjects elsewhere',
    adapter: 'gdpr',
    tx: tx({ from: 'us', to: 'us-east', ctx: { dataSubjectRegion: 'eu-west' } }),
    applies: true,
  },
  {
    name: 'applies when a hub on the route is in the EU',
    adapter: 'gdpr',
    tx: tx({ from: 'us', to: 'jp', via: ['eu-central'] }),
    applies: true,
  },
  {
    name: 'does not apply without an EU link',
    adapter: 'gdpr',
    tx: tx({ from: 'us', to: 'jp', via: ['apac'] }),
    applies: false,
  },
  {
    name: 'personal data to an adequate country: allowed with retention and audit',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'jp', ctx: PERSONAL }),
    allow: true,
    reason: 'Art. 6(1)(b)',
    obligations: ['retention', 'audit'],
    detail: 'erase after 90-days',
  },
  {
    name: 'Art. 44-46: personal data to the US without a safeguard',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'us-east', ctx: PERSONAL }),
    allow: false,
    reason:
      'GDPR Art. 44-46: personal data may not go to did:fmp:mesh:us-east in US (us-east) (not adequate) without a safeguard (scc, bcr, dpf',
  },
  {
    name: 'Art. 45: the US is adequate only under the DPF',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'us-ca', ctx: { ...PERSONAL, safeguards: ['dpf'] } }),
    allow: true,
    reason: 'GDPR Art. 45: EU-US Data Privacy Framework for US-CA',
    obligations: ['retention', 'audit'],
  },
  {
    name: 'Art. 46: dpf does not cover a non-US destination',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'apac', ctx: { ...PERSONAL, safeguards: ['dpf'] } }),
    allow: false,
    reason: 'dpf covers US organisations only',
  },
  {
    name: 'Art. 46(2)(c): standard contractual clauses cover any destination',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'apac', ctx: { ...PERSONAL, safeguards: ['scc'] } }),
    allow: true,
    reason: 'GDPR Art. 46(2)(c): standard contractual clauses for OTHER',
  },
  {
    name: 'Art. 44: a transit hub outside adequacy needs a safeguard too',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'jp', via: ['eu-west', 'apac'], ctx: PERSONAL }),
    allow: false,
    reason: 'may not transit hub did:fmp:hub:apac in OTHER (apac)',
  },
  {
    name: 'adequate hubs (UK, CH) on the way to an adequate target',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'ch', via: ['uk'], ctx: PERSONAL }),
    allow: true,
  },
  {
    name: 'Art. 6(1): personal data needs a lawful basis',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'eu', ctx: { ...PERSONAL, processingBasis: undefined } }),
    allow: false,
    reason: 'GDPR Art. 6(1): personal data needs a lawful basis',
  },
  {
    name: 'Art. 9(2): special categories under plain consent are denied',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'eu', ctx: { ...SPECIAL, processingBasis: 'consent' } }),
    allow: false,
    reason: 'GDPR Art. 9(2): special-category data needs explicit consent',
  },
  {
    name: 'Art. 9(2)(a): explicit consent allows special categories',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'eu', ctx: { ...SPECIAL, processingBasis: 'consent', explicitConsent: true } }),
    allow: true,
  },
  {
    name: 'Art. 9(2)(c): vital interests allow special categories',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'eu', ctx: { ...SPECIAL, processingBasis: 'vital-interests' } }),
    allow: true,
  },
  {
    name: 'Art. 9(2): legitimate interest is no exception for special categories',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'eu', ctx: { ...SPECIAL, processingBasis: 'legitimate-interest' } }),
    allow: false,
    reason: 'not legitimate-interest',
  },
  {
    name: 'Art. 5(1)(e): personal data without a retention period is denied',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'eu', ctx: { ...PERSONAL, retentionPeriod: undefined } }),
    allow: false,
    reason: 'GDPR Art. 5(1)(e)',
  },
  {
    name: 'Art. 5(1)(b): a purpose becomes a purpose limitation',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'eu', ctx: { ...PERSONAL, purpose: 'billing', auditTrail: false } }),
    allow: true,
    obligations: ['retention', 'purpose_limitation'],
    detail: 'use only for "billing"',
  },
  {
    name: 'Art. 22: AI processing of personal data needs an explanation',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'eu', kind: 'tool_call', tool: 'score', ctx: PERSONAL }),
    allow: true,
    obligations: ['retention', 'audit', 'explanation'],
    detail: 'Art. 13-15, 22',
  },
  {
    name: 'AI Act Art. 5: unacceptable risk is prohibited',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'eu', ctx: { aiRiskLevel: 'unacceptable' } }),
    allow: false,
    reason: 'EU AI Act Art. 5',
  },
  {
    name: 'AI Act Art. 14: high risk without human review is denied',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'eu', ctx: { aiRiskLevel: 'high' } }),
    allow: false,
    reason: 'EU AI Act Art. 14: high-risk AI processing needs human oversight (humanReview: true)',
  },
  {
    name: 'AI Act Art. 12, 14, 86: high risk with human review carries oversight, logging, explanation',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'eu', ctx: { ...PERSONAL, aiRiskLevel: 'high', humanReview: true } }),
    allow: true,
    obligations: ['human_review', 'logging', 'retention', 'audit', 'explanation'],
    detail: 'EU AI Act Art. 12',
  },
  {
    name: 'AI Act Art. 50: limited-risk AI carries a transparency explanation',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'eu', ctx: { aiRiskLevel: 'limited', auditTrail: false } }),
    allow: true,
    obligations: ['explanation'],
    detail: 'Art. 50',
  },
  {
    name: 'non-personal data anywhere, no audit: nothing to do',
    adapter: 'gdpr',
    tx: tx({ from: 'eu', to: 'apac', ctx: { auditTrail: false } }),
    allow: true,
    reason: 'no personal data',
    obligations: [],
  },

  // ---- SOC 2 + CCPA --------------------------------------------------------------------------
  {
    name: 'applies to a US party',
    adapter: 'soc2-ccpa',
    tx: tx({ from: 'eu', to: 'us' }),
    applies: true,
    allow: true,
  },
  {
    name: 'applies to a North America party',
    adapter: 'soc2-ccpa',
    tx: tx({ from: 'na', to: 'jp' }),
    applies: true,
  },
  {
    name: 'applies to a SOC 2 party outside the US (any spelling)',
    adapter: 'soc2-ccpa',
    tx: tx({ from: party('eu', ['GDPR', 'SOC 2 Type II']), to: 'eu' }),
    applies: true,
  },
  {
    name: 'applies to Californian data subjects',
    adapter: 'soc2-ccpa',
    tx: tx({ from: 'eu', to: 'eu', ctx: { dataSubjectRegion: 'us-ca' } }),
    applies: true,
  },
  {
    name: 'does not apply without a US link or SOC 2',
    adapter: 'soc2-ccpa',
    tx: tx({ from: 'eu', to: 'ca' }),
    applies: false,
  },
  {
    name: 'CCPA §1798.120: the consumer opted out of sale/sharing',
    adapter: 'soc2-ccpa',
    tx: tx({ from: 'us', to: 'us-ca', ctx: { ...PERSONAL, saleOrShare: true, optOut: true } }),
    allow: false,
    reason: 'consumer opted out of sale/sharing',
  },
  {
    name: 'CCPA: an opt-out binds whatever the classification says',
    adapter: 'soc2-ccpa',
    tx: tx({ from: 'us-ca', to: 'us', ctx: { saleOrShare: true, optOut: true } }),
    allow: false,
    reason: 'opted out',
  },
  {
    name: 'CCPA §1798.120(b): a sale of personal data carries an opt-out notice',
    adapter: 'soc2-ccpa',
    tx: tx({ from: 'us-ca', to: 'us', ctx: { ...PERSONAL, saleOrShare: true } }),
    allow: true,
    reason: 'CCPA: no sale or sharing against an opt-out',
    obligations: ['notice', 'retention'],
    detail: 'Do Not Sell or Share',
  },
  {
    name: 'CCPA §1798.121: sensitive personal information carries a right-to-limit notice',
    adapter: 'soc2-ccpa',
    tx: tx({ from: 'us', to: 'us-ca', ctx: { ...SPECIAL, purpose: 'claims' } }),
    allow: true,
    obligations: ['notice', 'retention', 'purpose_limitation'],
    detail: '§1798.121',
  },
  {
    name: 'CCPA §1798.100(a)(3): no retention period means disclosing how long data is kept',
    adapter: 'soc2-ccpa',
    tx: tx({ from: 'us', to: 'us-ca', ctx: { ...PERSONAL, retentionPeriod: undefined } }),
    allow: true,
    obligations: ['notice'],
    detail: 'disclose how long',
  },
  {
    name: 'SOC 2 C1.1: confidential data without an audit trail',
    adapter: 'soc2-ccpa',
    tx: tx({
      from: party('us', ['SOC2']),
      to: 'us',
      ctx: { dataClassification: 'confidential', auditTrail: false },
    }),
    allow: false,
    reason: 'SOC 2 C1.1, CC7.2: confidential data needs an audit trail',
  },
  {
    name: 'SOC 2 P6.2: personal data disclosures must be recorded (the target is certified)',
    adapter: 'soc2-ccpa',
    tx: tx({ from: 'eu', to: party('eu', ['soc2']), ctx: { ...PERSONAL, auditTrail: false } }),
    allow: false,
    reason: 'SOC 2 P6.2',
  },
  {
    name: 'SOC 2 CC7.2: internal data is logged',
    adapter: 'soc2-ccpa',
    tx: tx({
      from: party('us', ['SOC2']),
      to: 'us',
      ctx: { dataClassification: 'internal', auditTrail: false },
    }),
    allow: true,
    obligations: ['logging'],
  },
  {
    name: 'SOC 2 C1.2: confidential data with a retention period is disposed of',
    adapter: 'soc2-ccpa',
    tx: tx({
      from: party('us', ['SOC2']),
      to: 'us',
      ctx: { dataClassification: 'confidential', retentionPeriod: '1-year' },
    }),
    allow: true,
    obligations: ['logging', 'retention'],
    detail: 'dispose of the data after 1-year',
  },
  {
    name: 'SOC 2: public data has nothing to log',
    adapter: 'soc2-ccpa',
    tx: tx({
      from: party('us', ['SOC2']),
      to: 'us',
      ctx: { dataClassification: 'public', auditTrail: false },
    }),
    allow: true,
    obligations: [],
  },
  {
    name: 'a US party without SOC 2 or California: no rule applies',
    adapter: 'soc2-ccpa',
    tx: tx({ from: 'us', to: 'us-east', ctx: { ...PERSONAL, auditTrail: false } }),
    allow: true,
    reason: 'no SOC 2 party',
    obligations: [],
  },

  // ---- PIPEDA --------------------------------------------------------------------------------
  {
    name: 'applies to a Canadian source',
    adapter: 'pipeda',
    tx: tx({ from: 'ca', to: 'eu' }),
    applies: true,
    allow: true,
  },
  {
    name: 'applies to a Canadian target',
    adapter: 'pipeda',
    tx: tx({ from: 'eu', to: 'ca-east' }),
    applies: true,
  },
  {
    name: 'applies to Canadian data subjects',
    adapter: 'pipeda',
    tx: tx({ from: 'us', to: 'us', ctx: { dataSubjectRegion: 'ca-qc' } }),
    applies: true,
  },
  {
    name: 'does not apply without a Canadian link',
    adapter: 'pipeda',
    tx: tx({ from: 'us', to: 'eu' }),
    applies: false,
  },
  {
    name: 'Principle 4.3: consent and a purpose within Canada: allowed with notice, purpose, retention',
    adapter: 'pipeda',
    tx: tx({ from: 'ca', to: 'ca-west', ctx: CA_OK }),
    allow: true,
    reason: 'PIPEDA Principle 4.3: consent',
    obligations: ['notice', 'purpose_limitation', 'retention'],
    detail: 'destroy or anonymize after 90-days',
  },
  {
    name: 'Principle 4.3: contract is not a consent exception',
    adapter: 'pipeda',
    tx: tx({ from: 'ca', to: 'ca', ctx: { ...CA_OK, processingBasis: 'contract' } }),
    allow: false,
    reason: 'contract is not a s. 7 exception',
  },
  {
    name: 's. 7(3)(i): required by law',
    adapter: 'pipeda',
    tx: tx({ from: 'ca', to: 'ca', ctx: { ...CA_OK, processingBasis: 'legal-obligation' } }),
    allow: true,
    reason: 's. 7(3)(i)',
  },
  {
    name: 'Principle 4.3.6: sensitive information needs express consent',
    adapter: 'pipeda',
    tx: tx({ from: 'ca', to: 'ca', ctx: { ...CA_OK, dataClassification: 'special-category' } }),
    allow: false,
    reason: 'Principle 4.3.6',
  },
  {
    name: 'Principles 4.2, 4.5: no purpose is denied',
    adapter: 'pipeda',
    tx: tx({ from: 'ca', to: 'ca', ctx: { ...CA_OK, purpose: undefined } }),
    allow: false,
    reason: 'needs an identified purpose',
  },
  {
    name: 'Principle 4.1.3: leaving Canada without notice',
    adapter: 'pipeda',
    tx: tx({ from: 'ca', to: 'us', ctx: CA_OK }),
    allow: false,
    reason: 'leaving Canada for did:fmp:mesh:us in US (us) needs notice',
  },
  {
    name: 'Principle 4.1.3: through a hub abroad without notice',
    adapter: 'pipeda',
    tx: tx({ from: 'ca', to: 'ca-east', via: ['us-east'], ctx: CA_OK }),
    allow: false,
    reason: 'leaving Canada through hub did:fmp:hub:us-east',
  },
  {
    name: 'Principle 4.1.3: with cross-border notice',
    adapter: 'pipeda',
    tx: tx({ from: 'ca', to: 'eu', via: ['us'], ctx: { ...CA_OK, crossBorderNotice: true } }),
    allow: true,
    reason: 'cross-border notice given',
  },
  {
    name: 'data coming into Canada needs no cross-border notice',
    adapter: 'pipeda',
    tx: tx({ from: 'us', to: 'ca', ctx: CA_OK }),
    allow: true,
  },
  {
    name: 'Principle 4.5.3: without a period, destroy once the purpose is fulfilled',
    adapter: 'pipeda',
    tx: tx({ from: 'ca', to: 'ca', ctx: { ...CA_OK, retentionPeriod: undefined } }),
    allow: true,
    obligations: ['notice', 'purpose_limitation', 'retention'],
    detail: 'once the purpose is fulfilled',
  },
  {
    name: 'non-personal data: nothing to check',
    adapter: 'pipeda',
    tx: tx({ from: 'ca', to: 'apac', ctx: { dataClassification: 'confidential' } }),
    allow: true,
    obligations: [],
  },

  // ---- ISO/IEC 42001 -------------------------------------------------------------------------
  {
    name: 'applies to an ISO 42001 party (any spelling)',
    adapter: 'iso42001',
    tx: tx({ from: party('eu', ['ISO/IEC 42001:2023']), to: 'eu' }),
    applies: true,
    allow: true,
    reason: 'no AI processing',
    obligations: [],
  },
  {
    name: 'applies to a tool call',
    adapter: 'iso42001',
    tx: tx({ from: 'eu', to: 'us', kind: 'tool_call' }),
    applies: true,
  },
  {
    name: 'applies to a declared AI risk',
    adapter: 'iso42001',
    tx: tx({ from: 'eu', to: 'us', ctx: { aiRiskLevel: 'minimal' } }),
    applies: true,
  },
  {
    name: 'does not apply to a plain message',
    adapter: 'iso42001',
    tx: tx({ from: party('eu', ['ISO27001']), to: 'us' }),
    applies: false,
  },
  {
    name: 'A.9.4: AI processing of personal data needs a purpose',
    adapter: 'iso42001',
    tx: tx({ from: 'eu', to: 'eu', kind: 'tool_call', ctx: PERSONAL }),
    allow: false,
    reason: 'ISO/IEC 42001 A.9.4',
  },
  {
    name: 'A.6.2.8: AI processing of personal data needs event logs',
    adapter: 'iso42001',
    tx: tx({ from: 'eu', to: 'eu', kind: 'tool_call', ctx: { ...AI_OK, auditTrail: false } }),
    allow: false,
    reason: 'ISO/IEC 42001 A.6.2.8',
  },
  {
    name: 'A.8.2, A.6.2.8: AI processing carries explanation and logging',
    adapter: 'iso42001',
    tx: tx({ from: 'us', to: 'us', kind: 'tool_call', ctx: AI_OK }),
    allow: true,
    obligations: ['explanation', 'logging'],
    detail: 'A.8.2',
  },
  {
    name: 'A.9.4 does not bind non-personal data',
    adapter: 'iso42001',
    tx: tx({ from: 'us', to: 'us', kind: 'tool_call', ctx: { auditTrail: false } }),
    allow: true,
    obligations: ['explanation', 'logging'],
  },
  {
    name: 'A.9.2: high risk without human review is denied',
    adapter: 'iso42001',
    tx: tx({ from: 'us', to: 'us', ctx: { ...AI_OK, aiRiskLevel: 'high' } }),
    allow: false,
    reason: 'ISO/IEC 42001 A.9.2, A.5.4',
  },
  {
    name: 'A.9.2: high risk with human review carries a human_review obligation',
    adapter: 'iso42001',
    tx: tx({ from: 'us', to: 'us', ctx: { ...AI_OK, aiRiskLevel: 'high', humanReview: true } }),
    allow: true,
    obligations: ['explanation', 'logging', 'human_review'],
  },
  {
    name: 'A.5.4, A.9.3: an unacceptable-risk use is denied',
    adapter: 'iso42001',
    tx: tx({ from: 'us', to: 'us', ctx: { aiRiskLevel: 'unacceptable' } }),
    allow: false,
    reason: 'unacceptable risk',
  },
];

const byId = new Map(DEFAULT_ADAPTERS.map((a) => [a.id, a] as const));

describe('jurisdiction adapters (one table, through the interface)', () => {
  it('has a case for every built-in adapter', () => {
    expect(new Set(CASES.map((c) => c.adapter))).toEqual(new Set(byId.keys()));
  });

  it.each(CASES.map((c) => [`${c.adapter}: ${c.name}`, c] as const))('%s', (_, c) => {
    const adapter: ComplianceAdapter = byId.get(c.adapter)!;
    expect(adapter.appliesTo(c.tx)).toBe(c.applies ?? true);
    if (c.applies === false) return;
    const d = adapter.evaluate(c.tx);
    expect(d.adapter).toBe(adapter.id);
    if (c.allow !== undefined)
      expect({ allow: d.allow, reasons: d.reasons }).toMatchObject({ allow: c.allow });
    if (c.reason !== undefined) expect(d.reasons.join('\n')).toContain(c.reason);
    if (c.obligations !== undefined) {
      expect([...new Set(d.obligations.map((o) => o.kind))].sort()).toEqual([...c.obligations].sort());
    }
    if (c.detail !== undefined) expect(d.obligations.map((o) => o.detail).join('\n')).toContain(c.detail);
  });

  it('an operator can extend the GDPR adequacy list (a new decision)', () => {
    const t = tx({ from: 'eu', to: 'br', ctx: PERSONAL });
    expect(gdprAdapter.evaluate(t).allow).toBe(false);
    const withBrazil = createGdprAdapter({ adequate: new Set(['EU', 'EEA', 'BR'] as const) });
    expect(withBrazil.evaluate(t)).toMatchObject({ adapter: 'gdpr', allow: true });
  });
});

const region = fc.constantFrom(
  'eu',
  'eu-west',
  'eea',
  'uk',
  'ch',
  'us',
  'us-ca',
  'na',
  'ca',
  'ca-qc',
  'jp',
  'br',
  'apac',
);
const partyArb = fc
  .record({ region, certs: fc.subarray(['GDPR', 'SOC2', 'ISO42001', 'soc 2', 'ISO/IEC 42001']) })
  .map((p) => party(p.region, p.certs));
const contextArb = fc.record(
  {
    dataClassification: fc.constantFrom(...DATA_CLASSIFICATIONS),
    processingBasis: fc.constantFrom(...PROCESSING_BASES),
    retentionPeriod: fc.constantFrom('90-days', '1-year', '12-hours'),
    geographicRestrictions: fc.subarray(['eu', 'us', 'ca', 'apac']),
    auditTrail: fc.boolean(),
    purpose: fc.string({ minLength: 1, maxLength: 20 }),
    dataSubjectRegion: region,
    safeguards: fc.subarray([...TRANSFER_SAFEGUARDS]),
    explicitConsent: fc.boolean(),
    aiRiskLevel: fc.constantFrom(...AI_RISK_LEVELS),
    humanReview: fc.boolean(),
    saleOrShare: fc.boolean(),
    optOut: fc.boolean(),
    crossBorderNotice: fc.boolean(),
  },
  { requiredKeys: ['dataClassification', 'auditTrail'] },
);
const txArb = fc
  .record({
    kind: fc.constantFrom('message', 'tool_call', 'federation'),
    from: partyArb,
    to: partyArb,
    via: fc.array(region, { maxLength: 4 }),
    ctx: contextArb,
  })
  .map((r) => tx(r));

describe('every adapter, on arbitrary transactions', () => {
  it('decides deterministically, explains a denial and attributes its obligations', () => {
    fc.assert(
      fc.property(txArb, (t) => {
        for (const adapter of DEFAULT_ADAPTERS) {
          if (!adapter.appliesTo(t)) continue;
          const d = adapter.evaluate(t);
          expect(d.adapter).toBe(adapter.id);
          expect(d.reasons.length).toBeGreaterThan(0);
          if (!d.allow) expect(d.obligations).toEqual([]);
          for (const o of d.obligations) expect(o.adapter).toBe(adapter.id);
          expect(adapter.evaluate(t)).toEqual(d);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('more declared safeguards, consent or review never turn an allow into a denial', () => {
    fc.assert(
      fc.property(txArb, (t) => {
        const stronger = {
          ...t,
          context: {
            ...t.context,
            safeguards: [...TRANSFER_SAFEGUARDS],
            explicitConsent: true,
            humanReview: true,
            crossBorderNotice: true,
            auditTrail: true,
          },
        };
        for (const adapter of DEFAULT_ADAPTERS) {
          if (adapter.appliesTo(t) && adapter.evaluate(t).allow)
            expect(adapter.evaluate(stronger).allow).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
