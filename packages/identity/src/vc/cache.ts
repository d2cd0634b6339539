/**
 * A bounded LRU of successful verifications, so a credential presented again (every federation
 * message carries one) costs a hash instead of JSON-LD canonicalization and a signature check.
 *
 * Keyed by sha256 of the whole credential's canonical JSON (RFC 8785), proof included. A key of
 * the proof alone would let a tampered credential that reuses a genuine proof hit the entry of the
 * genuine one; hashing everything costs about the same for credentials of a few KB.
 *
 * An entry ends at the credential's expiry, after `maxAgeMs` (so key rotation or DID deactivation
 * is seen in bounded time), after `statusMaxAgeMs` when it depends on a status list, and at once
 * when a watched status list changes. Only `verified: true` results are stored; one cache serves
 * one verifier configuration (same resolver and contexts).
 */
import { canonicalJson, sha256Hex } from '@fmp/core';

export interface CachedVerification {
  readonly issuer: string;
  readonly subject?: string | undefined;
  readonly notBefore?: number | undefined;
  /** ms since epoch after which the credential is expired. */
  readonly notAfter?: number | undefined;
  /** Status list credential URLs the result depends on. */
  readonly statusLists: readonly string[];
  /** Everything else the result reports, returned as stored. */
  readonly details: Readonly<Record<string, unknown>>;
}

interface Entry {
  readonly value: CachedVerification;
  readonly storedAt: number;
}

/** What a status list source must offer for the cache to follow its changes. */
export interface StatusListChanges {
  onChange(listener: (statusListCredential: string) => void): () => void;
}

export interface VerificationCacheOptions {
  /** Default 10 000 entries. */
  readonly maxEntries?: number;
  /** Longest an entry is trusted, default 10 minutes. */
  readonly maxAgeMs?: number;
  /** Longest an entry that depends on an unwatched status list is trusted, default 60 s. */
  readonly statusMaxAgeMs?: number;
}

export class VerificationCache {
  readonly maxEntries: number;
  readonly maxAgeMs: number;
  readonly statusMaxAgeMs: number;
  #entries = new Map<string, Entry>();
  /** status list URL -> keys of entries that depend on it, for invalidation. */
  #byStatusList = new Map<string, Set<string>>();
  #hits = 0;
  #misses = 0;

  constructor(options: VerificationCacheOptions = {}) {
    this.maxEntries = Math.max(1, Math.floor(options.maxEntries ?? 10_000));
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.statusMaxAgeMs = options.statusMaxAgeMs ?? 60_000;
  }

  /** The cache key of a credential, or null when it is not JSON (such input is never cached). */
  keyOf(credential: unknown): string | null {
    try {
      return this.keyOfCanonical(canonicalJson(credential));
    } catch {
      return null;
    }
  }

  /** The cache key of a credential given as its canonical JSON (RFC 8785) text. */
  keyOfCanonical(canonical: string): string {
    return sha256Hex(canonical);
  }

  get(key: string, nowMs: number): CachedVerification | undefined {
    const entry = this.#entries.get(key);
    if (!entry) {
      this.#misses++;
      return undefined;
    }
    const { value, storedAt } = entry;
    const age = nowMs - storedAt;
    const stale =
      (value.notAfter !== undefined && nowMs > value.notAfter) ||
      (value.notBefore !== undefined && nowMs < value.notBefore) ||
      age > this.maxAgeMs ||
      age < 0 ||
      (value.statusLists.length > 0 && age > this.statusMaxAgeMs);
    if (stale) {
      this.#delete(key);
      this.#misses++;
      return undefined;
    }
    // Refresh recency: Map iteration order is insertion order, so re-insert at the end.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#hits++;
    return value;
  }

  set(key: string, value: CachedVerification, nowMs: number): void {
    this.#delete(key);
    this.#entries.set(key, { value, storedAt: nowMs });
    for (const url of value.statusLists) {
      let keys = this.#byStatusList.get(url);
      if (!keys) {
        keys = new Set();
        this.#byStatusList.set(url, keys);
      }
      keys.add(key);
    }
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#delete(oldest);
    }
  }

  /** Drops every entry that depends on this status list. Returns how many were dropped. */
  invalidateStatusList(statusListCredential: string): number {
    const keys = this.#byStatusList.get(statusListCredential);
    if (!keys) return 0;
    const n = keys.size;
    for (const key of [...keys]) this.#delete(key);
    this.#byStatusList.delete(statusListCredential);
    return n;
  }

  /** Follows a status list source (e.g. a StatusListRegistry). Returns the unsubscribe function. */
  watch(source: StatusListChanges): () => void {
    return source.onChange((url) => this.invalidateStatusList(url));
  }

  clear(): void {
    this.#entries.clear();
    this.#byStatusList.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  get stats(): { hits: number; misses: number; size: number } {
    return { hits: this.#hits, misses: this.#misses, size: this.#entries.size };
  }

  #delete(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    for (const url of entry.value.statusLists) {
      const keys = this.#byStatusList.get(url);
      keys?.delete(key);
      if (keys && keys.size === 0) this.#byStatusList.delete(url);
    }
  }
}
