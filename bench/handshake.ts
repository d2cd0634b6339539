/**
 * The full three-party handshake in one process (no transport): Ed25519 + X25519 + HKDF + key
 * confirmation on every side, DID keys from a did:mesh registry, credentials really verified
 * (cached after the first check, as a hub does). The networked figure comes with the hub (issue #3).
 */
import {
  ed25519,
  ed25519Signer,
  HandshakeCoordinator,
  HandshakeInitiator,
  HandshakeResponder,
  randomBytes,
  runHandshakeInMemory,
  type VerifiableCredentialJson,
} from '@fmp/core';
import {
  authenticationKeyResolver,
  buildMeshCreate,
  createDidResolver,
  didMesh,
  handshakeCredentialVerifier,
  issueMeshAgentCredential,
  MeshRegistry,
  VerificationCache,
} from '@fmp/identity';
import { type Latency, latency } from './lib.js';

export async function benchHandshake(n: number): Promise<Latency & { handshakesPerSec: number }> {
  const registry = await MeshRegistry.open();
  const resolver = createDidResolver({ methods: [didMesh({ registry })] });
  const make = async (did: string) => {
    const key = ed25519.generateKeyPair();
    await registry.append(buildMeshCreate({ did, key, nextPublicKey: ed25519.generateKeyPair().publicKey }));
    return { did, key, vm: `${did}#key-1` };
  };
  const authority = await make('did:mesh:authority:bench');
  const acme = await make('did:mesh:enterprise:acme-001');
  const mit = await make('did:mesh:academic:mit-001');
  const signer = { keyPair: authority.key, issuer: authority.did, verificationMethod: authority.vm };
  const credential = async (did: string) =>
    (await issueMeshAgentCredential({
      signer,
      subject: {
        id: did,
        meshCapabilities: ['ml.inference'],
        complianceCertifications: ['GDPR'],
        trustLevel: 90,
      },
    })) as unknown as VerifiableCredentialJson;
  const deps = {
    now: () => Date.now(),
    randomBytes,
    resolveAuthenticationKey: authenticationKeyResolver(resolver),
    verifyCredential: handshakeCredentialVerifier({
      resolveDid: (did) => resolver.resolveDocument(did),
      trustedIssuers: [authority.did],
      cache: new VerificationCache(),
    }),
    trustScore: () => 90,
  };
  const initiator = new HandshakeInitiator(deps, {
    meshId: acme.did,
    signer: ed25519Signer(acme.vm, acme.key),
    credential: await credential(acme.did),
  });
  const coordinator = new HandshakeCoordinator(deps, { routingEndpointBase: 'wss://hub.bench/fed' });
  const responder = new HandshakeResponder(
    { ...deps, consent: () => true },
    { meshId: mit.did, signer: ed25519Signer(mit.vm, mit.key) },
  );
  const start = {
    targetMeshId: mit.did,
    capabilities: ['ml.inference'],
    metadata: { ttl: 3600, purpose: 'bench' },
  };
  const once = () => runHandshakeInMemory({ initiator, coordinator, responder }, start);
  const t = performance.now();
  const result = await latency(n, once, 50);
  const elapsed = performance.now() - t;
  await registry.close();
  return { ...result, handshakesPerSec: Math.round(((n + 50) / elapsed) * 1000) };
}
