import { gzipSync } from 'node:zlib';
import { Ed25519Signature2020 } from '@digitalbazaar/ed25519-signature-2020';
import * as vcLib from '@digitalbazaar/vc';
import { checkStatus as libraryCheckStatus } from '@digitalbazaar/vc-bitstring-status-list';
import { base64urlEncode } from '@fmp/core';
import { describe, expect, it } from 'vitest';
import { createDocumentLoader } from './contexts.js';
import { StatusIndexError, StatusListFullError } from './errors.js';
import { issueCredential, issueMeshAgentCredential } from './issue.js';
import { DEFAULT_STATUS_LIST_LENGTH, type StatusListLoader, StatusListRegistry } from './status.js';
import { cloneAs, didKeyIdentity, staticResolver } from './test-support.js';
import { verifyCredential } from './verify.js';

const issuer = didKeyIdentity();
const other = didKeyIdentity();
const resolveDid = staticResolver(issuer.document, other.document);
const T0 = new Date('2025-10-30T00:00:00Z');
const NOW = new Date('2026-01-01T00:00:00Z');
const LIST = 'https://hub.example/status/1';
const agent = {
  id: 'did:mesh:enterprise:acme-001',
  meshCapabilities: ['ml.inference'],
  complianceCertifications: ['GDPR'],
  trustLevel: 85,
};

function codes(result: { errors: readonly { code: string }[] }): string[] {
  return result.errors.map((e) => e.code);
}

async function setup(options: { length?: number; statusPurpose?: 'revocation' | 'suspension' } = {}) {
  const registry = await StatusListRegistry.create({
    id: LIST,
    signer: issuer.signer,
    now: () => T0,
    ...options,
  });
  const status = registry.allocate();
  const vc = await issueMeshAgentCredential({ signer: issuer.signer, subject: agent, now: T0, status });
  return { registry, status, vc };
}

describe('Bitstring Status List', () => {
  it('revoke and unrevoke flip the bit, re-sign the list, and verification follows', async () => {
    const { registry, status, vc } = await setup();
    expect(registry.length).toBe(DEFAULT_STATUS_LIST_LENGTH);
    expect(vc.credentialStatus).toEqual({
      id: `${LIST}#${status.statusListIndex}`,
      type: 'BitstringStatusListEntry',
      statusPurpose: 'revocation',
      statusListIndex: String(status.statusListIndex),
      statusListCredential: LIST,
    });
    const opts = { resolveDid, now: NOW, statusListLoader: registry.loader };
    expect((await verifyCredential(vc, opts)).errors).toEqual([]);

    const before = registry.credential;
    await registry.revoke(status.statusListIndex);
    expect(registry.version).toBe(1);
    expect(registry.isSet(status.statusListIndex)).toBe(true);
    expect(registry.credential).not.toBe(before);
    expect(registry.credential.proof.proofValue).not.toBe(before.proof.proofValue);
    expect(codes(await verifyCredential(vc, opts))).toEqual(['revoked']);

    await registry.unrevoke(status.statusListIndex);
    expect((await verifyCredential(vc, opts)).verified).toBe(true);
  });

  it('a revoked credential that the library alone reports as verified is refused', async () => {
    const { registry, status, vc } = await setup();
    await registry.revoke(status.statusListIndex);
    const loader = createDocumentLoader({ resolveDid });
    // The library's status check fetches the list through the document loader.
    const documentLoader = async (url: string) =>
      url === LIST ? { contextUrl: null, documentUrl: url, document: registry.credential } : loader(url);
    const library = await vcLib.verifyCredential({
      credential: vc,
      suite: new Ed25519Signature2020(),
      documentLoader,
      now: NOW,
      checkStatus: (options) =>
        libraryCheckStatus({
          ...(options as { credential: unknown }),
          documentLoader,
          suite: new Ed25519Signature2020(),
        }),
    });
    expect(library.verified).toBe(true);
    expect(library.statusResult).toMatchObject({
      verified: true,
      results: [{ verified: true, status: true }],
    });

    const ours = await verifyCredential(vc, { resolveDid, now: NOW, statusListLoader: registry.loader });
    expect(ours.verified).toBe(false);
    expect(codes(ours)).toEqual(['revoked']);
  });

  it('suspension lists report suspended', async () => {
    const { registry, status, vc } = await setup({ length: 64, statusPurpose: 'suspension' });
    await registry.setStatus(status.statusListIndex, true);
    const result = await verifyCredential(vc, { resolveDid, now: NOW, statusListLoader: registry.loader });
    expect(codes(result)).toEqual(['suspended']);
  });

  it('VC 1.1 credentials carry the status list context and are checked the same way', async () => {
    const registry = await StatusListRegistry.create({
      id: LIST,
      signer: issuer.signer,
      length: 64,
      dataModel: '1.1',
      now: () => T0,
    });
    const status = registry.allocate();
    const vc = await issueCredential({
      signer: issuer.signer,
      subject: { id: other.did },
      dataModel: '1.1',
      status,
      now: T0,
    });
    expect(vc['@context']).toContain('https://www.w3.org/ns/credentials/status/v1');
    const opts = { resolveDid, now: NOW, statusListLoader: registry.loader };
    expect((await verifyCredential(vc, opts)).errors).toEqual([]);
    await registry.revoke(status.statusListIndex);
    expect(codes(await verifyCredential(vc, opts))).toEqual(['revoked']);
  });

  it('fails closed: no loader, missing list, list by another issuer, altered list, wrong purpose', async () => {
    const { registry, vc } = await setup({ length: 64 });
    const check = (statusListLoader?: StatusListLoader) =>
      verifyCredential(vc, { resolveDid, now: NOW, ...(statusListLoader ? { statusListLoader } : {}) });

    expect(codes(await check())).toEqual(['status_check_failed']);
    expect(codes(await check(async () => null))).toEqual(['status_check_failed']);
    expect(
      codes(
        await check(async () => {
          throw new Error('unreachable');
        }),
      ),
    ).toEqual(['status_check_failed']);

    const foreign = await StatusListRegistry.create({
      id: LIST,
      signer: other.signer,
      length: 64,
      now: () => T0,
    });
    const byOther = await check(foreign.loader);
    expect(codes(byOther)).toEqual(['status_check_failed']);
    expect(byOther.errors[0]?.message).toContain('untrusted_issuer');

    // An all-ones list swapped in without re-signing.
    const altered = cloneAs<{ credentialSubject: { encodedList: string } }>(registry.credential);
    altered.credentialSubject.encodedList = `u${base64urlEncode(gzipSync(new Uint8Array(8).fill(0xff)))}`;
    expect(codes(await check(async () => altered))).toEqual(['status_check_failed']);

    const suspension = await StatusListRegistry.create({
      id: LIST,
      signer: issuer.signer,
      length: 64,
      statusPurpose: 'suspension',
      now: () => T0,
    });
    expect(codes(await check(suspension.loader))).toEqual(['status_check_failed']);
  });

  it('a signed list whose encodedList inflates past the bound is refused (gzip bomb)', async () => {
    const { vc } = await setup({ length: 64 });
    const bomb = `u${base64urlEncode(gzipSync(new Uint8Array(3 * 1024 * 1024)))}`;
    const list = await issueCredential({
      signer: issuer.signer,
      id: LIST,
      types: ['BitstringStatusListCredential'],
      dataModel: '2.0',
      now: T0,
      subject: {
        id: `${LIST}#list`,
        type: 'BitstringStatusList',
        statusPurpose: 'revocation',
        encodedList: bomb,
      },
    });
    const result = await verifyCredential(vc, { resolveDid, now: NOW, statusListLoader: async () => list });
    expect(codes(result)).toEqual(['status_check_failed']);
    expect(result.errors[0]?.message).toContain('inflates');
  });

  it('allocates distinct indexes up to the list length, then refuses', async () => {
    const registry = await StatusListRegistry.create({ id: LIST, signer: issuer.signer, length: 16 });
    const seen = new Set<number>();
    for (let i = 0; i < 16; i++) seen.add(registry.allocate().statusListIndex);
    expect(seen.size).toBe(16);
    expect(registry.available).toBe(0);
    expect(() => registry.allocate()).toThrow(StatusListFullError);
  });

  it('rejects bad lengths and indexes that are out of range or never allocated', async () => {
    await expect(
      StatusListRegistry.create({ id: LIST, signer: issuer.signer, length: 12 }),
    ).rejects.toBeInstanceOf(StatusIndexError);
    const registry = await StatusListRegistry.create({ id: LIST, signer: issuer.signer, length: 16 });
    expect(() => registry.revoke(16)).toThrow(StatusIndexError);
    expect(() => registry.revoke(-1)).toThrow(StatusIndexError);
    const { statusListIndex } = registry.allocate();
    expect(() => registry.revoke((statusListIndex + 1) % 16)).toThrow(StatusIndexError);
  });

  it('concurrent revocations all land in the published list', async () => {
    const registry = await StatusListRegistry.create({
      id: LIST,
      signer: issuer.signer,
      length: 64,
      now: () => T0,
    });
    const indexes = [registry.allocate(), registry.allocate(), registry.allocate()].map(
      (s) => s.statusListIndex,
    );
    await Promise.all(indexes.map((i) => registry.revoke(i)));
    expect(registry.version).toBe(3);
    for (const statusListIndex of indexes) {
      const vc = await issueCredential({
        signer: issuer.signer,
        subject: { id: other.did },
        dataModel: '2.0',
        now: T0,
        status: { statusListCredential: LIST, statusListIndex, statusPurpose: 'revocation' },
      });
      expect(
        codes(await verifyCredential(vc, { resolveDid, now: NOW, statusListLoader: registry.loader })),
      ).toEqual(['revoked']);
    }
  });
});
