/**
 * The hub's verifiable log (issue #7, first part), checked from the outside as a client would: the
 * signed C2SP checkpoint verifies with the hub's key, every entry's inclusion proof leads to its
 * root, and after new did:mesh operations a consistency proof links the old checkpoint to the new.
 */
import { ed25519 } from '@fmp/core';
import type { Hub } from '@fmp/hub';
import { leafHash, logVerifier, verifyCheckpoint, verifyConsistency, verifyInclusion } from '@fmp/ledger';
import type { MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, nodeFor, startHub, until, type World } from './fixtures.js';

const fromB64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

describe("a hub's ledger over HTTP", () => {
  let world: World;
  let hub: Hub;
  let http: string;
  let url: string;
  const nodes: MeshNode[] = [];

  const get = async (path: string) => {
    const res = await fetch(`${http}${path}`);
    return { status: res.status, text: await res.text() };
  };
  const checkpoint = async () => {
    const note = (await get('/v1/ledger/checkpoint')).text;
    const verifier = logVerifier(`fmp.ledger/${world.hub.did}`, world.hub.keyPair.publicKey);
    return { note, ...verifyCheckpoint(note, verifier).checkpoint };
  };

  beforeAll(async () => {
    world = await createWorld();
    ({ hub, url, httpUrl: http } = await startHub(world));
    for (const name of ['did:mesh:enterprise:acme-001', 'did:mesh:academic:mit-001']) {
      const n = nodeFor(world, await world.member(name), url);
      nodes.push(n);
      await n.start();
    }
  });

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await hub?.stop();
  });

  it('serves a signed checkpoint over the registry operations, each entry with a verifying inclusion proof', async () => {
    const cp = await checkpoint();
    // The genesis, the issuer's and the hub's own operations, then each mesh's create operation.
    expect(cp.size).toBe(5);
    const { entries } = JSON.parse((await get(`/v1/ledger/entries?start=0&end=${cp.size}`)).text) as {
      entries: { index: number; leaf: string; time: number; entry: { type: string; op?: { did: string } } }[];
    };
    expect(entries[0]!.entry.type).toBe('genesis');
    expect(entries.slice(1).map((e) => e.entry.op?.did)).toEqual(
      expect.arrayContaining([world.issuer.did, world.hub.did, nodes[0]!.did, nodes[1]!.did]),
    );
    for (const e of entries) {
      expect(['genesis', 'did:mesh-operation']).toContain(e.entry.type);
      const proof = JSON.parse(
        (await get(`/v1/ledger/proof/inclusion?index=${e.index}&size=${cp.size}`)).text,
      ) as {
        hashes: string[];
      };
      expect(
        verifyInclusion(leafHash(fromB64(e.leaf)), e.index, cp.size, proof.hashes.map(fromB64), cp.rootHash),
      ).toBe(true);
      // A changed leaf does not.
      const tampered = fromB64(e.leaf);
      const at = tampered.length - 2;
      tampered[at] = (tampered[at] ?? 0) ^ 1;
      expect(
        verifyInclusion(leafHash(tampered), e.index, cp.size, proof.hashes.map(fromB64), cp.rootHash),
      ).toBe(false);
    }
  });

  it('grows append-only: a consistency proof links an older checkpoint to the newer one', async () => {
    const before = await checkpoint();
    const n = nodeFor(world, await world.member('did:mesh:ngo:relief-001'), url);
    nodes.push(n);
    await n.start();
    await until(async () => (await checkpoint()).size > before.size, 10_000, 'new entry');
    const after = await checkpoint();
    const proof = JSON.parse(
      (await get(`/v1/ledger/proof/consistency?from=${before.size}&to=${after.size}`)).text,
    ) as {
      hashes: string[];
    };
    expect(
      verifyConsistency(before.size, after.size, before.rootHash, after.rootHash, proof.hashes.map(fromB64)),
    ).toBe(true);
    // A checkpoint signed by another key does not verify.
    const other = ed25519.generateKeyPair();
    expect(() =>
      verifyCheckpoint(after.note, logVerifier(`fmp.ledger/${world.hub.did}`, other.publicKey)),
    ).toThrow();
  });

  it('answers bad ranges with 400', async () => {
    const size = (await checkpoint()).size;
    expect((await get(`/v1/ledger/proof/inclusion?index=${size}`)).status).toBe(400);
    expect((await get(`/v1/ledger/proof/consistency?from=${size + 1}`)).status).toBe(400);
    expect((await get('/v1/ledger/entries?start=-1')).status).toBe(400);
    expect((await get('/v1/ledger/entries?start=0&extra=1')).status).toBe(400);
  });
});
