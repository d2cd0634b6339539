/**
 * @fmp/compliance: spec 7. Jurisdiction adapters (GDPR + EU AI Act, SOC 2 + CCPA, PIPEDA, ISO/IEC
 * 42001) behind one interface, local policy in Cedar, content inspection, and the hash-chained
 * audit trail with retention and crypto-shredding. Pure: storage and clocks are injected.
 */

export * from './adapters/index.js';
export * from './audit/index.js';
export * from './content/index.js';
export * from './evaluate.js';
export * from './evaluate-bench.js';
export * from './jurisdiction.js';
export * from './policy/index.js';
export * from './types.js';
