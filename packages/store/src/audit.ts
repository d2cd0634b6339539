/**
 * The audit chain and the payload vault (issue 6). @fmp/compliance's AuditLog and PayloadVault own
 * the meaning (hashing, encryption); the store keeps entries and rows exactly and enforces what a
 * database must: the chain only grows at its head (seq is the primary key, a batch must continue
 * the stored head), and a payload is only stored while its owner's key is the one it was sealed
 * with. The store does not import @fmp/compliance: these implement its interfaces structurally.
 */
import {
  AUDIT_KIND_PATTERN,
  AUDIT_TEXT_MAX,
  didSchema,
  hasValidAuditFields,
  ValidationError,
} from '@fmp/core';
import { CompiledQuery, type Kysely } from 'kysely';
import { z } from 'zod';
import type { AuditRowValues } from './audit-writer.js';
import type { Context } from './context.js';
import { parseJsonColumn } from './context.js';
import { fromRow, validate } from './errors.js';
import { isWellFormed, jsonObjectProblem } from './json.js';
import type { AuditEntriesTable, Database, Dialect } from './schema-sql.js';
import { limitSchema, timestampSchema } from './schemas.js';
import type { AuditEntryRow, AuditQueryOptions, AuditStore, VaultPayloadRow, VaultStore } from './types.js';

/** Entries one appendBatch, range or query handles at most. */
export const MAX_AUDIT_BATCH = 10_000;
/** Serialized size of an entry's `context` and of its `data`. */
const MAX_AUDIT_JSON_BYTES = 16 * 1024;
const MAX_TEXT = AUDIT_TEXT_MAX;
/** Bound parameters per statement (SQLITE_MAX_VARIABLE_NUMBER; PostgreSQL's 16-bit count). */
const MAX_PARAMETERS: Readonly<Record<Dialect, number>> = { sqlite: 32_766, postgres: 65_535 };
/** Keeps one multi-row statement to a few MiB. */
const MAX_STATEMENT_CHARS = 4 * 1024 * 1024;
const AUDIT_COLUMNS = 9;

/** A batch does not continue the stored chain. A caller error: it fails that append alone. */
export class AuditConflictError extends ValidationError {
  override readonly code = 'audit_conflict';
  constructor(message: string) {
    super(message, [{ path: '0.seq', message }]);
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: this is the check for them
const CONTROL = /[\u0000-\u001f\u007f]/;
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => isWellFormed.call(s), 'must be well-formed unicode');
/** Column values: PostgreSQL text refuses NUL, and identifiers have no use for control characters. */
const columnText = (max: number) =>
  text(max)
    .min(1)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters');
const HASH = /^[0-9a-f]{64}$/;
const hashSchema = z.string().regex(HASH, 'must be 64 lowercase hex digits');
const seqSchema = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const kindSchema = z.string().regex(AUDIT_KIND_PATTERN, 'must be a lowercase kind (e.g. tool_call)');
const actorSchema = didSchema.max(MAX_TEXT);

// Shapes with plain bounds; the string and JSON checks run once per entry in checkEntry, several
// times faster than a zod refinement per string at 50,000 appends a second.
/** The entry fields kept in `body` (everything but the columns). */
const bodyShape = {
  actionId: z.string().min(1).max(256).optional(),
  decision: z.enum(['allow', 'deny']).optional(),
  reasons: z.array(z.string().max(MAX_TEXT)).max(32).optional(),
  policyIds: z.array(z.string().max(256)).max(64).optional(),
  adapters: z.array(z.string().max(128)).max(16).optional(),
  obligations: z
    .array(
      z.strictObject({
        kind: z.string().max(64),
        detail: z.string().max(MAX_TEXT),
        adapter: z.string().max(128),
      }),
    )
    .max(32)
    .optional(),
  // The serialized size is checked in toRow, where the body is serialized anyway.
  context: z.unknown().optional(),
  data: z.unknown().optional(),
};
const columnShape = {
  seq: seqSchema,
  prevHash: hashSchema,
  hash: hashSchema,
  at: timestampSchema,
  kind: kindSchema,
  actor: actorSchema,
  subject: z.string().min(1).max(MAX_TEXT).optional(),
  federationId: z.string().min(1).max(256).optional(),
};

const NOT_WELL_FORMED = 'must be well-formed unicode';

/** Well-formed strings; identifiers (columns, PostgreSQL text refuses NUL) without control characters; JSON objects. */
function checkEntry(e: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });
  for (const field of ['subject', 'federationId', 'actionId'] as const) {
    const v = e[field] as string | undefined;
    if (v === undefined) continue;
    if (!isWellFormed.call(v)) issue([field], NOT_WELL_FORMED);
    else if (CONTROL.test(v)) issue([field], 'must not contain control characters');
  }
  for (const field of ['reasons', 'policyIds', 'adapters'] as const) {
    (e[field] as string[] | undefined)?.forEach((v, i) => {
      if (!isWellFormed.call(v)) issue([field, i], NOT_WELL_FORMED);
    });
  }
  (e['obligations'] as Record<'kind' | 'detail' | 'adapter', string>[] | undefined)?.forEach((o, i) => {
    for (const key of ['kind', 'detail', 'adapter'] as const) {
      if (!isWellFormed.call(o[key])) issue(['obligations', i, key], NOT_WELL_FORMED);
    }
  });
  for (const field of ['context', 'data'] as const) {
    if (e[field] === undefined) continue;
    const problem = jsonObjectProblem(e[field], MAX_AUDIT_JSON_BYTES, true);
    if (problem) issue([field], problem);
  }
}

const BODY_KEYS = Object.keys(bodyShape) as (keyof typeof bodyShape)[];
const EntrySchema = z
  .strictObject({ ...columnShape, ...bodyShape })
  .superRefine(checkEntry) as unknown as z.ZodType<AuditEntryRow>;
const BatchSchema = z.array(EntrySchema).max(MAX_AUDIT_BATCH);

const ENTRY_KEYS = new Set<string>([...Object.keys(columnShape), ...BODY_KEYS]);
const isJsonObject = (v: unknown) =>
  v === undefined || jsonObjectProblem(v, MAX_AUDIT_JSON_BYTES, true) === undefined;

/**
 * True only for an entry EntrySchema accepts as it stands (its parse would give an equal copy):
 * a batch of such entries is stored without zod (its checks and its copy of every entry, a third of
 * an append's cost). The record fields are core's hasValidAuditFields, as the audit log's; anything
 * else goes through the schema, which names the problem.
 */
function isValidEntry(v: unknown): v is AuditEntryRow {
  if (!hasValidAuditFields(v, ENTRY_KEYS)) return false;
  const { seq, prevHash, hash } = v;
  return (
    Number.isSafeInteger(seq) &&
    (seq as number) >= 1 &&
    typeof prevHash === 'string' &&
    HASH.test(prevHash) &&
    typeof hash === 'string' &&
    HASH.test(hash) &&
    isJsonObject(v['context']) &&
    isJsonObject(v['data'])
  );
}

/** A batch of audit entries, as the store takes it: checked without zod when valid (isValidEntry). */
export function parseAuditBatch(input: unknown): AuditEntryRow[] {
  if (Array.isArray(input) && input.length <= MAX_AUDIT_BATCH) {
    let valid = true;
    // Every index, holes included (`every` skips them; the schema refuses them).
    for (let i = 0; i < input.length && valid; i++) valid = isValidEntry(input[i]);
    if (valid) return input;
  }
  return validate(BatchSchema, input, 'audit entries');
}

/** For tests: the schema parseAuditBatch falls back on. */
export const AUDIT_BATCH_SCHEMA: z.ZodType<AuditEntryRow[]> = BatchSchema;
const BodySchema = z.strictObject(bodyShape).superRefine(checkEntry);

const RangeSchema = z.strictObject({ fromSeq: z.number().int().min(0), limit: limitSchema(MAX_AUDIT_BATCH) });
const QuerySchema = z.strictObject({
  federationId: columnText(256).optional(),
  mesh: actorSchema.optional(),
  since: timestampSchema.optional(),
  until: timestampSchema.optional(),
  kind: kindSchema.optional(),
  afterSeq: z.number().int().min(0).optional(),
  limit: limitSchema(MAX_AUDIT_BATCH),
});

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/** The row of entry `i` of a batch; ValidationError when its context or data is too large. */
function toRow(e: AuditEntryRow, i: number): AuditEntriesTable {
  const { seq, prevHash, hash, at, kind, actor, subject, federationId } = e;
  // Built member by member: rest destructuring is several times slower on V8 here.
  const rest: Partial<Record<(typeof BODY_KEYS)[number], unknown>> = {};
  for (const key of BODY_KEYS) if (e[key] !== undefined) rest[key] = e[key];
  const body = JSON.stringify(rest);
  // A body this small cannot hold an oversized context or data: measure them only otherwise.
  if (body.length > MAX_AUDIT_JSON_BYTES / 3 || utf8Bytes(body) > MAX_AUDIT_JSON_BYTES) {
    for (const field of ['context', 'data'] as const) {
      const value = rest[field];
      if (value !== undefined && utf8Bytes(JSON.stringify(value)) > MAX_AUDIT_JSON_BYTES) {
        throw new ValidationError('invalid audit entries', [
          { path: `${i}.${field}`, message: `must serialize to at most ${MAX_AUDIT_JSON_BYTES} bytes` },
        ]);
      }
    }
  }
  return {
    seq,
    at,
    kind,
    actor,
    subject: subject ?? null,
    federation_id: federationId ?? null,
    body,
    prev_hash: prevHash,
    hash,
  };
}

/** A row's column values in insert order (AUDIT_INSERT_PREFIX, and the writer thread's insert). */
function rowValues(r: AuditEntriesTable): AuditRowValues {
  return [r.seq, r.at, r.kind, r.actor, r.subject, r.federation_id, r.body, r.prev_hash, r.hash];
}

const AUDIT_INSERT_PREFIX =
  'insert into audit_entries (seq, at, kind, actor, subject, federation_id, body, prev_hash, hash) values ';
/** One row's insert (SQLite placeholders): the audit writer thread's statement. */
export const AUDIT_INSERT_ROW = `${AUDIT_INSERT_PREFIX}(?,?,?,?,?,?,?,?,?)`;
/** The prevHash of the first entry. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/** The refusal of a batch whose first entry does not follow the stored head (at `headSeq`, 0: empty). */
function notContinuing(firstSeq: number, headSeq: number): AuditConflictError {
  return new AuditConflictError(
    `audit entry ${firstSeq} does not continue the stored chain (its head is at seq ${headSeq})`,
  );
}

/**
 * One multi-row insert, written out rather than built with Kysely's query builder: building and
 * compiling the builder's tree cost more than SQLite's own work per row at 50,000 appends a second.
 */
function insertStatement(rows: readonly AuditEntriesTable[], dialect: Dialect): CompiledQuery {
  const params: unknown[] = [];
  const tuples: string[] = [];
  for (const r of rows) {
    const n = params.push(...rowValues(r));
    if (dialect === 'sqlite') tuples.push('(?,?,?,?,?,?,?,?,?)');
    else {
      const b = n - AUDIT_COLUMNS;
      tuples.push(
        `($${b + 1},$${b + 2},$${b + 3},$${b + 4},$${b + 5},$${b + 6},$${b + 7},$${b + 8},$${b + 9})`,
      );
    }
  }
  return CompiledQuery.raw(AUDIT_INSERT_PREFIX + tuples.join(','), params);
}

/** Rebuilds an entry from its columns and body; StoreCorruptError when they do not fit. */
function fromAuditRow(row: AuditEntriesTable): AuditEntryRow {
  const body = fromRow(BodySchema, parseJsonColumn(row.body, 'audit entry body'), 'audit entry body');
  const entry: Record<string, unknown> = {
    seq: Number(row.seq),
    prevHash: row.prev_hash,
    hash: row.hash,
    at: Number(row.at),
    kind: row.kind,
    actor: row.actor,
  };
  if (row.subject !== null) entry['subject'] = row.subject;
  if (row.federation_id !== null) entry['federationId'] = row.federation_id;
  return fromRow(EntrySchema, Object.assign(entry, body), 'audit entry');
}

/** Splits rows into statements under the dialect's parameter limit and MAX_STATEMENT_CHARS. */
function statements(rows: readonly AuditEntriesTable[], dialect: Dialect): AuditEntriesTable[][] {
  const perStatement = Math.floor(MAX_PARAMETERS[dialect] / AUDIT_COLUMNS);
  const out: AuditEntriesTable[][] = [];
  let current: AuditEntriesTable[] = [];
  let size = 0;
  for (const row of rows) {
    const n = row.body.length + row.actor.length + (row.subject?.length ?? 0) + 200;
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

async function storedHead(db: Kysely<Database>): Promise<{ seq: number; hash: string } | undefined> {
  const row = await db
    .selectFrom('audit_entries')
    .select(['seq', 'hash'])
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && { seq: Number(row.seq), hash: row.hash };
}

export function auditStore(ctx: Context): AuditStore {
  return {
    async appendBatch(input, onWritten) {
      const entries = parseAuditBatch(input);
      if (entries.length === 0) return;
      for (let i = 1; i < entries.length; i++) {
        const e = entries[i]!;
        const prev = entries[i - 1]!;
        if (e.seq !== prev.seq + 1 || e.prevHash !== prev.hash) {
          throw new AuditConflictError(`audit entry ${e.seq} does not follow entry ${prev.seq} in its batch`);
        }
      }
      const rows = entries.map(toRow);
      const writer = ctx.auditWriter;
      if (writer) {
        // Off the main thread (audit-writer.ts): the same head check and insert, one transaction.
        const { conflictAfter } = await writer.append(rows.map(rowValues), onWritten);
        if (conflictAfter !== undefined) throw notContinuing(entries[0]!.seq, conflictAfter);
        return;
      }
      const chunks = statements(rows, ctx.dialect).map((rows) => insertStatement(rows, ctx.dialect));
      const first = entries[0]!;
      await ctx.write(async (db) => {
        // Checked inside the transaction (SQLite holds the write lock from BEGIN), before any write,
        // so a stale writer fails alone. Under PostgreSQL a writer racing past this check still
        // fails, on the primary key, with its whole transaction.
        const head = await storedHead(db);
        if (first.seq !== (head?.seq ?? 0) + 1 || first.prevHash !== (head?.hash ?? AUDIT_GENESIS_HASH)) {
          throw notContinuing(first.seq, head?.seq ?? 0);
        }
        for (const statement of chunks) await db.executeQuery(statement);
      });
      onWritten?.();
    },

    async head() {
      return ctx.read(storedHead);
    },

    async range(fromSeq, limit) {
      const o = validate(RangeSchema, { fromSeq, limit }, 'audit range');
      const rows = await ctx.read((db) =>
        db
          .selectFrom('audit_entries')
          .selectAll()
          .where('seq', '>=', o.fromSeq)
          .orderBy('seq')
          .limit(o.limit)
          .execute(),
      );
      return rows.map(fromAuditRow);
    },

    async query(input: AuditQueryOptions) {
      const q = validate(QuerySchema, input, 'audit query');
      const rows = await ctx.read((db) =>
        db
          .selectFrom('audit_entries')
          .selectAll()
          .$if(q.federationId !== undefined, (b) => b.where('federation_id', '=', q.federationId!))
          .$if(q.mesh !== undefined, (b) =>
            b.where((eb) => eb.or([eb('actor', '=', q.mesh!), eb('subject', '=', q.mesh!)])),
          )
          .$if(q.since !== undefined, (b) => b.where('at', '>=', q.since!))
          .$if(q.until !== undefined, (b) => b.where('at', '<', q.until!))
          .$if(q.kind !== undefined, (b) => b.where('kind', '=', q.kind!))
          .$if(q.afterSeq !== undefined, (b) => b.where('seq', '>', q.afterSeq!))
          .orderBy('seq')
          .limit(q.limit)
          .execute(),
      );
      return rows.map(fromAuditRow);
    },

    async count() {
      return ctx.read(async (db) => {
        const row = await db
          .selectFrom('audit_entries')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        return Number(row.n);
      });
    },
  };
}

const KEY_BYTES = 32;
const vaultSubjectSchema = columnText(300);
const actionIdSchema = columnText(256);
const bytes = (min: number, max: number) =>
  z.instanceof(Uint8Array).refine((b) => b.length >= min && b.length <= max, `must be ${min}..${max} bytes`);
const keySchema = bytes(KEY_BYTES, KEY_BYTES);
const PayloadRowSchema = z.strictObject({
  actionId: actionIdSchema,
  subject: vaultSubjectSchema,
  retainUntil: timestampSchema,
  nonce: bytes(1, 64),
  // The wire's 4 MiB ciphertext bound plus a tag.
  ciphertext: bytes(0, 4 * 1024 * 1024 + 64),
});
const PurgeSchema = z.strictObject({ now: timestampSchema, limit: limitSchema(100_000) });
/** Owners per `in (...)` list. */
const IN_CHUNK = 5000;

const toBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
/** A copy as a plain Uint8Array (drivers return Buffers over shared pools). */
const toBytes = (b: Uint8Array) => Uint8Array.from(b);
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(toBuffer(a), toBuffer(b)) === 0;

function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function vaultStore(ctx: Context): VaultStore {
  const readKey = (db: Kysely<Database>, subject: string) =>
    db.selectFrom('vault_keys').select('key').where('subject', '=', subject).executeTakeFirst();

  return {
    async subjectKey(subject, candidate) {
      const s = validate(vaultSubjectSchema, subject, 'vault subject');
      const key = validate(keySchema, candidate, 'vault key');
      const held = await ctx.read((db) => readKey(db, s));
      if (held) return toBytes(held.key);
      return ctx.write(async (db) => {
        await db
          .insertInto('vault_keys')
          .values({ subject: s, key: toBuffer(key) })
          .onConflict((oc) => oc.column('subject').doNothing())
          .execute();
        const row = await readKey(db, s);
        return toBytes(row!.key);
      });
    },

    async putPayload(input, expectedKey) {
      const row = validate(PayloadRowSchema, input, 'vault payload');
      const key = validate(keySchema, expectedKey, 'vault key');
      return ctx.write(async (db) => {
        // FOR SHARE (PostgreSQL): an erasure or purge deleting this key waits for this
        // transaction, then its next statement sees the payload and deletes it (or keeps the key).
        const held = await db
          .selectFrom('vault_keys')
          .select('key')
          .where('subject', '=', row.subject)
          .$if(ctx.dialect === 'postgres', (q) => q.forShare())
          .executeTakeFirst();
        if (!held || !sameBytes(held.key, key)) return 'key_gone' as const;
        const result = await db
          .insertInto('vault_payloads')
          .values({
            action_id: row.actionId,
            subject: row.subject,
            retain_until: row.retainUntil,
            nonce: toBuffer(row.nonce),
            ciphertext: toBuffer(row.ciphertext),
          })
          .onConflict((oc) => oc.column('action_id').doNothing())
          .executeTakeFirst();
        return Number(result.numInsertedOrUpdatedRows ?? 0n) === 0
          ? ('duplicate' as const)
          : ('stored' as const);
      });
    },

    async getPayload(actionId) {
      const id = validate(actionIdSchema, actionId, 'action id');
      const found = await ctx.read((db) =>
        db
          .selectFrom('vault_payloads as p')
          .leftJoin('vault_keys as k', 'k.subject', 'p.subject')
          .select(['p.action_id', 'p.subject', 'p.retain_until', 'p.nonce', 'p.ciphertext', 'k.key'])
          .where('p.action_id', '=', id)
          .executeTakeFirst(),
      );
      if (!found) return undefined;
      const row: VaultPayloadRow = fromRow(
        PayloadRowSchema,
        {
          actionId: found.action_id,
          subject: found.subject,
          retainUntil: Number(found.retain_until),
          nonce: toBytes(found.nonce),
          ciphertext: toBytes(found.ciphertext),
        },
        'vault payload',
      );
      return { row, ...(found.key ? { key: toBytes(found.key) } : {}) };
    },

    async eraseSubject(subject) {
      const s = validate(vaultSubjectSchema, subject, 'vault subject');
      return ctx.write(async (db) => {
        const result = await db.deleteFrom('vault_payloads').where('subject', '=', s).executeTakeFirst();
        // Then the key, whose foreign key cascade also deletes a payload a concurrent put committed
        // in between (under PostgreSQL the delete waits for a put holding the key FOR SHARE).
        await db.deleteFrom('vault_keys').where('subject', '=', s).execute();
        return Number(result.numDeletedRows);
      });
    },

    async deleteExpired(now, limit) {
      const o = validate(PurgeSchema, { now, limit }, 'purge options');
      return ctx.write(async (db) => {
        const due = await db
          .selectFrom('vault_payloads')
          .select(['action_id', 'subject'])
          .where('retain_until', '<=', o.now)
          .orderBy('retain_until')
          .orderBy('action_id')
          .limit(o.limit)
          .execute();
        if (due.length === 0) return 0;
        let deleted = 0;
        for (const ids of chunked(
          due.map((r) => r.action_id),
          IN_CHUNK,
        )) {
          const result = await db
            .deleteFrom('vault_payloads')
            .where('action_id', 'in', ids)
            .executeTakeFirst();
          deleted += Number(result.numDeletedRows);
        }
        for (const owners of chunked([...new Set(due.map((r) => r.subject))], IN_CHUNK)) {
          if (ctx.dialect === 'postgres') {
            // Lock the keys first (waiting for puts holding them); the delete below is a later
            // statement and sees what they stored.
            await db
              .selectFrom('vault_keys')
              .select('subject')
              .where('subject', 'in', owners)
              .forUpdate()
              .execute();
          }
          await db
            .deleteFrom('vault_keys')
            .where('subject', 'in', owners)
            .where((eb) =>
              eb.not(
                eb.exists(
                  eb
                    .selectFrom('vault_payloads as p')
                    .select('p.action_id')
                    .whereRef('p.subject', '=', 'vault_keys.subject'),
                ),
              ),
            )
            .execute();
        }
        return deleted;
      });
    },

    async count() {
      return ctx.read(async (db) => {
        const keys = await db
          .selectFrom('vault_keys')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        const payloads = await db
          .selectFrom('vault_payloads')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        return { keys: Number(keys.n), payloads: Number(payloads.n) };
      });
    },
  };
}
