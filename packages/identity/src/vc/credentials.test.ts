import { canonicalJson, ed25519, ValidationError } from '@fmp/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VerificationCache } from './cache.js';
import {
  BUNDLED_CONTEXTS,
  createDocumentLoader,
  ED25519_2020_CONTEXT_URL,
  FMP_CONTEXT_V1_URL,
  VC_V1_CONTEXT_URL,
  VC_V2_CONTEXT_URL,
} from './contexts.js';
import {
  CredentialIssuanceError,
  DidResolutionError,
  UnknownContextError,
  VerificationMethodNotFoundError,
} from './errors.js';
import { type DataModel, issueCredential, issueMeshAgentCredential, signCredential } from './issue.js';
import { PROOF_SUITES } from './suites.js';
import { cloneAs, didKeyIdentity, staticResolver } from './test-support.js';
import { verifyCachedCredential, verifyCredential } from './verify.js';

const issuer = didKeyIdentity();
const other = didKeyIdentity();
const resolveDid = staticResolver(issuer.document, other.document);
const T0 = new Date('2025-10-30T00:00:00Z');
const T1 = new Date('2026-10-30T00:00:00Z');
const DURING = new Date('2026-01-01T00:00:00Z');
const agent = {
  id: 'did:mesh:enterprise:acme-001',
  meshCapabilities: ['ml.inference', 'data.processing'],
  complianceCertifications: ['GDPR', 'SOC2'],
  trustLevel: 85,
};
const MODELS: DataModel[] = ['1.1', '2.0'];

function codes(result: { errors: readonly { code: string }[] }): string[] {
  return result.errors.map((e) => e.code);
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('document loader', () => {
  it('serves every bundled context and refuses anything else with UnknownContextError', async () => {
    const load = createDocumentLoader();
    for (const url of [
      VC_V1_CONTEXT_URL,
      VC_V2_CONTEXT_URL,
      ED25519_2020_CONTEXT_URL,
      'https://w3id.org/security/data-integrity/v1',
      'https://w3id.org/security/data-integrity/v2',
      'https://w3id.org/security/multikey/v1',
      'https://www.w3.org/ns/credentials/status/v1',
      'https://www.w3.org/ns/did/v1',
      FMP_CONTEXT_V1_URL,
    ]) {
      const doc = await load(url);
      expect(doc.documentUrl).toBe(url);
      expect(doc.document['@context']).toBeDefined();
    }
    const error = await load('https://example.com/contexts/v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownContextError);
    expect((error as UnknownContextError).url).toBe('https://example.com/contexts/v1');
    expect((error as UnknownContextError).code).toBe('unknown_context');
  });

  it('the fmp context defines the spec 4.3 terms, protected', () => {
    const ctx = BUNDLED_CONTEXTS.get(FMP_CONTEXT_V1_URL)?.['@context'] as Record<string, unknown>;
    expect(ctx['@protected']).toBe(true);
    expect(Object.keys(ctx)).toEqual(
      expect.arrayContaining([
        'MeshAgentCredential',
        'meshCapabilities',
        'complianceCertifications',
        'trustLevel',
      ]),
    );
    expect((ctx.trustLevel as Record<string, string>)['@type']).toBe(
      'http://www.w3.org/2001/XMLSchema#integer',
    );
  });

  it('returns a DID URL fragment as its verification method with @context, and absolutizes #ids', async () => {
    const did = 'did:example:relative';
    const load = createDocumentLoader({
      resolveDid: staticResolver({
        id: did,
        verificationMethod: [
          { id: '#key-1', type: 'Ed25519VerificationKey2020', controller: did, publicKeyMultibase: 'z6Mk' },
        ],
        assertionMethod: ['#key-1'],
      }),
    });
    const vm = await load(`${did}#key-1`);
    expect(vm.document).toMatchObject({ id: `${did}#key-1`, '@context': [ED25519_2020_CONTEXT_URL] });
    const doc = await load(did);
    expect(doc.document.assertionMethod).toEqual([`${did}#key-1`]);
    expect((doc.document['@context'] as string[])[0]).toBe('https://www.w3.org/ns/did/v1');
    await expect(load(`${did}#key-2`)).rejects.toBeInstanceOf(VerificationMethodNotFoundError);
  });

  it('rejects unresolvable DIDs and documents for another DID', async () => {
    const load = createDocumentLoader({ resolveDid: async () => ({ id: 'did:example:someone-else' }) });
    await expect(load('did:example:me#key-1')).rejects.toBeInstanceOf(DidResolutionError);
    await expect(createDocumentLoader()('did:example:me')).rejects.toBeInstanceOf(DidResolutionError);
    const throwing = createDocumentLoader({
      resolveDid: async () => {
        throw new Error('boom');
      },
    });
    await expect(throwing('did:example:me')).rejects.toBeInstanceOf(DidResolutionError);
  });
});

describe('issue and verify', () => {
  for (const suite of PROOF_SUITES) {
    for (const dataModel of MODELS) {
      it(`MeshAgentCredential, ${suite}, VC ${dataModel}`, async () => {
        const vc = await issueMeshAgentCredential({
          signer: issuer.signer,
          subject: agent,
          suite,
          dataModel,
          now: T0,
          validUntil: T1,
          id: 'urn:uuid:4b0e8e5e-1b8e-4d5e-9f53-5d1c8f0b1a01',
        });
        expect(vc['@context']).toContain(FMP_CONTEXT_V1_URL);
        expect(vc.type).toEqual(['VerifiableCredential', 'MeshAgentCredential']);
        expect(vc[dataModel === '1.1' ? 'issuanceDate' : 'validFrom']).toBe('2025-10-30T00:00:00Z');
        expect(vc[dataModel === '1.1' ? 'expirationDate' : 'validUntil']).toBe('2026-10-30T00:00:00Z');
        expect(vc.proof.type).toBe(suite === 'Ed25519Signature2020' ? suite : 'DataIntegrityProof');

        const result = await verifyCredential(vc, { resolveDid, now: DURING });
        expect(result.errors).toEqual([]);
        expect(result).toMatchObject({
          verified: true,
          issuer: issuer.did,
          subject: agent.id,
          proofSuite: suite,
          verificationMethod: issuer.verificationMethod,
          meshAgent: agent,
          cached: false,
        });
        expect(result.expiresAt).toEqual(T1);

        const tampered = cloneAs<{ credentialSubject: { trustLevel: number } }>(vc);
        tampered.credentialSubject.trustLevel = 99;
        const bad = await verifyCredential(tampered, { resolveDid, now: DURING });
        expect(bad.verified).toBe(false);
        expect(codes(bad)).toEqual(['invalid_proof']);
      });

      it(`plain credential uses only standard W3C contexts, ${suite}, VC ${dataModel}`, async () => {
        // VC 1.1 defines no claim terms (safe mode rejects undefined ones); 2.0 has a fallback vocab.
        const subject = dataModel === '1.1' ? { id: other.did } : { id: other.did, name: 'Acme Mesh' };
        const vc = await issueCredential({ signer: issuer.signer, subject, suite, dataModel, now: T0 });
        for (const url of vc['@context']) {
          expect(typeof url === 'string' && /^https:\/\/(www\.w3\.org|w3id\.org\/security)\//.test(url)).toBe(
            true,
          );
        }
        const result = await verifyCredential(vc, { resolveDid, now: DURING });
        expect(result.errors).toEqual([]);
        expect(result.verified).toBe(true);
      });
    }

    it(`${suite}: accepts a Multikey-typed verification method (the Data Integrity view of the key)`, async () => {
      const mk = didKeyIdentity(ed25519.generateKeyPair(), { keyType: 'Multikey' });
      const vc = await issueMeshAgentCredential({ signer: mk.signer, subject: agent, suite, now: T0 });
      const result = await verifyCredential(vc, { resolveDid: staticResolver(mk.document), now: DURING });
      expect(result.errors).toEqual([]);
    });

    it(`${suite}: a signature by another key fails`, async () => {
      // Signed with `other`'s key but naming the issuer's verification method.
      const forger = { ...issuer.signer, keyPair: other.signer.keyPair };
      const vc = await issueMeshAgentCredential({ signer: forger, subject: agent, suite, now: T0 });
      const result = await verifyCredential(vc, { resolveDid, now: DURING });
      expect(codes(result)).toEqual(['invalid_proof']);
    });

    it(`${suite}: an issuer that does not control the key fails the binding`, async () => {
      // Genuinely signed by `other`, but claiming `issuer` as the issuer.
      const vc = await issueMeshAgentCredential({
        signer: { ...other.signer, issuer: issuer.did },
        subject: agent,
        suite,
        now: T0,
      });
      const result = await verifyCredential(vc, { resolveDid, now: DURING });
      expect(codes(result)).toEqual(['verification_method_mismatch']);
    });
  }

  it('a key that is not an assertionMethod of its DID fails the binding', async () => {
    const authOnly = didKeyIdentity(ed25519.generateKeyPair(), { relationships: ['authentication'] });
    const vc = await issueMeshAgentCredential({ signer: authOnly.signer, subject: agent, now: T0 });
    const result = await verifyCredential(vc, { resolveDid: staticResolver(authOnly.document), now: DURING });
    expect(codes(result)).toEqual(['verification_method_mismatch']);
  });

  it('expired and not-yet-valid credentials fail against the injected clock', async () => {
    for (const dataModel of MODELS) {
      const vc = await issueMeshAgentCredential({
        signer: issuer.signer,
        subject: agent,
        dataModel,
        now: T0,
        validUntil: T1,
      });
      const late = await verifyCredential(vc, { resolveDid, now: new Date(T1.getTime() + 1000) });
      expect(codes(late)).toEqual(['expired']);
      expect(late.expiresAt).toEqual(T1);
      const early = await verifyCredential(vc, { resolveDid, now: new Date(T0.getTime() - 1000) });
      expect(codes(early)).toEqual(['not_yet_valid']);
      expect((await verifyCredential(vc, { resolveDid, now: T1 })).verified).toBe(true);
    }
  });

  it('trusted issuers: others fail with untrusted_issuer', async () => {
    const vc = await issueMeshAgentCredential({ signer: issuer.signer, subject: agent, now: T0 });
    expect(
      (await verifyCredential(vc, { resolveDid, now: DURING, trustedIssuers: [issuer.did] })).verified,
    ).toBe(true);
    const result = await verifyCredential(vc, {
      resolveDid,
      now: DURING,
      trustedIssuers: new Set([other.did]),
    });
    expect(codes(result)).toEqual(['untrusted_issuer']);
  });

  it('an unresolvable issuer DID fails with unresolvable_verification_method', async () => {
    const vc = await issueMeshAgentCredential({ signer: issuer.signer, subject: agent, now: T0 });
    const result = await verifyCredential(vc, { resolveDid: staticResolver(), now: DURING });
    expect(codes(result)).toEqual(['unresolvable_verification_method']);
  });

  it('unknown contexts fail with a typed error and nothing is fetched', async () => {
    const fetchSpy = vi.fn(async () => {
      throw new Error('network used');
    });
    vi.stubGlobal('fetch', fetchSpy);
    const unknown = 'https://evil.example/contexts/v1';

    await expect(
      issueCredential({ signer: issuer.signer, subject: { id: other.did }, contexts: [unknown], now: T0 }),
    ).rejects.toBeInstanceOf(UnknownContextError);

    // At the top level: refused before any JSON-LD work.
    const vc = await issueMeshAgentCredential({ signer: issuer.signer, subject: agent, now: T0 });
    const top = await verifyCredential(
      { ...vc, '@context': [...vc['@context'], unknown] },
      { resolveDid, now: DURING },
    );
    expect(top.errors).toEqual([{ code: 'unknown_context', message: expect.stringContaining(unknown) }]);

    // Nested, in a credential genuinely signed with eddsa-jcs-2022 (which never runs JSON-LD, so
    // signing did not notice): found by the scan of the whole document.
    const nested = await signCredential(
      {
        '@context': [VC_V2_CONTEXT_URL],
        type: ['VerifiableCredential'],
        issuer: issuer.did,
        credentialSubject: { '@context': { '@import': unknown }, id: other.did },
      },
      { signer: issuer.signer, suite: 'eddsa-jcs-2022', now: T0 },
    );
    const inner = await verifyCredential(nested, { resolveDid, now: DURING });
    expect(inner.errors).toEqual([{ code: 'unknown_context', message: expect.stringContaining(unknown) }]);

    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it('a MeshAgentCredential without the fmp context or with bad claims is malformed', async () => {
    const vc = await issueMeshAgentCredential({
      signer: issuer.signer,
      subject: agent,
      dataModel: '2.0',
      now: T0,
    });
    const noContext = { ...vc, '@context': vc['@context'].filter((c) => c !== FMP_CONTEXT_V1_URL) };
    expect(codes(await verifyCredential(noContext, { resolveDid, now: DURING }))).toEqual(['malformed']);
    const badClaims = cloneAs<{ credentialSubject: Record<string, unknown> }>(vc);
    badClaims.credentialSubject.trustLevel = 101;
    expect(codes(await verifyCredential(badClaims, { resolveDid, now: DURING }))).toEqual(['malformed']);
    await expect(
      issueMeshAgentCredential({ signer: issuer.signer, subject: { ...agent, trustLevel: -1 }, now: T0 }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('malformed input is reported, not thrown', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const input of [null, 42, 'vc', [], {}, cyclic, { proof: {} }, { '@context': ['https://x'] }]) {
      const result = await verifyCredential(input, { resolveDid, now: DURING });
      expect(result.verified).toBe(false);
      expect(codes(result)).toEqual(['malformed']);
    }
    const huge = { '@context': [VC_V2_CONTEXT_URL], blob: 'x'.repeat(300 * 1024) };
    expect(codes(await verifyCredential(huge, { resolveDid }))).toEqual(['malformed']);
  });

  it('refuses to issue what it could not verify', async () => {
    // VC 1.1 has no vocabulary for arbitrary claims: JSON-LD safe mode refuses the undefined term.
    await expect(
      issueCredential({
        signer: issuer.signer,
        subject: { id: other.did, favouriteColour: 'teal' },
        now: T0,
      }),
    ).rejects.toBeInstanceOf(CredentialIssuanceError);
    await expect(
      issueCredential({ signer: issuer.signer, subject: { id: other.did }, now: T1, validUntil: T0 }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      issueCredential({
        signer: issuer.signer,
        subject: { id: other.did },
        suite: 'RsaSignature2018' as unknown as 'eddsa-jcs-2022',
      }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('signCredential refuses a credential whose issuer is not the signer', async () => {
    await expect(
      signCredential(
        {
          '@context': [VC_V2_CONTEXT_URL],
          type: ['VerifiableCredential'],
          issuer: other.did,
          credentialSubject: {},
        },
        { signer: issuer.signer },
      ),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('verifyCachedCredential', () => {
  it("answers from the cache by the credential's key what verifyCredential would, and nothing on a miss", async () => {
    const vc = await issueMeshAgentCredential({
      signer: issuer.signer,
      subject: agent,
      suite: 'eddsa-jcs-2022',
      now: T0,
      validUntil: T1,
    });
    const cache = new VerificationCache();
    const options = { resolveDid, cache, now: DURING, trustedIssuers: [issuer.did] };
    const key = cache.keyOfCanonical(canonicalJson(vc));
    expect(key).toBe(cache.keyOf(vc));
    // Not verified yet: the cache cannot answer.
    expect(verifyCachedCredential(key, options)).toBeUndefined();
    const full = await verifyCredential(vc, options);
    expect(full.verified).toBe(true);
    const hit = verifyCachedCredential(key, options);
    expect(hit).toEqual({ ...full, cached: true });
    expect(hit?.meshAgent?.trustLevel).toBe(85);
    // Trust is checked on every hit.
    const untrusted = verifyCachedCredential(key, { ...options, trustedIssuers: [other.did] });
    expect(untrusted?.verified).toBe(false);
    expect(codes(untrusted!)).toEqual(['untrusted_issuer']);
    // Past the credential's expiry the entry is gone: the caller must verify in full.
    expect(verifyCachedCredential(key, { ...options, now: new Date(T1.getTime() + 1) })).toBeUndefined();
  });
});
