import { hexEncode, sha256 } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_ROOT,
  leafHash,
  MerkleTree,
  nodeHash,
  rootFromInclusionProof,
  splitPoint,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

const hex = (b: Uint8Array): string => hexEncode(b);
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

// The RFC 6962 reference leaves and roots used by the Certificate Transparency and Trillian test
// suites (trillian merkle/log_verifier_test.go: roots, inclusionProofs, consistencyProofs).
const LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(unhex);
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION: { index: number; size: number; proof: string[] }[] = [
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
const CONSISTENCY: { first: number; second: number; proof: string[] }[] = [
  {
    first: 1,
    second: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    first: 6,
    second: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    first: 2,
    second: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];

// A naive implementation written straight from the RFC 9162 2.1 definitions, over entry bytes.
function mth(d: readonly Uint8Array[]): Uint8Array {
  if (d.length === 0) return sha256(new Uint8Array(0));
  if (d.length === 1) return leafHash(d[0]!);
  const k = splitPoint(d.length);
  return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
}
function path(m: number, d: readonly Uint8Array[]): Uint8Array[] {
  if (d.length <= 1) return [];
  const k = splitPoint(d.length);
  return m < k
    ? [...path(m, d.slice(0, k)), mth(d.slice(k))]
    : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function subproof(m: number, d: readonly Uint8Array[], b: boolean): Uint8Array[] {
  const n = d.length;
  if (m === n) return b ? [] : [mth(d)];
  const k = splitPoint(n);
  return m <= k
    ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

// Which side each proof hash sits on, leaf upwards (L: the sibling is on the left).
function sides(m: number, n: number): string {
  if (n <= 1) return '';
  const k = splitPoint(n);
  return m < k ? `${sides(m, k)}R` : `${sides(m - k, n - k)}L`;
}

// The shape of SUBPROOF(m, D[n], true): the recursion's choices, plus whether the verifier
// prepends the old root (m a power of two). Equal shapes mean an identical verification computation.
function consistencyShape(m: number, n: number): string {
  const walk = (a: number, b: number, top: boolean): string => {
    if (a === b) return top ? '' : 'X';
    const k = splitPoint(b);
    return a <= k ? `${walk(a, k, top)}R` : `${walk(a - k, b - k, false)}L`;
  };
  return `${Number.isInteger(Math.log2(m))}:${walk(m, n, true)}`;
}

function treeOf(entries: readonly Uint8Array[]): MerkleTree {
  const t = new MerkleTree();
  for (const e of entries) t.appendEntry(e);
  return t;
}

function randomEntries(n: number, seed: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) =>
    sha256(`entry ${seed} ${i}`).subarray(0, 1 + ((i * 7 + seed) % 31)),
  );
}

function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const c = b.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
}

describe('RFC 6962 reference vectors', () => {
  const tree = treeOf(LEAVES);

  it('hashes the empty tree to SHA-256 of nothing and leaves/nodes with their prefixes', () => {
    expect(hex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(new MerkleTree().rootHash())).toBe(hex(EMPTY_ROOT));
    expect(hex(leafHash(LEAVES[1]!))).toBe(
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    );
  });

  it('gives the reference root for every size 1..8, also for older sizes of the grown tree', () => {
    for (let n = 1; n <= 8; n++) {
      expect(hex(tree.rootHash(n))).toBe(ROOTS[n - 1]);
      expect(hex(treeOf(LEAVES.slice(0, n)).rootHash())).toBe(ROOTS[n - 1]);
    }
  });

  it('generates and verifies the reference inclusion proofs', () => {
    for (const v of INCLUSION) {
      const proof = tree.inclusionProof(v.index, v.size);
      expect(proof.map(hex)).toEqual(v.proof);
      const leaf = leafHash(LEAVES[v.index]!);
      const root = unhex(ROOTS[v.size - 1]!);
      expect(verifyInclusion(leaf, v.index, v.size, proof, root)).toBe(true);
      expect(verifyInclusion(leaf, v.index + 1, v.size, proof, root)).toBe(false);
      expect(verifyInclusion(leaf, v.index, v.size * 2, proof, root)).toBe(false);
      expect(verifyInclusion(leaf, v.index, v.size, [...proof, root], root)).toBe(false);
      expect(verifyInclusion(leaf, v.index, v.size, proof.slice(1), root)).toBe(false);
      expect(verifyInclusion(leaf, v.index, v.size, proof, EMPTY_ROOT)).toBe(false);
    }
  });

  it('generates and verifies the reference consistency proofs', () => {
    for (const v of CONSISTENCY) {
      const proof = tree.consistencyProof(v.first, v.second);
      expect(proof.map(hex)).toEqual(v.proof);
      const r1 = unhex(ROOTS[v.first - 1]!);
      const r2 = unhex(ROOTS[v.second - 1]!);
      expect(verifyConsistency(v.first, v.second, r1, r2, proof)).toBe(true);
      expect(verifyConsistency(v.first, v.second, r2, r1, proof)).toBe(false);
      expect(verifyConsistency(v.first, v.second, r1, r2, [])).toBe(false);
      expect(verifyConsistency(v.first, v.second, r1, r2, [...proof, r1])).toBe(false);
      expect(verifyConsistency(v.first, v.second, r1, r2, [proof[0]!, ...proof])).toBe(false);
      expect(verifyConsistency(v.first, v.second * 2, r1, r2, proof)).toBe(false);
    }
  });

  it('handles the trivial consistency cases and rejects time travel', () => {
    const r1 = tree.rootHash(1);
    expect(tree.consistencyProof(0, 8)).toEqual([]);
    expect(tree.consistencyProof(3, 3)).toEqual([]);
    expect(verifyConsistency(0, 8, EMPTY_ROOT, tree.rootHash(8), [])).toBe(true);
    expect(verifyConsistency(0, 8, r1, tree.rootHash(8), [])).toBe(false);
    expect(verifyConsistency(1, 1, r1, r1, [])).toBe(true);
    expect(verifyConsistency(1, 1, r1, tree.rootHash(2), [])).toBe(false);
    expect(verifyConsistency(1, 1, r1, r1, [r1])).toBe(false);
    expect(verifyConsistency(2, 1, tree.rootHash(2), r1, [])).toBe(false);
  });

  it('rejects out-of-range requests with a typed error and malformed proofs without throwing', () => {
    expect(() => tree.inclusionProof(8, 8)).toThrow(/not inside/);
    expect(() => tree.inclusionProof(0, 9)).toThrow(/between 0 and 8/);
    expect(() => tree.consistencyProof(5, 4)).toThrow(/first size/);
    expect(() => tree.rootHash(-1)).toThrow(/size/);
    const leaf = leafHash(LEAVES[0]!);
    expect(rootFromInclusionProof(leaf, 0, 0, [])).toBeUndefined();
    expect(verifyInclusion(leaf, 0, 2, [new Uint8Array(31)], EMPTY_ROOT)).toBe(false);
    expect(verifyInclusion(leaf, 0, 1, [], leaf)).toBe(true);
  });
});

describe('MerkleTree against the naive RFC 9162 recursion', () => {
  it('agrees on every root, inclusion proof and consistency proof up to 64 leaves', () => {
    const entries = randomEntries(64, 1);
    const tree = treeOf(entries);
    for (let n = 0; n <= 64; n++) {
      const d = entries.slice(0, n);
      const root = mth(d);
      expect(hex(tree.rootHash(n))).toBe(hex(root));
      for (let m = 0; m < n; m++) {
        const proof = tree.inclusionProof(m, n);
        expect(proof.map(hex)).toEqual(path(m, d).map(hex));
        expect(verifyInclusion(leafHash(d[m]!), m, n, proof, root)).toBe(true);
      }
      for (let m = 1; m < n; m++) {
        const proof = tree.consistencyProof(m, n);
        expect(proof.map(hex)).toEqual(subproof(m, d, true).map(hex));
        expect(verifyConsistency(m, n, mth(d.slice(0, m)), root, proof)).toBe(true);
      }
    }
  });

  const sizes = fc
    .integer({ min: 1, max: 64 })
    .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 })));

  it('fails an inclusion proof on any single bit flip in a hash, the index or the size', () => {
    const entries = randomEntries(64, 2);
    const tree = treeOf(entries);
    fc.assert(
      fc.property(sizes, fc.nat(), fc.nat({ max: 52 }), ([n, m], pick, bit) => {
        const proof = tree.inclusionProof(m, n);
        const root = tree.rootHash(n);
        const leaf = tree.leafHash(m);
        expect(verifyInclusion(leaf, m, n, proof, root)).toBe(true);
        if (proof.length > 0) {
          const i = pick % proof.length;
          const bad = proof.slice();
          bad[i] = flipBit(bad[i]!, pick % 256);
          expect(verifyInclusion(leaf, m, n, bad, root)).toBe(false);
        }
        expect(verifyInclusion(flipBit(leaf, pick % 256), m, n, proof, root)).toBe(false);
        expect(verifyInclusion(leaf, m, n, proof, flipBit(root, pick % 256))).toBe(false);
        // A flipped index bit names another leaf position: it never verifies. A flipped size bit
        // verifies only when the RFC path for the new size has exactly the same shape (e.g. leaf 0
        // in sizes 6 and 7): the proof binds the size only through the signed (size, root) pair.
        const m2 = m ^ (2 ** (bit % 7));
        const n2 = n ^ (2 ** (bit % 7));
        expect(verifyInclusion(leaf, m2, n, proof, root)).toBe(false);
        expect(verifyInclusion(leaf, m, n2, proof, root)).toBe(m < n2 && sides(m, n2) === sides(m, n));
      }),
      { numRuns: 500 },
    );
  });

  it('fails a consistency proof on any single bit flip in a hash, a root or a size', () => {
    const entries = randomEntries(64, 3);
    const tree = treeOf(entries);
    const pairs = fc
      .integer({ min: 2, max: 64 })
      .chain((n) => fc.tuple(fc.integer({ min: 1, max: n - 1 }), fc.constant(n)));
    fc.assert(
      fc.property(pairs, fc.nat(), fc.nat({ max: 52 }), ([m, n], pick, bit) => {
        const proof = tree.consistencyProof(m, n);
        const r1 = tree.rootHash(m);
        const r2 = tree.rootHash(n);
        expect(verifyConsistency(m, n, r1, r2, proof)).toBe(true);
        const i = pick % proof.length;
        const bad = proof.slice();
        bad[i] = flipBit(bad[i]!, pick % 256);
        expect(verifyConsistency(m, n, r1, r2, bad)).toBe(false);
        expect(verifyConsistency(m, n, flipBit(r1, pick % 256), r2, proof)).toBe(false);
        expect(verifyConsistency(m, n, r1, flipBit(r2, pick % 256), proof)).toBe(false);
        // As for inclusion proofs, a flipped size verifies only if the proof has the very same shape.
        const m2 = m ^ (2 ** (bit % 7));
        const n2 = n ^ (2 ** (bit % 7));
        const same = (a: number, b: number): boolean =>
          a >= 1 && a < b && consistencyShape(a, b) === consistencyShape(m, n);
        expect(verifyConsistency(m2, n, r1, r2, proof)).toBe(same(m2, n));
        expect(verifyConsistency(m, n2, r1, r2, proof)).toBe(same(m, n2));
      }),
      { numRuns: 500 },
    );
  });
});
