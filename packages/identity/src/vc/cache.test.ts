import { canonicalJson, credentialsHash, type VerifiableCredentialJson } from '@fmp/core';
import { describe, expect, it } from 'vitest';
import { handshakeCredentialVerifier } from '../federation.js';
import { VerificationCache } from './cache.js';
import { issueMeshAgentCredential } from './issue.js';
import { StatusListRegistry } from './status.js';
import { cloneAs, didKeyIdentity, staticResolver } from './test-support.js';
import { verifyCachedCredential, verifyCredential } from './verify.js';

const issuer = didKeyIdentity();
const other = didKeyIdentity();
const T0 = new Date('2025-10-30T00:00:00Z');
const T1 = new Date('2026-10-30T00:00:00Z');
const NOW = new Date('2026-01-01T00:00:00Z');
const LIST = 'https://hub.example/status/7';
const agent = {
  id: 'did:mesh:enterprise:acme-001',
  meshCapabilities: ['ml.inference'],
  complianceCertifications: ['GDPR'],
  trustLevel: 85,
};
const at = (ms: number) => new Date(NOW.getTime() + ms);

function codes(result: { errors: readonly { code: string }[] }): string[] {
  return result.errors.map((e) => e.code);
}

/** A resolver, an empty cache and a credential valid from T0 to T1. */
async function setUp() {
  const vc = await issueMeshAgentCredential({
    signer: issuer.signer,
    subject: agent,
    now: T0,
    validUntil: T1,
  });
  return { resolveDid: staticResolver(issuer.document), cache: new VerificationCache(), vc };
}

describe('VerificationCache', () => {
  it('a repeated credential is answered from the cache without resolving or verifying again', async () => {
    const { resolveDid, cache, vc } = await setUp();
    const first = await verifyCredential(vc, { resolveDid, now: NOW, cache });
    expect(first).toMatchObject({ verified: true, cached: false });
    const calls = resolveDid.calls.length;

    const second = await verifyCredential(structuredClone(vc), { resolveDid, now: at(1000), cache });
    expect(second).toEqual({ ...first, cached: true });
    expect(resolveDid.calls.length).toBe(calls);
    expect(cache.stats).toMatchObject({ hits: 1, size: 1 });
  });

  it("takes the caller's key for the credential, and answers from it as it was verified", async () => {
    const { resolveDid, cache, vc } = await setUp();
    const key = cache.keyOfCanonical(canonicalJson(vc));
    const first = await verifyCredential(vc, { resolveDid, now: NOW, cache, cacheKey: key });
    expect(first).toMatchObject({ verified: true, cached: false });
    expect(cache.keyOf(vc)).toBe(key);
    // Kept compact (dates as numbers, shared lists), given back as verify gave it.
    expect(verifyCachedCredential(key, { resolveDid, now: NOW, cache })).toEqual({ ...first, cached: true });
    expect(await verifyCredential(vc, { resolveDid, now: NOW, cache })).toEqual({ ...first, cached: true });
    const again = await verifyCredential(vc, { resolveDid, now: NOW, cache });
    expect(again.validFrom).toBeInstanceOf(Date);
    expect(again.expiresAt).toEqual(T1);
    // A caller editing its result does not change what the cache gives next.
    (again.types as string[]).push('Edited');
    (again.meshAgent!.meshCapabilities as string[]).push('edited');
    (again.meshAgent!.complianceCertifications as string[]).push('edited');
    (again.meshAgent as { trustLevel: number }).trustLevel = 1;
    again.expiresAt!.setTime(0);
    expect(await verifyCredential(vc, { resolveDid, now: NOW, cache })).toEqual({ ...first, cached: true });
  });

  it("files a credential under the handshake's credentialsHash of it, non-ASCII text included", async () => {
    const { cache, vc } = await setUp();
    const named = { ...vc, name: 'Zürich – 東京 \u{1F600}' } as unknown as VerifiableCredentialJson;
    expect(cache.keyOf(named)).toBe(credentialsHash(named));
    expect(cache.keyOf(vc)).toBe(credentialsHash(vc as unknown as VerifiableCredentialJson));
  });

  it("the handshake's verifier files the credential under the hash the handshake hands over", async () => {
    const { resolveDid, cache, vc } = await setUp();
    const verify = handshakeCredentialVerifier({ resolveDid, now: NOW, cache });
    const hash = credentialsHash(vc as unknown as VerifiableCredentialJson);
    const first = await verify(vc, { canonicalHash: hash });
    expect(first).toMatchObject({ verified: true, subject: agent.id, result: { cached: false } });
    expect(cache.size).toBe(1);
    // The same entry, whether the key is handed over or computed.
    expect((await verify(vc)).result.cached).toBe(true);
    expect((await verify(vc, { canonicalHash: hash })).result.cached).toBe(true);
    expect(cache.size).toBe(1);
  });

  it('a tampered credential reusing a cached proof is not a hit', async () => {
    const resolveDid = staticResolver(issuer.document);
    const cache = new VerificationCache();
    const vc = await issueMeshAgentCredential({ signer: issuer.signer, subject: agent, now: T0 });
    await verifyCredential(vc, { resolveDid, now: NOW, cache });
    const tampered = cloneAs<{ credentialSubject: { trustLevel: number } }>(vc);
    tampered.credentialSubject.trustLevel = 100;
    const result = await verifyCredential(tampered, { resolveDid, now: NOW, cache });
    expect(result.cached).toBe(false);
    expect(codes(result)).toEqual(['invalid_proof']);
    expect(cache.size).toBe(1);
  });

  it('entries end at the credential expiry', async () => {
    const resolveDid = staticResolver(issuer.document);
    const cache = new VerificationCache({ maxAgeMs: Number.POSITIVE_INFINITY });
    const vc = await issueMeshAgentCredential({
      signer: issuer.signer,
      subject: agent,
      now: T0,
      validUntil: T1,
    });
    await verifyCredential(vc, { resolveDid, now: NOW, cache });
    expect((await verifyCredential(vc, { resolveDid, now: T1, cache })).cached).toBe(true);
    const late = await verifyCredential(vc, { resolveDid, now: new Date(T1.getTime() + 1), cache });
    expect(late).toMatchObject({ verified: false, cached: false });
    expect(codes(late)).toEqual(['expired']);
    expect(cache.size).toBe(0);
  });

  it('a watched status list change drops dependent entries at once', async () => {
    const resolveDid = staticResolver(issuer.document);
    const registry = await StatusListRegistry.create({
      id: LIST,
      signer: issuer.signer,
      length: 64,
      now: () => T0,
    });
    const cache = new VerificationCache({ statusMaxAgeMs: Number.POSITIVE_INFINITY });
    const unwatch = cache.watch(registry);
    const status = registry.allocate();
    const vc = await issueMeshAgentCredential({ signer: issuer.signer, subject: agent, now: T0, status });
    const opts = { resolveDid, now: NOW, cache, statusListLoader: registry.loader };

    expect((await verifyCredential(vc, opts)).verified).toBe(true);
    expect((await verifyCredential(vc, opts)).cached).toBe(true);
    await registry.revoke(status.statusListIndex);
    const revoked = await verifyCredential(vc, opts);
    expect(revoked).toMatchObject({ verified: false, cached: false });
    expect(codes(revoked)).toEqual(['revoked']);
    unwatch();
  });

  it('entries that depend on an unwatched status list expire after statusMaxAgeMs', async () => {
    const resolveDid = staticResolver(issuer.document);
    const registry = await StatusListRegistry.create({
      id: LIST,
      signer: issuer.signer,
      length: 64,
      now: () => T0,
    });
    const cache = new VerificationCache({ statusMaxAgeMs: 60_000 });
    const status = registry.allocate();
    const vc = await issueMeshAgentCredential({ signer: issuer.signer, subject: agent, now: T0, status });
    const opts = { resolveDid, cache, statusListLoader: registry.loader };
    await verifyCredential(vc, { ...opts, now: NOW });
    await registry.revoke(status.statusListIndex);
    // Within the window the cached answer stands (the documented staleness bound)...
    expect((await verifyCredential(vc, { ...opts, now: at(59_000) })).cached).toBe(true);
    // ...and after it the list is read again.
    expect(codes(await verifyCredential(vc, { ...opts, now: at(60_001) }))).toEqual(['revoked']);
  });

  it('trusted issuers are checked on every hit', async () => {
    const resolveDid = staticResolver(issuer.document);
    const cache = new VerificationCache();
    const vc = await issueMeshAgentCredential({ signer: issuer.signer, subject: agent, now: T0 });
    await verifyCredential(vc, { resolveDid, now: NOW, cache });
    const result = await verifyCredential(vc, { resolveDid, now: NOW, cache, trustedIssuers: [other.did] });
    expect(result).toMatchObject({ verified: false, cached: true });
    expect(codes(result)).toEqual(['untrusted_issuer']);
  });

  it('is bounded: the least recently used entry is evicted', async () => {
    const resolveDid = staticResolver(issuer.document);
    const cache = new VerificationCache({ maxEntries: 2 });
    const vcs = await Promise.all(
      [1, 2, 3].map((n) =>
        issueMeshAgentCredential({ signer: issuer.signer, subject: { ...agent, trustLevel: n }, now: T0 }),
      ),
    );
    const [a, b, c] = vcs as [(typeof vcs)[0], (typeof vcs)[0], (typeof vcs)[0]];
    await verifyCredential(a, { resolveDid, now: NOW, cache });
    await verifyCredential(b, { resolveDid, now: NOW, cache });
    expect((await verifyCredential(a, { resolveDid, now: NOW, cache })).cached).toBe(true); // a is now recent
    await verifyCredential(c, { resolveDid, now: NOW, cache }); // evicts b
    expect(cache.size).toBe(2);
    expect((await verifyCredential(a, { resolveDid, now: NOW, cache })).cached).toBe(true);
    expect((await verifyCredential(b, { resolveDid, now: NOW, cache })).cached).toBe(false);
  });

  it('failures are not cached and non-JSON values have no key', async () => {
    const cache = new VerificationCache();
    await verifyCredential({ nope: true }, { resolveDid: staticResolver(), cache });
    expect(cache.size).toBe(0);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(cache.keyOf(cyclic)).toBeNull();
    expect(cache.keyOf(10n)).toBeNull();
    // JSON semantics, as verification itself reads the input: undefined members do not exist.
    expect(cache.keyOf({ a: 2, b: undefined })).toBe(cache.keyOf({ a: 2 }));
    expect(cache.keyOf({ b: 1, a: 2 })).toBe(cache.keyOf({ a: 2, b: 1 }));
  });
});
