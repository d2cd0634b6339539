import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { federationFixture, storeConformanceSuite } from './conformance.js';
import { InvalidTransitionError, LedgerConflictError, StoreError, ValidationError } from './errors.js';
import { postgresStore } from './postgres.js';

const url = process.env['FMP_TEST_POSTGRES_URL'];
const SKIP = 'FMP_TEST_POSTGRES_URL is not set';

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}

// Each test gets its own schema, dropped afterwards.
storeConformanceSuite(
  'postgres',
  async () => {
    const schema = `fmp_test_${randomBytes(6).toString('hex')}`;
    return {
      make: (options) => postgresStore({ url: url!, schema, maxConnections: 4, ...options }),
      dispose: () => dropSchema(schema),
    };
  },
  url ? {} : { skip: SKIP },
);

describe.skipIf(!url)(`postgres store${url ? '' : ` (skipped: ${SKIP})`}`, () => {
  it('keeps its tables inside the given schema', async () => {
    const schema = `fmp_test_${randomBytes(6).toString('hex')}`;
    const store = postgresStore({ url: url!, schema });
    try {
      await store.open();
      await store.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ table_name: string }>(
        'select table_name from information_schema.tables where table_schema = $1 order by table_name',
        [schema],
      );
      await client.end();
      expect(rows.map((r) => r.table_name)).toEqual([
        'audit_entries',
        'federations',
        'kysely_migration',
        'kysely_migration_lock',
        'ledger_leaves',
        'mesh_capabilities',
        'mesh_operations',
        'mesh_sessions',
        'meshes',
        'trust_attestations',
        'trust_edges',
        'trust_subjects',
        'vault_keys',
        'vault_payloads',
      ]);
    } finally {
      await dropSchema(schema);
    }
  });

  it('serialises state changes across hub processes sharing the database', async () => {
    const schema = `fmp_test_${randomBytes(6).toString('hex')}`;
    // Two stores over one schema stand for two hub processes in cluster mode.
    const a = postgresStore({ url: url!, schema });
    const b = postgresStore({ url: url!, schema });
    try {
      await Promise.all([a.open(), b.open()]);
      const fs = Array.from({ length: 20 }, (_, i) =>
        federationFixture({ expiresAt: Date.UTC(2025, 5, 2) + i }),
      );
      await Promise.all(fs.map((f) => a.federations.put(f)));
      const results = await Promise.allSettled(
        [a, b, a, b].map((s, i) =>
          s.federations.setStatus(fs[0]!.federationId, 'terminated', `p${i}`, Date.UTC(2025, 5, 1, 1)),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(InvalidTransitionError);
      const [x, y] = await Promise.all([
        a.federations.expireDue(Date.UTC(2026, 0)),
        b.federations.expireDue(Date.UTC(2026, 0)),
      ]);
      expect([...x, ...y].sort()).toEqual(
        fs
          .slice(1)
          .map((f) => f.federationId)
          .sort(),
      );
    } finally {
      await a.close();
      await b.close();
      await dropSchema(schema);
    }
  });

  it('undoes a ledger batch raced to the same indexes by another process; its transaction commits', async () => {
    const schema = `fmp_test_${randomBytes(6).toString('hex')}`;
    const store = postgresStore({ url: url!, schema });
    const other = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    try {
      await store.open();
      await other.connect();
      const log = store.ledgerLogs.open('raced');
      expect(await log.size()).toBe(0);
      // The other writer holds index 1, uncommitted: the store reads size 0 and inserts 0, 1 and 2,
      // waiting on 1 until the other commits; then its 1 is a conflict and the batch is undone.
      await other.query('begin');
      await other.query(`insert into ledger_leaves (log_name, idx, leaf) values ('raced', 1, '\\x01')`);
      const leaves = [1, 2, 3].map((n) => new Uint8Array([n, n, n]));
      const f = federationFixture();
      const [appending, putting] = [log.appendBatch(leaves), store.federations.put(f)];
      const holder = (await other.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      for (let i = 0; ; i++) {
        const { rows } = await other.query<{ n: number }>(
          'select count(*)::int as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))',
          [holder],
        );
        if (rows[0]!.n > 0) break;
        if (i > 400) throw new Error('the store never waited on the uncommitted row');
        await new Promise((r) => setTimeout(r, 25));
      }
      await other.query('commit');
      const err = await appending.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LedgerConflictError);
      expect(err).toMatchObject({ expectedSize: 0, storedSize: 2 });
      await putting;
      expect(await store.federations.get(f.federationId)).toEqual(f);
      const { rows } = await other.query<{ idx: number; leaf: Buffer }>(
        `select idx::int as idx, leaf from ledger_leaves where log_name = 'raced' order by idx`,
      );
      expect(rows.map((r) => [r.idx, [...r.leaf]])).toEqual([[1, [1]]]);
    } finally {
      await other.end().catch(() => {});
      await store.close();
      await dropSchema(schema);
    }
  });

  it('fails to open with a typed error when the server refuses', async () => {
    const bad = new URL(url!);
    bad.pathname = '/fmp_no_such_database';
    const err = await postgresStore({ url: bad.toString() })
      .open()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).cause).toBeDefined();
  });
});

describe('postgres store options', () => {
  it('validates the URL and the schema name before connecting', () => {
    expect(() => postgresStore({ url: 'mysql://x' })).toThrow(ValidationError);
    expect(() => postgresStore({ url: 'postgres://x/db', schema: 'x; drop table y' })).toThrow(
      ValidationError,
    );
    expect(() => postgresStore({ url: 'postgres://x/db', maxConnections: 0 })).toThrow(ValidationError);
  });
});
