/**
 * did:ethr (https://github.com/decentralized-identity/ethr-did-resolver/blob/master/doc/did-method-spec.md):
 * `did:ethr:[network:]0x<address>` or `did:ethr:[network:]0x<compressed secp256k1 public key>`.
 *
 * Offline we build the default document (an identity never changed in the ERC-1056 registry).
 * With an `rpcUrl` for the network we ask the registry `changed(address)`: 0 confirms the default
 * document; anything else means on-chain changes whose event log we do not replay yet, and the
 * resolution fails with notImplemented rather than returning a possibly stale default. Without an
 * rpcUrl the result says `onChainChangesChecked: false` in didResolutionMetadata.
 */
import { ECDH } from 'node:crypto';
import { NotImplementedError } from '@fmp/core';
import { keccak } from 'hash-wasm';
import { z } from 'zod';
import { DidFetchError, DidMethodNotConfiguredError, InvalidDidError } from './errors.js';
import { fetchJson, type HttpOptions } from './http.js';
import type { DidMethod, DidMethodResolveOptions, DidMethodResult } from './method.js';
import type { ParsedDid } from './parse.js';
import { DID_CONTEXT_V1, type DidDocument } from './types.js';

export const SECP256K1_RECOVERY_CONTEXT = 'https://w3id.org/security/suites/secp256k1recovery-2020/v2';
/** The ERC-1056 EthereumDIDRegistry deployment shared by most networks. */
export const DEFAULT_ERC1056_REGISTRY = '0xdca7ef03e98e0dc2b855be647c39abe984fcf21b';
/** keccak256("changed(address)")[0..4]. */
export const CHANGED_SELECTOR = '0xf96d0f9f';

export interface EthrNetworkConfig {
  readonly chainId: number | bigint;
  /** JSON-RPC endpoint; without it on-chain changes are not checked. */
  readonly rpcUrl?: string;
  /** ERC-1056 registry address. Default DEFAULT_ERC1056_REGISTRY. */
  readonly registry?: string;
}

export const DEFAULT_ETHR_NETWORKS: Readonly<Record<string, EthrNetworkConfig>> = {
  mainnet: { chainId: 1 },
  goerli: { chainId: 5 },
  sepolia: { chainId: 11155111 },
  holesky: { chainId: 17000 },
  polygon: { chainId: 137 },
  'polygon:test': { chainId: 80001 },
  linea: { chainId: 59144 },
  rsk: { chainId: 30 },
  'rsk:testnet': { chainId: 31 },
};

export interface DidEthrOptions extends HttpOptions {
  /** Merged over DEFAULT_ETHR_NETWORKS by name. */
  readonly networks?: Readonly<Record<string, EthrNetworkConfig>>;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const PUBLIC_KEY = /^0x0[23][0-9a-fA-F]{64}$/;
const HEX_CHAIN = /^0x[0-9a-fA-F]{1,16}$/;

/** EIP-55 mixed-case checksum address. */
export async function toChecksumAddress(address: string): Promise<string> {
  const lower = address.slice(2).toLowerCase();
  const hash = await keccak(lower, 256);
  let out = '0x';
  for (let i = 0; i < 40; i++) {
    const c = lower[i]!;
    out += Number.parseInt(hash[i]!, 16) >= 8 ? c.toUpperCase() : c;
  }
  return out;
}

/** The Ethereum address of a compressed secp256k1 public key (keccak256 of the uncompressed point). */
export async function addressFromPublicKey(compressedHex: string): Promise<string> {
  let uncompressed: Buffer;
  try {
    uncompressed = ECDH.convertKey(
      compressedHex.slice(2),
      'secp256k1',
      'hex',
      undefined,
      'uncompressed',
    ) as Buffer;
  } catch (cause) {
    throw new InvalidDidError('did:ethr: not a valid secp256k1 public key', { cause });
  }
  const hash = await keccak(uncompressed.subarray(1), 256);
  return toChecksumAddress(`0x${hash.slice(-40)}`);
}

interface EthrTarget {
  readonly chainId: bigint;
  readonly network: string;
  readonly config: EthrNetworkConfig | undefined;
  readonly identifier: string;
}

function target(did: ParsedDid, networks: Readonly<Record<string, EthrNetworkConfig>>): EthrTarget {
  const parts = did.id.split(':');
  const identifier = parts.pop()!;
  const network = parts.length === 0 ? 'mainnet' : parts.join(':');
  if (!ADDRESS.test(identifier) && !PUBLIC_KEY.test(identifier)) {
    throw new InvalidDidError(
      'did:ethr identifier must be 0x + 40 hex (address) or 0x + 66 hex (public key)',
    );
  }
  if (HEX_CHAIN.test(network)) {
    const chainId = BigInt(network);
    if (chainId === 0n) throw new InvalidDidError('did:ethr chain id must be positive');
    const config = Object.values(networks).find((n) => BigInt(n.chainId) === chainId && n.rpcUrl);
    return { chainId, network, config, identifier };
  }
  const config = Object.hasOwn(networks, network) ? networks[network] : undefined;
  if (!config) throw new DidMethodNotConfiguredError(`did:ethr network "${network}" is not configured`);
  return { chainId: BigInt(config.chainId), network, config, identifier };
}

const RpcResponseSchema = z.union([
  z.object({ result: z.string().regex(/^0x[0-9a-fA-F]{0,64}$/) }),
  z.object({ error: z.object({ code: z.number(), message: z.string().max(1000) }) }),
]);

/** The default (never-changed) did:ethr document. */
export async function ethrDefaultDocument(
  did: string,
  chainId: bigint,
  identifier: string,
): Promise<DidDocument> {
  const controllerId = `${did}#controller`;
  let address: string;
  if (PUBLIC_KEY.test(identifier)) {
    address = await addressFromPublicKey(identifier);
  } else {
    address = await toChecksumAddress(identifier);
    const body = identifier.slice(2);
    const mixed = body !== body.toLowerCase() && body !== body.toUpperCase();
    if (mixed && address !== identifier)
      throw new InvalidDidError('did:ethr address has a bad EIP-55 checksum');
  }
  const document: DidDocument = {
    '@context': [DID_CONTEXT_V1, SECP256K1_RECOVERY_CONTEXT],
    id: did,
    verificationMethod: [
      {
        id: controllerId,
        type: 'EcdsaSecp256k1RecoveryMethod2020',
        controller: did,
        blockchainAccountId: `eip155:${chainId}:${address}`,
      },
    ],
    authentication: [controllerId],
    assertionMethod: [controllerId],
  };
  if (PUBLIC_KEY.test(identifier)) {
    const keyId = `${did}#controllerKey`;
    document.verificationMethod!.push({
      id: keyId,
      type: 'EcdsaSecp256k1VerificationKey2019',
      controller: did,
      publicKeyHex: identifier.slice(2).toLowerCase(),
    });
    document.authentication!.push(keyId);
    document.assertionMethod!.push(keyId);
  }
  return document;
}

export function didEthr(options: DidEthrOptions = {}): DidMethod {
  const networks = { ...DEFAULT_ETHR_NETWORKS, ...options.networks };
  return {
    method: 'ethr',
    async resolve(did: ParsedDid, resolveOptions?: DidMethodResolveOptions): Promise<DidMethodResult> {
      const t = target(did, networks);
      const didDocument = await ethrDefaultDocument(did.did, t.chainId, t.identifier);
      const rpcUrl = t.config?.rpcUrl;
      if (!rpcUrl) {
        return {
          didDocument,
          didDocumentMetadata: {},
          didResolutionMetadata: {
            onChainChangesChecked: false,
            warning: `no rpcUrl configured for did:ethr network ${t.network}: this is the default document; on-chain changes were not checked`,
          },
        };
      }
      const vm = didDocument.verificationMethod![0]!;
      const address = vm.blockchainAccountId!.split(':')[2]!.toLowerCase();
      const data = CHANGED_SELECTOR + address.slice(2).padStart(64, '0');
      const body = await fetchJson(rpcUrl, {
        ...options,
        signal: resolveOptions?.signal,
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'eth_call',
            params: [{ to: t.config?.registry ?? DEFAULT_ERC1056_REGISTRY, data }, 'latest'],
          }),
        },
      });
      const parsed = RpcResponseSchema.safeParse(body);
      if (!parsed.success) throw new DidFetchError(`did:ethr: ${rpcUrl} gave a malformed JSON-RPC answer`);
      if ('error' in parsed.data) {
        throw new DidFetchError(`did:ethr: eth_call failed: ${parsed.data.error.message}`);
      }
      if (parsed.data.result === '0x') {
        // Empty return data: no contract at that address, so nothing was checked.
        throw new DidFetchError(
          `did:ethr: no ERC-1056 registry answered at ${t.config?.registry ?? DEFAULT_ERC1056_REGISTRY}`,
        );
      }
      const changed = BigInt(parsed.data.result);
      if (changed !== 0n) {
        throw new NotImplementedError(
          `did:ethr event-log replay (${did.did} was changed on chain at block ${changed}; its current document cannot be built here)`,
        );
      }
      return { didDocument, didDocumentMetadata: {}, didResolutionMetadata: { onChainChangesChecked: true } };
    },
  };
}
