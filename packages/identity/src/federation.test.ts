import { ed25519, encodeMultikey, ProtocolError } from '@fmp/core';
import { describe, expect, it } from 'vitest';
import { didMesh } from './did/mesh/method.js';
import { buildMeshCreate, buildMeshDeactivate, buildMeshUpdate } from './did/mesh/operations.js';
import { MeshRegistry } from './did/mesh/registry.js';
import { createDidResolver } from './did/resolver.js';
import { authenticationKeyResolver } from './federation.js';

async function world() {
  const registry = await MeshRegistry.open();
  const resolver = createDidResolver({ methods: [didMesh({ registry })] });
  registry.onAppend((did) => resolver.invalidate(did));
  const did = 'did:mesh:enterprise:acme-001';
  const first = ed25519.generateKeyPair();
  const second = ed25519.generateKeyPair();
  await registry.append(buildMeshCreate({ did, key: first, nextPublicKey: second.publicKey }));
  return { registry, resolver, did, first, second, vm: `${did}#key-1` };
}

describe('authenticationKeyResolver', () => {
  it('gives the key of the current document, again after a rotation', async () => {
    const w = await world();
    const keyOf = authenticationKeyResolver(w.resolver);
    expect(await keyOf(w.vm)).toEqual(w.first.publicKey);
    // Kept beside the document: a caller changing what it got changes nothing for the next one.
    (await keyOf(w.vm)).fill(0);
    expect(await keyOf(w.vm)).toEqual(w.first.publicKey);
    const third = ed25519.generateKeyPair();
    await w.registry.append(
      buildMeshUpdate({
        did: w.did,
        previous: w.registry.state(w.did)!.head,
        key: w.second,
        nextPublicKey: third.publicKey,
      }),
    );
    // The rotated key has a method of its own; the old method is no longer listed.
    const doc = (await w.resolver.resolve(w.did)).didDocument as {
      authentication: (string | { id: string })[];
    };
    const current = doc.authentication.map((a) => (typeof a === 'string' ? a : a.id));
    expect(current).not.toContain(w.vm);
    await expect(keyOf(w.vm)).rejects.toThrow(/not listed under authentication/);
    expect(await keyOf(current[0]!)).toEqual(w.second.publicKey);
  });

  it('refuses a deactivated DID after its key was found, and a method not listed', async () => {
    const w = await world();
    const keyOf = authenticationKeyResolver(w.resolver);
    await expect(keyOf(`${w.did}#key-9`)).rejects.toThrow();
    expect(await keyOf(w.vm)).toEqual(w.first.publicKey);
    await w.registry.append(
      buildMeshDeactivate({ did: w.did, previous: w.registry.state(w.did)!.head, key: w.second }),
    );
    const refused = await keyOf(w.vm).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProtocolError);
    expect((refused as ProtocolError).wireCode).toBe('did_resolution_failed');
    await expect(keyOf('not a did#key-1')).rejects.toThrow();
  });

  it('a new document under the same method id gives the new key (did:web style rotation)', async () => {
    const did = 'did:example:org';
    let key = ed25519.generateKeyPair().publicKey;
    const documentOf = () => ({
      id: did,
      verificationMethod: [
        {
          id: `${did}#key-1`,
          type: 'Multikey',
          controller: did,
          publicKeyMultibase: encodeMultikey('ed25519-pub', key),
        },
      ],
      authentication: [`${did}#key-1`],
    });
    const resolver = createDidResolver({
      methods: [{ method: 'example', resolve: async () => ({ didDocument: documentOf() }) }],
    });
    const keyOf = authenticationKeyResolver(resolver);
    const before = key;
    expect(await keyOf(`${did}#key-1`)).toEqual(before);
    key = ed25519.generateKeyPair().publicKey;
    // The resolver's cache still holds the old document: same key (the resolver decides freshness).
    expect(await keyOf(`${did}#key-1`)).toEqual(before);
    resolver.invalidate(did);
    expect(await keyOf(`${did}#key-1`)).toEqual(key);
  });
});
