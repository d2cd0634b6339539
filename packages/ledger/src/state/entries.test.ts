import { canonicalBytes, ValidationError } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMesh, parseMesh } from './amount.js';
import { decodeLeaf, encodeLeaf, parseEntry, verifyEntrySignature } from './entries.js';
import { LedgerState } from './state.js';
import { testActor } from './test-support.js';

describe('leaf and entry parsing', () => {
  it('any bytes either decode to a valid leaf or fail with a ValidationError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          decodeLeaf(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(ValidationError);
        }
      }),
    );
  });

  it('any JSON value as an entry is refused with a ValidationError, never accepted unsigned', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (entry, time) => {
        const bytes = canonicalBytes({ time, entry });
        const state = new LedgerState();
        try {
          state.applyLeaf(bytes);
          expect.unreachable('an arbitrary value applied as an entry');
        } catch (err) {
          expect((err as { code?: string }).code).toMatch(/^(validation_failed|ledger_)/);
        }
      }),
    );
  });

  it('round-trips signed entries of every shape through leaf bytes; a changed byte breaks the signature', () => {
    const alice = testActor(1);
    fc.assert(
      fc.property(
        fc.constantFrom('1', '0.000001', '123456.5'),
        fc.string({ maxLength: 50 }),
        fc.nat({ max: 1000 }),
        (amount, memo, seq) => {
          const e = alice.sign(
            'transfer',
            { to: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', amount, memo },
            seq,
          );
          const leaf = decodeLeaf(encodeLeaf({ time: 5, entry: e }));
          expect(leaf.entry).toEqual(e);
          expect(verifyEntrySignature(e, alice.keyPair.publicKey)).toBe(true);
          const changed = { ...e, body: { ...e.body, memo: `${memo}x` } };
          expect(verifyEntrySignature(changed, alice.keyPair.publicKey)).toBe(false);
        },
      ),
    );
  });

  it('parses MESH amounts exactly, and refuses anything else', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 18n }), (units) => {
        expect(parseMesh(formatMesh(units))).toBe(units);
      }),
    );
    for (const bad of ['-1', '1e3', '01', '1.0000001', ' 1', '0x10', '', '1.']) {
      expect(() => parseMesh(bad)).toThrow(ValidationError);
    }
    expect(() => parseEntry({ v: 1, type: 'transfer', actor: 'x', seq: 0, body: {}, sig: '' })).toThrow(
      ValidationError,
    );
  });
});

describe('amount schema', () => {
  it('reports malformed amounts as schema failures, never as thrown errors', async () => {
    const { AmountSchema } = await import('./amount.js');
    for (const bad of ['', '-5', 'abc', '0']) expect(AmountSchema.safeParse(bad).success).toBe(false);
    expect(AmountSchema.safeParse('0.5').success).toBe(true);
  });
});
