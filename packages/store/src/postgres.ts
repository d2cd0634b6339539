/** PostgreSQL (pg): cluster mode, several hub processes sharing one database. */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { z } from 'zod';
import { validate } from './errors.js';
import type { Database } from './schema-sql.js';
import { createStore } from './store.js';
import type { Store, StoreOptions } from './types.js';

export interface PostgresStoreOptions extends StoreOptions {
  /** postgres://user@host:port/database */
  readonly url: string;
  /** Tables go into this schema (created if missing), e.g. to isolate tests. Default: search_path. */
  readonly schema?: string;
  /** Pool size. Default 10. */
  readonly maxConnections?: number;
  /** Per-statement limit, so a stuck query fails instead of hanging. Default 30,000 ms. */
  readonly statementTimeoutMs?: number;
}

const PostgresOptionsSchema = z.looseObject({
  url: z
    .string()
    .regex(/^postgres(?:ql)?:\/\//, 'must be a postgres:// URL')
    .max(4096),
  schema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'lowercase letters, digits and _ (an unquoted identifier)')
    .optional(),
  maxConnections: z.number().int().min(1).max(1000).optional(),
  statementTimeoutMs: z.number().int().min(1).max(3_600_000).optional(),
});

const INT8_OID = 20;

export function postgresStore(options: PostgresStoreOptions): Store {
  const o = validate(PostgresOptionsSchema, options, 'postgres options');
  const { maxPendingWrites, maxBatchSize, maxSessionsPerMesh } = options;
  return createStore(
    {
      dialect: 'postgres',
      ...(o.schema ? { migrationTableSchema: o.schema } : {}),
      async connect() {
        const pool = new pg.Pool({
          connectionString: o.url,
          max: o.maxConnections ?? 10,
          connectionTimeoutMillis: 10_000,
          idleTimeoutMillis: 30_000,
          statement_timeout: o.statementTimeoutMs ?? 30_000,
          ...(o.schema ? { options: `-c search_path=${o.schema}` } : {}),
          // Times are BIGINT milliseconds: parse them as numbers (exact below 2^53) for this pool only.
          types: {
            getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
              oid === INT8_OID && format !== 'binary'
                ? (value: string) => Number(value)
                : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
          },
        });
        // An idle client's connection error would otherwise crash the process; the next query reports it.
        pool.on('error', () => {});
        try {
          if (o.schema) {
            await pool.query(`create schema if not exists ${o.schema}`).catch((error: { code?: string }) => {
              // Two processes creating it at once: one loses the race, and the schema exists.
              if (error.code !== '23505' && error.code !== '42P06') throw error;
            });
          } else {
            await pool.query('select 1');
          }
        } catch (error) {
          await pool.end().catch(() => {});
          throw error;
        }
        return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
      },
    },
    { maxPendingWrites, maxBatchSize, maxSessionsPerMesh },
  );
}
