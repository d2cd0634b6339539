/**
 * The SDK in a few lines: a did:mesh authority issues a MeshAgentCredential to an organization,
 * anyone with the registry verifies it, and a revocation is seen at once.
 * Run: npx tsx examples/issue-and-verify.ts
 */
import { ed25519 } from '@fmp/core';
import {
  buildMeshCreate,
  createDidResolver,
  didKey,
  didMesh,
  issueMeshAgentCredential,
  MeshRegistry,
  StatusListRegistry,
  verifyCredential,
} from '@fmp/identity';

export async function main(): Promise<{ before: boolean; after: boolean }> {
  const registry = await MeshRegistry.open(); // or { store: jsonlMeshStore({ path }) }
  const resolver = createDidResolver({ methods: [didMesh({ registry }), didKey()] });

  const authority = 'did:mesh:authority:foundation';
  const keyPair = ed25519.generateKeyPair();
  await registry.append(
    buildMeshCreate({ did: authority, key: keyPair, nextPublicKey: ed25519.generateKeyPair().publicKey }),
  );

  const signer = { keyPair, issuer: authority, verificationMethod: `${authority}#key-1` };
  const statusList = await StatusListRegistry.create({
    id: 'https://hub.example/status/1',
    signer,
    length: 1024,
  });
  const status = statusList.allocate();
  const vc = await issueMeshAgentCredential({
    signer,
    subject: {
      id: 'did:mesh:enterprise:acme-001',
      meshCapabilities: ['ml.inference', 'data.processing'],
      complianceCertifications: ['GDPR', 'SOC2'],
      trustLevel: 85,
    },
    status,
  });

  const options = {
    resolveDid: (did: string) => resolver.resolveDocument(did),
    trustedIssuers: [authority],
    statusListLoader: statusList.loader,
  };
  const before = (await verifyCredential(vc, options)).verified; // true
  await statusList.revoke(status.statusListIndex);
  const after = (await verifyCredential(vc, options)).verified; // false: errors[0].code === 'revoked'
  await registry.close();
  return { before, after };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await main());
}
