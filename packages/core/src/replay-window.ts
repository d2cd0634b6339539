/**
 * The message ids a receiver has accepted, remembered until they expire (replay protection at
 * message rates).
 *
 * A receiver must remember every message id it accepted for as long as the same envelope could
 * still pass its timestamp check (minutes), so at thousands of messages per second it holds
 * millions of ids. ExpiringSet (a Map of id strings) costs ~80 bytes per id and could only be held
 * to 100,000 ids: a node receiving more than ~330 messages per second for five minutes refused
 * everything else. Here an id is its 128-bit value (exact: no fingerprint, no false positive) in
 * open-addressing tables of 32-bit words, 23-45 bytes per id, and expiry is by generation: ids go to
 * the table of the time slice their expiry falls in, and a slice's table is dropped whole once
 * the slice has passed, so nothing is ever scanned id by id.
 *
 * An id is remembered until the end of its slice, up to `horizonMs / (GENERATIONS - 2)` past its
 * own expiry: longer than asked, never shorter.
 */
import { randomFillSync } from 'node:crypto';

/** Time slices kept: enough that every expiry within the horizon has its own live slice. */
const GENERATIONS = 8;
const INITIAL_SLOTS = 256; // per table; a power of two
const MAX_LOAD = 0.75;

/** Hex digit value of a character code, or -1. */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 32;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/** Writes the four 32-bit words of a UUID (8-4-4-4-12 hex, either case) to `out`; false if not one. */
function uuidWords(id: string, out: Uint32Array): boolean {
  if (id.length !== 36) return false;
  let word = 0;
  let digits = 0;
  let w = 0;
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
      continue;
    }
    const v = hexValue(c);
    if (v < 0) return false;
    word = ((word << 4) | v) >>> 0;
    if (++digits === 8) {
      out[w++] = word;
      word = 0;
      digits = 0;
    }
  }
  return true;
}

/** One time slice's ids: linear probing over 4-word keys, grown by doubling. */
class IdTable {
  keys = new Uint32Array(INITIAL_SLOTS * 4);
  used = new Uint8Array(INITIAL_SLOTS);
  count = 0;

  constructor(
    /** The slice this table holds (expiry / span, floored). */
    readonly generation: number,
    private readonly seeds: Uint32Array,
  ) {}

  private slot(k: Uint32Array, mask: number): number {
    // Seeded per process: a sender choosing its ids cannot aim them at one probe chain.
    let h = Math.imul(k[0]! ^ this.seeds[0]!, 0x9e3779b1);
    h ^= Math.imul(k[1]! ^ this.seeds[1]!, 0x85ebca77);
    h ^= Math.imul(k[2]! ^ this.seeds[2]!, 0xc2b2ae3d);
    h ^= Math.imul(k[3]! ^ this.seeds[3]!, 0x27d4eb2f);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 13;
    return h & mask;
  }

  has(k: Uint32Array): boolean {
    const mask = this.used.length - 1;
    for (let i = this.slot(k, mask); this.used[i] === 1; i = (i + 1) & mask) {
      const o = i * 4;
      const keys = this.keys;
      if (keys[o] === k[0] && keys[o + 1] === k[1] && keys[o + 2] === k[2] && keys[o + 3] === k[3]) {
        return true;
      }
    }
    return false;
  }

  /** Adds `k` (not already present). */
  add(k: Uint32Array): void {
    if (this.count + 1 > this.used.length * MAX_LOAD) this.grow();
    this.place(k, 0);
    this.count++;
  }

  private place(source: Uint32Array, at: number): void {
    const mask = this.used.length - 1;
    let i = this.slot(at === 0 ? source : source.subarray(at, at + 4), mask);
    while (this.used[i] === 1) i = (i + 1) & mask;
    this.used[i] = 1;
    this.keys.set(source.subarray(at, at + 4), i * 4);
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldUsed = this.used;
    this.keys = new Uint32Array(oldKeys.length * 2);
    this.used = new Uint8Array(oldUsed.length * 2);
    for (let i = 0; i < oldUsed.length; i++) if (oldUsed[i] === 1) this.place(oldKeys, i * 4);
  }

  /** Bytes held by the typed arrays. */
  get bytes(): number {
    return this.keys.byteLength + this.used.byteLength;
  }
}

export interface ReplayWindowOptions {
  /** Ids remembered at most (all slices). Adding past it fails until slices expire. */
  capacity: number;
  /** The farthest expiry ahead of `now` that `add` will be given, ms. */
  horizonMs: number;
}

/** A bounded set of UUIDs, each until an expiry time; see the module comment. */
export class ReplayWindow {
  readonly capacity: number;
  readonly horizonMs: number;
  /** Width of one time slice, ms. */
  readonly spanMs: number;
  private readonly tables: (IdTable | undefined)[] = new Array(GENERATIONS);
  private readonly seeds = randomFillSync(new Uint32Array(4));
  private readonly key = new Uint32Array(4);
  private total = 0;

  constructor(options: ReplayWindowOptions) {
    const { capacity, horizonMs } = options;
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError('capacity must be a positive integer');
    }
    if (!Number.isSafeInteger(horizonMs) || horizonMs < 1) {
      throw new RangeError('horizonMs must be a positive integer');
    }
    this.capacity = capacity;
    this.horizonMs = horizonMs;
    // Slices from now's to the horizon's span at most GENERATIONS - 1 indices.
    this.spanMs = Math.ceil(horizonMs / (GENERATIONS - 2));
  }

  /** Ids held, expired slices not yet dropped included. */
  get size(): number {
    return this.total;
  }

  /** Bytes held by the tables. */
  get bytes(): number {
    let n = 0;
    for (const t of this.tables) n += t?.bytes ?? 0;
    return n;
  }

  /** Whether `id` was added and its slice has not passed. False for a string that is not a UUID. */
  has(id: string, now: number): boolean {
    if (!uuidWords(id, this.key)) return false;
    this.expire(now);
    for (const t of this.tables) if (t?.has(this.key)) return true;
    return false;
  }

  /**
   * Records `id` until at least `expiresAt` (at most `horizonMs` after `now`). True when recorded or
   * already there; false when the window is full of unexpired ids. Throws RangeError for an id that
   * is not a UUID or an expiry past the horizon (a caller's bug: it would be remembered too briefly).
   */
  add(id: string, expiresAt: number, now: number): boolean {
    if (!uuidWords(id, this.key)) throw new RangeError('a replay window holds UUIDs');
    if (!(expiresAt <= now + this.horizonMs)) throw new RangeError('expiresAt is past the horizon');
    this.expire(now);
    for (const t of this.tables) if (t?.has(this.key)) return true;
    if (expiresAt <= now) return true; // already expired: nothing to remember
    if (this.total >= this.capacity) return false;
    const generation = Math.floor(expiresAt / this.spanMs);
    const index = generation % GENERATIONS;
    let table = this.tables[index];
    if (table?.generation !== generation) {
      // A slot holds one slice at a time; a live slice never shares its slot (see spanMs).
      if (table) this.total -= table.count;
      table = new IdTable(generation, this.seeds);
      this.tables[index] = table;
    }
    table.add(this.key);
    this.total++;
    return true;
  }

  /** Drops the tables of slices that ended at or before `now`. */
  private expire(now: number): void {
    const current = Math.floor(now / this.spanMs);
    for (let i = 0; i < GENERATIONS; i++) {
      const t = this.tables[i];
      // Slice g covers expiries in [g * span, (g + 1) * span): all passed once now >= (g + 1) * span.
      if (t && t.generation < current) {
        this.total -= t.count;
        this.tables[i] = undefined;
      }
    }
  }
}
