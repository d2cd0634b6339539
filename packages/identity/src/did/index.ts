/**
 * DID methods (did:mesh, did:key, did:web, did:ethr, did:ion) behind one caching resolver.
 *
 * @example
 * ```ts
 * import { ed25519 } from '@fmp/core';
 * import { MeshRegistry, buildMeshCreate, createDidResolver, didKey, didMesh, didWeb } from '@fmp/identity';
 *
 * const registry = await MeshRegistry.open(); // or { store: jsonlMeshStore({ path: 'data/did-mesh.jsonl' }) }
 * const key = ed25519.generateKeyPair();
 * const next = ed25519.generateKeyPair(); // keep offline: it signs the next rotation
 * await registry.append(buildMeshCreate({ did: 'did:mesh:enterprise:acme-001', key, nextPublicKey: next.publicKey,
 *   services: [{ id: '#federation', type: 'FederationEndpoint', serviceEndpoint: 'wss://mesh.acme.com/federation' }] }));
 *
 * const resolver = createDidResolver({ methods: [didMesh({ registry }), didKey(), didWeb()] });
 * registry.onAppend((did) => resolver.invalidate(did));
 * const { didDocument, didResolutionMetadata } = await resolver.resolve('did:mesh:enterprise:acme-001');
 * const doc = await resolver.resolveDocument('did:mesh:enterprise:acme-001#key-1'); // null on any error
 * ```
 */
export * from './errors.js';
export * from './ethr.js';
export type { FetchFunction, HttpOptions } from './http.js';
export * from './ion.js';
export * from './key.js';
export * from './mesh/index.js';
export type * from './method.js';
export * from './parse.js';
export * from './resolver.js';
export * from './types.js';
export * from './verification.js';
export * from './web.js';
