import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { auditEntriesFixture, federationFixture, storeConformanceSuite } from './conformance.js';
import { StoreError, ValidationError } from './errors.js';
import { openStore } from './index.js';
import { sqliteStore, withStatementCache } from './sqlite.js';

storeConformanceSuite(
  'sqlite',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fmp-store-'));
    const path = join(dir, 'nested', 'hub.db');
    return {
      make: (options) => sqliteStore({ path, ...options }),
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { auditOwnTransactions: true },
);

describe('the statement cache of the main connection', () => {
  it('prepares a statement once, not one of megabytes, and keeps at most its bound', () => {
    const db = new Database(':memory:');
    try {
      const cache = withStatementCache(db, 2, 100);
      const one = cache.prepare('select 1');
      expect(cache.prepare('select 1')).toBe(one);
      const long = `select 1 ${' '.repeat(200)}`;
      expect(cache.prepare(long)).not.toBe(cache.prepare(long));
      const two = cache.prepare('select 2');
      cache.prepare('select 1'); // used last: 'select 2' is now the oldest
      cache.prepare('select 3'); // over the bound: 'select 2' goes
      expect(cache.prepare('select 1')).toBe(one);
      expect(cache.prepare('select 2')).not.toBe(two);
    } finally {
      db.close();
    }
  });
});

describe('sqlite store', () => {
  it("takes the commit durability ('normal': no fsync per commit) and refuses any other", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fmp-store-'));
    try {
      const path = join(dir, 'node.db');
      const store = sqliteStore({ path, synchronous: 'normal' });
      await store.open();
      const entries = auditEntriesFixture(2);
      await store.audit.appendBatch(entries);
      await store.close();
      const again = sqliteStore({ path });
      await again.open();
      expect(await again.audit.range(1, 10)).toEqual(entries);
      await again.close();
      expect(() => sqliteStore({ path, synchronous: 'off' as never })).toThrow(ValidationError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("acknowledges a file's writes after an fdatasync of its WAL, off the event loop", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fmp-store-'));
    try {
      const durable = sqliteStore({ path: join(dir, 'full.db') });
      await durable.open();
      const before = durable.stats().syncs;
      await Promise.all([
        durable.federations.put(federationFixture()),
        durable.meshes.get('x').catch(() => {}),
      ]);
      expect(durable.stats().syncs).toBeGreaterThan(before);
      expect(durable.stats().pending).toBe(0);
      await durable.close();
      for (const options of [
        { path: join(dir, 'normal.db'), synchronous: 'normal' as const },
        { path: ':memory:' },
      ]) {
        const store = sqliteStore(options);
        await store.open();
        await store.federations.put(federationFixture());
        expect(store.stats().syncs).toBe(0);
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('appends audit entries in the group commit when the database is in memory (one connection)', async () => {
    const store = sqliteStore({ path: ':memory:' });
    await store.open();
    try {
      const entries = auditEntriesFixture(3);
      const before = store.stats().transactions;
      await Promise.all([
        store.audit.appendBatch(entries.slice(0, 2)),
        store.federations.put(federationFixture()),
      ]);
      expect(store.stats().transactions - before).toBe(1);
      await expect(store.audit.appendBatch(entries.slice(1))).rejects.toMatchObject({
        code: 'audit_conflict',
      });
      await store.audit.appendBatch(entries.slice(2));
      expect(await store.audit.head()).toEqual({ seq: 3, hash: entries[2]!.hash });
    } finally {
      await store.close();
    }
  });

  it('appends audit entries from a writer thread when the database is a file, readable at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fmp-store-'));
    const path = join(dir, 'node.db');
    const store = sqliteStore({ path });
    await store.open();
    try {
      const entries = auditEntriesFixture(5);
      // Concurrent batches: applied one at a time in the order sent; the stale one fails alone.
      const [a, stale, b] = await Promise.allSettled([
        store.audit.appendBatch(entries.slice(0, 2)),
        store.audit.appendBatch(entries.slice(0, 1)),
        store.audit.appendBatch(entries.slice(2)),
      ]);
      expect(a.status).toBe('fulfilled');
      expect(stale.status === 'rejected' && stale.reason).toMatchObject({ code: 'audit_conflict' });
      expect(b.status).toBe('fulfilled');
      expect(await store.audit.range(1, 10)).toEqual(entries);
      // Another connection sees what the writer committed.
      const db = new Database(path, { readonly: true });
      expect((db.prepare('select count(*) as n from audit_entries').get() as { n: number }).n).toBe(5);
      db.close();
    } finally {
      await store.close();
    }
    // Closed: the writer thread ended with the store; the entries are there after reopen.
    const again = sqliteStore({ path });
    await again.open();
    try {
      expect(await again.audit.count()).toBe(5);
    } finally {
      await again.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('creates a WAL database, migrated once across reopens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fmp-store-'));
    try {
      const path = join(dir, 'hub.db');
      const store = await openStore({ kind: 'sqlite', path });
      await store.close();
      const again = sqliteStore({ path });
      await again.open();
      await again.close();
      const db = new Database(path, { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const migrations = db.prepare('select name from kysely_migration').all();
      expect(migrations).toEqual([
        { name: '0001_initial' },
        { name: '0002_trust' },
        { name: '0003_audit' },
        { name: '0004_ledger' },
        { name: '0005_mesh_credential' },
      ]);
      db.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('upgrades a database made before the mesh credential column, keeping its rows', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fmp-sqlite-'));
    const path = join(dir, 'hub.db');
    try {
      const mesh = {
        meshId: 'did:mesh:enterprise:acme-001',
        region: 'na',
        capabilities: ['ml.inference'],
        homeHub: 'did:mesh:hub:na',
        credentialIssuer: 'did:mesh:authority:foundation',
        credentialExpiresAt: 2_000_000_000_000,
        trustScore: 50,
        firstSeenAt: 1_700_000_000_000,
        lastSeenAt: 1_700_000_000_000,
      };
      const store = await openStore({ kind: 'sqlite', path });
      await store.meshes.upsert(mesh);
      await store.close();
      // As a hub of the previous release left it: no column, migration not recorded.
      const db = new Database(path);
      db.exec(
        `alter table meshes drop column credential; delete from kysely_migration where name = '0005_mesh_credential'`,
      );
      db.close();
      const upgraded = await openStore({ kind: 'sqlite', path });
      try {
        expect(await upgraded.meshes.get(mesh.meshId)).toEqual(mesh);
        expect(await upgraded.meshes.credential(mesh.meshId)).toBeUndefined();
        await upgraded.meshes.upsert(mesh, { credential: '{"id":"urn:uuid:1"}' });
        expect(await upgraded.meshes.credential(mesh.meshId)).toBe('{"id":"urn:uuid:1"}');
      } finally {
        await upgraded.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails to open with a typed error when the path cannot be a database', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fmp-store-'));
    try {
      const file = join(dir, 'file');
      await writeFile(file, 'not a directory');
      const err = await sqliteStore({ path: join(file, 'hub.db') })
        .open()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).cause).toBeDefined();
      await writeFile(join(dir, 'garbage.db'), 'x'.repeat(4096));
      await expect(sqliteStore({ path: join(dir, 'garbage.db') }).open()).rejects.toBeInstanceOf(StoreError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('validates options and configs', async () => {
    expect(() => sqliteStore({ path: '' })).toThrow(ValidationError);
    expect(() => sqliteStore({ path: 'x.db', maxBatchSize: 0 })).toThrow(ValidationError);
    await expect(openStore({ kind: 'mysql' } as never)).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('audit appends to a SQLite file: written, then durable', () => {
  it('writes a small batch on the calling thread and reports it written before durable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fmp-audit-direct-'));
    const store = sqliteStore({ path: join(dir, 'a.db') });
    try {
      await store.open();
      const entries = auditEntriesFixture(3);
      const events: string[] = [];
      const done = store.audit
        .appendBatch(entries.slice(0, 2), () => events.push('written'))
        .then(() => {
          events.push('durable');
        });
      // Written synchronously (no thread hop): the rows are readable before the fsync returns.
      expect(events).toEqual(['written']);
      const reader = new Database(join(dir, 'a.db'), { readonly: true });
      expect(reader.prepare('SELECT count(*) AS n FROM audit_entries').get()).toEqual({ n: 2 });
      reader.close();
      await done;
      expect(events).toEqual(['written', 'durable']);
      // A batch that does not continue the chain is refused, never reported written.
      let written = false;
      const err = await store.audit
        .appendBatch(entries.slice(0, 1), () => {
          written = true;
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect(written).toBe(false);
      expect(await store.audit.range(1, 10)).toEqual(entries.slice(0, 2));
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('hands a batch to the writer thread when another connection holds the file: the caller never waits for the lock', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fmp-audit-busy-'));
    const path = join(dir, 'a.db');
    const store = sqliteStore({ path });
    const other = new Database(path);
    try {
      await store.open();
      const entries = auditEntriesFixture(3);
      await store.audit.appendBatch(entries.slice(0, 1));
      other.pragma('busy_timeout = 5000');
      other.exec('BEGIN IMMEDIATE');
      let written = false;
      const started = performance.now();
      const appended = store.audit.appendBatch(entries.slice(1), () => {
        written = true;
      });
      // The call returned at once (the lock did not hold this thread) and nothing is written yet.
      expect(performance.now() - started).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 100));
      expect(written).toBe(false);
      other.exec('COMMIT');
      await appended;
      expect(written).toBe(true);
      expect(await store.audit.range(1, 10)).toEqual(entries);
    } finally {
      other.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
