/**
 * One resolver over several DID methods: never throws for a resolution failure (the result carries
 * the error), caches successful results in an O(1) LRU with a TTL, and coalesces concurrent
 * resolutions of the same DID. Results are deep-frozen once, so a cache hit is a Map lookup.
 */
import { FmpError, NotImplementedError } from '@fmp/core';
import { DidMethodError } from './errors.js';
import type { DidMethod } from './method.js';
import { parseDid, parseDidUrl } from './parse.js';
import type { DidDocument, DidResolutionMetadata, DidResolutionResult } from './types.js';

export interface DidResolverOptions {
  readonly methods: readonly DidMethod[];
  /** Default { ttlMs: 300_000, maxEntries: 10_000 }; `false` disables caching. */
  readonly cache?: { readonly ttlMs?: number; readonly maxEntries?: number } | false;
  /** Clock for cache expiry (ms). Default Date.now. */
  readonly now?: () => number;
  /**
   * At most this many distinct DIDs are coalesced at once (default 1024). Beyond it, a resolution
   * runs on its own rather than waiting: the bound is on the map, not on callers.
   */
  readonly maxInFlight?: number;
}

/** DID Core's `versionId` / `versionTime` DID parameters, as resolution options. */
export interface DidVersionOptions {
  /** The document as of this version (did:mesh: the operation's seq, as `versionId` in metadata). */
  readonly versionId?: string;
  /** The document in force at this time (an ISO 8601 / RFC 3339 date-time). */
  readonly versionTime?: string;
}

export interface DidResolver {
  /**
   * Resolves a DID (no path, query or fragment), or with `options` one of its earlier documents
   * (methods that keep their history; the others answer `invalidOptions`). Never rejects.
   */
  resolve(did: string, options?: DidVersionOptions): Promise<DidResolutionResult>;
  /** The document, or null on any error or when deactivated. Accepts a DID URL (its DID part is resolved). */
  resolveDocument(didOrDidUrl: string): Promise<DidDocument | null>;
  /** Drops a DID from the cache (e.g. after a did:mesh update). */
  invalidate(did: string): void;
  /** Drops every cached result. */
  clear(): void;
}

interface CacheEntry {
  readonly result: DidResolutionResult;
  readonly expires: number;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function errorResult(error: DidResolutionMetadata['error'], message: string): DidResolutionResult {
  return { didDocument: null, didResolutionMetadata: { error, message }, didDocumentMetadata: {} };
}

function toErrorResult(cause: unknown): DidResolutionResult {
  if (cause instanceof DidMethodError) return errorResult(cause.resolutionError, cause.message);
  if (cause instanceof NotImplementedError) return errorResult('notImplemented', cause.message);
  if (cause instanceof FmpError) return errorResult('internalError', `${cause.code}: ${cause.message}`);
  return errorResult('internalError', cause instanceof Error ? cause.message : 'resolution failed');
}

export function createDidResolver(options: DidResolverOptions): DidResolver {
  const methods = new Map<string, DidMethod>();
  for (const m of options.methods) methods.set(m.method, m);
  const now = options.now ?? Date.now;
  const cacheOn = options.cache !== false;
  const ttlMs = (options.cache || undefined)?.ttlMs ?? 300_000;
  const maxEntries = Math.max(1, (options.cache || undefined)?.maxEntries ?? 10_000);
  const maxInFlight = options.maxInFlight ?? 1024;
  // A Map iterates in insertion order: deleting and re-inserting on a hit keeps the LRU at the front.
  const cache = new Map<string, CacheEntry>();
  const inFlight = new Map<string, Promise<DidResolutionResult>>();

  // Bumped by invalidate/clear so a resolution that started before them does not cache a stale result.
  let generation = 0;

  async function resolveUncached(
    did: string,
    key: string,
    version: DidVersionOptions | undefined,
  ): Promise<DidResolutionResult> {
    const startedAt = generation;
    let result: DidResolutionResult;
    try {
      const parsed = parseDid(did); // a DID URL (path, query, fragment) is invalidDid here
      const method = methods.get(parsed.method);
      if (!method) return errorResult('methodNotSupported', `did:${parsed.method} is not supported here`);
      if (version && !method.versions) {
        return errorResult('invalidOptions', `did:${parsed.method} has no versions to resolve`);
      }
      const out = await method.resolve(parsed, version);
      const document = out.didDocument;
      result = deepFreeze({
        didDocument: document,
        didResolutionMetadata: {
          contentType:
            document['@context'] === undefined ? 'application/did+json' : 'application/did+ld+json',
          ...out.didResolutionMetadata,
        },
        didDocumentMetadata: out.didDocumentMetadata ?? {},
      });
    } catch (cause) {
      return toErrorResult(cause);
    }
    // A versionId names a document that never changes; a versionTime may name the head, which does.
    if (cacheOn && startedAt === generation && version?.versionTime === undefined) {
      cache.set(key, { result, expires: now() + ttlMs });
      if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
    }
    return result;
  }

  function resolve(did: string, options?: DidVersionOptions): Promise<DidResolutionResult> {
    const version =
      options && (options.versionId !== undefined || options.versionTime !== undefined)
        ? {
            ...(options.versionId !== undefined ? { versionId: options.versionId } : {}),
            ...(options.versionTime !== undefined ? { versionTime: options.versionTime } : {}),
          }
        : undefined;
    // A version is cached under the DID with its parameters (a DID URL no plain DID can equal).
    const key = version ? `${did}?${new URLSearchParams(version as Record<string, string>).toString()}` : did;
    if (cacheOn) {
      const hit = cache.get(key);
      if (hit) {
        cache.delete(key);
        if (hit.expires > now()) {
          cache.set(key, hit);
          return Promise.resolve(hit.result);
        }
      }
    }
    if (typeof did !== 'string') return Promise.resolve(errorResult('invalidDid', 'a DID must be a string'));
    const pending = inFlight.get(key);
    if (pending) return pending;
    const run = resolveUncached(did, key, version);
    if (inFlight.size < maxInFlight) {
      inFlight.set(key, run);
      void run.finally(() => {
        if (inFlight.get(key) === run) inFlight.delete(key);
      });
    }
    return run;
  }

  return {
    resolve,
    async resolveDocument(didOrDidUrl) {
      let did: string;
      try {
        did = parseDidUrl(didOrDidUrl).did;
      } catch {
        return null;
      }
      const result = await resolve(did);
      return result.didDocumentMetadata.deactivated ? null : result.didDocument;
    },
    invalidate(did) {
      generation++;
      cache.delete(did);
      inFlight.delete(did);
    },
    clear() {
      generation++;
      cache.clear();
      inFlight.clear();
    },
  };
}
