/**
 * The message ids a receiver has accepted, remembered until they expire (replay protection at
 * message rates).
 *
 * A receiver must remember every message id it accepted for as long as the same envelope could
 * still pass its timestamp check (minutes), so at thousands of messages per second it holds
 * millions of ids. ExpiringSet (a Map of id strings) costs ~80 bytes per id and could only be held
 * to 100,000 ids: a node receiving more than ~330 messages per second for five minutes refused
 * everything else. Here an id is a 64-bit fingerprint (its UUID's 128 bits folded by XOR) in
 * open-addressing tables of 32-bit words, 11-22 bytes per id, and expiry is by generation: ids go to
 * the table of the time slice their expiry falls in, and a slice's table is dropped whole once the
 * slice has passed, so nothing is ever scanned id by id.
 *
 * A fingerprint can be shared by two ids: for random (version 4) ids the chance that a new id
 * matches one of n held is n / 2^64 (4e6 held: 2e-13 per message), and such a message would be
 * taken for a resend (acknowledged, not delivered). A sender choosing ids can make its own collide,
 * which harms only its own messages; it cannot aim at another sender's ids without knowing them, and
 * knowing them it could send the same id, which an exact set refuses as well. Slots are picked with
 * a per-process random seed, so chosen ids cannot pile up on one probe chain.
 *
 * An id is remembered until the end of its slice, up to `horizonMs / (GENERATIONS - 2)` past its
 * own expiry: longer than asked, never shorter.
 */
import { randomFillSync } from 'node:crypto';

/** Time slices kept: enough that every expiry within the horizon has its own live slice. */
const GENERATIONS = 8;
const INITIAL_SLOTS = 512; // per table; a power of two
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

/** One time slice's ids: linear probing over (hi, lo) fingerprints, grown by doubling; (0, 0) is empty. */
class IdTable {
  keys = new Uint32Array(INITIAL_SLOTS * 2);
  count = 0;

  constructor(
    /** The slice this table holds (expiry / span, floored). */
    readonly generation: number,
    private readonly seeds: Uint32Array,
  ) {}

  private slot(hi: number, lo: number, mask: number): number {
    // Seeded per process: a sender choosing its ids cannot aim them at one probe chain.
    let h = Math.imul(hi ^ this.seeds[0]!, 0x9e3779b1) ^ Math.imul(lo ^ this.seeds[1]!, 0x85ebca77);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 13;
    return h & mask;
  }

  has(hi: number, lo: number): boolean {
    const keys = this.keys;
    const mask = (keys.length >>> 1) - 1;
    for (let i = this.slot(hi, lo, mask); ; i = (i + 1) & mask) {
      const a = keys[2 * i]!;
      const b = keys[2 * i + 1]!;
      if (a === hi && b === lo) return true;
      if (a === 0 && b === 0) return false;
    }
  }

  /** Adds a fingerprint that is not there yet. */
  add(hi: number, lo: number): void {
    if (this.count + 1 > (this.keys.length >>> 1) * MAX_LOAD) this.grow();
    this.place(hi, lo);
    this.count++;
  }

  private place(hi: number, lo: number): void {
    const keys = this.keys;
    const mask = (keys.length >>> 1) - 1;
    let i = this.slot(hi, lo, mask);
    while (keys[2 * i] !== 0 || keys[2 * i + 1] !== 0) i = (i + 1) & mask;
    keys[2 * i] = hi;
    keys[2 * i + 1] = lo;
  }

  private grow(): void {
    const old = this.keys;
    this.keys = new Uint32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 2)
      if (old[i] !== 0 || old[i + 1] !== 0) this.place(old[i]!, old[i + 1]!);
  }

  /** Bytes held by the typed array. */
  get bytes(): number {
    return this.keys.byteLength;
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
  private readonly seeds = randomFillSync(new Uint32Array(2));
  private readonly key = new Uint32Array(4);
  private hi = 0;
  private lo = 0;
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
    if (!this.fingerprint(id)) return false;
    this.expire(now);
    return this.held();
  }

  /**
   * Records `id` until at least `expiresAt` (at most `horizonMs` after `now`). True when recorded or
   * already there; false when the window is full of unexpired ids. Throws RangeError for an id that
   * is not a UUID or an expiry past the horizon (a caller's bug: it would be remembered too briefly).
   */
  add(id: string, expiresAt: number, now: number): boolean {
    if (!this.fingerprint(id)) throw new RangeError('a replay window holds UUIDs');
    if (!(expiresAt <= now + this.horizonMs)) throw new RangeError('expiresAt is past the horizon');
    this.expire(now);
    if (this.held()) return true;
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
    table.add(this.hi, this.lo);
    this.total++;
    return true;
  }

  /** Sets hi and lo to the id's fingerprint; false if `id` is not a UUID. */
  private fingerprint(id: string): boolean {
    const w = this.key;
    if (!uuidWords(id, w)) return false;
    // A version-4 UUID's 122 random bits folded to 64. (0, 0) marks an empty slot.
    this.hi = (w[0]! ^ w[2]!) >>> 0;
    this.lo = (w[1]! ^ w[3]!) >>> 0;
    if (this.hi === 0 && this.lo === 0) this.lo = 1;
    return true;
  }

  private held(): boolean {
    for (const t of this.tables) if (t?.has(this.hi, this.lo)) return true;
    return false;
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
