/**
 * Merkle tree hashing, inclusion and consistency proofs exactly as RFC 9162 section 2.1 (the same
 * tree as RFC 6962): leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right),
 * MTH({}) = SHA-256(). Sizes and indexes are JS numbers (safe integers): bit operations are done
 * with arithmetic so trees beyond 2^32 leaves stay correct.
 */
import { sha256, ValidationError } from '@fmp/core';

export const HASH_BYTES = 32;
/** Longest proof we accept: an inclusion proof has at most 53 hashes for 2^53 leaves, a consistency
 * proof at most about twice that. Anything longer is garbage and is rejected before hashing. */
export const MAX_PROOF_HASHES = 128;

/** MTH({}) = HASH(): the root of the empty tree (RFC 9162 2.1.1). */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

export function leafHash(entry: Uint8Array): Uint8Array {
  const buf = new Uint8Array(entry.length + 1);
  buf[0] = 0x00;
  buf.set(entry, 1);
  return sha256(buf);
}

// One scratch buffer for all node hashes: hashing is synchronous, so it is never shared mid-use.
const nodeScratch = new Uint8Array(1 + 2 * HASH_BYTES);
nodeScratch[0] = 0x01;

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_BYTES);
  return sha256(nodeScratch);
}

/** The largest power of two strictly smaller than n (n >= 2): the split point k of RFC 9162 2.1.1. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  let x = n;
  while (x % 2 === 0) x /= 2;
  return x === 1;
}

function log2Exact(n: number): number {
  let level = 0;
  for (let x = n; x > 1; x /= 2) level++;
  return level;
}

function half(x: number): number {
  return Math.floor(x / 2);
}

function hashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function validHashes(hashes: readonly Uint8Array[]): boolean {
  if (!Array.isArray(hashes) || hashes.length > MAX_PROOF_HASHES) return false;
  for (const h of hashes) if (!(h instanceof Uint8Array) || h.length !== HASH_BYTES) return false;
  return true;
}

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** One level of complete subtree hashes, stored flat and grown by doubling. */
interface Level {
  buf: Uint8Array;
  count: number;
}

/**
 * An append-only in-memory Merkle tree. It keeps, for every level k, the hash of each complete,
 * aligned subtree of 2^k leaves, computed once when its last leaf arrives: appending costs one leaf
 * hash plus one node hash amortized, and any MTH(D[a:b]) the RFC recursion asks for is at most
 * O(log n) stored reads plus O(log n) hashes along the right edge. Roots, inclusion and consistency
 * proofs are available for every size <= the current size, which older checkpoints need.
 * Memory: about 64 bytes per leaf.
 */
export class MerkleTree {
  readonly #levels: Level[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Appends an entry (hashed here as a leaf) and returns its index. */
  appendEntry(entry: Uint8Array): number {
    return this.appendLeafHash(leafHash(entry));
  }

  /** Appends an already computed leaf hash and returns its index. */
  appendLeafHash(hash: Uint8Array): number {
    if (!(hash instanceof Uint8Array) || hash.length !== HASH_BYTES) {
      throw new ValidationError(`a leaf hash must be ${HASH_BYTES} bytes`);
    }
    const index = this.#size;
    this.#push(0, hash);
    // Each time a right child completes, its parent is complete too: hash it into the next level.
    let level = 0;
    let i = index;
    while (i % 2 === 1) {
      const parent = nodeHash(this.#node(level, i - 1), this.#node(level, i));
      level++;
      i = (i - 1) / 2;
      this.#push(level, parent);
    }
    this.#size = index + 1;
    return index;
  }

  leafHash(index: number): Uint8Array {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.#size) {
      throw new ValidationError(`leaf index ${index} is outside the tree (size ${this.#size})`);
    }
    return this.#node(0, index).slice();
  }

  /** MTH of the first `size` leaves (RFC 9162 2.1.1); defaults to the whole tree. */
  rootHash(size: number = this.#size): Uint8Array {
    this.#checkSize(size, 'size');
    return this.#mth(0, size).slice();
  }

  /** PATH(index, D[size]) of RFC 9162 2.1.3.1, ordered from the leaf's sibling up to the root. */
  inclusionProof(index: number, size: number): Uint8Array[] {
    this.#checkSize(size, 'size');
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new ValidationError(`leaf index ${index} is not inside a tree of size ${size}`);
    }
    const proof: Uint8Array[] = [];
    this.#path(index, 0, size, proof);
    return proof;
  }

  /** PROOF(first, D[second]) of RFC 9162 2.1.4.1; empty when first is 0 or equals second. */
  consistencyProof(first: number, second: number): Uint8Array[] {
    this.#checkSize(second, 'second size');
    if (!isSize(first) || first > second) {
      throw new ValidationError(`first size ${first} must be between 0 and the second size ${second}`);
    }
    const proof: Uint8Array[] = [];
    if (first === 0 || first === second) return proof;
    this.#subproof(first, 0, second, true, proof);
    return proof;
  }

  #checkSize(size: number, what: string): void {
    if (!isSize(size) || size > this.#size) {
      throw new ValidationError(`${what} ${size} must be an integer between 0 and ${this.#size}`);
    }
  }

  #push(level: number, hash: Uint8Array): void {
    let l = this.#levels[level];
    if (l === undefined) {
      l = { buf: new Uint8Array(HASH_BYTES * 16), count: 0 };
      this.#levels[level] = l;
    }
    if ((l.count + 1) * HASH_BYTES > l.buf.length) {
      const grown = new Uint8Array(l.buf.length * 2);
      grown.set(l.buf);
      l.buf = grown;
    }
    l.buf.set(hash, l.count * HASH_BYTES);
    l.count++;
  }

  /** A view of a stored complete subtree hash; callers that hand it out copy it. */
  #node(level: number, index: number): Uint8Array {
    const l = this.#levels[level]!;
    return l.buf.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES);
  }

  /** MTH(D[start:end]) for the aligned ranges the RFC recursion produces. */
  #mth(start: number, end: number): Uint8Array {
    const n = end - start;
    if (n === 0) return EMPTY_ROOT;
    if (isPowerOfTwo(n) && start % n === 0) return this.#node(log2Exact(n), start / n);
    const k = splitPoint(n);
    return nodeHash(this.#mth(start, start + k), this.#mth(start + k, end));
  }

  // PATH(m, D[start:end]): the recursion pushes the deepest sibling first, as the RFC orders it.
  #path(m: number, start: number, end: number, out: Uint8Array[]): void {
    const n = end - start;
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      this.#path(m, start, start + k, out);
      out.push(this.#mth(start + k, end).slice());
    } else {
      this.#path(m - k, start + k, end, out);
      out.push(this.#mth(start, start + k).slice());
    }
  }

  // SUBPROOF(m, D[start:end], b) of RFC 9162 2.1.4.1.
  #subproof(m: number, start: number, end: number, b: boolean, out: Uint8Array[]): void {
    const n = end - start;
    if (m === n) {
      if (!b) out.push(this.#mth(start, end).slice());
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      this.#subproof(m, start, start + k, b, out);
      out.push(this.#mth(start + k, end).slice());
    } else {
      this.#subproof(m - k, start + k, end, false, out);
      out.push(this.#mth(start, start + k).slice());
    }
  }
}

/**
 * The root an inclusion proof leads to (RFC 9162 2.1.3.2 steps 1-4), or undefined when the proof
 * cannot belong to (index, size): index out of range, wrong length, or malformed hashes.
 */
export function rootFromInclusionProof(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Uint8Array | undefined {
  if (!isSize(index) || !isSize(size) || index >= size) return undefined;
  if (!(leaf instanceof Uint8Array) || leaf.length !== HASH_BYTES || !validHashes(proof)) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      // Skip the levels where this node has no right sibling (the right edge of an unbalanced tree).
      while (fn !== 0 && fn % 2 === 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : undefined;
}

/** RFC 9162 2.1.3.2: true when `proof` proves leaf hash `leaf` at `index` in the tree (size, root). */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const r = rootFromInclusionProof(leaf, index, size, proof);
  return r !== undefined && root instanceof Uint8Array && hashesEqual(r, root);
}

/**
 * RFC 9162 2.1.4.2: true when `proof` shows the tree (second, secondHash) extends (first, firstHash).
 * Equal sizes need an empty proof and equal roots; from the empty tree (whose root must be
 * MTH({})) the proof is empty, as every tree extends it.
 */
export function verifyConsistency(
  first: number,
  second: number,
  firstHash: Uint8Array,
  secondHash: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isSize(first) || !isSize(second) || first > second || !validHashes(proof)) return false;
  if (!validHashes([firstHash, secondHash])) return false;
  if (first === second) return proof.length === 0 && hashesEqual(firstHash, secondHash);
  if (first === 0) return proof.length === 0 && hashesEqual(firstHash, EMPTY_ROOT);
  // Step 1: a non-trivial consistency proof is never empty.
  if (proof.length === 0) return false;
  // Step 2: when first is a power of two, the old root is itself a node of the new tree.
  const path = isPowerOfTwo(first) ? [firstHash, ...proof] : proof;
  // Steps 3-4.
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = half(fn);
    sn = half(sn);
  }
  // Step 5.
  let fr = path[0]!;
  let sr = path[0]!;
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn !== 0 && fn % 2 === 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Step 7.
  return sn === 0 && hashesEqual(fr, firstHash) && hashesEqual(sr, secondHash);
}

/**
 * The root of a growing tree from O(log n) hashes: the roots of its perfect subtrees, largest first.
 * The ledger state uses it to know each entry's tree root (a public random seed) without the tree.
 */
export class CompactRange {
  readonly #roots: { hash: Uint8Array; size: number }[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  append(hash: Uint8Array): void {
    let node = { hash, size: 1 };
    // Two perfect subtrees of one size merge into their parent (RFC 9162: left || right).
    while (this.#roots.length > 0 && this.#roots.at(-1)!.size === node.size) {
      const left = this.#roots.pop()!;
      node = { hash: nodeHash(left.hash, node.hash), size: node.size * 2 };
    }
    this.#roots.push(node);
    this.#size++;
  }

  clone(): CompactRange {
    const c = new CompactRange();
    for (const r of this.#roots) c.#roots.push({ hash: r.hash, size: r.size });
    c.#size = this.#size;
    return c;
  }

  /** MTH of everything appended: the subtree roots folded from the right (RFC 9162 2.1.1). */
  rootHash(): Uint8Array {
    if (this.#roots.length === 0) return EMPTY_ROOT.slice();
    let acc = this.#roots.at(-1)!.hash;
    for (let i = this.#roots.length - 2; i >= 0; i--) acc = nodeHash(this.#roots[i]!.hash, acc);
    return acc.slice();
  }
}
