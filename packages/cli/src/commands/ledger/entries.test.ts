/** The command-line readers of amounts, parameters and grants: valid or a UsageError, never a crash. */
import { DEFAULT_PARAMS, PARAM_NAMES, ParamsSchema } from '@fmp/ledger';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../errors.js';
import { basisPoints, grantOf, meshAmount, paramAssignment, proposalBody } from './entries.js';

/** Runs `f`; a UsageError is an answer, anything else thrown fails the property. */
function answer<T>(f: () => T): T | UsageError {
  try {
    return f();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
}

describe('reading ledger arguments', () => {
  it('reads every parameter back from its default written as text', () => {
    for (const name of PARAM_NAMES) {
      const value = DEFAULT_PARAMS[name];
      const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
      expect(paramAssignment(`${name}=${text}`)).toEqual([name, value]);
    }
    // Amounts stay strings, counts become numbers.
    expect(paramAssignment('entryStake=150')).toEqual(['entryStake', '150']);
    expect(paramAssignment('maxHops=3')).toEqual(['maxHops', 3]);
  });

  it('answers any --param text with a value its parameter accepts, or a UsageError', () => {
    const names = fc.constantFrom(...PARAM_NAMES, 'nope', '');
    const values = fc.oneof(
      fc.string(),
      fc.integer({ min: -1_000_000, max: 100_000_000 }).map(String),
      fc.double().map(String),
      fc.json(),
    );
    fc.assert(
      fc.property(names, values, fc.boolean(), (name, value, withEq) => {
        const r = answer(() => paramAssignment(withEq ? `${name}=${value}` : `${name}${value}`));
        if (r instanceof UsageError) return;
        expect(ParamsSchema.shape[r[0]].safeParse(r[1]).success).toBe(true);
      }),
    );
  });

  it('reads <did>:<amount> grants whose DID has colons, and refuses the rest', () => {
    expect(grantOf('did:key:z6MkabcDEF:250.5')).toEqual({ to: 'did:key:z6MkabcDEF', amount: '250.5' });
    expect(grantOf('did:mesh:academic:mit-001:10')).toEqual({
      to: 'did:mesh:academic:mit-001',
      amount: '10',
    });
    fc.assert(
      fc.property(fc.string(), (text) => {
        const r = answer(() => grantOf(text));
        if (r instanceof UsageError) return;
        expect(`${r.to}:${r.amount}`).toBe(text);
      }),
    );
  });

  it('takes MESH amounts above 0 with at most 6 decimals, basis points up to 10,000', () => {
    expect(meshAmount('0.000001')).toBe('0.000001');
    for (const bad of ['0', '-5', '1e3', '1.0000001', '01', '', ' 1']) {
      expect(() => meshAmount(bad)).toThrow(UsageError);
    }
    fc.assert(
      fc.property(fc.string(), (text) => {
        const r = answer(() => meshAmount(text));
        if (!(r instanceof UsageError)) expect(r).toBe(text);
      }),
    );
    expect(basisPoints('10000')).toBe(10_000);
    expect(() => basisPoints('10001')).toThrow(UsageError);
    expect(() => basisPoints('-1')).toThrow(UsageError);
  });

  it('builds exactly one proposal action', () => {
    expect(proposalBody({ title: 't', text: true })).toEqual({
      title: 't',
      description: '',
      action: { kind: 'text' },
    });
    expect(() => proposalBody({ title: 't' })).toThrow(UsageError);
    expect(() => proposalBody({ title: 't', text: true, grant: 'did:key:z6Mk:1' })).toThrow(UsageError);
    expect(() => proposalBody({ title: 't', param: ['maxHops=3', 'maxHops=4'] })).toThrow(UsageError);
  });
});
