import { describe, expect, it } from 'vitest';
import { flatString, intern, internAll, internedCount, internList, MAX_INTERNED } from './intern.js';

// Equal strings built apart are distinct objects to V8 (identity is not observable from JS): what
// can be checked is that equal strings take one entry and that the table stays bounded.
const fresh = (s: string) => JSON.parse(JSON.stringify(s)) as string;

describe('intern', () => {
  it('returns equal strings, holding one entry for equal inputs', () => {
    const before = internedCount();
    expect(intern(fresh('did:mesh:authority:intern-test'))).toBe('did:mesh:authority:intern-test');
    expect(intern(fresh('did:mesh:authority:intern-test'))).toBe('did:mesh:authority:intern-test');
    expect(internedCount()).toBe(before + 1);
    expect(internAll(['ml.inference', 'GDPR', 'ml.inference'])).toEqual([
      'ml.inference',
      'GDPR',
      'ml.inference',
    ]);
    expect(internedCount()).toBe(before + 3);
  });

  it('never holds more than MAX_INTERNED strings, nor long ones, and returns every input unchanged', () => {
    const long = 'y'.repeat(300);
    const before = internedCount();
    expect(intern(long)).toBe(long);
    expect(internedCount()).toBe(before);
    for (let i = 0; i < MAX_INTERNED + 10; i++) {
      const s = `filler-${i}`;
      expect(intern(s)).toBe(s);
    }
    expect(internedCount()).toBe(MAX_INTERNED);
  });
});

describe('internList', () => {
  it('returns one frozen array for equal lists, and equal lists for any input', () => {
    const a = internList(JSON.parse('["VerifiableCredential","MeshAgentCredential"]') as string[]);
    const b = internList(JSON.parse('["VerifiableCredential","MeshAgentCredential"]') as string[]);
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
    expect(a).toEqual(['VerifiableCredential', 'MeshAgentCredential']);
    expect(internList([])).toBe(internList([]));
    // Order and separators matter: these are different lists.
    expect(internList(['a,b'])).not.toBe(internList(['a', 'b']));
    expect(internList(['b', 'a'])).toEqual(['b', 'a']);
    const long = Array.from({ length: 40 }, (_, i) => `cap-${i}`);
    expect(internList(long)).toEqual(long);
  });

  it('a caller editing its input afterwards does not change the shared list', () => {
    const input = ['ml.inference', 'data.analysis'];
    const shared = internList(input);
    input[0] = 'changed';
    expect(shared).toEqual(['ml.inference', 'data.analysis']);
  });
});

describe('flatString', () => {
  it('returns an equal string for any input, lone surrogates and non-Latin text included', () => {
    for (const s of ['', 'a', 'a\ud800b', '\udc00', 'é€😀', 'x'.repeat(10_000)])
      expect(flatString(s)).toBe(s);
    let rope = '';
    for (let i = 0; i < 50; i++) rope += `"piece-${i}",`;
    expect(flatString(rope)).toBe(rope);
  });
});
