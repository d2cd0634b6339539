/**
 * The trust engine's state: subjects, edges of the trust graph and peer attestations. The engine
 * owns the meaning; the store keeps each row's JSON object as text, byte for byte, so a restart
 * gets back exactly what was written (the store does not import @fmp/trust).
 */
import { didSchema } from '@fmp/core';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Context } from './context.js';
import { parseJsonColumn } from './context.js';
import { fromRow, validate } from './errors.js';
import { jsonObjectProblem } from './json.js';
import type { Database, Dialect } from './schema-sql.js';
import { limitSchema, timestampSchema } from './schemas.js';
import type { TrustAttestationRow, TrustEdgeRow, TrustStore, TrustSubjectRow } from './types.js';

/** Serialized size of one row's JSON object. */
export const MAX_TRUST_JSON_BYTES = 64 * 1024;
/** Rows one put accepts; they all commit in the same transaction. */
export const MAX_TRUST_ROWS_PER_CALL = 100_000;
/** Rows `load` returns per table by default, and at most. */
const DEFAULT_LOAD_LIMIT = 100_000;
const MAX_LOAD_LIMIT = 1_000_000;
/** Bound parameters per statement (SQLITE_MAX_VARIABLE_NUMBER; PostgreSQL's 16-bit count). */
const MAX_PARAMETERS: Readonly<Record<Dialect, number>> = { sqlite: 32_766, postgres: 65_535 };
/** Keeps one multi-row statement (and the driver's copy of it) to a few MiB of JSON. */
const MAX_STATEMENT_CHARS = 4 * 1024 * 1024;

/** A JSON object in, its serialized text out (so it is serialized once, during validation). */
const jsonObjectText = z.unknown().transform((value, ctx) => {
  const problem = jsonObjectProblem(value, MAX_TRUST_JSON_BYTES);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text, 'utf8') > MAX_TRUST_JSON_BYTES) {
    ctx.addIssue({ code: 'custom', message: `must serialize to at most ${MAX_TRUST_JSON_BYTES} bytes` });
    return z.NEVER;
  }
  return text;
});

const attestationIdSchema = z.string().min(1).max(256);
const rowsOf = <T extends z.ZodType>(row: T) => z.array(row).max(MAX_TRUST_ROWS_PER_CALL);

const SubjectInputSchema = rowsOf(
  z.strictObject({ did: didSchema, state: jsonObjectText, updatedAt: timestampSchema }),
);
const EdgeInputSchema = rowsOf(
  z.strictObject({ from: didSchema, to: didSchema, state: jsonObjectText, updatedAt: timestampSchema }),
);
const AttestationInputSchema = rowsOf(
  z.strictObject({
    id: attestationIdSchema,
    attester: didSchema,
    subject: didSchema,
    body: jsonObjectText,
    expiresAt: timestampSchema,
  }),
);
const LoadOptionsSchema = z.strictObject({ limit: limitSchema(MAX_LOAD_LIMIT).optional() });

/** Rows read back: the JSON was checked on the way in, so an object here is enough. */
const jsonObjectOut = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  'not a JSON object',
);
const SubjectOutSchema: z.ZodType<TrustSubjectRow> = z.object({
  did: didSchema,
  state: jsonObjectOut,
  updatedAt: timestampSchema,
});
const EdgeOutSchema: z.ZodType<TrustEdgeRow> = z.object({
  from: didSchema,
  to: didSchema,
  state: jsonObjectOut,
  updatedAt: timestampSchema,
});
const AttestationOutSchema: z.ZodType<TrustAttestationRow> = z.object({
  id: attestationIdSchema,
  attester: didSchema,
  subject: didSchema,
  body: jsonObjectOut,
  expiresAt: timestampSchema,
});

/**
 * Splits rows into statements under the dialect's parameter limit and MAX_STATEMENT_CHARS. Keys
 * repeated in one call keep their last row: PostgreSQL refuses a statement whose ON CONFLICT
 * would update one row twice, and sequential upserts would leave the last one anyway.
 */
function statements<R>(
  rows: readonly R[],
  key: (row: R) => string,
  chars: (row: R) => number,
  columns: number,
  dialect: Dialect,
): R[][] {
  const last = new Map<string, R>();
  for (const row of rows) last.set(key(row), row);
  const perStatement = Math.floor(MAX_PARAMETERS[dialect] / columns);
  const out: R[][] = [];
  let current: R[] = [];
  let size = 0;
  for (const row of last.values()) {
    const n = chars(row);
    if (current.length > 0 && (current.length >= perStatement || size + n > MAX_STATEMENT_CHARS)) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(row);
    size += n;
  }
  if (current.length > 0) out.push(current);
  return out;
}

export function trustStore(ctx: Context): TrustStore {
  const count = async (
    db: Kysely<Database>,
    table: 'trust_subjects' | 'trust_edges' | 'trust_attestations',
  ) => {
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  return {
    async putSubjects(input) {
      const rows = validate(SubjectInputSchema, input, 'trust subjects');
      if (rows.length === 0) return;
      const chunks = statements(
        rows,
        (r) => r.did,
        (r) => r.did.length + r.state.length,
        3,
        ctx.dialect,
      );
      await ctx.write(async (db) => {
        for (const chunk of chunks) {
          await db
            .insertInto('trust_subjects')
            .values(chunk.map((r) => ({ did: r.did, state: r.state, updated_at: r.updatedAt })))
            .onConflict((oc) =>
              oc.column('did').doUpdateSet((eb) => ({
                state: eb.ref('excluded.state'),
                updated_at: eb.ref('excluded.updated_at'),
              })),
            )
            .execute();
        }
      });
    },

    async putEdges(input) {
      const rows = validate(EdgeInputSchema, input, 'trust edges');
      if (rows.length === 0) return;
      // JSON.stringify of the pair cannot collide the way a plain separator could.
      const chunks = statements(
        rows,
        (r) => JSON.stringify([r.from, r.to]),
        (r) => r.from.length + r.to.length + r.state.length,
        4,
        ctx.dialect,
      );
      await ctx.write(async (db) => {
        for (const chunk of chunks) {
          await db
            .insertInto('trust_edges')
            .values(
              chunk.map((r) => ({ from_did: r.from, to_did: r.to, state: r.state, updated_at: r.updatedAt })),
            )
            .onConflict((oc) =>
              oc.columns(['from_did', 'to_did']).doUpdateSet((eb) => ({
                state: eb.ref('excluded.state'),
                updated_at: eb.ref('excluded.updated_at'),
              })),
            )
            .execute();
        }
      });
    },

    async putAttestations(input) {
      const rows = validate(AttestationInputSchema, input, 'trust attestations');
      if (rows.length === 0) return;
      const chunks = statements(
        rows,
        (r) => r.id,
        (r) => r.id.length + r.attester.length + r.subject.length + r.body.length,
        5,
        ctx.dialect,
      );
      await ctx.write(async (db) => {
        for (const chunk of chunks) {
          await db
            .insertInto('trust_attestations')
            .values(
              chunk.map((r) => ({
                id: r.id,
                attester: r.attester,
                subject: r.subject,
                body: r.body,
                expires_at: r.expiresAt,
              })),
            )
            .onConflict((oc) =>
              oc.column('id').doUpdateSet((eb) => ({
                attester: eb.ref('excluded.attester'),
                subject: eb.ref('excluded.subject'),
                body: eb.ref('excluded.body'),
                expires_at: eb.ref('excluded.expires_at'),
              })),
            )
            .execute();
        }
      });
    },

    async deleteExpiredAttestations(now) {
      const t = validate(timestampSchema, now, 'time');
      return ctx.write(async (db) => {
        const result = await db
          .deleteFrom('trust_attestations')
          .where('expires_at', '<=', t)
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      });
    },

    async load(options = {}) {
      const { limit = DEFAULT_LOAD_LIMIT } = validate(LoadOptionsSchema, options, 'load options');
      // Three reads, not one snapshot: the engine re-derives what it needs, and a write landing
      // between them is written again by its next flush.
      const subjects = await ctx.read((db) =>
        db
          .selectFrom('trust_subjects')
          .selectAll()
          .orderBy('updated_at', 'desc')
          .orderBy('did')
          .limit(limit)
          .execute(),
      );
      const edges = await ctx.read((db) =>
        db
          .selectFrom('trust_edges')
          .selectAll()
          .orderBy('updated_at', 'desc')
          .orderBy('from_did')
          .orderBy('to_did')
          .limit(limit)
          .execute(),
      );
      // Attestations have no update time: the longest-lived are kept first.
      const attestations = await ctx.read((db) =>
        db
          .selectFrom('trust_attestations')
          .selectAll()
          .orderBy('expires_at', 'desc')
          .orderBy('id')
          .limit(limit)
          .execute(),
      );
      return {
        subjects: subjects.map((r) =>
          fromRow(
            SubjectOutSchema,
            {
              did: r.did,
              state: parseJsonColumn(r.state, 'trust subject state'),
              updatedAt: Number(r.updated_at),
            },
            'trust subject',
          ),
        ),
        edges: edges.map((r) =>
          fromRow(
            EdgeOutSchema,
            {
              from: r.from_did,
              to: r.to_did,
              state: parseJsonColumn(r.state, 'trust edge state'),
              updatedAt: Number(r.updated_at),
            },
            'trust edge',
          ),
        ),
        attestations: attestations.map((r) =>
          fromRow(
            AttestationOutSchema,
            {
              id: r.id,
              attester: r.attester,
              subject: r.subject,
              body: parseJsonColumn(r.body, 'trust attestation body'),
              expiresAt: Number(r.expires_at),
            },
            'trust attestation',
          ),
        ),
      };
    },

    async count() {
      return ctx.read(async (db) => ({
        subjects: await count(db, 'trust_subjects'),
        edges: await count(db, 'trust_edges'),
        attestations: await count(db, 'trust_attestations'),
      }));
    },
  };
}
