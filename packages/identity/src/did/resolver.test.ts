import { ed25519 } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { DidNotFoundError, InvalidDidError } from './errors.js';
import { didEthr } from './ethr.js';
import { didIon } from './ion.js';
import { didKey, didKeyFromEd25519PublicKey } from './key.js';
import { didMesh } from './mesh/method.js';
import { buildMeshCreate } from './mesh/operations.js';
import { MeshRegistry } from './mesh/registry.js';
import type { DidMethod } from './method.js';
import { parseDid, parseDidUrl } from './parse.js';
import { createDidResolver } from './resolver.js';
import type { DidDocument, DidResolutionResult } from './types.js';
import { didWeb } from './web.js';

const did = didKeyFromEd25519PublicKey(ed25519.keyPairFromSeed(new Uint8Array(32).fill(1)).publicKey);

/** A method that counts calls and can be held open, to observe caching and coalescing. */
function countingMethod() {
  let calls = 0;
  let release: (() => void) | undefined;
  let hold = false;
  const method: DidMethod = {
    method: 'test',
    async resolve(parsed) {
      calls++;
      if (hold) await new Promise<void>((r) => (release = r));
      if (parsed.id === 'missing') throw new DidNotFoundError('missing');
      if (parsed.id === 'crash') throw new TypeError('bug');
      return { didDocument: { id: parsed.did, n: calls } };
    },
  };
  return {
    method,
    calls: () => calls,
    hold: (on: boolean) => {
      hold = on;
    },
    release: () => release?.(),
  };
}

describe('parseDid / parseDidUrl', () => {
  it('splits DIDs and DID URLs per DID Core', () => {
    expect(parseDid('did:mesh:enterprise:acme-001')).toEqual({
      did: 'did:mesh:enterprise:acme-001',
      method: 'mesh',
      id: 'enterprise:acme-001',
    });
    expect(parseDid('did:web:example.com%3A8443')).toMatchObject({ method: 'web', id: 'example.com%3A8443' });
    expect(parseDidUrl('did:example:123/path?versionId=1#key-1')).toMatchObject({
      did: 'did:example:123',
      path: '/path',
      query: 'versionId=1',
      fragment: 'key-1',
    });
    for (const bad of [
      '',
      'did:',
      'did:a',
      'did:A:b',
      'did:a:',
      'did:a:b:',
      'did:a:b c',
      'did:a:%zz',
      'DID:a:b',
      'did:a:b#c',
    ]) {
      expect(() => parseDid(bad), bad).toThrow(InvalidDidError);
    }
    expect(() => parseDidUrl('did:a:b#c d')).toThrow(InvalidDidError);
  });

  it('random strings never crash the parser: valid or InvalidDidError', () => {
    const didish = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc
        .tuple(fc.constantFrom('did:', 'did:key:', 'did:mesh:', 'did:web:', 'did:x:'), fc.string())
        .map(([a, b]) => a + b),
    );
    fc.assert(
      fc.property(didish, (s) => {
        for (const parse of [parseDid, parseDidUrl]) {
          try {
            parse(s);
          } catch (e) {
            expect(e).toBeInstanceOf(InvalidDidError);
          }
        }
      }),
    );
  });
});

describe('createDidResolver', () => {
  it('has the documented public types', () => {
    const r = createDidResolver({ methods: [] });
    expectTypeOf(r.resolve).returns.resolves.toEqualTypeOf<DidResolutionResult>();
    expectTypeOf(r.resolveDocument).toEqualTypeOf<(did: string) => Promise<DidDocument | null>>();
  });

  it('never throws: random input yields invalidDid or methodNotSupported', async () => {
    const registry = await MeshRegistry.open();
    const resolver = createDidResolver({
      methods: [
        didKey(),
        didMesh({ registry }),
        didWeb({ fetch: async () => new Response('{}', { status: 404 }) }),
        didEthr(),
        didIon(),
      ],
    });
    const input = fc.oneof(
      fc.string(),
      fc
        .tuple(
          fc.constantFrom('did:', 'did:foo:', 'did:key:z', 'did:mesh:enterprise:', 'did:ion:', 'did:ethr:0x'),
          fc.string(),
        )
        .map(([a, b]) => a + b),
    );
    await fc.assert(
      fc.asyncProperty(input, async (s) => {
        const result = await resolver.resolve(s);
        if (result.didDocument) return; // a random string can be a valid did:key/did:ethr
        expect(['invalidDid', 'methodNotSupported', 'notFound', 'methodNotConfigured']).toContain(
          result.didResolutionMetadata.error,
        );
        expect(typeof result.didResolutionMetadata.message).toBe('string');
      }),
      { numRuns: 300 },
    );
    expect((await resolver.resolve('hello')).didResolutionMetadata.error).toBe('invalidDid');
    expect((await resolver.resolve('did:foo:bar')).didResolutionMetadata.error).toBe('methodNotSupported');
    expect((await resolver.resolve(`${did}#frag`)).didResolutionMetadata.error).toBe('invalidDid');
    expect((await resolver.resolve(42 as unknown as string)).didResolutionMetadata.error).toBe('invalidDid');
  });

  it('caches results in an LRU with a TTL on an injected clock', async () => {
    let t = 1_000;
    const m = countingMethod();
    const resolver = createDidResolver({
      methods: [m.method],
      cache: { ttlMs: 100, maxEntries: 2 },
      now: () => t,
    });
    const first = await resolver.resolve('did:test:a');
    expect(await resolver.resolve('did:test:a')).toBe(first);
    expect(m.calls()).toBe(1);
    expect(Object.isFrozen(first.didDocument)).toBe(true);

    await resolver.resolve('did:test:b');
    await resolver.resolve('did:test:a'); // a is now most recent
    await resolver.resolve('did:test:c'); // evicts b
    expect(m.calls()).toBe(3);
    await resolver.resolve('did:test:a');
    expect(m.calls()).toBe(3);
    await resolver.resolve('did:test:b');
    expect(m.calls()).toBe(4);

    t += 101; // expired
    await resolver.resolve('did:test:b');
    expect(m.calls()).toBe(5);

    resolver.invalidate('did:test:b');
    await resolver.resolve('did:test:b');
    expect(m.calls()).toBe(6);

    // Errors are not cached.
    await resolver.resolve('did:test:missing');
    await resolver.resolve('did:test:missing');
    expect(m.calls()).toBe(8);
    resolver.clear();
    await resolver.resolve('did:test:b');
    expect(m.calls()).toBe(9);
  });

  it('coalesces concurrent resolutions of one DID, and maps unexpected failures to internalError', async () => {
    const m = countingMethod();
    const resolver = createDidResolver({ methods: [m.method], cache: false });
    m.hold(true);
    const all = Promise.all([1, 2, 3].map(() => resolver.resolve('did:test:a')));
    await new Promise((r) => setTimeout(r, 5));
    m.release();
    const results = await all;
    expect(m.calls()).toBe(1);
    expect(results[0]).toBe(results[2]);
    m.hold(false);
    expect(await resolver.resolve('did:test:crash')).toMatchObject({
      didDocument: null,
      didResolutionMetadata: { error: 'internalError', message: 'bug' },
    });
    expect(await resolver.resolve('did:test:missing')).toMatchObject({
      didResolutionMetadata: { error: 'notFound' },
    });
  });

  it('an invalidate during a resolution keeps the stale answer out of the cache', async () => {
    const m = countingMethod();
    const resolver = createDidResolver({ methods: [m.method] });
    m.hold(true);
    const pending = resolver.resolve('did:test:a');
    await new Promise((r) => setTimeout(r, 5));
    resolver.invalidate('did:test:a');
    m.release();
    await pending;
    m.hold(false);
    await resolver.resolve('did:test:a');
    expect(m.calls()).toBe(2);
  });

  it('resolveDocument takes a DID URL and hands the VC layer a plain (did) => document | null', async () => {
    const registry = await MeshRegistry.open();
    const key = ed25519.keyPairFromSeed(new Uint8Array(32).fill(4));
    await registry.append(
      buildMeshCreate({
        did: 'did:mesh:hub:eu',
        key,
        nextPublicKey: ed25519.keyPairFromSeed(new Uint8Array(32).fill(5)).publicKey,
      }),
    );
    const resolver = createDidResolver({ methods: [didKey(), didMesh({ registry })] });
    const resolveDid: (did: string) => Promise<DidDocument | null> = resolver.resolveDocument;
    expect((await resolveDid(`${did}#${did.slice(8)}`))?.id).toBe(did);
    expect((await resolveDid('did:mesh:hub:eu#key-1'))?.id).toBe('did:mesh:hub:eu');
    expect(await resolveDid('did:mesh:hub:nobody')).toBeNull();
    expect(await resolveDid('not a did')).toBeNull();
  });
});
