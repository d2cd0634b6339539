/**
 * @fmp/ledger's TransparencyLog over the store's ledger logs: SQLite and, when FMP_TEST_POSTGRES_URL
 * is set, PostgreSQL. A test-only import of @fmp/ledger (the store implements its LogStorage
 * structurally, which the assignment below checks).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@fmp/core';
import {
  type LogStorage,
  LogWriteError,
  leafHash,
  TransparencyLog,
  verifyCheckpoint,
  verifyInclusion,
} from '@fmp/ledger';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerConflictError } from './errors.js';
import { postgresStore } from './postgres.js';
import { sqliteStore } from './sqlite.js';
import type { Store } from './types.js';

const PG_URL = process.env['FMP_TEST_POSTGRES_URL'];
const ORIGIN = 'fmp.ledger/did:mesh:hub:eu-west';
const keyPair = ed25519.keyPairFromSeed(new Uint8Array(32).fill(7));
const entry = (i: number) =>
  new TextEncoder().encode(JSON.stringify({ type: 'test', i, pad: 'x'.repeat(i % 97) }));

interface Backend {
  /** A store over this test's data (same data on every call), not yet opened. */
  make(): Store;
  dispose(): Promise<void>;
}

const backends: [string, (() => Promise<Backend>) | undefined][] = [
  [
    'sqlite',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'fmp-ledger-store-'));
      return {
        make: () => sqliteStore({ path: join(dir, 'hub.db') }),
        dispose: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
  [
    'postgres',
    PG_URL
      ? async () => {
          const schema = `fmp_test_${randomBytes(6).toString('hex')}`;
          return {
            make: () => postgresStore({ url: PG_URL, schema, maxConnections: 4 }),
            async dispose() {
              const client = new pg.Client({ connectionString: PG_URL });
              await client.connect();
              await client.query(`drop schema if exists ${schema} cascade`);
              await client.end();
            },
          };
        }
      : undefined,
  ],
];

describe.each(backends)('TransparencyLog over the %s store', (_name, factory) => {
  const skipped = factory ? '' : ' (skipped: FMP_TEST_POSTGRES_URL is not set)';
  let backend: Backend;
  let opened: Store[];
  const open = async () => {
    const store = backend.make();
    opened.push(store);
    await store.open();
    return store;
  };

  beforeEach(async () => {
    if (!factory) return;
    backend = await factory();
    opened = [];
  });
  afterEach(async () => {
    if (!factory) return;
    for (const s of opened) await s.close();
    await backend.dispose();
  });

  it.skipIf(!factory)(
    `keeps 1,000 concurrent appends across a reopen: same size, same root${skipped}`,
    async () => {
      const store = await open();
      const storage: LogStorage = store.ledgerLogs.open(ORIGIN);
      let batches = 0;
      const counting: LogStorage = {
        size: () => storage.size(),
        leafRange: (start, end) => storage.leafRange(start, end),
        appendBatch(leaves) {
          batches++;
          return storage.appendBatch(leaves);
        },
      };
      const log = await TransparencyLog.open({ origin: ORIGIN, keyPair, storage: counting });
      const indexes = await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(entry(i))));
      expect(indexes).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      // Group commit: the first append's write carries it alone, the rest wait and share the next.
      expect(batches).toBeLessThanOrEqual(3);
      const root = log.rootHash();
      const checkpoint = log.checkpoint();
      await store.close();

      const again = await open();
      const reopened = await TransparencyLog.open({
        origin: ORIGIN,
        keyPair,
        storage: again.ledgerLogs.open(ORIGIN),
      });
      expect(reopened.size).toBe(1000);
      expect(reopened.rootHash()).toEqual(root);
      expect(reopened.checkpoint()).toBe(checkpoint);
      expect(verifyCheckpoint(reopened.checkpoint(), reopened.verifier).checkpoint).toMatchObject({
        size: 1000,
        rootHash: root,
      });
      for (const i of [0, 1, 500, 998, 999]) {
        const [leaf] = await reopened.entries(i, i + 1);
        expect(leaf).toEqual(entry(i));
        expect(verifyInclusion(leafHash(leaf!), i, 1000, reopened.inclusionProof(i), root)).toBe(true);
      }
      expect(await reopened.append(entry(1000))).toBe(1000);
    },
  );

  it.skipIf(!factory)(
    `stops a second log writing to the same stored log, and keeps the first one's entries${skipped}`,
    async () => {
      const [a, b] = [await open(), await open()];
      const first = await TransparencyLog.open({
        origin: ORIGIN,
        keyPair,
        storage: a.ledgerLogs.open(ORIGIN),
      });
      const second = await TransparencyLog.open({
        origin: ORIGIN,
        keyPair,
        storage: b.ledgerLogs.open(ORIGIN),
      });
      expect(await first.append(entry(0))).toBe(0);
      const err = await second.append(entry(1)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LogWriteError);
      expect((err as LogWriteError).cause).toBeInstanceOf(LedgerConflictError);
      expect(await first.append(entry(2))).toBe(1);
      // Reopened from storage, the second log resumes after what the first wrote.
      const resumed = await TransparencyLog.open({
        origin: ORIGIN,
        keyPair,
        storage: b.ledgerLogs.open(ORIGIN),
      });
      expect(resumed.rootHash()).toEqual(first.rootHash());
      expect(await resumed.entries(0, 2)).toEqual([entry(0), entry(2)]);
    },
  );
});
