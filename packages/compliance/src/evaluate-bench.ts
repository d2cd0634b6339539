/**
 * evaluateCompliance micro-benchmark (issue #6: policy plus compliance evaluation per message
 * p50 <= 50 µs warm). Times batches of calls on prebuilt transactions, warm, on one core, and
 * reports per-call percentiles over the batches (one call is too short to time on its own).
 */
import { PERSONAL, party, transaction } from './adapters/testing.js';
import { evaluateCompliance } from './evaluate.js';
import type { ComplianceTransaction } from './types.js';

/** Representative transactions: which adapters run and whether the decision allows. */
export const BENCH_TRANSACTIONS: Readonly<Record<string, ComplianceTransaction>> = {
  // GDPR only, allowed with retention, audit, purpose obligations.
  'eu-to-jp-personal': transaction({
    from: 'eu',
    to: 'jp',
    via: ['eu-west'],
    ctx: { ...PERSONAL, purpose: 'support' },
  }),
  // GDPR and SOC 2 + CCPA, denied (no transfer safeguard): the reason strings are built.
  'eu-to-us-denied': transaction({
    from: 'eu',
    to: party('us', ['SOC2']),
    via: ['eu-west', 'us-east'],
    ctx: PERSONAL,
  }),
  // SOC 2 + CCPA and ISO 42001 on an AI tool call, allowed with obligations from both.
  'us-ca-tool-call': transaction({
    from: party('us-ca', ['SOC2', 'ISO42001']),
    to: party('us', ['SOC2']),
    kind: 'tool_call',
    tool: 'score',
    ctx: { ...PERSONAL, purpose: 'credit scoring', aiRiskLevel: 'high', humanReview: true },
  }),
  // Geography plus GDPR on internal data kept in the EU.
  'eu-internal-restricted': transaction({
    from: 'eu',
    to: 'eu-west',
    via: ['eu-central'],
    ctx: { dataClassification: 'internal', auditTrail: true, geographicRestrictions: ['eu'] },
  }),
};

export interface EvaluateBench {
  readonly scenario: string;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
  readonly calls: number;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function benchEvaluateCompliance(batches = 2000, batchSize = 100): EvaluateBench[] {
  const out: EvaluateBench[] = [];
  let sink = 0;
  const all = Object.values(BENCH_TRANSACTIONS);
  // Each scenario alone, then all of them in turn (`mixed`: the call sites see every shape).
  const runs: [string, readonly ComplianceTransaction[]][] = [
    ...Object.entries(BENCH_TRANSACTIONS).map(([k, tx]): [string, ComplianceTransaction[]] => [k, [tx]]),
    ['mixed', all],
  ];
  for (const [scenario, txs] of runs) {
    const n = txs.length;
    for (let i = 0; i < 20_000; i++) sink += evaluateCompliance(txs[i % n]!).decisions.length; // warm the JIT
    const perCall: number[] = new Array(batches);
    let total = 0;
    for (let b = 0; b < batches; b++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < batchSize; i++) sink += evaluateCompliance(txs[i % n]!).decisions.length;
      const ns = Number(process.hrtime.bigint() - t0);
      perCall[b] = ns / batchSize / 1000;
      total += ns;
    }
    perCall.sort((a, b) => a - b);
    out.push({
      scenario,
      p50Us: quantile(perCall, 0.5),
      p99Us: quantile(perCall, 0.99),
      meanUs: total / (batches * batchSize) / 1000,
      calls: batches * batchSize,
    });
  }
  if (sink === -1) console.log(sink); // keeps the calls observable to the optimizer
  return out;
}
