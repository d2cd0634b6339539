import { createHash } from 'node:crypto';
import { ed25519 } from '@fmp/core';
import canonicalize from 'canonicalize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { didIon } from './ion.js';
import { createDidResolver } from './resolver.js';
import { sendJson, startTestServer, type TestServer } from './test-server.js';
import { getEd25519PublicKey } from './verification.js';

// Built here independently of ion.ts, from the Sidetree rules: JCS, SHA-256 multihash, base64url.
const jcs = (value: unknown) => canonicalize(value)!;
const multihash = (text: string) =>
  Buffer.concat([Buffer.from([0x12, 0x20]), createHash('sha256').update(text).digest()]).toString(
    'base64url',
  );

const key = ed25519.keyPairFromSeed(new Uint8Array(32).fill(9));
const jwk = { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key.publicKey).toString('base64url') };

function longForm(patches: unknown[], tweak?: (encoded: string) => string) {
  const delta = { patches, updateCommitment: multihash('update-reveal') };
  const suffixData = { deltaHash: multihash(jcs(delta)), recoveryCommitment: multihash('recovery-reveal') };
  const suffix = multihash(jcs(suffixData));
  const text = jcs({ suffixData, delta });
  const encoded = Buffer.from(tweak ? tweak(text) : text).toString('base64url');
  return { shortForm: `did:ion:${suffix}`, did: `did:ion:${suffix}:${encoded}`, suffix, delta, suffixData };
}

const replace = {
  action: 'replace',
  document: {
    publicKeys: [
      {
        id: 'key-1',
        type: 'JsonWebKey2020',
        publicKeyJwk: jwk,
        purposes: ['authentication', 'assertionMethod'],
      },
      {
        id: 'agree',
        type: 'JsonWebKey2020',
        publicKeyJwk: { kty: 'OKP', crv: 'X25519', x: jwk.x },
        purposes: ['keyAgreement'],
      },
    ],
    services: [
      { id: 'federation', type: 'FederationEndpoint', serviceEndpoint: 'wss://mesh.example/federation' },
    ],
  },
};

describe('did:ion long form, offline', () => {
  const resolver = createDidResolver({ methods: [didIon()], cache: false });

  it('verifies the suffix and delta hashes and applies the replace patch', async () => {
    const { did, shortForm } = longForm([replace]);
    const result = await resolver.resolve(did);
    expect(result.didResolutionMetadata.error).toBeUndefined();
    const doc = result.didDocument!;
    expect(doc.id).toBe(did);
    expect(getEd25519PublicKey(doc, '#key-1', 'authentication')).toEqual(key.publicKey);
    expect(getEd25519PublicKey(doc, '#key-1', 'assertionMethod')).toEqual(key.publicKey);
    expect(doc.keyAgreement).toEqual([`${did}#agree`]);
    expect(doc.capabilityInvocation).toBeUndefined();
    expect(doc.service).toEqual([
      {
        id: `${did}#federation`,
        type: 'FederationEndpoint',
        serviceEndpoint: 'wss://mesh.example/federation',
      },
    ]);
    expect(result.didDocumentMetadata.equivalentId).toEqual([shortForm]);
    expect(result.didResolutionMetadata.warning).toMatch(/not checked/);
  });

  it('rejects a wrong suffix, a tampered delta, non-canonical JSON and garbage as invalidDid', async () => {
    const good = longForm([replace]);
    const other = longForm([{ action: 'replace', document: {} }]);
    const encoded = good.did.split(':')[3]!;
    const cases = [
      `did:ion:${other.suffix}:${encoded}`, // suffix of another state
      `did:ion:${good.suffix}:${Buffer.from(jcs({ suffixData: good.suffixData, delta: { ...good.delta, updateCommitment: multihash('x') } })).toString('base64url')}`,
      longForm([replace], (text) => text.replace('{', '{ ')).did.replace(
        /^did:ion:[^:]+/,
        `did:ion:${good.suffix}`,
      ),
      longForm([replace], (text) => ` ${text}`).did,
      `did:ion:${good.suffix}:bm90IGpzb24`,
      `did:ion:${good.suffix}:${Buffer.from('{"suffixData":1}').toString('base64url')}`,
      'did:ion:EiAshort',
      `did:ion:${good.suffix}:${encoded}:extra`,
    ];
    for (const did of cases) {
      expect((await resolver.resolve(did)).didResolutionMetadata.error, did.slice(0, 80)).toBe('invalidDid');
    }
  });

  it('says an unsupported patch action is not implemented', async () => {
    const { did } = longForm([{ action: 'ietf-json-patch', patches: [] }]);
    expect((await resolver.resolve(did)).didResolutionMetadata.error).toBe('notImplemented');
  });

  it('short form without an ION node is methodNotConfigured', async () => {
    const { shortForm } = longForm([replace]);
    expect((await resolver.resolve(shortForm)).didResolutionMetadata.error).toBe('methodNotConfigured');
  });
});

describe('did:ion with an ION node (loopback)', () => {
  let server: TestServer;
  const { shortForm } = longForm([replace]);
  beforeAll(async () => {
    server = await startTestServer((req, res) => {
      if (req.url === `/identifiers/${encodeURIComponent(shortForm)}`) {
        return sendJson(res, 200, {
          '@context': 'https://w3id.org/did-resolution/v1',
          didDocument: {
            id: shortForm,
            '@context': ['https://www.w3.org/ns/did/v1'],
            verificationMethod: [
              { id: '#key-1', controller: shortForm, type: 'JsonWebKey2020', publicKeyJwk: jwk },
            ],
            authentication: ['#key-1'],
          },
          didDocumentMetadata: { canonicalId: shortForm, method: { published: true } },
        });
      }
      sendJson(res, 404, { code: 'not_found' });
    });
  });
  afterAll(() => server.close());

  it('GETs <node>/identifiers/<did>', async () => {
    const resolver = createDidResolver({ methods: [didIon({ nodeUrl: `${server.origin}/` })], cache: false });
    const result = await resolver.resolve(shortForm);
    expect(getEd25519PublicKey(result.didDocument!, '#key-1', 'authentication')).toEqual(key.publicKey);
    expect(result.didDocumentMetadata.canonicalId).toBe(shortForm);
    const missing = longForm([{ action: 'replace', document: {} }]).shortForm;
    expect((await resolver.resolve(missing)).didResolutionMetadata.error).toBe('notFound');
  });
});
