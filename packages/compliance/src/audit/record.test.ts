import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AuditRecord, AuditRecordSchema, parseAuditRecord } from './chain.js';

const base = (): Record<string, unknown> => ({
  at: 1_790_000_000_000,
  kind: 'message',
  actor: 'did:mesh:government:opendata-001',
  subject: 'did:mesh:ngo:relief-001',
  federationId: '6f7c2e1a-0b3c-4d5e-8f90-123456789abc',
  actionId: 'msg-1',
  decision: 'allow',
  reasons: ['within policy'],
  policyIds: ['policy0'],
  adapters: ['gdpr'],
  obligations: [{ kind: 'retention', detail: 'delete after 90-days', adapter: 'gdpr' }],
  context: { dataClassification: 'personal-identifiable', processingBasis: 'public-task', auditTrail: true },
  data: { n: 1, list: [1, 'a', null, { x: true }] },
});

/** What a parse gives: the record, or that it refused (the two word their issues the same way). */
const outcome = (r: { success: boolean; data?: AuditRecord }) => (r.success ? { ok: r.data } : 'refused');

// Values on either side of a bound or breaking a rule of the schema.
const ODD: unknown[] = [
  undefined,
  null,
  0,
  -1,
  1.5,
  Number.NaN,
  8.64e15,
  8.64e15 + 2,
  '',
  'x',
  'allow',
  'deny',
  'did:mesh:enterprise:acme-001',
  'did:mesh:',
  'a\u0000b',
  '\ud800',
  'ünïcödé ✓ 🚀',
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(128),
  'x'.repeat(129),
  'x'.repeat(256),
  'x'.repeat(257),
  'x'.repeat(1024),
  'x'.repeat(1025),
  'tool_call',
  'Tool',
  [],
  ['a'],
  ['\ud800'],
  // biome-ignore lint/suspicious/noSparseArray: a hole is what the schema refuses and `every` skips
  [, 'a'],
  Array.from({ length: 17 }, () => 'a'),
  Array.from({ length: 33 }, () => 'a'),
  Array.from({ length: 65 }, () => 'a'),
  {},
  { a: 1 },
  { a: '\ud800' },
  { a: [1, undefined] },
  { a: new Date(0) },
  { a: Number.POSITIVE_INFINITY },
  { big: 'x'.repeat(17 * 1024) },
  [{ kind: 'k', detail: 'd', adapter: 'a' }],
  [{ kind: 'k', detail: 'd' }],
  [{ kind: 'k', detail: 'd', adapter: 'a', extra: 1 }],
  [{ kind: 'x'.repeat(65), detail: 'd', adapter: 'a' }],
  [{ kind: 'k', detail: 'x'.repeat(1024), adapter: 'x'.repeat(128) }],
  [{ kind: 'k', detail: 'x'.repeat(1025), adapter: 'a' }],
  [{ kind: 'k', detail: 'd', adapter: 'x'.repeat(129) }],
  Array.from({ length: 33 }, () => ({ kind: 'k', detail: 'd', adapter: 'a' })),
  [{ kind: 'k', detail: '\ud800', adapter: 'a' }],
  // biome-ignore lint/suspicious/noSparseArray: as above
  [, { kind: 'k', detail: 'd', adapter: 'a' }],
  Object.create(null),
];
const FIELDS = [...Object.keys(base()), 'unknownKey'];

describe('parseAuditRecord', () => {
  it('accepts and refuses exactly what AuditRecordSchema does for every single edit, with an equal copy', () => {
    for (const key of FIELDS) {
      for (const value of ODD) {
        const record = base();
        record[key] = value;
        expect([key, value, outcome(parseAuditRecord(record))]).toEqual([
          key,
          value,
          outcome(AuditRecordSchema.safeParse(record)),
        ]);
      }
    }
  });

  it('does the same for several edits at once (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom(...ODD)), { maxLength: 4 }),
        (edits) => {
          const record = base();
          for (const [key, value] of edits) record[key] = value;
          expect(outcome(parseAuditRecord(record))).toEqual(outcome(AuditRecordSchema.safeParse(record)));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('copies what it keeps: changing the caller object afterwards does not change the record', () => {
    const record = base();
    const r = parseAuditRecord(record);
    expect(r.success).toBe(true);
    (record['reasons'] as string[]).push('later');
    (record['context'] as Record<string, unknown>)['auditTrail'] = false;
    (record['obligations'] as Record<string, unknown>[])[0]!['detail'] = 'changed';
    expect(r.data?.reasons).toEqual(['within policy']);
    expect(r.data?.context).toMatchObject({ auditTrail: true });
    expect(r.data?.obligations?.[0]?.detail).toBe('delete after 90-days');
  });
});
