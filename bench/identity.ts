/**
 * Identity figures: DID resolution (did:key, did:mesh; cached and uncached) and credential
 * verification (cold and cached), plus an in-memory handshake with real credential checks.
 */
import { ed25519 } from '@fmp/core';
import {
  buildMeshCreate,
  createDidResolver,
  didKey,
  didKeyFromEd25519PublicKey,
  didMesh,
  issueMeshAgentCredential,
  MeshRegistry,
  type ProofSuiteName,
  VerificationCache,
  verifyCredential,
} from '@fmp/identity';
import { type Latency, latency } from './lib.js';

export interface IdentityResults {
  identityResolution: {
    /** The issue's fields: the slower method uncached (the cached figures beside it). */
    p50Ms: number;
    p99Ms: number;
    cachedP50Ms: number;
    cachedP99Ms: number;
    didKey: { cached: Latency; uncached: Latency };
    didMesh: { cached: Latency; uncached: Latency };
  };
  credentialVerification: Record<ProofSuiteName, { cold: Latency; cached: Latency }>;
}

export async function benchIdentity(n: number): Promise<IdentityResults> {
  const registry = await MeshRegistry.open();
  const meshDids: string[] = [];
  for (let i = 0; i < n; i++) {
    const did = `did:mesh:enterprise:org-${i}`;
    await registry.append(
      buildMeshCreate({
        did,
        key: ed25519.generateKeyPair(),
        nextPublicKey: ed25519.generateKeyPair().publicKey,
      }),
    );
    meshDids.push(did);
  }
  const keyDids = Array.from({ length: n }, () =>
    didKeyFromEd25519PublicKey(ed25519.generateKeyPair().publicKey),
  );
  const methods = [didMesh({ registry }), didKey()];
  const uncached = createDidResolver({ methods, cache: false });
  const cached = createDidResolver({ methods, cache: { ttlMs: 3_600_000, maxEntries: 2 * n } });
  for (const did of [...meshDids, ...keyDids]) await cached.resolve(did);

  const byMethod = {
    didKey: {
      cached: await latency(n, (i) => cached.resolve(keyDids[i]!)),
      uncached: await latency(n, (i) => uncached.resolve(keyDids[i]!)),
    },
    didMesh: {
      cached: await latency(n, (i) => cached.resolve(meshDids[i]!)),
      uncached: await latency(n, (i) => uncached.resolve(meshDids[i]!)),
    },
  };
  const worst = (k: 'cached' | 'uncached', q: 'p50Ms' | 'p99Ms') =>
    Math.max(byMethod.didKey[k][q], byMethod.didMesh[k][q]);
  const identityResolution = {
    p50Ms: worst('uncached', 'p50Ms'),
    p99Ms: worst('uncached', 'p99Ms'),
    cachedP50Ms: worst('cached', 'p50Ms'),
    cachedP99Ms: worst('cached', 'p99Ms'),
    ...byMethod,
  };

  // Credential verification: an authority in the registry issues to distinct subjects.
  const authority = ed25519.generateKeyPair();
  const authorityDid = 'did:mesh:authority:bench';
  await registry.append(
    buildMeshCreate({
      did: authorityDid,
      key: authority,
      nextPublicKey: ed25519.generateKeyPair().publicKey,
    }),
  );
  const signer = { keyPair: authority, issuer: authorityDid, verificationMethod: `${authorityDid}#key-1` };
  const resolveDid = (did: string) => cached.resolveDocument(did);
  const vcCount = Math.max(20, Math.min(200, Math.floor(n / 10)));
  const credentialVerification = {} as IdentityResults['credentialVerification'];
  for (const suite of ['Ed25519Signature2020', 'eddsa-rdfc-2022', 'eddsa-jcs-2022'] as const) {
    const vcs: unknown[] = [];
    for (let i = 0; i < vcCount; i++) {
      vcs.push(
        await issueMeshAgentCredential({
          signer,
          suite,
          subject: {
            id: `did:mesh:enterprise:org-${i}`,
            meshCapabilities: ['ml.inference'],
            complianceCertifications: ['GDPR'],
            trustLevel: 80,
          },
        }),
      );
    }
    const cache = new VerificationCache({ maxEntries: 10 * vcCount });
    const cold = await latency(vcCount, (i) => verifyCredential(vcs[i], { resolveDid }), 5);
    for (const vc of vcs) await verifyCredential(vc, { resolveDid, cache });
    const warm = await latency(vcCount * 10, (i) =>
      verifyCredential(vcs[i % vcCount], { resolveDid, cache }),
    );
    credentialVerification[suite] = { cold, cached: warm };
  }
  await registry.close();
  return { identityResolution, credentialVerification };
}
