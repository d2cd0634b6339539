import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Ed25519KeyPair, ed25519, encodeMultikey, multibaseEncode, x25519 } from '@fmp/core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidResolutionOptionsError } from '../errors.js';
import { didKey, didKeyFromEd25519PublicKey } from '../key.js';
import { createDidResolver } from '../resolver.js';
import { getEd25519PublicKey } from '../verification.js';
import {
  MeshChainError,
  MeshDeactivatedError,
  MeshDuplicateCreateError,
  MeshForkError,
  MeshKeyCommitmentError,
  MeshLimitError,
  MeshLogCorruptError,
  MeshOperationInvalidError,
  MeshRegistryError,
  MeshRotatedKeyError,
  MeshSignatureError,
  MeshTimestampError,
  MeshUnknownDidError,
} from './errors.js';
import { MeshLedger, verifyMeshLog } from './ledger.js';
import { didMesh, parseMeshVersion } from './method.js';
import {
  buildMeshCreate,
  buildMeshDeactivate,
  buildMeshUpdate,
  hashMeshOperation,
  type MeshOperation,
  meshKeyCommitment,
  signMeshOperation,
} from './operations.js';
import { MeshRegistry } from './registry.js';
import { jsonlMeshStore, memoryMeshStore } from './store.js';
import { MESH_CATEGORIES, parseMeshDid } from './syntax.js';

const DID = 'did:mesh:enterprise:acme-001';
const T0 = Date.parse('2025-06-01T00:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
const now = () => T0 + 24 * 3600_000;
const seedKey = (n: number) => ed25519.keyPairFromSeed(new Uint8Array(32).fill(n));
const FEDERATION = {
  id: '#federation',
  type: 'FederationEndpoint',
  serviceEndpoint: 'wss://mesh.acme.com/federation',
};

/** A DID's whole life: create (k1, commits k2), update (k2, commits k3), update (k3, commits k4), deactivate (k4). */
function lifecycle(did = DID, base = 1): { ops: MeshOperation[]; keys: Ed25519KeyPair[] } {
  const keys = [0, 1, 2, 3].map((i) => seedKey(base + i));
  const ops: MeshOperation[] = [];
  ops.push(
    buildMeshCreate({
      did,
      key: keys[0]!,
      nextPublicKey: keys[1]!.publicKey,
      services: [FEDERATION],
      timestamp: at(0),
    }),
  );
  const head = () => ({ seq: ops.length - 1, hash: hashMeshOperation(ops.at(-1)!) });
  ops.push(
    buildMeshUpdate({
      did,
      previous: head(),
      key: keys[1]!,
      nextPublicKey: keys[2]!.publicKey,
      timestamp: at(1),
    }),
  );
  ops.push(
    buildMeshUpdate({
      did,
      previous: head(),
      key: keys[2]!,
      nextPublicKey: keys[3]!.publicKey,
      services: [],
      controller: ['did:web:acme.com'],
      timestamp: at(2),
    }),
  );
  ops.push(buildMeshDeactivate({ did, previous: head(), key: keys[3]!, timestamp: at(3) }));
  return { ops, keys };
}

describe('did:mesh syntax', () => {
  it('accepts every category and refuses bad names', () => {
    for (const c of MESH_CATEGORIES) expect(parseMeshDid(`did:mesh:${c}:a`).category).toBe(c);
    expect(parseMeshDid('did:mesh:hub:eu-1.west_2').name).toBe('eu-1.west_2');
    for (const bad of [
      'did:mesh:company:acme',
      'did:mesh:enterprise:Acme',
      'did:mesh:enterprise:-acme',
      'did:mesh:enterprise:',
      `did:mesh:enterprise:${'a'.repeat(64)}`,
      'did:mesh:enterprise:acme:extra',
    ]) {
      expect(() => parseMeshDid(bad), bad).toThrow();
    }
    expect(parseMeshDid(`did:mesh:enterprise:${'a'.repeat(63)}`).name).toHaveLength(63);
  });
});

describe('did:mesh registry', () => {
  it('creates, rotates with pre-committed keys, updates services and deactivates', async () => {
    const registry = await MeshRegistry.open({ now });
    const { ops, keys } = lifecycle();
    const resolver = createDidResolver({ methods: [didMesh({ registry })], now });
    registry.onAppend((did) => resolver.invalidate(did));

    await registry.append(ops[0]);
    let result = await resolver.resolve(DID);
    expect(result.didResolutionMetadata.error).toBeUndefined();
    let doc = result.didDocument!;
    expect(doc.id).toBe(DID);
    expect(getEd25519PublicKey(doc, '#key-1', 'authentication')).toEqual(keys[0]!.publicKey);
    expect(getEd25519PublicKey(doc, `${DID}#key-1`, 'assertionMethod')).toEqual(keys[0]!.publicKey);
    expect(doc.keyAgreement).toEqual([
      {
        id: `${DID}#key-agreement-1`,
        type: 'X25519KeyAgreementKey2020',
        controller: DID,
        publicKeyMultibase: encodeMultikey('x25519-pub', x25519.publicKeyFromEd25519(keys[0]!.publicKey)),
      },
    ]);
    expect(doc.service).toEqual([{ ...FEDERATION, id: `${DID}#federation` }]);
    expect(result.didDocumentMetadata).toMatchObject({
      created: at(0).toISOString(),
      versionId: '0',
      headHash: hashMeshOperation(ops[0]!),
      nextKeyCommitment: meshKeyCommitment(keys[1]!.publicKey),
    });
    expect(result.didDocumentMetadata.updated).toBeUndefined();

    await registry.append(ops[1]);
    result = await resolver.resolve(DID);
    doc = result.didDocument!;
    expect(getEd25519PublicKey(doc, '#key-2', 'authentication')).toEqual(keys[1]!.publicKey);
    expect(() => getEd25519PublicKey(doc, '#key-1')).toThrow();
    expect(doc.service).toHaveLength(1);
    expect(result.didDocumentMetadata).toMatchObject({ versionId: '1', updated: at(1).toISOString() });

    await registry.append(ops[2]);
    doc = (await resolver.resolve(DID)).didDocument!;
    expect(doc.service).toBeUndefined();
    expect(doc.controller).toBe('did:web:acme.com');
    expect(getEd25519PublicKey(doc, '#key-3')).toEqual(keys[2]!.publicKey);

    await registry.append(ops[3]);
    result = await resolver.resolve(DID);
    expect(result.didDocumentMetadata.deactivated).toBe(true);
    expect(result.didDocument!.verificationMethod).toBeUndefined();
    expect(await resolver.resolveDocument(DID)).toBeNull();
    expect(registry.history(DID)).toHaveLength(4);
  });

  it('resolves earlier documents by versionId and versionTime, each the document of its time', async () => {
    const registry = await MeshRegistry.open({ now });
    const { ops, keys } = lifecycle();
    const resolver = createDidResolver({ methods: [didMesh({ registry }), didKey()], now });
    registry.onAppend((did) => resolver.invalidate(did));
    // The document after each operation, as the current one was then.
    const then: Awaited<ReturnType<typeof resolver.resolve>>[] = [];
    for (const op of ops) {
      await registry.append(op);
      then.push(await resolver.resolve(DID));
    }
    for (let seq = 0; seq < ops.length; seq++) {
      const byId = await resolver.resolve(DID, { versionId: String(seq) });
      expect(byId).toEqual(then[seq]);
      // At the operation's own time, and in the minute after it (before the next one).
      const stamp = at(seq).toISOString();
      expect(await resolver.resolve(DID, { versionTime: stamp })).toEqual(then[seq]);
      const later = new Date(at(seq).getTime() + 59_000).toISOString().replace('.000Z', 'Z');
      expect(await resolver.resolve(DID, { versionTime: later })).toEqual(then[seq]);
    }
    // The key rotated away from still verifies against the version that had it.
    const v0 = (await resolver.resolve(DID, { versionId: '0' })).didDocument!;
    expect(getEd25519PublicKey(v0, '#key-1', 'assertionMethod')).toEqual(keys[0]!.publicKey);
    // With an offset, the same instant.
    expect(await resolver.resolve(DID, { versionTime: '2025-06-01T02:01:30+02:00' })).toEqual(then[1]);

    const error = async (options: { versionId?: string; versionTime?: string }, did = DID) =>
      (await resolver.resolve(did, options)).didResolutionMetadata.error;
    expect(await error({ versionId: '4' })).toBe('notFound'); // past the head
    expect(await error({ versionTime: '2025-05-31T23:59:59Z' })).toBe('notFound'); // before the create
    expect(await error({ versionId: '01' })).toBe('invalidOptions');
    expect(await error({ versionId: '-1' })).toBe('invalidOptions');
    expect(await error({ versionId: '1e3' })).toBe('invalidOptions');
    expect(await error({ versionTime: '2025-06-01' })).toBe('invalidOptions');
    expect(await error({ versionTime: '2025-06-01T25:00:00Z' })).toBe('invalidOptions');
    expect(await error({ versionId: '1', versionTime: at(1).toISOString() })).toBe('invalidOptions');
    expect(await error({ versionId: '0' }, 'did:mesh:enterprise:nobody-001')).toBe('notFound');
    // A method without versions refuses them rather than answering its current document.
    const didKeyId = didKeyFromEd25519PublicKey(keys[0]!.publicKey);
    expect((await resolver.resolve(didKeyId)).didResolutionMetadata.error).toBeUndefined();
    expect(await error({ versionId: '0' }, didKeyId)).toBe('invalidOptions');
  });

  it('parses versionId and versionTime: a version or InvalidResolutionOptionsError, never anything else', () => {
    fc.assert(
      fc.property(
        fc.option(fc.string({ maxLength: 40 })),
        fc.option(fc.string({ maxLength: 40 })),
        (id, time) => {
          const options = {
            ...(id === null ? {} : { versionId: id }),
            ...(time === null ? {} : { versionTime: time }),
          };
          try {
            const v = parseMeshVersion(options);
            if (id === null && time === null) expect(v).toBeUndefined();
            else if (id !== null) expect(v).toEqual({ seq: Number(id) });
            else expect(v?.time).toBe(Date.parse(time!));
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidResolutionOptionsError);
          }
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999 }), (n) => {
        expect(parseMeshVersion({ versionId: String(n) })).toEqual({ seq: n });
      }),
    );
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1970-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }),
        (d) => {
          expect(parseMeshVersion({ versionTime: d.toISOString() })).toEqual({ time: d.getTime() });
        },
      ),
    );
  });

  it('a registry that keeps no history says historic resolution is not implemented for it', async () => {
    const registry = await MeshRegistry.open({ now, retainOperations: false });
    const { ops } = lifecycle();
    await registry.append(ops[0]);
    await registry.append(ops[1]);
    const resolver = createDidResolver({ methods: [didMesh({ registry })], now });
    expect((await resolver.resolve(DID)).didDocumentMetadata.versionId).toBe('1');
    const old = await resolver.resolve(DID, { versionId: '0' });
    expect(old.didResolutionMetadata.error).toBe('notImplemented');
    expect(old.didResolutionMetadata.message).toMatch(/retainOperations/);
  });

  it('refuses each kind of bad operation with its own error', async () => {
    const registry = await MeshRegistry.open({ now });
    const { ops, keys } = lifecycle();
    const k1 = keys[0]!;
    const k2 = keys[1]!;
    const stranger = seedKey(99);
    const upd = (o: Parameters<typeof buildMeshUpdate>[0]) => buildMeshUpdate({ timestamp: at(1), ...o });

    await expect(registry.append(ops[1])).rejects.toBeInstanceOf(MeshUnknownDidError);
    await registry.append(ops[0]);
    await expect(registry.append(ops[0])).rejects.toBeInstanceOf(MeshDuplicateCreateError);
    const head0 = { seq: 0, hash: hashMeshOperation(ops[0]!) };

    // The current key cannot rotate: only the committed next key may sign.
    await expect(
      registry.append(upd({ did: DID, previous: head0, key: k1, nextPublicKey: stranger.publicKey })),
    ).rejects.toBeInstanceOf(MeshRotatedKeyError);
    // A key that does not match the commitment.
    await expect(
      registry.append(upd({ did: DID, previous: head0, key: stranger, nextPublicKey: k1.publicKey })),
    ).rejects.toBeInstanceOf(MeshKeyCommitmentError);
    // A wrong signature: signingKey says k2, but signed by a stranger.
    const forged = {
      ...ops[1]!,
      proof: { ...ops[1]!.proof, proofValue: multibaseEncode(ed25519.sign(new Uint8Array(1), stranger)) },
    };
    await expect(registry.append(forged)).rejects.toBeInstanceOf(MeshSignatureError);
    // Broken chain.
    await expect(
      registry.append(
        upd({
          did: DID,
          previous: { seq: 0, hash: multibaseEncode(new Uint8Array(32)) },
          key: k2,
          nextPublicKey: stranger.publicKey,
        }),
      ),
    ).rejects.toMatchObject({ constructor: MeshChainError, reason: 'prev' });
    await expect(
      registry.append(
        upd({ did: DID, previous: { seq: 4, hash: head0.hash }, key: k2, nextPublicKey: stranger.publicKey }),
      ),
    ).rejects.toMatchObject({ constructor: MeshChainError, reason: 'seq' });
    // Time going backwards, or far in the future.
    await expect(
      registry.append(
        upd({ did: DID, previous: head0, key: k2, nextPublicKey: stranger.publicKey, timestamp: at(-1) }),
      ),
    ).rejects.toBeInstanceOf(MeshTimestampError);
    await expect(
      registry.append(
        upd({
          did: DID,
          previous: head0,
          key: k2,
          nextPublicKey: stranger.publicKey,
          timestamp: new Date(now() + 3600_000),
        }),
      ),
    ).rejects.toBeInstanceOf(MeshTimestampError);
    // Committing to a key already used defeats pre-rotation.
    await expect(
      registry.append(
        upd({ did: DID, previous: head0, key: k2, nextPublicKey: k1.publicKey, timestamp: at(1) }),
      ),
    ).rejects.toBeInstanceOf(MeshOperationInvalidError);
    await expect(registry.append({ ...ops[1], extra: 1 })).rejects.toBeInstanceOf(MeshOperationInvalidError);
    await expect(registry.append('nonsense')).rejects.toBeInstanceOf(MeshOperationInvalidError);
    expect(registry.history(DID)).toHaveLength(1);

    // After rotation, the key rotated away (k2 after k3 took over) can no longer sign.
    await registry.append(ops[1]);
    const head1 = { seq: 1, hash: hashMeshOperation(ops[1]!) };
    await expect(
      registry.append(
        upd({ did: DID, previous: head1, key: k2, nextPublicKey: stranger.publicKey, timestamp: at(2) }),
      ),
    ).rejects.toBeInstanceOf(MeshRotatedKeyError);
    await registry.append(ops[2]);
    await registry.append(ops[3]);
    const head3 = { seq: 3, hash: hashMeshOperation(ops[3]!) };
    await expect(
      registry.append(
        upd({ did: DID, previous: head3, key: stranger, nextPublicKey: k1.publicKey, timestamp: at(4) }),
      ),
    ).rejects.toBeInstanceOf(MeshDeactivatedError);
    await expect(registry.append(ops[0])).rejects.toBeInstanceOf(MeshDuplicateCreateError);
  });

  it('refuses a create whose next key equals its current key, and enforces limits', async () => {
    const k = seedKey(5);
    const same = buildMeshCreate({ did: DID, key: k, nextPublicKey: k.publicKey, timestamp: at(0) });
    expect(() => new MeshLedger({ now }).check(same)).toThrow(MeshOperationInvalidError);
    const ledger = new MeshLedger({ now, maxDids: 1, maxOperationsPerDid: 1 });
    const { ops } = lifecycle();
    ledger.apply(ops[0]);
    expect(() => ledger.check(ops[1])).toThrow(MeshLimitError);
    expect(() => ledger.check(lifecycle('did:mesh:hub:eu', 20).ops[0])).toThrow(MeshLimitError);
  });

  it('exports, re-verifies from scratch and imports; a conflicting history is a fork', async () => {
    const registry = await MeshRegistry.open({ now });
    const a = lifecycle(DID, 1).ops;
    const b = lifecycle('did:mesh:academic:uni', 10).ops;
    for (let i = 0; i < 4; i++) {
      await registry.append(a[i]);
      await registry.append(b[i]);
    }
    const exported = registry.exportLog();
    expect(exported).toHaveLength(8);
    const replay = verifyMeshLog(exported, { now });
    expect(replay.get(DID)!.document).toEqual(registry.state(DID)!.document);
    expect(registry.verify().size).toBe(2);

    const copy = await MeshRegistry.open({ now });
    expect(await copy.importLog(exported.slice(0, 5))).toEqual({ appended: 5, skipped: 0 });
    expect(await copy.importLog(exported)).toEqual({ appended: 3, skipped: 5 });
    expect(copy.state(DID)!.documentMetadata).toEqual(registry.state(DID)!.documentMetadata);

    // Same DID, same keys, a different (validly signed) update at seq 1: equivocation.
    const other = await MeshRegistry.open({ now });
    await other.append(a[0]);
    const keys = [1, 2, 3].map(seedKey);
    const alt = buildMeshUpdate({
      did: DID,
      previous: { seq: 0, hash: hashMeshOperation(a[0]!) },
      key: keys[1]!,
      nextPublicKey: keys[2]!.publicKey,
      timestamp: at(1.5),
    });
    await other.append(alt);
    await expect(other.importLog(a)).rejects.toBeInstanceOf(MeshForkError);
  });

  it('random mutations of a valid log are always rejected with a typed error', () => {
    const { ops } = lifecycle();
    const json = JSON.parse(JSON.stringify(ops)) as Record<string, unknown>[];
    const paths: [number, string[]][] = [];
    for (const [i, op] of json.entries()) {
      const walk = (value: unknown, path: string[]) => {
        if (value && typeof value === 'object' && !Array.isArray(value)) {
          for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
        } else if (Array.isArray(value)) {
          if (value.length === 0) paths.push([i, path]);
          for (const [j, v] of value.entries()) walk(v, [...path, String(j)]);
        } else {
          paths.push([i, path]);
        }
      };
      walk(op, []);
    }

    const replacement = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.boolean(),
      fc.constant([]),
      fc.constant({}),
      fc
        .string({
          unit: fc.constantFrom(...'123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'),
          minLength: 1,
        })
        .map((s) => `z${s}`),
    );
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(paths.length - 1), value: replacement }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(paths.length - 1) }),
      fc.record({ kind: fc.constant('drop' as const), at: fc.nat(json.length - 2) }),
      fc.record({
        kind: fc.constant('swap' as const),
        a: fc.nat(json.length - 1),
        b: fc.nat(json.length - 1),
      }),
      fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(json.length - 1) }),
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(paths.length - 1), char: fc.nat(200) }),
    );

    fc.assert(
      fc.property(mutation, (m) => {
        const log = structuredClone(json);
        const target = (i: number, path: string[]) => {
          let node: Record<string, unknown> = log[i]!;
          for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
          return { node, key: path.at(-1)! };
        };
        if (m.kind === 'set' || m.kind === 'flip' || m.kind === 'delete') {
          const [i, path] = paths[m.at]!;
          const { node, key } = target(i, path);
          const before = JSON.stringify(node[key]);
          if (m.kind === 'delete') {
            if (Array.isArray(node)) node.splice(Number(key), 1);
            else delete node[key];
          } else if (m.kind === 'set') {
            node[key] = m.value;
          } else {
            const text = String(node[key]);
            const c = m.char % Math.max(1, text.length);
            node[key] = text.slice(0, c) + (text[c] === 'x' ? 'y' : 'x') + text.slice(c + 1);
          }
          fc.pre(JSON.stringify(node[key]) !== before);
        } else if (m.kind === 'drop') {
          log.splice(m.at, 1); // never the last: dropping the tail leaves a valid prefix
        } else if (m.kind === 'swap') {
          fc.pre(m.a !== m.b);
          [log[m.a], log[m.b]] = [log[m.b]!, log[m.a]!];
        } else {
          log.splice(m.at + 1, 0, structuredClone(log[m.at]!));
        }
        try {
          verifyMeshLog(log, { now });
        } catch (error) {
          expect(error).toBeInstanceOf(MeshLogCorruptError);
          expect((error as MeshLogCorruptError).cause).toBeInstanceOf(MeshRegistryError);
          return;
        }
        throw new Error(`mutation accepted: ${JSON.stringify(m)}`);
      }),
      { numRuns: 400 },
    );
  });

  it('reproduces the example of docs/did-mesh.md byte for byte', () => {
    const op = buildMeshCreate({
      did: DID,
      key: seedKey(1),
      nextPublicKey: seedKey(2).publicKey,
      services: [FEDERATION],
      controller: ['did:web:acme.com'],
      timestamp: '2025-06-01T00:00:00.000Z',
    });
    expect(op.signingKey).toBe('z6Mkon3Necd6NkkyfoGoHxid2znGc59LU3K7mubaRcFbLfLX');
    expect(op.keyAgreementKey).toBe('z6LSdVzMmB67tKXYmkjiKRAQgbxgjnjdfiajqUvx7C9fxTNv');
    expect(op.nextKeyCommitment).toBe('z89dkqqjMw9HTi1pqHbANSNwioHuMhmpTCXapTmfUr1EW');
    expect(op.proof.proofValue).toBe(
      'z3MpH4XxKLGjnWfCh36E9MW5JRmKQeNyUBZb4svPkFigNvfUd8t8qMboGj5ByZgZXfTDZWD8gpT1NRza7PbjrebWT',
    );
    expect(hashMeshOperation(op)).toBe('z6fmzxgyk9resKZdUTWdJ9UcmP8wzn1w5AHwT4RjbjiD9');
  });

  it('signMeshOperation output verifies only for the exact bytes', () => {
    const k = seedKey(1);
    const op = buildMeshCreate({ did: DID, key: k, nextPublicKey: seedKey(2).publicKey, timestamp: at(0) });
    const { proof: _p, ...unsigned } = op;
    expect(signMeshOperation(unsigned, k)).toEqual(op); // Ed25519 is deterministic
    expect(() => new MeshLedger({ now }).check({ ...op, timestamp: at(0.5).toISOString() })).toThrow(
      MeshSignatureError,
    );
  });
});

describe('did:mesh JSON Lines store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fmp-did-mesh-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends durably, replays and verifies on open', async () => {
    const path = join(dir, 'sub', 'mesh.jsonl');
    const { ops } = lifecycle();
    const registry = await MeshRegistry.open({ now, store: jsonlMeshStore({ path }) });
    for (const op of ops.slice(0, 3)) await registry.append(op);
    await registry.close();
    expect((await readFile(path, 'utf8')).trim().split('\n')).toHaveLength(3);

    const reopened = await MeshRegistry.open({ now, store: jsonlMeshStore({ path }) });
    expect(reopened.state(DID)!.head.seq).toBe(2);
    await reopened.append(ops[3]);
    await reopened.close();
    const again = await MeshRegistry.open({ now, store: jsonlMeshStore({ path }) });
    expect(again.state(DID)!.deactivated).toBe(true);
    await again.close();
  });

  it('reports a tampered, torn or non-JSON file as MeshLogCorruptError with its line', async () => {
    const path = join(dir, 'mesh.jsonl');
    const { ops } = lifecycle();
    const lines = ops.map((op) => JSON.stringify(op));

    await writeFile(
      path,
      `${lines.join('\n')}\n`.replace(
        '"services":[]',
        '"services":[{"id":"#x","type":"Evil","serviceEndpoint":"https://evil.example"}]',
      ),
    );
    await expect(MeshRegistry.open({ now, store: jsonlMeshStore({ path }) })).rejects.toMatchObject({
      constructor: MeshLogCorruptError,
      line: 3,
      cause: expect.any(MeshSignatureError),
    });

    await writeFile(path, `${lines[0]}\n${lines[1]!.slice(0, 40)}`);
    await expect(MeshRegistry.open({ now, store: jsonlMeshStore({ path }) })).rejects.toMatchObject({
      constructor: MeshLogCorruptError,
      line: 2,
    });

    await writeFile(path, `${lines[0]}\n{nope\n`);
    await expect(MeshRegistry.open({ now, store: jsonlMeshStore({ path }) })).rejects.toMatchObject({
      constructor: MeshLogCorruptError,
      line: 2,
    });

    await writeFile(path, `${lines[1]}\n`);
    await expect(MeshRegistry.open({ now, store: jsonlMeshStore({ path }) })).rejects.toMatchObject({
      constructor: MeshLogCorruptError,
      cause: expect.any(MeshUnknownDidError),
    });
  });

  it('the memory store is verified on open just the same', async () => {
    const { ops } = lifecycle();
    const store = memoryMeshStore([ops[0], ops[2]]);
    await expect(MeshRegistry.open({ now, store })).rejects.toMatchObject({
      cause: expect.any(MeshChainError),
    });
  });
});
