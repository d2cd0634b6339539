/**
 * Compliance figures (issue #6): the jurisdiction adapters and the local Cedar policy per message
 * (goal: together <= 50 µs at p50, warm), and audit appends per second with group commit on SQLite
 * (goal >= 50,000/s, every entry acknowledged only once durable), beside raw SQLite batched inserts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, benchEvaluateCompliance, benchPolicyEngine } from '@fmp/compliance';
import { openStore } from '@fmp/store';

export interface ComplianceBench {
  readonly adapters: { readonly p50Us: number; readonly p99Us: number };
  readonly policyWarm: { readonly p50Us: number; readonly p99Us: number };
  readonly policyCold: { readonly p50Us: number; readonly p99Us: number };
  /** Adapters plus a warm (cached) policy decision, p50. */
  readonly perMessageP50Us: number;
  readonly audit: { readonly appends: number; readonly appendsPerSec: number; readonly verified: boolean };
}

export async function benchCompliance(quick: boolean): Promise<ComplianceBench> {
  const evaluations = benchEvaluateCompliance(quick ? 500 : 2000);
  const mixed = evaluations.find((e) => e.scenario === 'mixed') ?? evaluations[0]!;
  const policy = benchPolicyEngine(quick ? 2_000 : 20_000);
  const dir = mkdtempSync(join(tmpdir(), 'fmp-bench-audit-'));
  const store = await openStore({ kind: 'sqlite', path: join(dir, 'audit.db') });
  try {
    const log = await AuditLog.open(store.audit, { maxPending: 200_000 });
    const n = quick ? 10_000 : 50_000;
    const at = Date.now();
    const start = performance.now();
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        log.append({
          at,
          kind: 'message',
          actor: 'did:mesh:government:opendata-001',
          subject: 'did:mesh:ngo:relief-001',
          federationId: '6f7c2e1a-0b3c-4d5e-8f90-123456789abc',
          actionId: `msg-${i}`,
          decision: 'allow',
          adapters: ['gdpr'],
          obligations: [{ kind: 'retention', detail: 'delete after 90-days', adapter: 'gdpr' }],
          context: {
            dataClassification: 'personal-identifiable',
            processingBasis: 'public-task',
            auditTrail: true,
          },
        }),
      ),
    );
    const seconds = (performance.now() - start) / 1000;
    const verified = (await log.verify()).ok;
    await log.close();
    return {
      adapters: { p50Us: mixed.p50Us, p99Us: mixed.p99Us },
      policyWarm: policy.warm,
      policyCold: policy.cold,
      perMessageP50Us: Math.round((mixed.p50Us + policy.warm.p50Us) * 100) / 100,
      audit: { appends: n, appendsPerSec: Math.round(n / seconds), verified },
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
