import { ed25519, encodeMultikey } from '@fmp/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidDidError } from './errors.js';
import { createDidResolver } from './resolver.js';
import { sendJson, startTestServer, type TestServer } from './test-server.js';
import { getEd25519PublicKey } from './verification.js';
import { didWeb, didWebToUrl } from './web.js';

describe('did:web URL mapping', () => {
  it('follows the did:web spec', () => {
    expect(didWebToUrl('did:web:w3c-ccg.github.io').href).toBe(
      'https://w3c-ccg.github.io/.well-known/did.json',
    );
    expect(didWebToUrl('did:web:w3c-ccg.github.io:user:alice').href).toBe(
      'https://w3c-ccg.github.io/user/alice/did.json',
    );
    expect(didWebToUrl('did:web:example.com%3A3000:user:alice').href).toBe(
      'https://example.com:3000/user/alice/did.json',
    );
    expect(didWebToUrl('did:web:acme.com:mesh').href).toBe('https://acme.com/mesh/did.json');
    expect(didWebToUrl('did:web:localhost%3A8080').href).toBe('https://localhost:8080/.well-known/did.json');
    expect(didWebToUrl('did:web:localhost%3A8080', { allowHttpLoopback: true }).href).toBe(
      'http://localhost:8080/.well-known/did.json',
    );
  });

  it('refuses hosts and paths that could redirect the request', () => {
    for (const bad of [
      'did:web:exa_mple.com',
      'did:web:example.com%2Fevil',
      'did:web:example.com:%2E%2E',
      'did:web:example.com:a%2Fb',
      'did:web:user%40example.com',
      'did:web:10.0.0.1',
      'did:web:127.0.0.1%3A80',
      'did:web:example.com%3A99999',
      'did:web:example.com:%zz',
    ]) {
      expect(() => didWebToUrl(bad), bad).toThrow(InvalidDidError);
    }
  });
});

describe('did:web over a real loopback HTTP server', () => {
  let server: TestServer;
  const key = ed25519.keyPairFromSeed(new Uint8Array(32).fill(3));
  let did: string;
  let mode: 'ok' | 'wrong-id' | 'bad' | 'huge' | 'slow' | 'error' = 'ok';

  beforeAll(async () => {
    server = await startTestServer((req, res) => {
      if (req.url !== '/.well-known/did.json' && req.url !== '/hubs/eu/did.json')
        return sendJson(res, 404, {});
      const id = req.url === '/hubs/eu/did.json' ? `${did}:hubs:eu` : did;
      const doc = {
        '@context': ['https://www.w3.org/ns/did/v1'],
        id: mode === 'wrong-id' ? 'did:web:evil.example' : id,
        verificationMethod: [
          {
            id: `${id}#key-1`,
            type: 'Ed25519VerificationKey2020',
            controller: id,
            publicKeyMultibase: encodeMultikey('ed25519-pub', key.publicKey),
          },
        ],
        authentication: ['#key-1'],
        service: [
          { id: '#federation', type: 'FederationEndpoint', serviceEndpoint: 'wss://hub.example/federation' },
        ],
      };
      if (mode === 'bad') return sendJson(res, 200, { id: 42 });
      if (mode === 'error') return sendJson(res, 500, {});
      if (mode === 'huge') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...doc, padding: 'x'.repeat(100_000) }));
        return;
      }
      if (mode === 'slow') return; // never answers
      sendJson(res, 200, doc);
    });
    did = `did:web:localhost%3A${server.port}`;
  });
  afterAll(() => server.close());

  const resolver = (options: Parameters<typeof didWeb>[0] = {}) =>
    createDidResolver({ methods: [didWeb({ allowHttpLoopback: true, ...options })], cache: false });

  it('fetches, validates and returns the document', async () => {
    mode = 'ok';
    const result = await resolver().resolve(did);
    expect(result.didResolutionMetadata.error).toBeUndefined();
    expect(getEd25519PublicKey(result.didDocument!, '#key-1', 'authentication')).toEqual(key.publicKey);
    const sub = await resolver().resolve(`${did}:hubs:eu`);
    expect(sub.didDocument!.id).toBe(`${did}:hubs:eu`);
    expect((await resolver().resolve(`${did}:nobody`)).didResolutionMetadata.error).toBe('notFound');
  });

  it('refuses http without the loopback option', async () => {
    mode = 'ok';
    const result = await createDidResolver({ methods: [didWeb()], cache: false }).resolve(did);
    // https to a plain-HTTP port fails at the TLS layer: an internal error, never the document.
    expect(result.didDocument).toBeNull();
    expect(result.didResolutionMetadata.error).toBe('internalError');
  });

  it('rejects a document for another DID, a malformed one, a huge one, a 500 and a timeout', async () => {
    mode = 'wrong-id';
    expect((await resolver().resolve(did)).didResolutionMetadata.error).toBe('invalidDidDocument');
    mode = 'bad';
    expect((await resolver().resolve(did)).didResolutionMetadata.error).toBe('invalidDidDocument');
    mode = 'huge';
    const huge = await resolver({ maxResponseBytes: 10_000 }).resolve(did);
    expect(huge.didResolutionMetadata).toMatchObject({ error: 'internalError' });
    expect(huge.didResolutionMetadata.message).toMatch(/exceeds/);
    mode = 'error';
    expect((await resolver().resolve(did)).didResolutionMetadata.error).toBe('internalError');
    mode = 'slow';
    const slow = await resolver({ timeoutMs: 100 }).resolve(did);
    expect(slow.didResolutionMetadata.error).toBe('internalError');
    expect(slow.didResolutionMetadata.message).toMatch(/no answer/);
  });

  it('a host filter refuses before any request', async () => {
    const before = server.requests.length;
    const result = await resolver({ hostFilter: () => false }).resolve(did);
    expect(result.didResolutionMetadata.error).toBe('methodNotSupported');
    expect(server.requests.length).toBe(before);
  });
});
