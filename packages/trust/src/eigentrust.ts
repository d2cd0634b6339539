/**
 * Global trust by EigenTrust (Kamvar, Schlosser, Garcia-Molina 2003): each rater's outgoing local
 * trust is normalised to 1 (matrix C), and t <- (1 - a) C^T t + a p, where p is uniform over the
 * pre-trusted peers (authorities, hubs). Trust that enters a sybil region can only leave it by the
 * teleport a, and the teleport only lands on pre-trusted peers, so a region reached by few attack
 * edges holds little trust however densely its members rate each other.
 *
 * Layout: node ids are interned to indices; edges live in dense typed arrays (16 bytes an edge, no
 * per-edge objects) with an open-addressing hash index over them (4 bytes a slot), so set and remove
 * are O(1) and the matrix build reads the edges sequentially; `recompute` turns them into a
 * compressed sparse column matrix (incoming edges per node, 12 bytes an edge) only when the edges
 * changed, and starts from the previous vector, so a small change converges in a few iterations.
 *
 * @example
 * ```ts
 * const g = new GlobalTrust();
 * g.setPreTrusted(['did:mesh:hub-eu']);
 * g.setEdge('did:mesh:hub-eu', 'did:mesh:acme', 0.9);
 * g.setEdge('did:mesh:acme', 'did:mesh:mit', 0.7);
 * g.recompute(); // { iterations, delta, ms, nodes: 3, edges: 2 }
 * g.relative('did:mesh:mit'); // > 0; 1 is average
 * ```
 */
import { ValidationError } from '@fmp/core';

export interface EigenTrustOptions {
  /** Teleport weight a: the share of trust given back to pre-trusted peers each step. Default 0.15. */
  alpha?: number;
  /** Stop when the L1 change of an iteration is below this. Default 1e-6. */
  epsilon?: number;
  /** Most iterations per recompute. Default 100. */
  maxIterations?: number;
  /** Most nodes (interned ids). Default 2,000,000. */
  maxNodes?: number;
  /** Most edges. Default 20,000,000. */
  maxEdges?: number;
}

export interface RecomputeResult {
  /** Iterations run (0 for an empty graph). */
  readonly iterations: number;
  /** L1 change of the last iteration (> epsilon only when maxIterations was reached). */
  readonly delta: number;
  /** Wall time of the recompute, including the matrix rebuild when edges had changed. */
  readonly ms: number;
  readonly nodes: number;
  readonly edges: number;
}

/** Longest node id accepted (DIDs are far shorter); bounds the memory an id can take. */
export const MAX_NODE_ID_LENGTH = 2048;

const EMPTY = -1;
const DELETED = -2;
const MIN_CAPACITY = 16;
/** Rehash the index when live + deleted slots exceed this share of it. */
const MAX_LOAD = 0.7;
/** Load of the index right after a rehash. */
const REHASH_LOAD = 0.5;

function optionNumber(name: string, value: number | undefined, fallback: number, ok: (x: number) => boolean) {
  const x = value ?? fallback;
  if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x)) {
    throw new ValidationError(`invalid EigenTrust option ${name}: ${String(x)}`, [
      { path: name, message: 'out of range' },
    ]);
  }
  return x;
}

function checkId(id: string, path: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_NODE_ID_LENGTH) {
    throw new ValidationError(`node id must be a string of 1-${MAX_NODE_ID_LENGTH} characters`, [
      { path, message: 'invalid node id' },
    ]);
  }
}

/** Mixes two indices into a table slot (murmur3 finaliser: edge ids are dense, so they need mixing). */
function slotHash(from: number, to: number, mask: number): number {
  let h = Math.imul(from, 0x9e3779b1) ^ to;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & mask;
}

/**
 * EigenTrust over a directed weighted graph of string ids.
 *
 * Choices: self-loops are ignored (a node's trust in itself would let it keep its own trust, which
 * EigenTrust excludes); weights must be finite and >= 0 (ValidationError otherwise), 0 removes the
 * edge; ids are never forgotten (a node without edges keeps its index and gets only teleported or
 * dangling trust); pre-trusted ids become nodes.
 */
export class GlobalTrust {
  readonly alpha: number;
  readonly epsilon: number;
  readonly maxIterations: number;
  readonly maxNodes: number;
  readonly maxEdges: number;

  private readonly index = new Map<string, number>();
  private readonly ids: string[] = [];

  // Edges, dense: edge e < eLen is eFrom[e] -> eTo[e] with weight eW[e]. Removing an edge moves
  // the last one into its place.
  private eFrom: Int32Array;
  private eTo: Int32Array;
  private eW: Float64Array;
  private eLen = 0;
  // Hash index over the edges (linear probing): a slot holds an edge number, EMPTY or DELETED.
  private slots: Int32Array;
  private slotsUsed = 0; // live + tombstones

  private preTrusted: Int32Array = new Int32Array(0);
  /** p as of the last recompute; rebuilt when the pre-trusted set or the node count changes. */
  private p: Float64Array = new Float64Array(0);
  private pDirty = true;

  // Matrix C^T in compressed sparse columns: node j's incoming edges are colStart[j]..colStart[j+1],
  // with source src[k] and normalised weight coef[k] = w(src -> j) / (sum of src's out-weights).
  private dirty = true;
  private csrNodes = 0;
  private colStart: Int32Array = new Int32Array(1);
  private src: Int32Array = new Int32Array(0);
  private coef: Float64Array = new Float64Array(0);
  /** Nodes without outgoing edges: their row of C is p. */
  private dangling: Int32Array = new Int32Array(0);

  /** The last result (length = nodes at the last recompute) and a scratch vector of the same size. */
  private t: Float64Array = new Float64Array(0);
  private next: Float64Array = new Float64Array(0);

  constructor(options: EigenTrustOptions = {}) {
    this.alpha = optionNumber('alpha', options.alpha, 0.15, (x) => x > 0 && x <= 1);
    this.epsilon = optionNumber('epsilon', options.epsilon, 1e-6, (x) => x > 0);
    this.maxIterations = optionNumber(
      'maxIterations',
      options.maxIterations,
      100,
      (x) => Number.isSafeInteger(x) && x >= 1,
    );
    // Indices are int32 and typed arrays hold at most 2^31 - 1 elements.
    this.maxNodes = optionNumber(
      'maxNodes',
      options.maxNodes,
      2_000_000,
      (x) => Number.isSafeInteger(x) && x >= 1 && x < 2 ** 30,
    );
    this.maxEdges = optionNumber(
      'maxEdges',
      options.maxEdges,
      20_000_000,
      (x) => Number.isSafeInteger(x) && x >= 1 && x < 2 ** 29,
    );
    this.eFrom = new Int32Array(MIN_CAPACITY);
    this.eTo = new Int32Array(MIN_CAPACITY);
    this.eW = new Float64Array(MIN_CAPACITY);
    this.slots = new Int32Array(MIN_CAPACITY * 2).fill(EMPTY);
  }

  get nodeCount(): number {
    return this.ids.length;
  }

  get edgeCount(): number {
    return this.eLen;
  }

  /**
   * Local trust from -> to. `weight` must be finite and >= 0; 0 removes the edge. Self-loops are
   * ignored. Throws ValidationError on a bad weight or id, or when the edge would exceed maxNodes
   * or maxEdges (nothing is changed then).
   */
  setEdge(from: string, to: string, weight: number): void {
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      throw new ValidationError(`edge weight must be a finite number >= 0, got ${String(weight)}`, [
        { path: 'weight', message: 'finite, >= 0' },
      ]);
    }
    checkId(from, 'from');
    checkId(to, 'to');
    if (from === to) return;
    if (weight === 0) {
      const f = this.index.get(from);
      const t = this.index.get(to);
      if (f !== undefined && t !== undefined) this.removeEdge(f, t);
      return;
    }
    let f = this.index.get(from);
    let t = this.index.get(to);
    const newNodes = (f === undefined ? 1 : 0) + (t === undefined ? 1 : 0);
    if (newNodes > 0 && this.ids.length + newNodes > this.maxNodes) {
      throw new ValidationError(`the trust graph is full: at most ${this.maxNodes} nodes`, [
        { path: 'maxNodes', message: 'exceeded' },
      ]);
    }
    if (newNodes === 0) {
      const e = this.find(f!, t!);
      if (e >= 0) {
        if (this.eW[e] !== weight) {
          this.eW[e] = weight;
          this.dirty = true;
        }
        return;
      }
    }
    if (this.eLen >= this.maxEdges) {
      throw new ValidationError(`the trust graph is full: at most ${this.maxEdges} edges`, [
        { path: 'maxEdges', message: 'exceeded' },
      ]);
    }
    f ??= this.intern(from);
    t ??= this.intern(to);
    this.insert(f, t, weight);
    this.dirty = true;
  }

  /** The local trust from -> to (0 when there is no such edge). */
  edge(from: string, to: string): number {
    const f = this.index.get(from);
    const t = this.index.get(to);
    if (f === undefined || t === undefined) return 0;
    const e = this.find(f, t);
    return e >= 0 ? this.eW[e]! : 0;
  }

  /**
   * Replaces the pre-trusted set: the teleport distribution p is uniform over these ids (they become
   * nodes). An empty set makes p uniform over all nodes (plain PageRank, no sybil resistance).
   */
  setPreTrusted(ids: Iterable<string>): void {
    const unique = new Set<string>();
    for (const id of ids) {
      checkId(id, 'preTrusted');
      unique.add(id);
    }
    let newNodes = 0;
    for (const id of unique) if (!this.index.has(id)) newNodes++;
    if (this.ids.length + newNodes > this.maxNodes) {
      throw new ValidationError(`the trust graph is full: at most ${this.maxNodes} nodes`, [
        { path: 'maxNodes', message: 'exceeded' },
      ]);
    }
    const indices = new Int32Array(unique.size);
    let i = 0;
    for (const id of unique) indices[i++] = this.index.get(id) ?? this.intern(id);
    this.preTrusted = indices;
    this.pDirty = true;
  }

  /**
   * Runs the power iteration t <- (1 - a) C^T t + a p until the L1 change is below epsilon or
   * maxIterations is reached, starting from the previous result (nodes added since start at their
   * p). Rebuilds the matrix first when edges or nodes changed since the last recompute.
   */
  recompute(): RecomputeResult {
    const started = performance.now();
    const n = this.ids.length;
    if (this.dirty || this.csrNodes !== n) this.rebuild();

    const p = this.teleport(n);
    let t = this.startVector(n, p);
    let next = this.next.length === n ? this.next : new Float64Array(n);
    const colStart = this.colStart;
    const src = this.src;
    const coef = this.coef;
    const dangling = this.dangling;
    const keep = 1 - this.alpha;
    const alpha = this.alpha;

    let iterations = 0;
    let delta = 0;
    while (n > 0 && iterations < this.maxIterations) {
      // Dangling nodes spread their trust as p does: one scalar per iteration, not a dense row.
      let danglingMass = 0;
      for (let k = 0; k < dangling.length; k++) danglingMass += t[dangling[k]!]!;
      const pScale = keep * danglingMass + alpha;
      delta = 0;
      let end = colStart[0]!;
      for (let j = 0; j < n; j++) {
        const begin = end;
        end = colStart[j + 1]!;
        let s = 0;
        for (let k = begin; k < end; k++) s += t[src[k]!]! * coef[k]!;
        const v = keep * s + pScale * p[j]!;
        delta += Math.abs(v - t[j]!);
        next[j] = v;
      }
      const swap = t;
      t = next;
      next = swap;
      iterations++;
      if (delta < this.epsilon) break;
    }
    // The sum is 1 in exact arithmetic; remove the rounding drift so trust() sums to 1.
    let sum = 0;
    for (let j = 0; j < n; j++) sum += t[j]!;
    if (sum > 0 && sum !== 1) for (let j = 0; j < n; j++) t[j] = t[j]! / sum;
    this.t = t;
    this.next = next;
    return { iterations, delta, ms: performance.now() - started, nodes: n, edges: this.eLen };
  }

  /** The last computed global trust of `id` (the vector sums to 1); 0 for an id unknown then. */
  trust(id: string): number {
    const i = this.index.get(id);
    return i === undefined || i >= this.t.length ? 0 : this.t[i]!;
  }

  /**
   * trust(id) times the node count of the last recompute: 1 is average, sybils are near 0, and a
   * node added since the last recompute is 0.
   */
  relative(id: string): number {
    return this.trust(id) * this.t.length;
  }

  private intern(id: string): number {
    const i = this.ids.length;
    this.ids.push(id);
    this.index.set(id, i);
    return i;
  }

  /** The slot of edge from -> to in the index, or -1. */
  private findSlot(from: number, to: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    const eFrom = this.eFrom;
    const eTo = this.eTo;
    for (let s = slotHash(from, to, mask); ; s = (s + 1) & mask) {
      const e = slots[s]!;
      if (e === EMPTY) return -1;
      if (e >= 0 && eFrom[e] === from && eTo[e] === to) return s;
    }
  }

  /** The number of edge from -> to, or -1. */
  private find(from: number, to: number): number {
    const s = this.findSlot(from, to);
    return s < 0 ? -1 : this.slots[s]!;
  }

  /** Appends an edge known to be absent (the caller checked maxEdges). */
  private insert(from: number, to: number, weight: number): void {
    if (this.eLen === this.eFrom.length) {
      const capacity = Math.min(this.eFrom.length * 2, Math.max(this.maxEdges, MIN_CAPACITY));
      const grow = <T extends Int32Array | Float64Array>(old: T, next: T): T => {
        next.set(old);
        return next;
      };
      this.eFrom = grow(this.eFrom, new Int32Array(capacity));
      this.eTo = grow(this.eTo, new Int32Array(capacity));
      this.eW = grow(this.eW, new Float64Array(capacity));
    }
    if (this.slotsUsed + 1 > this.slots.length * MAX_LOAD) this.rehash();
    const e = this.eLen++;
    this.eFrom[e] = from;
    this.eTo[e] = to;
    this.eW[e] = weight;
    this.place(from, to, e);
  }

  /** Puts edge number e into the first free slot of its probe sequence. */
  private place(from: number, to: number, e: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let s = slotHash(from, to, mask);
    while (slots[s]! >= 0) s = (s + 1) & mask;
    if (slots[s] === EMPTY) this.slotsUsed++;
    slots[s] = e;
  }

  private removeEdge(from: number, to: number): void {
    const s = this.findSlot(from, to);
    if (s < 0) return;
    const e = this.slots[s]!;
    this.slots[s] = DELETED;
    const last = --this.eLen;
    if (e !== last) {
      // Keep the edges dense: the last edge takes the hole, and its slot follows it.
      const lf = this.eFrom[last]!;
      const lt = this.eTo[last]!;
      this.slots[this.findSlot(lf, lt)] = e;
      this.eFrom[e] = lf;
      this.eTo[e] = lt;
      this.eW[e] = this.eW[last]!;
    }
    this.dirty = true;
  }

  /**
   * Rebuilds the index at load <= 0.5 for the live edges: doubles it when it filled up, or only
   * drops tombstones. At 20M edges that is 2^26 slots, 256 MiB.
   */
  private rehash(): void {
    let capacity = MIN_CAPACITY * 2;
    while (this.eLen + 1 > capacity * REHASH_LOAD) capacity *= 2;
    this.slots = new Int32Array(capacity).fill(EMPTY);
    this.slotsUsed = 0;
    for (let e = 0; e < this.eLen; e++) this.place(this.eFrom[e]!, this.eTo[e]!, e);
  }

  /** Builds C^T (compressed sparse columns) from the edges: two sequential passes over them. */
  private rebuild(): void {
    const n = this.ids.length;
    const m = this.eLen;
    const eFrom = this.eFrom;
    const eTo = this.eTo;
    const eW = this.eW;
    const rowSum = new Float64Array(n);
    const colStart = new Int32Array(n + 1);
    for (let e = 0; e < m; e++) {
      const f = eFrom[e]!;
      rowSum[f] = rowSum[f]! + eW[e]!;
      colStart[eTo[e]! + 1]!++;
    }
    let danglingCount = 0;
    for (let i = 0; i < n; i++) {
      colStart[i + 1] = colStart[i + 1]! + colStart[i]!;
      if (rowSum[i] === 0) danglingCount++;
      // Reused as the reciprocal, so the fill below multiplies instead of dividing.
      else rowSum[i] = 1 / rowSum[i]!;
    }
    // Sources in a column come in edge order; sorting them bought nothing measurable here, since
    // t (8 bytes a node) mostly stays in cache and the edge arrays are read sequentially anyway.
    const src = new Int32Array(m);
    const coef = new Float64Array(m);
    const fill = colStart.slice(0, n);
    for (let e = 0; e < m; e++) {
      const f = eFrom[e]!;
      const pos = fill[eTo[e]!]!++;
      src[pos] = f;
      coef[pos] = eW[e]! * rowSum[f]!;
    }
    const dangling = new Int32Array(danglingCount);
    for (let i = 0, d = 0; i < n; i++) if (rowSum[i] === 0) dangling[d++] = i;
    this.colStart = colStart;
    this.src = src;
    this.coef = coef;
    this.dangling = dangling;
    this.csrNodes = n;
    this.dirty = false;
  }

  /** p: uniform over the pre-trusted nodes, or over all nodes when there are none. */
  private teleport(n: number): Float64Array {
    if (!this.pDirty && this.p.length === n) return this.p;
    const p = new Float64Array(n);
    if (this.preTrusted.length === 0) {
      p.fill(1 / n);
    } else {
      const share = 1 / this.preTrusted.length;
      for (const i of this.preTrusted) p[i] = share;
    }
    this.p = p;
    this.pDirty = false;
    return p;
  }

  /** The previous vector extended by p for new nodes and rescaled to sum 1; p on the first run. */
  private startVector(n: number, p: Float64Array): Float64Array {
    const prev = this.t;
    if (prev.length === 0) return p.slice();
    const t = prev.length === n ? prev : new Float64Array(n);
    if (t !== prev) {
      t.set(prev);
      for (let j = prev.length; j < n; j++) t[j] = p[j]!;
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += t[j]!;
    if (sum <= 0) return p.slice();
    if (sum !== 1) for (let j = 0; j < n; j++) t[j] = t[j]! / sum;
    return t;
  }
}
