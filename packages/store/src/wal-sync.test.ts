import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreClosedError, StoreError, StoreOverloadedError } from './errors.js';
import { WriteQueue } from './queue.js';
import type { Database as Tables } from './schema-sql.js';
import { walSync } from './wal-sync.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fmp-walsync-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('walSync', () => {
  it('syncs the WAL file; calls made while a sync is under way share the next one', async () => {
    const db = join(dir, 'a.db');
    await writeFile(`${db}-wal`, 'frames');
    const s = walSync(db);
    await s.sync();
    expect(s.syncs).toBe(1);
    // The first starts at once; the four after it may have committed after it began: one more.
    await Promise.all([s.sync(), s.sync(), s.sync(), s.sync(), s.sync()]);
    expect(s.syncs).toBe(3);
    await s.close();
    await expect(s.sync()).rejects.toBeInstanceOf(StoreClosedError);
  });

  it('fails every sync after one failed: a later fsync could succeed without the lost pages', async () => {
    const db = join(dir, 'b.db');
    await writeFile(`${db}-wal`, 'frames');
    let calls = 0;
    const s = walSync(db, {
      fdatasync: (_fd, done) => {
        calls++;
        done(calls === 2 ? Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }) : null);
      },
    });
    await s.sync();
    await expect(s.sync()).rejects.toThrow(/could not be synced/);
    await expect(s.sync()).rejects.toThrow(/could not be synced/);
    expect(calls).toBe(2);
    await s.close();
  });

  it('fails with a StoreError naming the file when there is no WAL to sync', async () => {
    const s = walSync(join(dir, 'missing.db'));
    await expect(s.sync()).rejects.toThrow(/missing\.db-wal/);
    await s.close();
  });
});

describe('WriteQueue with a durability step', () => {
  const open = () => {
    const k = new Kysely<Tables>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
    return k;
  };
  const controlled = () => {
    const waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
    const durable = () => new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }));
    return { waiting, durable };
  };
  const settle = () => new Promise((r) => setImmediate(r));

  it('answers a write once its commit is durable, and commits the next batch meanwhile', async () => {
    const db = open();
    await sql`create table t (x integer)`.execute(db);
    const { waiting, durable } = controlled();
    const q = new WriteQueue(db, 'sqlite', { maxPending: 100, maxBatch: 10, durable });
    let firstDone = false;
    const first = q.enqueue((c) => sql`insert into t values (1)`.execute(c)).then(() => (firstDone = true));
    while (waiting.length < 1) await settle();
    expect(firstDone).toBe(false);
    expect(q.pending).toBe(1);
    // Committed already (visible), not yet acknowledged.
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(db)).rows[0]!.n).toBe(1);
    const second = q.enqueue((c) => sql`insert into t values (2)`.execute(c));
    while (waiting.length < 2) await settle();
    expect(q.transactions).toBe(2);
    waiting[0]!.resolve();
    await first;
    expect(firstDone).toBe(true);
    waiting[1]!.resolve();
    await second;
    expect(q.pending).toBe(0);
    await q.close();
    await db.destroy();
  });

  it('rejects every write of a batch whose sync failed with a StoreError', async () => {
    const db = open();
    await sql`create table t (x integer)`.execute(db);
    const { waiting, durable } = controlled();
    const q = new WriteQueue(db, 'sqlite', { maxPending: 100, maxBatch: 10, durable });
    const writes = [1, 2].map((n) => q.enqueue((c) => sql`insert into t values (${n})`.execute(c)));
    while (waiting.length < 1) await settle();
    waiting[0]!.reject(new Error('EIO'));
    for (const w of writes) await expect(w).rejects.toBeInstanceOf(StoreError);
    expect(q.pending).toBe(0);
    await q.close();
    await db.destroy();
  });

  it('counts writes waiting for their sync against maxPending, and close waits for the sync', async () => {
    const db = open();
    await sql`create table t (x integer)`.execute(db);
    const { waiting, durable } = controlled();
    const q = new WriteQueue(db, 'sqlite', { maxPending: 2, maxBatch: 10, durable });
    const writes = [1, 2].map((n) => q.enqueue((c) => sql`insert into t values (${n})`.execute(c)));
    while (waiting.length < 1) await settle();
    await expect(q.enqueue(async () => {})).rejects.toBeInstanceOf(StoreOverloadedError);
    let closed = false;
    const closing = q.close().then(() => (closed = true));
    await settle();
    expect(closed).toBe(false);
    waiting[0]!.resolve();
    await Promise.all([...writes, closing]);
    expect(closed).toBe(true);
    await db.destroy();
  });
});
