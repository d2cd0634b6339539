import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AUDIT_BATCH_SCHEMA, parseAuditBatch } from './audit.js';
import { auditEntriesFixture } from './conformance.js';

/** What a parse gives: the entries, or that it refused (zod's and the fast path's errors differ in wording only). */
function outcome(parse: () => unknown): unknown {
  try {
    return { ok: parse() };
  } catch {
    return 'refused';
  }
}

const zodOutcome = (input: unknown) =>
  outcome(() => {
    const r = AUDIT_BATCH_SCHEMA.safeParse(input);
    if (!r.success) throw r.error;
    return r.data;
  });

// Values that sit on either side of a bound or break a rule of the schema.
const ODD: unknown[] = [
  undefined,
  null,
  0,
  -1,
  1,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  8.64e15,
  8.64e15 + 2,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  'x',
  'allow',
  'deny',
  'did:mesh:enterprise:acme-001',
  'did:mesh:',
  'a\u0000b',
  'tab\there',
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
  'f'.repeat(64),
  'F'.repeat(64),
  'message',
  'Message',
  [],
  ['a'],
  ['\ud800'],
  // biome-ignore lint/suspicious/noSparseArray: a hole is what the schema refuses and `every` skips
  [, 'a'],
  Array.from({ length: 17 }, () => 'a'),
  Array.from({ length: 33 }, () => 'a'),
  {},
  { a: 1 },
  { a: '\ud800' },
  { kind: 'k', detail: 'd', adapter: 'a' },
  [{ kind: 'k', detail: 'd', adapter: 'a' }],
  [{ kind: 'k', detail: 'd' }],
  // biome-ignore lint/suspicious/noSparseArray: as above
  [, { kind: 'k', detail: 'd', adapter: 'a' }],
  [{ kind: 'k', detail: 'd', adapter: 'a', extra: 1 }],
  [{ kind: 'x'.repeat(65), detail: 'd', adapter: 'a' }],
  [{ kind: 'k', detail: 'x'.repeat(1024), adapter: 'x'.repeat(128) }],
  [{ kind: 'k', detail: 'x'.repeat(1025), adapter: 'a' }],
  [{ kind: 'k', detail: 'd', adapter: 'x'.repeat(129) }],
  Array.from({ length: 33 }, () => ({ kind: 'k', detail: 'd', adapter: 'a' })),
  [{ kind: 'k', detail: '\ud800', adapter: 'a' }],
  { big: 'x'.repeat(17 * 1024) },
  Object.create(null),
];
const FIELDS = [
  'seq',
  'prevHash',
  'hash',
  'at',
  'kind',
  'actor',
  'subject',
  'federationId',
  'actionId',
  'decision',
  'reasons',
  'policyIds',
  'adapters',
  'obligations',
  'context',
  'data',
  'unknownKey',
];
const odd = fc.constantFrom(...ODD);
const field = fc.constantFrom(...FIELDS);

describe('parseAuditBatch', () => {
  it('accepts and refuses exactly what the schema does for every single edit of an entry', () => {
    for (const key of FIELDS) {
      for (const value of ODD) {
        const batch: unknown[] = auditEntriesFixture(2);
        (batch[1] as Record<string, unknown>)[key] = value;
        expect([key, value, outcome(() => parseAuditBatch(batch))]).toEqual([key, value, zodOutcome(batch)]);
      }
    }
  });

  it('does the same for several edits at once, and gives the same entries (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(2), field, odd), { maxLength: 4 }),
        fc.boolean(),
        (edits, hole) => {
          const batch: unknown[] = auditEntriesFixture(3);
          for (const [i, key, value] of edits) (batch[i] as Record<string, unknown>)[key] = value;
          if (hole) delete batch[1];
          expect(outcome(() => parseAuditBatch(batch))).toEqual(zodOutcome(batch));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('takes a valid batch as it is and refuses anything that is not a batch', () => {
    const batch = auditEntriesFixture(2);
    expect(parseAuditBatch(batch)).toBe(batch);
    for (const bad of [undefined, null, {}, 'x', [null], [1]]) expect(() => parseAuditBatch(bad)).toThrow();
  });
});
