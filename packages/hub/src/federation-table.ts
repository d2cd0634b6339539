/**
 * The hub's federations in memory (active and suspended; expired and terminated ones are history,
 * kept by the store), with the indexes its hot paths read: by mesh (authentication, credential
 * re-checks, trust changes, handshakes, attestations) and by expiry (the sweep, every second).
 * Without them each of those walked the whole table: 46 to 105 ms at 1,000,000 federations.
 */
import { ValidationError } from '@fmp/core';
import { type FederationRow, type FederationStore, StoreFullError } from './persistence.js';

/** Heap entries beyond this multiple of the rows (plus slack) trigger a rebuild (see `heap`). */
const HEAP_SLACK = 2;

/** Unreported tool calls remembered per party of a federation (more are not counted). */
const MAX_TASK_CREDITS = 1_000_000;

export class FederationTable {
  private readonly rows = new Map<string, FederationRow>();
  /**
   * Mesh DID -> the id of its one federation, or a Set of ids when it has several: most meshes
   * have one or two, and a Set each would cost about 100 bytes more per mesh.
   */
  private readonly meshes = new Map<string, string | Set<string>>();
  /**
   * A binary min-heap by expiresAt with lazy deletion. An entry is a row object: its id and
   * expiresAt as they were when pushed (rows are immutable). It is current while the table holds
   * a row with that id and that expiresAt, else stale and dropped when it surfaces. A row replaced
   * with the same expiresAt keeps its entry (no push); a new row or a new expiresAt pushes one.
   * Stale entries (and the replaced rows they keep alive) are bounded: past HEAP_SLACK times the
   * rows, the heap is rebuilt from the table.
   */
  private heap: FederationRow[] = [];
  /** Ids of rows with a minimum trust score: what a trust recompute re-judges. */
  private readonly minimums = new Set<string>();
  private active = 0;
  private suspended = 0;
  /** Mesh DID -> its active federations (as source or target), for the per-level limit. */
  private readonly activeByMesh = new Map<string, number>();
  /**
   * Federation id -> tool calls (agent.task.request envelopes) routed here from its source and from
   * its target and not yet reported on: what bounds the counts of those parties' TrustReports.
   */
  private readonly taskCredits = new Map<string, [number, number]>();

  /** `limit`: the most federations held (the hub's maxFederations). */
  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new ValidationError('invalid federation table limit', [
        { path: 'limit', message: 'a positive integer' },
      ]);
    }
  }

  get size(): number {
    return this.rows.size;
  }

  /** No room for another federation (replacing one that is held still works). */
  get full(): boolean {
    return this.rows.size >= this.limit;
  }

  /** Whether set() would take a row with this id (a new one needs room; a held one is replaced). */
  hasRoomFor(federationId: string): boolean {
    return !this.full || this.rows.has(federationId);
  }

  get(federationId: string): FederationRow | undefined {
    return this.rows.get(federationId);
  }

  has(federationId: string): boolean {
    return this.rows.has(federationId);
  }

  /** In insertion order (a replaced row keeps its place). */
  values(): MapIterator<FederationRow> {
    return this.rows.values();
  }

  keys(): MapIterator<string> {
    return this.rows.keys();
  }

  /**
   * Inserts or replaces by federationId, keeping every index in step. StoreFullError for a new id
   * when the table is full; ValidationError for a row that is neither active nor suspended.
   */
  set(row: FederationRow): void {
    if (row.status !== 'active' && row.status !== 'suspended') {
      throw new ValidationError('only active and suspended federations are held in memory', [
        { path: 'status', message: `is ${row.status}` },
      ]);
    }
    const id = row.federationId;
    const current = this.rows.get(id);
    if (current === row) return;
    if (!current && this.rows.size >= this.limit) throw new StoreFullError('federation table', this.limit);
    this.rows.set(id, row);
    if (current) {
      this.uncount(current);
      if (current.sourceMeshId !== row.sourceMeshId || current.targetMeshId !== row.targetMeshId) {
        this.unindexMesh(current.sourceMeshId, id);
        this.unindexMesh(current.targetMeshId, id);
        this.indexMesh(row.sourceMeshId, id);
        this.indexMesh(row.targetMeshId, id);
      }
    } else {
      this.indexMesh(row.sourceMeshId, id);
      this.indexMesh(row.targetMeshId, id);
    }
    this.count(row);
    if (current?.expiresAt !== row.expiresAt) this.push(row);
  }

  /** One tool call routed on `row` from `from` (one of its parties). */
  creditTask(row: FederationRow, from: string): void {
    let credits = this.taskCredits.get(row.federationId);
    if (!credits) {
      if (!this.rows.has(row.federationId)) return;
      credits = [0, 0];
      this.taskCredits.set(row.federationId, credits);
    }
    const side = from === row.sourceMeshId ? 0 : 1;
    credits[side] = Math.min(credits[side] + 1, MAX_TASK_CREDITS);
  }

  /** Takes up to `want` of `reporter`'s unreported tool calls on the federation; how many it took. */
  takeTaskCredits(federationId: string, reporter: string, want: number): number {
    const row = this.rows.get(federationId);
    const credits = this.taskCredits.get(federationId);
    if (!row || !credits) return 0;
    const side = reporter === row.sourceMeshId ? 0 : 1;
    const taken = Math.min(want, credits[side]);
    credits[side] -= taken;
    if (credits[0] === 0 && credits[1] === 0) this.taskCredits.delete(federationId);
    return taken;
  }

  delete(federationId: string): boolean {
    const current = this.rows.get(federationId);
    if (!current) return false;
    this.rows.delete(federationId);
    this.taskCredits.delete(federationId);
    this.uncount(current);
    this.unindexMesh(current.sourceMeshId, federationId);
    this.unindexMesh(current.targetMeshId, federationId);
    // Its heap entries are stale now: dropped when they surface or at the next rebuild.
    return true;
  }

  /** The federations `meshId` is the source or the target of (O(k)), in the order they came. */
  byMesh(meshId: string): FederationRow[] {
    const ids = this.meshes.get(meshId);
    if (ids === undefined) return [];
    if (typeof ids === 'string') return [this.rows.get(ids)!];
    return Array.from(ids, (id) => this.rows.get(id)!);
  }

  /** How many active federations `meshId` is a party to (O(1): checked on every handshake). */
  activeCount(meshId: string): number {
    return this.activeByMesh.get(meshId) ?? 0;
  }

  /** How many federations `meshId` is a party to (O(1)). */
  meshCount(meshId: string): number {
    const ids = this.meshes.get(meshId);
    return ids === undefined ? 0 : typeof ids === 'string' ? 1 : ids.size;
  }

  /** The federations between meshes `a` and `b`, either way round (O(min(ka, kb))). */
  between(a: string, b: string): FederationRow[] {
    const [small, other] = this.meshCount(a) <= this.meshCount(b) ? [a, b] : [b, a];
    return this.byMesh(small).filter(
      (f) =>
        (f.sourceMeshId === small && f.targetMeshId === other) ||
        (f.targetMeshId === small && f.sourceMeshId === other),
    );
  }

  /**
   * The rows whose expiresAt <= now, soonest first (O(k log n), stale entries aside). A query:
   * what it returns stays held, and due again next time, until the caller removes or renews it.
   */
  due(now: number): FederationRow[] {
    const out: FederationRow[] = [];
    const seen = new Set<string>();
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.expiresAt <= now) {
      const entry = this.pop();
      const row = this.rows.get(entry.federationId);
      if (row === undefined || row.expiresAt !== entry.expiresAt || seen.has(row.federationId)) continue;
      seen.add(row.federationId);
      out.push(row);
    }
    for (const row of out) this.push(row);
    return out;
  }

  /** Held federations of `status` (O(1)). */
  countOf(status: 'active' | 'suspended'): number {
    return status === 'active' ? this.active : this.suspended;
  }

  /** The federations with a minimum trust score (O(k)). */
  withMinimum(): FederationRow[] {
    return Array.from(this.minimums, (id) => this.rows.get(id)!);
  }

  /** Heap entries, stale ones included (for tests: the rebuild keeps this bounded). */
  get heapSize(): number {
    return this.heap.length;
  }

  private count(row: FederationRow): void {
    if (row.status === 'active') {
      this.active++;
      this.addActive(row.sourceMeshId, 1);
      if (row.targetMeshId !== row.sourceMeshId) this.addActive(row.targetMeshId, 1);
    } else this.suspended++;
    if (row.minTrustScore !== undefined) this.minimums.add(row.federationId);
  }

  private uncount(row: FederationRow): void {
    if (row.status === 'active') {
      this.active--;
      this.addActive(row.sourceMeshId, -1);
      if (row.targetMeshId !== row.sourceMeshId) this.addActive(row.targetMeshId, -1);
    } else this.suspended--;
    if (row.minTrustScore !== undefined) this.minimums.delete(row.federationId);
  }

  private addActive(meshId: string, delta: number): void {
    const n = (this.activeByMesh.get(meshId) ?? 0) + delta;
    if (n > 0) this.activeByMesh.set(meshId, n);
    else this.activeByMesh.delete(meshId);
  }

  private indexMesh(meshId: string, id: string): void {
    const ids = this.meshes.get(meshId);
    if (ids === undefined) this.meshes.set(meshId, id);
    else if (typeof ids === 'string') {
      if (ids !== id) this.meshes.set(meshId, new Set([ids, id]));
    } else ids.add(id);
  }

  private unindexMesh(meshId: string, id: string): void {
    const ids = this.meshes.get(meshId);
    if (ids === undefined) return;
    if (typeof ids === 'string') {
      if (ids === id) this.meshes.delete(meshId);
      return;
    }
    ids.delete(id);
    if (ids.size === 1) this.meshes.set(meshId, ids.values().next().value!);
  }

  private push(row: FederationRow): void {
    const heap = this.heap;
    if (heap.length >= HEAP_SLACK * this.rows.size + 16) {
      this.rebuild();
      return;
    }
    let i = heap.length;
    heap.push(row);
    const at = row.expiresAt;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.expiresAt <= at) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = row;
  }

  private pop(): FederationRow {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) this.siftDown(0, last);
    return top;
  }

  /** Puts `row` at `i` and moves it down to its place. */
  private siftDown(i: number, row: FederationRow): void {
    const heap = this.heap;
    const n = heap.length;
    const at = row.expiresAt;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1]!.expiresAt < heap[child]!.expiresAt) child++;
      const c = heap[child]!;
      if (c.expiresAt >= at) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = row;
  }

  /** One entry per held row, nothing stale (O(n)). */
  private rebuild(): void {
    this.heap = Array.from(this.rows.values());
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i, this.heap[i]!);
  }
}

/**
 * Every active and suspended federation a store holds, a page at a time (in the store's
 * federationId order): what a hub restores at start, however many there are.
 */
export async function* liveFederations(
  store: Pick<FederationStore, 'listPage'>,
  pageSize = 10_000,
): AsyncGenerator<FederationRow[]> {
  let after: string | undefined;
  do {
    const page = await store.listPage({
      statuses: ['active', 'suspended'],
      limit: pageSize,
      ...(after === undefined ? {} : { after }),
    });
    if (page.rows.length > 0) yield page.rows;
    after = page.next;
  } while (after !== undefined);
}
