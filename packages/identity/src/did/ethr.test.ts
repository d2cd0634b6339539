import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANGED_SELECTOR, DEFAULT_ERC1056_REGISTRY, didEthr, toChecksumAddress } from './ethr.js';
import { createDidResolver } from './resolver.js';
import { sendJson, startTestServer, type TestServer } from './test-server.js';

const ADDRESS = '0xb9c5714089478a327f09197987f16f9e5d936e8a';
const CHECKSUMMED = await toChecksumAddress(ADDRESS);
/** The same address with one letter's case flipped: a wrong EIP-55 checksum. */
const BAD_CHECKSUM = CHECKSUMMED.replace(/[a-fA-F]/, (c) =>
  c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase(),
);

describe('did:ethr offline (default document)', () => {
  const resolver = createDidResolver({ methods: [didEthr()], cache: false });

  it('EIP-55 checksums (EIP-55 test vectors)', async () => {
    for (const a of [
      '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
      '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
      '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB',
      '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb',
    ]) {
      expect(await toChecksumAddress(a.toLowerCase())).toBe(a);
    }
  });

  it('accepts the checksummed spelling', async () => {
    expect((await resolver.resolve(`did:ethr:${CHECKSUMMED}`)).didDocument).not.toBeNull();
    expect(CHECKSUMMED).not.toBe(ADDRESS);
  });

  it('builds the default document for an address and says on-chain changes were not checked', async () => {
    const did = `did:ethr:${ADDRESS}`;
    const result = await resolver.resolve(did);
    expect(result.didDocument).toEqual({
      '@context': [
        'https://www.w3.org/ns/did/v1',
        'https://w3id.org/security/suites/secp256k1recovery-2020/v2',
      ],
      id: did,
      verificationMethod: [
        {
          id: `${did}#controller`,
          type: 'EcdsaSecp256k1RecoveryMethod2020',
          controller: did,
          blockchainAccountId: `eip155:1:${await toChecksumAddress(ADDRESS)}`,
        },
      ],
      authentication: [`${did}#controller`],
      assertionMethod: [`${did}#controller`],
    });
    expect(result.didResolutionMetadata).toMatchObject({
      contentType: 'application/did+ld+json',
      onChainChangesChecked: false,
    });
  });

  it('maps named networks and hex chain ids', async () => {
    const account = async (did: string) =>
      (await resolver.resolve(did)).didDocument?.verificationMethod?.[0]?.blockchainAccountId;
    expect(await account(`did:ethr:sepolia:${ADDRESS}`)).toBe(`eip155:11155111:${CHECKSUMMED}`);
    expect(await account(`did:ethr:mainnet:${ADDRESS}`)).toBe(`eip155:1:${CHECKSUMMED}`);
    expect(await account(`did:ethr:0x5:${ADDRESS}`)).toBe(`eip155:5:${CHECKSUMMED}`);
    expect(await account(`did:ethr:0xaa36a7:${ADDRESS}`)).toBe(`eip155:11155111:${CHECKSUMMED}`);
    expect((await resolver.resolve(`did:ethr:nowhere:${ADDRESS}`)).didResolutionMetadata.error).toBe(
      'methodNotConfigured',
    );
  });

  it('public-key DIDs add #controllerKey and derive the address (ethr-did-resolver example)', async () => {
    const did = 'did:ethr:0x0328939c3dc5af29fe52fea2ab97019d256a6ffd17e7bbc09405e15466f253c910';
    const doc = (await resolver.resolve(did)).didDocument!;
    expect(doc.verificationMethod).toEqual([
      {
        id: `${did}#controller`,
        type: 'EcdsaSecp256k1RecoveryMethod2020',
        controller: did,
        blockchainAccountId: 'eip155:1:0xcaf3C37a127793a4934a7e2831FfEDD9E83Cc8b1',
      },
      {
        id: `${did}#controllerKey`,
        type: 'EcdsaSecp256k1VerificationKey2019',
        controller: did,
        publicKeyHex: '0328939c3dc5af29fe52fea2ab97019d256a6ffd17e7bbc09405e15466f253c910',
      },
    ]);
    expect(doc.authentication).toEqual([`${did}#controller`, `${did}#controllerKey`]);
  });

  it('refuses malformed identifiers and bad checksums as invalidDid', async () => {
    for (const did of [
      'did:ethr:0x1234',
      `did:ethr:${ADDRESS}00`,
      'did:ethr:0x0428939c3dc5af29fe52fea2ab97019d256a6ffd17e7bbc09405e15466f253c910',
      `did:ethr:0x0:${ADDRESS}`,
      `did:ethr:${BAD_CHECKSUM}`,
      'did:ethr:0x02ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    ]) {
      expect((await resolver.resolve(did)).didResolutionMetadata.error, did).toBe('invalidDid');
    }
  });
});

describe('did:ethr with a JSON-RPC endpoint (loopback)', () => {
  let server: TestServer;
  let changed = '0x0';
  let rpcError = false;
  beforeAll(async () => {
    server = await startTestServer((req, res) => {
      const call = JSON.parse(req.body);
      if (rpcError)
        return sendJson(res, 200, { jsonrpc: '2.0', id: call.id, error: { code: -32000, message: 'boom' } });
      sendJson(res, 200, {
        jsonrpc: '2.0',
        id: call.id,
        result: `0x${BigInt(changed).toString(16).padStart(64, '0')}`,
      });
    });
  });
  afterAll(() => server.close());

  const resolver = () =>
    createDidResolver({
      methods: [didEthr({ networks: { mainnet: { chainId: 1, rpcUrl: `${server.origin}/rpc` } } })],
      cache: false,
    });

  it('asks the ERC-1056 registry changed(address) and keeps the default document at 0', async () => {
    changed = '0x0';
    const result = await resolver().resolve(`did:ethr:${ADDRESS}`);
    expect(result.didResolutionMetadata).toMatchObject({ onChainChangesChecked: true });
    expect(result.didDocument?.id).toBe(`did:ethr:${ADDRESS}`);
    const call = JSON.parse(server.requests.at(-1)!.body);
    expect(call.method).toBe('eth_call');
    expect(call.params[0]).toEqual({
      to: DEFAULT_ERC1056_REGISTRY,
      data: `${CHANGED_SELECTOR}000000000000000000000000${ADDRESS.slice(2)}`,
    });
    // A hex chain id finds the configured network by chain id.
    await resolver().resolve(`did:ethr:0x1:${ADDRESS}`);
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
  });

  it('fails clearly (notImplemented) when the identity changed on chain', async () => {
    changed = '0x112a880';
    const result = await resolver().resolve(`did:ethr:${ADDRESS}`);
    expect(result.didDocument).toBeNull();
    expect(result.didResolutionMetadata.error).toBe('notImplemented');
    expect(result.didResolutionMetadata.message).toMatch(/block 18000000/);
  });

  it('reports a JSON-RPC error as internalError', async () => {
    rpcError = true;
    const result = await resolver().resolve(`did:ethr:${ADDRESS}`);
    rpcError = false;
    expect(result.didResolutionMetadata).toMatchObject({ error: 'internalError' });
  });
});
