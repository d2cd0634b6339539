import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CHECKPOINT_AFTER_WRITES, startCheckpointer } from './checkpointer.js';
import { federationFixture } from './conformance.js';
import { sqliteStore } from './sqlite.js';

const PRAGMAS = ['journal_mode = WAL', 'synchronous = NORMAL'];

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fmp-checkpoint-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A WAL database whose commits stay in the WAL (no connection of its own checkpoints). */
function walDatabase(path: string): Database.Database {
  const db = new Database(path);
  for (const pragma of PRAGMAS) db.pragma(pragma);
  db.pragma('wal_autocheckpoint = 0');
  db.exec('create table t (id integer primary key, body text not null)');
  return db;
}

function commit(db: Database.Database, rows: number): void {
  const insert = db.prepare('insert into t (body) values (?)');
  for (let i = 0; i < rows; i++) insert.run('x'.repeat(2000));
}

describe('the checkpoint thread', () => {
  it('copies the WAL into the database once enough writes have committed, not before', async () => {
    const path = join(dir, 'a.db');
    const db = walDatabase(path);
    try {
      commit(db, 300);
      const before = statSync(path).size;
      const checkpoints = startCheckpointer(path, PRAGMAS);
      checkpoints.committed(CHECKPOINT_AFTER_WRITES - 1);
      expect(checkpoints.checkpoints).toBe(0);
      checkpoints.committed(1);
      await vi.waitFor(() => expect(checkpoints.checkpoints).toBe(1), { timeout: 10_000 });
      // The pages of 300 rows of 2 KB are in the database file now, not only in the WAL.
      expect(statSync(path).size).toBeGreaterThan(before + 300 * 2000);
      expect(db.prepare('select count(*) as n from t').get()).toEqual({ n: 300 });
      await checkpoints.close();
      expect(checkpoints.failure).toBeUndefined();
    } finally {
      db.close();
    }
  });

  it('starts no thread for a store that writes little, and closes at once', async () => {
    const checkpoints = startCheckpointer(join(dir, 'none.db'), PRAGMAS);
    checkpoints.committed(3);
    await checkpoints.close();
    expect(checkpoints.checkpoints).toBe(0);
    expect(checkpoints.failure).toBeUndefined();
    checkpoints.committed(CHECKPOINT_AFTER_WRITES); // closed: nothing starts
    expect(checkpoints.checkpoints).toBe(0);
  });

  it('reports a thread that cannot open its database, and asks nothing more of it', async () => {
    const checkpoints = startCheckpointer(join(dir, 'missing', 'dir', 'a.db'), PRAGMAS);
    checkpoints.committed(CHECKPOINT_AFTER_WRITES);
    await vi.waitFor(() => expect(checkpoints.failure).toBeInstanceOf(Error), { timeout: 10_000 });
    checkpoints.committed(10 * CHECKPOINT_AFTER_WRITES);
    await checkpoints.close();
    expect(checkpoints.checkpoints).toBe(0);
  });
});

describe('a sqlite store', () => {
  it("checkpoints its main connection's WAL on the thread", async () => {
    const path = join(dir, 'hub.db');
    const store = sqliteStore({ path });
    await store.open();
    try {
      const after = statSync(path).size;
      // One write per commit, as a hub's rows come in: without the thread, the main connection's
      // own (fallback) checkpoint would not run before 10,000 pages.
      for (let i = 0; i < CHECKPOINT_AFTER_WRITES + 10; i++) await store.federations.put(federationFixture());
      await vi.waitFor(() => expect(store.stats().checkpoints).toBeGreaterThanOrEqual(1), {
        timeout: 10_000,
      });
      expect(statSync(path).size).toBeGreaterThan(after);
      expect((await store.federations.listActive(0)).length).toBe(CHECKPOINT_AFTER_WRITES + 10);
    } finally {
      await store.close();
    }
    const again = sqliteStore({ path });
    await again.open();
    expect((await again.federations.listActive(0)).length).toBe(CHECKPOINT_AFTER_WRITES + 10);
    await again.close();
  });

  it('closes in a process with nothing else to do (the thread keeps it alive until it has ended)', () => {
    const fixture = new URL('./checkpointer.fixture.ts', import.meta.url).pathname;
    const child = spawnSync(process.execPath, ['--import', 'tsx', fixture, join(dir, 'alone.db')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.stderr).not.toMatch(/unsettled/);
    expect(child.status).toBe(0);
    expect(child.stdout).toMatch(/^closed [01]\n$/);
  });
});
