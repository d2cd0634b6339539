/**
 * A bounded four-class priority queue (spec 6.2: critical > high > normal > low), FIFO inside a
 * class, with a time-to-live per item. Full queue: `push` returns false (it never throws for a
 * full queue), so the caller can answer the sender with an error frame. Expired items are handed
 * to `onExpired`, never dropped silently.
 *
 * Strict priority by default, as the spec says. The optional `agingMs` mode serves a lower class
 * whose oldest item has waited longer than `agingMs` before the higher classes, so a steady
 * critical stream cannot starve `low` forever.
 */
import { PRIORITIES, type Priority, ValidationError } from '@fmp/core';

export type QosClass = Priority;
export const QOS_CLASSES: readonly QosClass[] = PRIORITIES;

/** Why an item left the queue without being shifted. */
export type DropReason = 'expired' | 'evicted';

export interface QueueEntry<T> {
  readonly item: T;
  readonly priority: QosClass;
  readonly sizeBytes: number;
  readonly enqueuedAt: number;
}

/** What `shiftEntry` returns: the entry and how long it waited (for per-class latency metrics). */
export interface ShiftedEntry<T> extends QueueEntry<T> {
  readonly waitedMs: number;
}

export interface PriorityQueueOptions<T> {
  /** Most items held at once, over all classes. */
  maxItems: number;
  /** Most bytes held at once (sum of `sizeBytes`); unbounded in bytes when absent. */
  maxBytes?: number;
  /** An item older than this is expired and never shifted. */
  ttlMs: number;
  now: () => number;
  /** Called once for every item that expires in the queue. */
  onExpired?: (item: T, entry: ShiftedEntry<T>) => void;
  /**
   * With `evictLowerOnFull`, a push into a full queue evicts the newest item of the lowest
   * non-empty class strictly below the pushed one; the evicted item goes here.
   */
  onEvicted?: (item: T, entry: QueueEntry<T>) => void;
  evictLowerOnFull?: boolean;
  /** Anti-starvation: serve a lower class first once its head has waited this long. Off when absent. */
  agingMs?: number;
}

/** Array-backed FIFO with a moving head: O(1) push, shift and pop; tracks its bytes. */
class Fifo<E extends { sizeBytes: number }> {
  private items: (E | undefined)[] = [];
  private head = 0;
  bytes = 0;

  get length(): number {
    return this.items.length - this.head;
  }
  push(e: E): void {
    this.items.push(e);
    this.bytes += e.sizeBytes;
  }
  first(): E | undefined {
    return this.items[this.head];
  }
  shift(): E | undefined {
    if (this.head >= this.items.length) return undefined;
    const e = this.items[this.head]!;
    this.items[this.head++] = undefined;
    this.bytes -= e.sizeBytes;
    // Empty: start over in place (the usual case on a link that keeps up). Else compact once the
    // dead prefix dominates, so memory follows the live size.
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return e;
  }
  pop(): E | undefined {
    if (this.length === 0) return undefined;
    const e = this.items.pop()!;
    this.bytes -= e.sizeBytes;
    return e;
  }
  clear(): E[] {
    const live = this.items.slice(this.head) as E[];
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return live;
  }
}

function positiveInt(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(`${name} must be a positive integer`, [
      { path: name, message: 'positive integer' },
    ]);
  }
}

const CLASS_INDEX: Record<QosClass, number> = { critical: 0, high: 1, normal: 2, low: 3 };

export class PriorityQueue<T> {
  private readonly classes: Fifo<QueueEntry<T>>[] = [new Fifo(), new Fifo(), new Fifo(), new Fifo()];
  private readonly options: PriorityQueueOptions<T>;
  private totalBytes = 0;
  private totalItems = 0;

  constructor(options: PriorityQueueOptions<T>) {
    positiveInt(options.maxItems, 'maxItems');
    positiveInt(options.ttlMs, 'ttlMs');
    if (options.maxBytes !== undefined) positiveInt(options.maxBytes, 'maxBytes');
    if (options.agingMs !== undefined) positiveInt(options.agingMs, 'agingMs');
    this.options = options;
  }

  get size(): number {
    return this.totalItems;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Items held per class (expired ones included until they are drained or reach the head). */
  counts(): Record<QosClass, number> {
    return {
      critical: this.classes[0]!.length,
      high: this.classes[1]!.length,
      normal: this.classes[2]!.length,
      low: this.classes[3]!.length,
    };
  }

  /**
   * Enqueues `item`. Returns false, leaving the queue unchanged, when it is full in items or bytes
   * (after dropping expired items and, with `evictLowerOnFull`, lower-class items), or when a
   * single item is larger than `maxBytes`.
   */
  push(item: T, priority: QosClass, sizeBytes = 0): boolean {
    const index = CLASS_INDEX[priority];
    if (index === undefined) throw new ValidationError(`unknown priority ${String(priority)}`);
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
      throw new ValidationError('sizeBytes must be a non-negative integer');
    }
    const { maxItems, maxBytes } = this.options;
    if (maxBytes !== undefined && sizeBytes > maxBytes) return false;
    // A method, not a closure: push runs once per routed frame.
    if (!this.fits(sizeBytes, maxItems, maxBytes)) this.drainExpired();
    if (!this.fits(sizeBytes, maxItems, maxBytes)) {
      if (!this.options.evictLowerOnFull || !this.evictionWouldFit(index, sizeBytes)) return false;
      while (!this.fits(sizeBytes, maxItems, maxBytes)) this.evictBelow(index);
    }
    this.classes[index]!.push({ item, priority, sizeBytes, enqueuedAt: this.options.now() });
    this.totalItems++;
    this.totalBytes += sizeBytes;
    return true;
  }

  private fits(sizeBytes: number, maxItems: number, maxBytes: number | undefined): boolean {
    return this.totalItems < maxItems && (maxBytes === undefined || this.totalBytes + sizeBytes <= maxBytes);
  }

  /** The next item `shift` would return, without removing it (expired heads are dropped first). */
  peek(): T | undefined {
    const now = this.options.now();
    const index = this.pick(now);
    return index === undefined ? undefined : this.classes[index]!.first()!.item;
  }

  /** Removes and returns the next live item, highest class first. */
  shift(): T | undefined {
    return this.shiftEntry()?.item;
  }

  /** As `shift`, with the class, size and waiting time of the item. */
  shiftEntry(): ShiftedEntry<T> | undefined {
    const now = this.options.now();
    const index = this.pick(now);
    if (index === undefined) return undefined;
    const entry = this.take(index)!;
    return { ...entry, waitedMs: Math.max(0, now - entry.enqueuedAt) };
  }

  /** Drops every expired item into `onExpired`; returns how many were dropped. */
  drainExpired(now: number = this.options.now()): number {
    let dropped = 0;
    for (let i = 0; i < this.classes.length; i++) dropped += this.dropExpiredHeads(i, now);
    return dropped;
  }

  /** Empties the queue and returns every entry, oldest first per class (e.g. to fail them when a link closes). */
  clear(): QueueEntry<T>[] {
    const all: QueueEntry<T>[] = [];
    for (const fifo of this.classes) all.push(...fifo.clear());
    this.totalItems = 0;
    this.totalBytes = 0;
    return all;
  }

  /** The class to serve next, after dropping expired heads; undefined when empty. */
  private pick(now: number): number | undefined {
    let first: number | undefined;
    for (let i = 0; i < this.classes.length; i++) {
      this.dropExpiredHeads(i, now);
      if (first === undefined && this.classes[i]!.length > 0) first = i;
    }
    if (first === undefined || this.options.agingMs === undefined) return first;
    // Aging: among lower classes whose head waited past agingMs, serve the oldest head.
    let aged: number | undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (let i = first + 1; i < this.classes.length; i++) {
      const head = this.classes[i]!.first();
      if (head && now - head.enqueuedAt >= this.options.agingMs && head.enqueuedAt < oldest) {
        aged = i;
        oldest = head.enqueuedAt;
      }
    }
    return aged ?? first;
  }

  // One TTL for the whole queue, so items expire in FIFO order: only heads need checking.
  private dropExpiredHeads(index: number, now: number): number {
    const fifo = this.classes[index]!;
    let dropped = 0;
    for (let head = fifo.first(); head && now - head.enqueuedAt >= this.options.ttlMs; head = fifo.first()) {
      this.take(index);
      dropped++;
      this.options.onExpired?.(head.item, { ...head, waitedMs: now - head.enqueuedAt });
    }
    return dropped;
  }

  private take(index: number): QueueEntry<T> | undefined {
    const entry = this.classes[index]!.shift();
    if (entry) {
      this.totalItems--;
      this.totalBytes -= entry.sizeBytes;
    }
    return entry;
  }

  /** Whether evicting every lower-class item would make room; checked first so a refused push changes nothing. */
  private evictionWouldFit(index: number, sizeBytes: number): boolean {
    let items = this.totalItems;
    let bytes = this.totalBytes;
    for (let i = index + 1; i < this.classes.length; i++) {
      items -= this.classes[i]!.length;
      bytes -= this.classes[i]!.bytes;
    }
    const { maxItems, maxBytes } = this.options;
    return items < maxItems && (maxBytes === undefined || bytes + sizeBytes <= maxBytes);
  }

  private evictBelow(index: number): boolean {
    for (let i = this.classes.length - 1; i > index; i--) {
      const entry = this.classes[i]!.pop();
      if (entry) {
        this.totalItems--;
        this.totalBytes -= entry.sizeBytes;
        this.options.onEvicted?.(entry.item, entry);
        return true;
      }
    }
    return false;
  }
}
