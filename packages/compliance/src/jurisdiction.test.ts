import { regionCodeSchema } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GDPR_ADEQUATE, jurisdictionOf, regionAllowed } from './jurisdiction.js';
import { JURISDICTIONS } from './types.js';

describe('jurisdictionOf', () => {
  it.each([
    ['eu', 'EU'],
    ['eu-west', 'EU'],
    ['eea', 'EEA'],
    ['uk', 'UK'],
    ['uk-london', 'UK'],
    ['ch', 'CH'],
    ['na', 'US'],
    ['us', 'US'],
    ['us-east', 'US'],
    ['us-ca', 'US-CA'],
    ['ca', 'CA'],
    ['ca-qc', 'CA'],
    ['jp', 'JP'],
    ['kr', 'KR'],
    ['nz', 'NZ'],
    ['il', 'IL'],
    ['ar', 'AR'],
    ['uy', 'UY'],
    ['br', 'BR'],
    ['in', 'IN'],
    ['cn', 'CN'],
    ['sg', 'SG'],
    ['au', 'AU'],
    ['au-syd', 'AU'],
    ['apac', 'OTHER'],
    ['latam', 'OTHER'],
    ['europe', 'OTHER'],
    ['usa', 'OTHER'],
  ] as const)('%s -> %s', (region, j) => {
    expect(jurisdictionOf(region)).toBe(j);
    expect(jurisdictionOf(region)).toBe(j); // memoized answer is the same
  });

  it("a sub-region has its area's jurisdiction (California aside)", () => {
    const area = fc.oneof(
      fc.constantFrom('eu', 'eea', 'us', 'na', 'ca', 'jp', 'apac'),
      fc.stringMatching(/^[a-z]{2,8}$/),
    );
    const sub = fc.stringMatching(/^[a-z0-9]{1,8}$/);
    fc.assert(
      fc.property(area, sub, (a, s) => {
        const region = `${a}-${s}`;
        expect(regionCodeSchema.safeParse(region).success).toBe(true);
        expect(jurisdictionOf(region)).toBe(region === 'us-ca' ? 'US-CA' : jurisdictionOf(a));
        expect(JURISDICTIONS).toContain(jurisdictionOf(region));
      }),
    );
  });
});

describe('regionAllowed', () => {
  it.each([
    ['eu', ['eu'], true],
    ['eu-west', ['eu'], true],
    ['eu-west', ['us', 'eu'], true],
    ['eu', ['eu-west'], false],
    ['eea', ['eu'], false],
    ['europe', ['eu'], false],
    ['us-ca', ['us'], true],
    ['us', ['us-ca'], false],
    ['eu', [], true], // an empty list restricts nothing (the schema refuses one in a context)
  ] as const)('%s within %j: %s', (region, restrictions, ok) => {
    expect(regionAllowed(region, restrictions)).toBe(ok);
  });
});

describe('GDPR_ADEQUATE', () => {
  it('holds the EEA and the adequacy decisions, not the US', () => {
    for (const j of ['EU', 'EEA', 'UK', 'CH', 'JP', 'KR', 'NZ', 'IL', 'AR', 'UY', 'CA'] as const) {
      expect(GDPR_ADEQUATE.has(j)).toBe(true);
    }
    for (const j of ['US', 'US-CA', 'BR', 'IN', 'CN', 'SG', 'AU', 'OTHER'] as const) {
      expect(GDPR_ADEQUATE.has(j)).toBe(false);
    }
  });
});
