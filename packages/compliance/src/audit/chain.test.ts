import { createHash } from 'node:crypto';
import { canonicalJson, ValidationError } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AuditEntry,
  type AuditRecord,
  AuditRecordSchema,
  canonicalEntryText,
  chainRecords,
  GENESIS_HASH,
  hashEntry,
  verifyChain,
} from './chain.js';

/** Identifiers (subject, federationId, actionId) refuse control characters. */
const noControl = (s: string) => [...s].every((c) => c.charCodeAt(0) > 0x1f && c.charCodeAt(0) !== 0x7f);
const T0 = Date.parse('2025-06-01T00:00:00.000Z');
const ACME = 'did:mesh:enterprise:acme-001';
const MIT = 'did:mesh:academic:mit-001';

function record(i: number, over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    at: T0 + i,
    kind: i % 2 === 0 ? 'message' : 'tool_call',
    actor: ACME,
    subject: MIT,
    federationId: '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69',
    actionId: `action-${i}`,
    decision: 'allow',
    reasons: ['lawful basis: contract'],
    adapters: ['gdpr'],
    obligations: [{ kind: 'retention', detail: 'delete after 90-days', adapter: 'gdpr' }],
    context: { dataClassification: 'personal-identifiable', processingBasis: 'contract', auditTrail: true },
    ...over,
  };
}

const chain = (n: number) =>
  chainRecords(
    undefined,
    Array.from({ length: n }, (_, i) => record(i)),
  );

describe('entry hashes', () => {
  it('hash the RFC 8785 form of {seq, prevHash, ...record} (the documented format)', () => {
    const [e] = chainRecords(undefined, [{ at: 1, kind: 'message', actor: ACME }]);
    // Written out by hand: members sorted by UTF-16 code units, no whitespace.
    const text = `{"actor":"${ACME}","at":1,"kind":"message","prevHash":"${'0'.repeat(64)}","seq":1}`;
    expect(e).toEqual({
      at: 1,
      kind: 'message',
      actor: ACME,
      seq: 1,
      prevHash: GENESIS_HASH,
      hash: createHash('sha256').update(text).digest('hex'),
    });
  });

  it('numbers the chain from 1 and links each entry to its predecessor', () => {
    const entries = chain(5);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(entries[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prevHash).toBe(entries[i - 1]!.hash);
    const { seq, prevHash, hash, ...rest } = entries[3]!;
    expect(hashEntry(seq, prevHash, rest)).toBe(hash);
    // Continuing after a head gives the same entries as one run.
    const tail = chainRecords(
      { seq: 3, hash: entries[2]!.hash },
      [3, 4].map((i) => record(i)),
    );
    expect(tail).toEqual(entries.slice(3));
  });

  it('does not depend on key order or on absent optional fields', () => {
    const a = hashEntry(1, GENESIS_HASH, { at: 1, kind: 'message', actor: ACME, subject: MIT });
    const b = hashEntry(1, GENESIS_HASH, {
      subject: MIT,
      actor: ACME,
      kind: 'message',
      at: 1,
      federationId: undefined,
    } as AuditRecord);
    expect(a).toBe(b);
  });
});

describe('record validation', () => {
  const bad: [unknown, string][] = [
    [{ ...record(0), kind: 'Tool Call' }, 'kind'],
    [{ ...record(0), actor: 'acme' }, 'actor'],
    [{ ...record(0), at: -1 }, 'at'],
    [{ ...record(0), decision: 'maybe' }, 'decision'],
    [{ ...record(0), subject: 'x'.repeat(1025) }, 'subject'],
    [{ ...record(0), subject: 'a\u0000b' }, 'subject'],
    [{ ...record(0), reasons: ['\ud800'] }, 'reasons.0'],
    [{ ...record(0), reasons: Array(33).fill('r') }, 'reasons'],
    [{ ...record(0), data: { blob: 'x'.repeat(16 * 1024) } }, 'data'],
    [{ ...record(0), data: { when: new Date() } }, 'data'],
    [{ ...record(0), data: { n: Number.NaN } }, 'data'],
    [{ ...record(0), context: [1, 2] }, 'context'],
    [{ ...record(0), payload: 'not allowed' }, ''],
  ];
  it.each(bad)('refuses %# (%s)', (input, path) => {
    const result = AuditRecordSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('accepts data up to 16 KiB and copies it', () => {
    const data = { blob: 'x'.repeat(16 * 1024 - 20) };
    const parsed = AuditRecordSchema.parse({ ...record(0), data });
    expect(parsed.data).toEqual(data);
    expect(parsed.data).not.toBe(data);
    expect(ValidationError).toBeDefined();
  });
});

describe('verifyChain', () => {
  it('accepts a valid chain, an empty one, and a slice given its start', () => {
    const entries = chain(10);
    expect(verifyChain(entries)).toEqual({
      ok: true,
      checked: 10,
      head: { seq: 10, hash: entries[9]!.hash },
    });
    expect(verifyChain([])).toEqual({ ok: true, checked: 0 });
    expect(verifyChain(entries.slice(4), { start: { seq: 5, prevHash: entries[3]!.hash } }).ok).toBe(true);
    expect(verifyChain(entries, { head: { seq: 10, hash: entries[9]!.hash } }).ok).toBe(true);
    // A log that grew past a known head is fine.
    expect(verifyChain(entries, { head: { seq: 6, hash: entries[5]!.hash } }).ok).toBe(true);
  });

  it('detects a changed entry', () => {
    const entries: AuditEntry[] = chain(6);
    entries[2] = { ...entries[2]!, decision: 'deny' };
    expect(verifyChain(entries)).toMatchObject({ ok: false, problem: 'hash', firstBadSeq: 3, checked: 2 });
  });

  it('detects a changed entry whose hash was recomputed, at the next link', () => {
    const entries: AuditEntry[] = chain(6);
    const { hash: _, ...e } = { ...entries[2]!, actor: MIT };
    entries[2] = { ...e, hash: hashEntry(e.seq, e.prevHash, e) };
    expect(verifyChain(entries)).toMatchObject({ ok: false, problem: 'link', firstBadSeq: 4 });
  });

  it('detects a reordered pair', () => {
    const entries = chain(6);
    [entries[2], entries[3]] = [entries[3]!, entries[2]!];
    expect(verifyChain(entries)).toMatchObject({ ok: false, problem: 'gap', firstBadSeq: 3 });
    // Swapped contents under the original seqs: the hashes cover the seq.
    const swapped = chain(6);
    const [a, b] = [swapped[2]!, swapped[3]!];
    swapped[2] = { ...b, seq: a.seq, prevHash: a.prevHash };
    swapped[3] = { ...a, seq: b.seq, prevHash: b.prevHash };
    expect(verifyChain(swapped)).toMatchObject({ ok: false, problem: 'hash', firstBadSeq: 3 });
  });

  it('detects a deleted entry: first, middle, or last against a known head', () => {
    const entries = chain(6);
    expect(verifyChain(entries.slice(1))).toMatchObject({ problem: 'gap', firstBadSeq: 1 });
    expect(verifyChain([...entries.slice(0, 3), ...entries.slice(4)])).toMatchObject({
      problem: 'gap',
      firstBadSeq: 4,
    });
    const head = { seq: 6, hash: entries[5]!.hash };
    expect(verifyChain(entries.slice(0, 5)).ok).toBe(true);
    expect(verifyChain(entries.slice(0, 5), { head })).toMatchObject({
      ok: false,
      problem: 'truncated',
      firstBadSeq: 6,
      checked: 5,
    });
  });

  it('detects a rewritten history against a known head', () => {
    const entries = chain(6);
    const rewritten = chainRecords(undefined, [
      ...entries.slice(0, 5).map(({ seq: _s, prevHash: _p, hash: _h, ...r }) => r),
      record(99),
    ]);
    expect(verifyChain(rewritten).ok).toBe(true);
    expect(verifyChain(rewritten, { head: { seq: 6, hash: entries[5]!.hash } })).toMatchObject({
      problem: 'head',
      firstBadSeq: 6,
    });
  });

  it('detects a duplicated entry and a malformed one', () => {
    const entries = chain(4);
    expect(verifyChain([...entries.slice(0, 3), entries[2], entries[3]])).toMatchObject({
      problem: 'order',
      firstBadSeq: 3,
    });
    expect(verifyChain([entries[0], { ...entries[1], hash: 'nope' }])).toMatchObject({
      problem: 'malformed',
      firstBadSeq: 2,
    });
    expect(verifyChain([null])).toMatchObject({ problem: 'malformed', firstBadSeq: 1 });
    expect(verifyChain([{ ...entries[0], extra: 1 }])).toMatchObject({ problem: 'malformed' });
  });
});

describe('canonical entry text', () => {
  it('is the RFC 8785 text of {seq, prevHash, ...record} for any valid record', () => {
    // Any code point, astral ones included ('binary' never produces lone surrogates).
    const text = fc.string({ maxLength: 12, unit: 'binary' });
    const id = fc.string({ minLength: 1, maxLength: 12 }).filter(noControl);
    const json = fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<unknown>, { maxKeys: 4 });
    const full: fc.Arbitrary<AuditRecord> = fc.record(
      {
        at: fc.integer({ min: 0, max: 8.64e15 }),
        kind: fc.constantFrom('message', 'tool_call', 'retention_purge', 'x.y-z'),
        actor: fc.constantFrom(ACME, MIT),
        subject: id,
        federationId: id,
        actionId: id,
        decision: fc.constantFrom('allow' as const, 'deny' as const),
        reasons: fc.array(text, { maxLength: 3 }),
        policyIds: fc.array(text, { maxLength: 3 }),
        adapters: fc.array(text, { maxLength: 3 }),
        obligations: fc.array(fc.record({ kind: text, detail: text, adapter: text }), { maxLength: 3 }),
        context: json,
        data: json,
      },
      { requiredKeys: ['at', 'kind', 'actor'] },
    );
    fc.assert(
      fc.property(full, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.nat(), (r, seq, salt) => {
        const record = AuditRecordSchema.parse(r);
        const prevHash = createHash('sha256').update(String(salt)).digest('hex');
        expect(canonicalEntryText(seq, prevHash, record)).toBe(canonicalJson({ ...record, seq, prevHash }));
      }),
      { numRuns: 500 },
    );
  });
});

describe('verifyChain properties', () => {
  const jsonValue = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<unknown>;
  const recordArb: fc.Arbitrary<AuditRecord> = fc.record(
    {
      at: fc.integer({ min: 0, max: 4_102_444_800_000 }),
      kind: fc.constantFrom('message', 'tool_call', 'federation', 'compliance_denied', 'erasure'),
      actor: fc.constantFrom(ACME, MIT, 'did:mesh:hub:eu'),
      subject: fc.string({ minLength: 1, maxLength: 20 }).filter(noControl),
      decision: fc.constantFrom('allow' as const, 'deny' as const),
      reasons: fc.array(fc.string({ maxLength: 30 }), { maxLength: 3 }),
      data: fc.dictionary(fc.string({ maxLength: 8 }), jsonValue, { maxKeys: 3 }),
    },
    { requiredKeys: ['at', 'kind', 'actor'] },
  );
  const chainArb = fc.array(recordArb, { minLength: 2, maxLength: 25 }).map((records) =>
    chainRecords(
      undefined,
      records.map((r) => AuditRecordSchema.parse(r)),
    ),
  );
  /** A different value for any field: a flipped hex digit, a bumped number, a changed string... */
  const mutate = (entry: AuditEntry, field: string, salt: number): AuditEntry => {
    const e = { ...entry } as Record<string, unknown>;
    const v = e[field];
    if (field === 'hash' || field === 'prevHash') {
      const s = v as string;
      const i = salt % 64;
      e[field] = s.slice(0, i) + (s[i] === '0' ? '1' : '0') + s.slice(i + 1);
    } else if (typeof v === 'number') e[field] = v + 1 + (salt % 5);
    else if (typeof v === 'string') e[field] = field === 'actor' ? (v === ACME ? MIT : ACME) : `${v}~`;
    else if (v === undefined) e[field] = field === 'decision' ? 'deny' : `added-${salt}`;
    else e[field] = { ...(v as object), mutated: salt };
    return e as unknown as AuditEntry;
  };

  it('any single changed field of any entry is detected', () => {
    const fields = ['seq', 'prevHash', 'hash', 'at', 'kind', 'actor', 'subject', 'decision', 'data'];
    fc.assert(
      fc.property(chainArb, fc.nat(), fc.constantFrom(...fields), fc.nat(), (entries, pick, field, salt) => {
        const i = pick % entries.length;
        const tampered = [...entries];
        tampered[i] = mutate(entries[i]!, field, salt);
        fc.pre(JSON.stringify(tampered[i]) !== JSON.stringify(entries[i]));
        const result = verifyChain(tampered);
        expect(result.ok).toBe(false);
        expect(result.firstBadSeq).toBeLessThanOrEqual(i + 2);
      }),
      { numRuns: 300 },
    );
  });

  it('a changed entry with a recomputed hash is detected (the last one against the head)', () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), fc.nat(), (entries, pick, salt) => {
        const i = pick % entries.length;
        const head = { seq: entries.length, hash: entries[entries.length - 1]!.hash };
        const { hash: _, ...changed } = mutate(entries[i]!, 'at', salt);
        const tampered = [...entries];
        tampered[i] = { ...changed, hash: hashEntry(changed.seq, changed.prevHash, changed) };
        expect(verifyChain(tampered, { head }).ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('any deleted entry is detected (the last one against the head)', () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), (entries, pick) => {
        const i = pick % entries.length;
        const head = { seq: entries.length, hash: entries[entries.length - 1]!.hash };
        const result = verifyChain(
          entries.filter((_, j) => j !== i),
          { head },
        );
        expect(result).toMatchObject({ ok: false, firstBadSeq: i + 1 });
      }),
      { numRuns: 200 },
    );
  });

  it('any swap of two entries is detected', () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), fc.nat(), (entries, x, y) => {
        const i = x % entries.length;
        const j = y % entries.length;
        fc.pre(i !== j);
        const swapped = [...entries];
        [swapped[i], swapped[j]] = [swapped[j]!, swapped[i]!];
        const result = verifyChain(swapped);
        expect(result.ok).toBe(false);
        expect(result.firstBadSeq).toBe(Math.min(i, j) + 1);
      }),
      { numRuns: 200 },
    );
  });
});
