/**
 * ISO/IEC 42001:2023 (AI management systems), the Annex A controls a transaction can be held to.
 *
 * Applies when either party's credential lists ISO 42001, or the transaction is AI processing (a
 * tool call, or an `aiRiskLevel` is declared): the standard is global, so an agent's tool call is
 * held to it wherever the parties are. Controls mapped:
 *
 * - A.9.4 (intended use of the AI system): AI processing of personal data needs a `purpose`.
 * - A.6.2.8 (AI system recording of event logs): AI processing of personal data needs
 *   `auditTrail: true`; every AI processing carries a logging obligation.
 * - A.9.2 (processes for responsible use, human oversight) with A.5.4 (impact on individuals):
 *   `aiRiskLevel: 'high'` needs `humanReview: true`, and then carries a human_review obligation.
 * - A.5.4 / A.9.3 (objectives for responsible use): a use assessed `unacceptable` is denied.
 * - A.8.2 (system documentation and information for users): every AI processing carries an
 *   explanation (transparency) obligation.
 */
import type { AdapterDecision, ComplianceAdapter, ComplianceTransaction, Obligation } from '../types.js';
import {
  certified,
  decide,
  ISO42001,
  isAiProcessing,
  isPersonal,
  NO_OBLIGATIONS,
  obligation,
} from './common.js';

const ID = 'iso42001';

const EXPLANATION = obligation(
  ID,
  'explanation',
  'ISO/IEC 42001 A.8.2: give users information about the AI system and its output (transparency)',
);
const LOGGING = obligation(ID, 'logging', 'ISO/IEC 42001 A.6.2.8: record the AI system event log');
const HUMAN_REVIEW = obligation(
  ID,
  'human_review',
  'ISO/IEC 42001 A.9.2: a human reviews the high-risk AI output',
);

const ALLOW_AI: readonly string[] = Object.freeze([
  'ISO/IEC 42001: AI processing with purpose, logs and oversight',
]);
const NO_AI: AdapterDecision = Object.freeze({
  adapter: ID,
  allow: true,
  reasons: Object.freeze(['ISO/IEC 42001: no AI processing']),
  obligations: NO_OBLIGATIONS,
});

export const iso42001Adapter: ComplianceAdapter = {
  id: ID,
  name: 'ISO/IEC 42001',
  appliesTo(tx: ComplianceTransaction): boolean {
    return isAiProcessing(tx) || certified(tx.source, ISO42001) || certified(tx.target, ISO42001);
  },
  evaluate(tx: ComplianceTransaction): AdapterDecision {
    if (!isAiProcessing(tx)) return NO_AI;
    const c = tx.context;
    const denials: string[] = [];
    const obligations: Obligation[] = [EXPLANATION, LOGGING];

    if (isPersonal(c)) {
      if (c.purpose === undefined) {
        denials.push('ISO/IEC 42001 A.9.4: AI processing of personal data needs a stated purpose (purpose)');
      }
      if (!c.auditTrail) {
        denials.push(
          'ISO/IEC 42001 A.6.2.8: AI processing of personal data needs event logs (auditTrail: true)',
        );
      }
    }
    if (c.aiRiskLevel === 'unacceptable') {
      denials.push(
        'ISO/IEC 42001 A.5.4, A.9.3: an AI use assessed as unacceptable risk is not a responsible use',
      );
    } else if (c.aiRiskLevel === 'high') {
      if (c.humanReview === true) obligations.push(HUMAN_REVIEW);
      else
        denials.push(
          'ISO/IEC 42001 A.9.2, A.5.4: high-risk AI use needs human oversight (humanReview: true)',
        );
    }
    return decide(ID, denials, ALLOW_AI, obligations);
  },
};
