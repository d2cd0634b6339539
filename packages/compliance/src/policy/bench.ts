/**
 * The policy benchmark (bench suite): per-call latency of PolicyEngine.authorize on the EDU example
 * policies (9 policies; the callTool slice has 5), for a tool call carrying a full compliance
 * context. `cold` defeats the decision cache (every request differs in what the policies read);
 * `warm` repeats requests, as a partner's calls to one tool do.
 */
import { examplePolicyFile, PolicyEngine, type PolicyRequest } from './engine.js';

export interface PolicyBenchResult {
  readonly policies: number;
  /** Decision cache hits: request validation, the cache key and a map lookup. */
  readonly warm: { readonly p50Us: number; readonly p99Us: number };
  /** Cache misses: a cedar-wasm call on the pre-parsed set. */
  readonly cold: { readonly p50Us: number; readonly p99Us: number };
  /** Without pre-parsing (Cedar parses the policies on every call), for comparison. */
  readonly unparsed: { readonly p50Us: number; readonly p99Us: number };
  readonly allowed: number;
}

function request(trustScore: number, toolIndex: number): PolicyRequest {
  return {
    principal: {
      type: 'Mesh',
      id: 'did:mesh:enterprise:acme-001',
      attrs: { category: 'enterprise', region: 'na', trustLevel: 85 },
    },
    action: 'callTool',
    resource: {
      type: 'Tool',
      id: `tool-${toolIndex}`,
      attrs: { capability: 'ml.inference', server: 'fmp-demo-edu' },
    },
    context: {
      trustScore,
      capability: 'ml.inference',
      compliance: {
        dataClassification: 'personal-identifiable',
        processingBasis: 'consent',
        retentionPeriod: '90-days',
        geographicRestrictions: ['eu', 'na'],
        auditTrail: true,
        aiRiskLevel: 'limited',
      },
    },
  };
}

function percentiles(samples: number[]): { p50Us: number; p99Us: number } {
  samples.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(samples[Math.min(samples.length - 1, Math.floor(samples.length * q))]!) / 1000;
  return { p50Us: at(0.5), p99Us: at(0.99) };
}

function time(n: number, f: (i: number) => unknown): { p50Us: number; p99Us: number } {
  for (let i = 0; i < Math.min(n, 2000); i++) f(i + n);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    f(i);
    samples.push(Number(process.hrtime.bigint() - t));
  }
  return percentiles(samples);
}

export function benchPolicyEngine(n = 20_000): PolicyBenchResult {
  const file = examplePolicyFile('edu');
  const cached = PolicyEngine.fromFiles([file]);
  const uncached = PolicyEngine.fromFiles([file], { cacheSize: 0 });
  const unparsed = PolicyEngine.fromFiles([file], { cacheSize: 0, preparse: false });
  let allowed = 0;
  const same = request(80, 0);
  const warm = time(n, (i) => {
    // Warm-up rounds (i >= n) are not counted.
    if (cached.authorize(same).allow && i < n) allowed++;
  });
  // Distinct tool ids: every request is a cache miss (the ids are what Cedar sees first).
  const cold = time(n, (i) => uncached.authorize(request(50 + (i % 50), i)));
  const slow = time(Math.max(1, Math.floor(n / 20)), (i) => unparsed.authorize(request(50 + (i % 50), i)));
  return { policies: cached.policies.length, warm, cold, unparsed: slow, allowed };
}
