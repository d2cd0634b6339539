import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from './errors.js';
import { parseFrame } from './frame.js';
import { MAX_TRUST_REPORT_COUNT, TrustReportSchema } from './trust.js';

const report = (extra: Record<string, unknown> = {}) => ({
  type: 'TrustReport',
  reportId: randomUUID(),
  subject: 'did:mesh:academic:mit-001',
  federationId: randomUUID(),
  outcome: 'tool_call_ok',
  ...extra,
});

describe('TrustReport', () => {
  it('takes a count of tool calls, 1 to MAX_TRUST_REPORT_COUNT', () => {
    expect(TrustReportSchema.safeParse(report()).success).toBe(true);
    expect(TrustReportSchema.safeParse(report({ count: 1 })).success).toBe(true);
    expect(TrustReportSchema.safeParse(report({ count: MAX_TRUST_REPORT_COUNT })).success).toBe(true);
    expect(TrustReportSchema.safeParse(report({ outcome: 'tool_call_failed', count: 7 })).success).toBe(true);
    for (const count of [0, -1, 1.5, MAX_TRUST_REPORT_COUNT + 1, '3', null]) {
      expect(TrustReportSchema.safeParse(report({ count })).success).toBe(false);
    }
  });

  it('refuses a count on a violation report (one violation is one report)', () => {
    expect(TrustReportSchema.safeParse(report({ outcome: 'policy_violation' })).success).toBe(true);
    const parsed = () => parseFrame(JSON.stringify(report({ outcome: 'policy_violation', count: 40 })));
    expect(parsed).toThrow(ProtocolError);
    expect(parsed).toThrow(/count/);
  });
});
