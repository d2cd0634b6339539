import type { ComplianceContext } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ContentInspector, inspectContent } from './inspect.js';
import { jsonPath } from './path.js';
import { createPersonalDataInspector, personalDataInspector } from './personal-data.js';
import { cardScheme, ibanValid, luhnValid } from './validators.js';

const ctx = (dataClassification: ComplianceContext['dataClassification']): ComplianceContext =>
  ({ dataClassification, auditTrail: true, processingBasis: 'contract' }) as ComplianceContext;
const PUBLIC = ctx('public');

const KINDS = new Set(['email', 'phone', 'iban', 'payment-card', 'us-ssn', 'inspection-limit']);

const PAYLOAD = {
  ticket: 'T-1700000000000',
  customer: {
    email: 'Contact: ana.lopez+fmp@mail.example.org, thanks',
    phone: 'call +49 (30) 1234-5678',
    'bank account': 'IBAN DE89 3704 0044 0532 0130 00 EUR',
  },
  payments: [{ card: '4111-1111-1111-1111' }, { card: 'Amex 378282246310005' }],
  notes: ['SSN 123-45-6789 on file', 'nothing here', 42, null, true],
};

describe('personalDataInspector', () => {
  it('finds each kind of personal data, with its JSON path and without the value', () => {
    const findings = personalDataInspector.inspect(PAYLOAD, PUBLIC);
    expect(findings.map((f) => [f.kind, f.path])).toEqual([
      ['email', '$.customer.email'],
      ['phone', '$.customer.phone'],
      ['iban', '$.customer["bank account"]'],
      ['payment-card', '$.payments[0].card'],
      ['payment-card', '$.payments[1].card'],
      ['us-ssn', '$.notes[0]'],
    ]);
    expect(findings[3]!.detail).toBe('a payment card number (Visa) in data classified public');
    expect(findings[4]!.detail).toContain('American Express');
    const text = JSON.stringify(findings);
    for (const secret of ['ana.lopez', '1234-5678', '3704', '4111', '378282', '6789'])
      expect(text).not.toContain(secret);
  });

  it('checks only data claimed non-personal (public, internal by default)', () => {
    expect(personalDataInspector.inspect(PAYLOAD, ctx('internal'))).toHaveLength(6);
    for (const c of ['confidential', 'personal-identifiable', 'special-category'] as const) {
      expect(personalDataInspector.inspect(PAYLOAD, ctx(c))).toEqual([]);
    }
    const strict = createPersonalDataInspector({ classifications: ['confidential'] });
    expect(strict.inspect(PAYLOAD, ctx('confidential'))).toHaveLength(6);
    expect(strict.inspect(PAYLOAD, PUBLIC)).toEqual([]);
  });

  it.each([
    ['an IBAN with a wrong check digit', 'DE88 3704 0044 0532 0130 00'],
    ['a card number failing Luhn', '4111 1111 1111 1112'],
    ['a Luhn-valid number of no card scheme', '1234567812345670'],
    ['a millisecond timestamp', '1700000000000'],
    ['an SSN with area 000', '000-12-3456'],
    ['an SSN with area 666', '666-12-3456'],
    ['an SSN with area 9xx', '912-12-3456'],
    ['an SSN with group 00', '123-00-4567'],
    ['a date', '2024-05-17T10:00:00Z'],
    ['a phone number without a country code', 'call 030 1234 5678'],
    ['a too long phone number', '+1234567890123456789'],
    ['an @ handle', 'ping @ana on chat'],
    ['a version string', 'v1.2.3-beta+build.45'],
  ])('does not flag %s', (_, value) => {
    expect(personalDataInspector.inspect({ value }, PUBLIC)).toEqual([]);
  });

  it.each([
    ['GB82 WEST 1234 5698 7654 32', 'iban'],
    ['fr1420041010050500013m02606', 'iban'],
    ['NO9386011117947', 'iban'],
    ['5555555555554444', 'payment-card'],
    ['6011 1111 1111 1117', 'payment-card'],
    ['+14155552671', 'phone'],
    ['x@sub.example.co.uk', 'email'],
    ['@team, mail a.b@example.com', 'email'],
  ])('flags %s as %s', (value, kind) => {
    expect(personalDataInspector.inspect([value], PUBLIC)).toEqual([
      expect.objectContaining({ inspector: 'personal-data', kind, path: '$[0]' }),
    ]);
  });

  it('does not scan numbers and keys', () => {
    expect(personalDataInspector.inspect({ 'ana@example.org': 4111111111111111 }, PUBLIC)).toEqual([]);
  });

  it('stops at its bounds and says so, once', () => {
    let deep: unknown = 'ana@example.org';
    for (let i = 0; i < 100; i++) deep = { next: deep };
    const f = personalDataInspector.inspect(deep, PUBLIC);
    expect(f).toEqual([
      expect.objectContaining({ kind: 'inspection-limit', detail: expect.stringContaining('32 levels') }),
    ]);

    // A loop back to a node it has seen is not walked again.
    const cyclic: Record<string, unknown> = { email: 'ana@example.org' };
    cyclic['self'] = cyclic;
    const c = personalDataInspector.inspect(cyclic, PUBLIC);
    expect(c.map((x) => [x.kind, x.path])).toEqual([['email', '$.email']]);

    const small = createPersonalDataInspector({ maxNodes: 10, maxStringLength: 20, maxFindings: 3 });
    const wide = Array.from({ length: 50 }, () => 'nothing');
    expect(small.inspect(wide, PUBLIC)).toEqual([
      expect.objectContaining({
        kind: 'inspection-limit',
        path: '$[9]',
        detail: expect.stringContaining('10 values'),
      }),
    ]);
    const long = `${'x'.repeat(30)} ana@example.org`;
    expect(small.inspect([long], PUBLIC).map((x) => x.kind)).toEqual(['inspection-limit']);
    const budget = createPersonalDataInspector({ maxChars: 12 });
    expect(budget.inspect(['abcdefgh', 'ana@example.org'], PUBLIC)).toEqual([
      expect.objectContaining({
        kind: 'inspection-limit',
        path: '$[1]',
        detail: expect.stringContaining('12 characters'),
      }),
    ]);
    const many = Array.from({ length: 8 }, (_, i) => `u${i}@example.org`);
    expect(small.inspect(many, PUBLIC).map((x) => x.kind)).toEqual(['email', 'email', 'email']);
  });

  it('stays fast on text built to make regular expressions backtrack', () => {
    const hostile = [
      `${'a'.repeat(8180)}@`,
      `a@${'a-'.repeat(4090)}`,
      `a@${'a.'.repeat(4090)}`,
      `+1${' 1'.repeat(4090)}`,
      '1-'.repeat(4090),
      `AB12${' AAAA'.repeat(1630)}`,
      '123-45-'.repeat(1160),
    ];
    const t0 = performance.now();
    for (const s of hostile) personalDataInspector.inspect([s], PUBLIC);
    // About 3 ms in all on a laptop; a backtracking blow-up would take seconds.
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('never crashes and reports well-formed findings on arbitrary JSON', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.constantFrom('public', 'internal', 'confidential') as fc.Arbitrary<'public'>,
        (v, c) => {
          for (const f of personalDataInspector.inspect(v, ctx(c))) {
            expect(f.inspector).toBe('personal-data');
            expect(KINDS.has(f.kind)).toBe(true);
            expect(f.path.startsWith('$')).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withDate: true, withMap: true, withTypedArray: true }),
        (v) => {
          personalDataInspector.inspect(v, PUBLIC);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finds a valid card or IBAN embedded in any text', () => {
    const digits = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n });
    const word = fc.stringMatching(/^[a-z ]{0,12}$/);
    fc.assert(
      fc.property(digits(14), word, word, (body, before, after) => {
        const card = withLuhn(`4${body.join('')}`);
        const f = personalDataInspector.inspect({ t: `${before} ${card} ${after}` }, PUBLIC);
        expect(f.map((x) => x.kind)).toContain('payment-card');
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z]{2}$/), digits(18), word, (cc, bban, before) => {
        const iban = ibanOf(cc, bban.join(''));
        const f = personalDataInspector.inspect({ t: `${before} ${iban}.` }, PUBLIC);
        expect(f.map((x) => x.kind)).toContain('iban');
      }),
    );
  });
});

describe('inspectContent', () => {
  it('runs every inspector, and an inspector that throws becomes a finding', () => {
    const broken: ContentInspector = {
      id: 'broken',
      inspect: () => {
        throw new Error('regex engine on fire');
      },
    };
    const keyword: ContentInspector = {
      id: 'keyword',
      inspect: (data) =>
        JSON.stringify(data).includes('secret')
          ? [{ inspector: 'keyword', kind: 'keyword', path: '$', detail: 'the word secret' }]
          : [],
    };
    const f = inspectContent({ a: 'top secret', b: 'ana@example.org' }, PUBLIC, [
      broken,
      personalDataInspector,
      keyword,
    ]);
    expect(f.map((x) => `${x.inspector}:${x.kind}`)).toEqual([
      'broken:inspector-error',
      'personal-data:email',
      'keyword:keyword',
    ]);
    expect(f[0]!.detail).toBe('inspector broken failed: regex engine on fire');
    expect(inspectContent({ b: 'ana@example.org' }, PUBLIC).map((x) => x.kind)).toEqual(['email']);
  });

  it('writes JSON paths a reader can follow', () => {
    expect(jsonPath([])).toBe('$');
    expect(jsonPath(['a', 0, 'b c', '$ok', '1x'])).toBe('$.a[0]["b c"].$ok["1x"]');
    expect(jsonPath(['k'.repeat(100)])).toBe(`$["${'k'.repeat(64)}…"]`);
  });
});

// Independent oracles for the validators: the textbook algorithms, written differently.
function luhnCheckDigit(payload: string): number {
  const ds = [...payload].reverse().map(Number);
  const sum = ds.reduce((s, d, i) => s + (i % 2 === 0 ? [0, 2, 4, 6, 8, 1, 3, 5, 7, 9][d]! : d), 0);
  return (10 - (sum % 10)) % 10;
}
function withLuhn(payload: string): string {
  return payload + luhnCheckDigit(payload);
}
function ibanOf(country: string, bban: string): string {
  const numeric = [...`${bban}${country}00`].map((ch) => Number.parseInt(ch, 36).toString()).join('');
  const check = 98n - (BigInt(numeric) % 97n);
  return `${country}${check.toString().padStart(2, '0')}${bban}`;
}

describe('validators', () => {
  it('Luhn accepts a number with its check digit and rejects any single-digit change', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9]{1,24}$/),
        fc.nat(),
        fc.integer({ min: 1, max: 9 }),
        (payload, pos, delta) => {
          const n = withLuhn(payload);
          expect(luhnValid(n)).toBe(true);
          const i = pos % n.length;
          const changed = n.slice(0, i) + ((Number(n[i]) + delta) % 10) + n.slice(i + 1);
          expect(luhnValid(changed)).toBe(false);
        },
      ),
    );
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('')).toBe(false);
    expect(luhnValid('0')).toBe(false);
    expect(luhnValid('4111-1111')).toBe(false);
  });

  it('IBAN MOD 97 accepts a computed check and rejects any single-digit change', () => {
    const bban = fc.stringMatching(/^[A-Z0-9]{11,30}$/);
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Z]{2}$/),
        bban,
        fc.nat(),
        fc.integer({ min: 1, max: 9 }),
        (cc, b, pos, delta) => {
          const iban = ibanOf(cc, b);
          expect(ibanValid(iban)).toBe(true);
          expect(ibanValid(iban.toLowerCase().replace(/(.{4})/g, '$1 '))).toBe(true);
          const digitsAt = [...iban].flatMap((ch, i) => (i !== 0 && i !== 1 && /[0-9]/.test(ch) ? [i] : []));
          const i = digitsAt[pos % digitsAt.length]!;
          const changed = iban.slice(0, i) + ((Number(iban[i]) + delta) % 10) + iban.slice(i + 1);
          expect(ibanValid(changed)).toBe(false);
        },
      ),
    );
    expect(ibanValid('GB82 WEST 1234 5698 7654 32')).toBe(true);
    expect(ibanValid('GB82 WEST 1234 5698 7654 3')).toBe(false);
    expect(ibanValid('GB82')).toBe(false);
    expect(ibanValid('1282WEST12345698765432')).toBe(false);
  });

  it('knows the card schemes by prefix and length', () => {
    expect(cardScheme('4111111111111111')).toBe('Visa');
    expect(cardScheme('5555555555554444')).toBe('Mastercard');
    expect(cardScheme('2223003122003222')).toBe('Mastercard');
    expect(cardScheme('378282246310005')).toBe('American Express');
    expect(cardScheme('6011111111111117')).toBe('Discover');
    expect(cardScheme('3530111333300000')).toBe('JCB');
    expect(cardScheme('36227206271667')).toBe('Diners Club');
    expect(cardScheme('6200000000000005')).toBe('UnionPay');
    expect(cardScheme('1700000000000')).toBeUndefined();
    expect(cardScheme('411111111111111')).toBeUndefined();
  });
});
