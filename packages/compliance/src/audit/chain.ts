/**
 * The audit chain: an append-only, hash-chained, tamper-evident log of cross-mesh actions.
 *
 * Entry hash (version 1):
 *
 *   hash = lowercase hex SHA-256( RFC 8785 canonical JSON of the entry without its `hash` member )
 *
 * that is, of the object `{ seq, prevHash, at, kind, actor, ...every other record field present }`.
 * Absent optional fields are left out (never written as null); `seq` starts at 1 and grows by one;
 * `prevHash` is the previous entry's `hash`, and 64 zeros (GENESIS_HASH) for the first entry.
 *
 * Changing any field of an entry changes its hash; rewriting the hash as well breaks the next
 * entry's `prevHash`; deleting or reordering entries breaks the seq sequence or a link. Only the
 * tail is not protected by a successor: a truncated or rewritten tail is detected against a head
 * (seq, hash) known from elsewhere (the live log's own head, a published or exported head).
 */
import { createHash } from 'node:crypto';
import {
  AUDIT_KIND_PATTERN,
  AUDIT_TEXT_MAX,
  canonicalJson,
  didSchema,
  hasValidAuditFields,
  MAX_JSON_DEPTH,
  TimestampMsSchema,
} from '@fmp/core';
import { z } from 'zod';

/** The first entry's prevHash. */
export const GENESIS_HASH = '0'.repeat(64);
/** Serialized size (UTF-8) of `context` and of `data`. */
export const MAX_AUDIT_JSON_BYTES = 16 * 1024;
/** Length of the free-text fields (reasons, obligation details, subject). */
export const MAX_AUDIT_STRING = AUDIT_TEXT_MAX;

export type AuditDecision = 'allow' | 'deny';

export interface AuditObligation {
  readonly kind: string;
  readonly detail: string;
  readonly adapter: string;
}

/** What callers append. Audit records never hold payloads: store a payload's hash in `data`. */
export interface AuditRecord {
  readonly at: number;
  /** 'message' | 'tool_call' | 'federation' | 'compliance_denied' | 'policy_decision' | 'explanation' | 'erasure' | 'retention_purge' | ... */
  readonly kind: string;
  /** The DID that acted. */
  readonly actor: string;
  /** The other party, or the data subject. */
  readonly subject?: string;
  readonly federationId?: string;
  readonly actionId?: string;
  readonly decision?: AuditDecision;
  readonly reasons?: readonly string[];
  readonly policyIds?: readonly string[];
  readonly adapters?: readonly string[];
  readonly obligations?: readonly AuditObligation[];
  /** The transaction's complianceContext. */
  readonly context?: Record<string, unknown>;
  /** Small JSON (at most 16 KiB), e.g. an explanation record. */
  readonly data?: Record<string, unknown>;
}

export interface AuditEntry extends AuditRecord {
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
}

/** A position in the chain: the entry at `seq` has `hash`. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export type ChainProblem =
  /** An entry does not have the shape of an entry. */
  | 'malformed'
  /** Entries are missing: the seq jumps forward. */
  | 'gap'
  /** An entry appears out of order (reordered or duplicated): the seq goes backward or repeats. */
  | 'order'
  /** An entry's prevHash is not the previous entry's hash. */
  | 'link'
  /** An entry's hash is not the hash of its content. */
  | 'hash'
  /** The chain ends before the known head. */
  | 'truncated'
  /** The entry at the known head's seq has another hash (history rewritten). */
  | 'head'
  /** The storage could not read an entry back (the row is corrupt). */
  | 'unreadable';

export interface VerifyResult {
  readonly ok: boolean;
  /** Entries checked. */
  readonly checked: number;
  /** The last entry that verified (undefined for an empty chain or a failure at the first). */
  readonly head?: ChainHead;
  /** Where the first problem is: the entry at fault, or the first missing seq. */
  readonly firstBadSeq?: number;
  readonly problem?: ChainProblem;
  readonly detail?: string;
}

export interface VerifyChainOptions {
  /** Where `entries` start: their first seq and its prevHash. Default: seq 1 after GENESIS_HASH. */
  readonly start?: { readonly seq: number; readonly prevHash: string };
  /** A head known from elsewhere: the chain must reach it with this hash (detects a cut tail). */
  readonly head?: ChainHead;
}

const isWellFormed = (String.prototype as unknown as { isWellFormed: (this: string) => boolean })
  .isWellFormed;
// Control characters have no place in identifiers, and PostgreSQL text refuses NUL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: this is the check for them
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Free text: well-formed UTF-16 (lone surrogates would not survive a UTF-8 round trip). */
export const auditTextSchema = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => isWellFormed.call(s), 'must be well-formed unicode (no lone surrogates)');
/** Identifiers stored in their own columns: no control characters either. */
export const auditIdSchema = (max: number) =>
  auditTextSchema(max)
    .min(1)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters');

export const hashHexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
export const auditKindSchema = z
  .string()
  .regex(AUDIT_KIND_PATTERN, 'must be lowercase letters, digits, _ . - (e.g. tool_call)');

interface CopyState {
  nodes: number;
  /** An upper bound of the serialized size in UTF-8 bytes (exact size computed only above the limit). */
  bound: number;
  problem?: string;
}

const TOO_BIG = `must serialize to at most ${MAX_AUDIT_JSON_BYTES} bytes`;

/**
 * A copy of a JSON value, checked on the way (plain objects and arrays, finite numbers,
 * well-formed strings, depth); sets `s.problem` instead on anything else. Recursion is bounded by
 * MAX_JSON_DEPTH and the work by the node count (every node costs at least one serialized byte).
 * Undefined object members are left out, as JSON.stringify does.
 */
function copyJson(v: unknown, depth: number, s: CopyState): unknown {
  if (++s.nodes > MAX_AUDIT_JSON_BYTES) {
    s.problem ??= TOO_BIG;
    return undefined;
  }
  if (v === null || typeof v === 'boolean') {
    s.bound += 5;
    return v;
  }
  if (typeof v === 'string') {
    if (!isWellFormed.call(v)) s.problem ??= 'strings must be well-formed unicode';
    // A UTF-16 unit takes at most 6 bytes (\uXXXX escapes).
    s.bound += 6 * v.length + 2;
    return v;
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) s.problem ??= 'numbers must be finite';
    s.bound += 25;
    return v;
  }
  if (typeof v !== 'object') {
    s.problem ??= `a ${typeof v} is not JSON`;
    return undefined;
  }
  if (depth > MAX_JSON_DEPTH) {
    s.problem ??= `must nest at most ${MAX_JSON_DEPTH} levels`;
    return undefined;
  }
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    s.bound += 2 + v.length;
    for (let i = 0; i < v.length && !s.problem; i++) {
      const item: unknown = v[i];
      // JSON would turn holes and undefined into null: refuse rather than record something else.
      if (item === undefined) s.problem = 'arrays must not hold undefined or holes';
      else out[i] = copyJson(item, depth + 1, s);
    }
    return out;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    s.problem ??= 'must contain only plain objects and arrays';
    return undefined;
  }
  const out: Record<string, unknown> = {};
  s.bound += 2;
  for (const key of Object.keys(v)) {
    const item = (v as Record<string, unknown>)[key];
    if (item === undefined) continue;
    if (!isWellFormed.call(key)) s.problem ??= 'keys must be well-formed unicode';
    s.bound += 6 * key.length + 4;
    const copy = copyJson(item, depth + 1, s);
    if (s.problem) return undefined;
    // defineProperty: a "__proto__" key stays a member instead of setting the prototype.
    if (key === '__proto__')
      Object.defineProperty(out, key, { value: copy, enumerable: true, writable: true });
    else out[key] = copy;
  }
  return out;
}

/**
 * A copy of a small JSON object, or a problem. Copied because the entry is hashed and written
 * after append() returns: a caller changing its object meanwhile must not change the record.
 */
export function copyAuditJson(value: unknown): { copy: Record<string, unknown> } | { problem: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problem: 'must be a JSON object' };
  }
  const s: CopyState = { nodes: 0, bound: 0 };
  const copy = copyJson(value, 1, s) as Record<string, unknown>;
  if (s.problem) return { problem: s.problem };
  if (
    s.bound > MAX_AUDIT_JSON_BYTES &&
    Buffer.byteLength(JSON.stringify(copy), 'utf8') > MAX_AUDIT_JSON_BYTES
  ) {
    return { problem: TOO_BIG };
  }
  return { copy };
}

// The shape alone: string checks and the JSON copies run once per record in checkRecord, which is
// several times faster than a zod refinement per string at 50,000 appends a second.
const recordShape = {
  at: TimestampMsSchema,
  kind: auditKindSchema,
  actor: didSchema.max(MAX_AUDIT_STRING),
  subject: z.string().min(1).max(MAX_AUDIT_STRING).optional(),
  federationId: z.string().min(1).max(256).optional(),
  actionId: z.string().min(1).max(256).optional(),
  decision: z.enum(['allow', 'deny']).optional(),
  reasons: z.array(z.string().max(MAX_AUDIT_STRING)).max(32).optional(),
  policyIds: z.array(z.string().max(256)).max(64).optional(),
  adapters: z.array(z.string().max(128)).max(16).optional(),
  obligations: z
    .array(
      z.strictObject({
        kind: z.string().max(64),
        detail: z.string().max(MAX_AUDIT_STRING),
        adapter: z.string().max(128),
      }),
    )
    .max(32)
    .optional(),
  context: z.unknown().optional(),
  data: z.unknown().optional(),
};

const ID_FIELDS = ['subject', 'federationId', 'actionId'] as const;
const TEXT_LISTS = ['reasons', 'policyIds', 'adapters'] as const;
const NOT_WELL_FORMED = 'must be well-formed unicode (no lone surrogates)';

/** What the shape cannot say: well-formed strings, identifiers without control characters, JSON copies. */
function checkRecord<T extends Record<string, unknown>>(r: T, ctx: z.RefinementCtx): T {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });
  for (const field of ID_FIELDS) {
    const v = r[field] as string | undefined;
    if (v === undefined) continue;
    if (!isWellFormed.call(v)) issue([field], NOT_WELL_FORMED);
    else if (CONTROL.test(v)) issue([field], 'must not contain control characters');
  }
  for (const field of TEXT_LISTS) {
    const list = r[field] as string[] | undefined;
    list?.forEach((v, i) => {
      if (!isWellFormed.call(v)) issue([field, i], NOT_WELL_FORMED);
    });
  }
  (r['obligations'] as AuditObligation[] | undefined)?.forEach((o, i) => {
    for (const key of ['kind', 'detail', 'adapter'] as const) {
      if (!isWellFormed.call(o[key])) issue(['obligations', i, key], NOT_WELL_FORMED);
    }
  });
  for (const field of ['context', 'data'] as const) {
    if (r[field] === undefined) continue;
    const result = copyAuditJson(r[field]);
    if ('problem' in result) issue([field], result.problem);
    else (r as Record<string, unknown>)[field] = result.copy;
  }
  return r;
}

/** A record as append() accepts it (unknown fields are refused); context and data come out copied. */
export const AuditRecordSchema: z.ZodType<AuditRecord> = z
  .strictObject(recordShape)
  .transform(checkRecord) as z.ZodType<AuditRecord>;
const RECORD_KEYS = new Set<string>(Object.keys(recordShape));

/**
 * What AuditRecordSchema gives for a record it accepts (a copy, context and data copied too),
 * checked by hand (core's hasValidAuditFields, as the store's entries): zod's checks and copy were a
 * third of an append's cost. undefined for anything else, which then goes through the schema so
 * the caller learns what is wrong.
 */
function recordFast(v: unknown): AuditRecord | undefined {
  if (!hasValidAuditFields(v, RECORD_KEYS)) return undefined;
  const out: Record<string, unknown> = { ...v };
  for (const field of ['reasons', 'policyIds', 'adapters'] as const) {
    const list = v[field] as string[] | undefined;
    if (list !== undefined) out[field] = [...list];
  }
  const obligations = v['obligations'] as AuditObligation[] | undefined;
  if (obligations !== undefined) {
    out['obligations'] = obligations.map(({ kind, detail, adapter }) => ({ kind, detail, adapter }));
  }
  for (const field of ['context', 'data'] as const) {
    if (v[field] === undefined) continue;
    const result = copyAuditJson(v[field]);
    if ('problem' in result) return undefined;
    out[field] = result.copy;
  }
  return out as unknown as AuditRecord;
}

/** A record as append() takes it: checked and copied (recordFast), or by AuditRecordSchema's verdict. */
export function parseAuditRecord(input: unknown): z.ZodSafeParseResult<AuditRecord> {
  const fast = recordFast(input);
  return fast ? { success: true, data: fast } : AuditRecordSchema.safeParse(input);
}

/** An entry as read back from storage. */
export const AuditEntrySchema: z.ZodType<AuditEntry> = z
  .strictObject({
    ...recordShape,
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    prevHash: hashHexSchema,
    hash: hashHexSchema,
  })
  .transform(checkRecord) as z.ZodType<AuditEntry>;

const str = JSON.stringify;

/**
 * The RFC 8785 text of `{ seq, prevHash, ...record }`, written member by member in the canonical
 * order (UTF-16 code units) instead of sorting: about three times faster than canonicalJson, which
 * matters at 50,000 appends a second. Same text for any valid record (property-tested): RFC 8785
 * serializes strings and numbers as JSON.stringify does, and context and data go through
 * canonicalJson. Members other than the record's own are not part of it.
 */
export function canonicalEntryText(seq: number, prevHash: string, r: AuditRecord): string {
  let s = '{';
  if (r.actionId !== undefined) s += `"actionId":${str(r.actionId)},`;
  s += `"actor":${str(r.actor)},`;
  if (r.adapters !== undefined) s += `"adapters":${str(r.adapters)},`;
  s += `"at":${str(r.at)},`;
  if (r.context !== undefined) s += `"context":${canonicalJson(r.context)},`;
  if (r.data !== undefined) s += `"data":${canonicalJson(r.data)},`;
  if (r.decision !== undefined) s += `"decision":${str(r.decision)},`;
  if (r.federationId !== undefined) s += `"federationId":${str(r.federationId)},`;
  s += `"kind":${str(r.kind)},`;
  if (r.obligations !== undefined) {
    s += `"obligations":[${r.obligations
      .map((o) => `{"adapter":${str(o.adapter)},"detail":${str(o.detail)},"kind":${str(o.kind)}}`)
      .join(',')}],`;
  }
  if (r.policyIds !== undefined) s += `"policyIds":${str(r.policyIds)},`;
  s += `"prevHash":${str(prevHash)},`;
  if (r.reasons !== undefined) s += `"reasons":${str(r.reasons)},`;
  s += `"seq":${str(seq)}`;
  if (r.subject !== undefined) s += `,"subject":${str(r.subject)}`;
  return `${s}}`;
}

/** The hash of a (valid) record as the entry at `seq` after `prevHash` (see the module comment). */
export function hashEntry(seq: number, prevHash: string, record: AuditRecord): string {
  // createHash takes the string as UTF-8 directly (core's sha256Hex copies it into a Buffer first).
  return createHash('sha256')
    .update(canonicalEntryText(seq, prevHash, record))
    .digest('hex');
}

/** Chains records after `head` (undefined: from the start). Records must be valid already. */
export function chainRecords(head: ChainHead | undefined, records: readonly AuditRecord[]): AuditEntry[] {
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  const out: AuditEntry[] = [];
  for (const record of records) {
    seq++;
    const hash = hashEntry(seq, prevHash, record);
    // Object.assign, not spread: several times faster on V8 for these objects.
    out.push(Object.assign({}, record, { seq, prevHash, hash }));
    prevHash = hash;
  }
  return out;
}

/** The hash a stored entry should have (canonicalEntryText reads record members only, not `hash`). */
function recompute(entry: AuditEntry): string {
  return hashEntry(entry.seq, entry.prevHash, entry);
}

/**
 * Checks entries one at a time, so a long log can be walked in pages (verifyStorage) with the same
 * rules as verifyChain. Stops at the first problem.
 */
export class ChainVerifier {
  #nextSeq: number;
  #prevHash: string;
  #checked = 0;
  #last: ChainHead | undefined;
  #failure: VerifyResult | undefined;
  /** The hash seen at each seq is not kept: only the known head's, once reached. */
  readonly #knownHead: ChainHead | undefined;
  #headSeen = false;

  constructor(options: VerifyChainOptions = {}) {
    this.#nextSeq = options.start?.seq ?? 1;
    this.#prevHash = options.start?.prevHash ?? GENESIS_HASH;
    this.#knownHead = options.head;
  }

  /** The seq the next entry must have. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Checks the next entry; false once a problem was found (see result()). */
  push(input: unknown): boolean {
    if (this.#failure) return false;
    const parsed = AuditEntrySchema.safeParse(input);
    if (!parsed.success) {
      const seq = (input as { seq?: unknown } | null)?.seq;
      const issue = parsed.error.issues[0];
      return this.#fail(
        'malformed',
        typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : this.#nextSeq,
        `entry is malformed: ${issue?.path.join('.') || '(entry)'}: ${issue?.message ?? ''}`,
      );
    }
    const entry = parsed.data;
    if (entry.seq > this.#nextSeq) {
      return this.#fail(
        'gap',
        this.#nextSeq,
        `entries ${this.#nextSeq}..${entry.seq - 1} are missing (next entry has seq ${entry.seq})`,
      );
    }
    if (entry.seq < this.#nextSeq) {
      return this.#fail(
        'order',
        entry.seq,
        `entry ${entry.seq} appears where entry ${this.#nextSeq} belongs (reordered or duplicated)`,
      );
    }
    if (entry.prevHash !== this.#prevHash) {
      return this.#fail(
        'link',
        entry.seq,
        `entry ${entry.seq} does not link to its predecessor (prevHash differs from the previous hash)`,
      );
    }
    if (recompute(entry) !== entry.hash) {
      return this.#fail('hash', entry.seq, `entry ${entry.seq} was changed (its hash does not match)`);
    }
    if (this.#knownHead && entry.seq === this.#knownHead.seq) {
      if (entry.hash !== this.#knownHead.hash) {
        return this.#fail(
          'head',
          entry.seq,
          `entry ${entry.seq} has another hash than the known head: history was rewritten`,
        );
      }
      this.#headSeen = true;
    }
    this.#checked++;
    this.#last = { seq: entry.seq, hash: entry.hash };
    this.#nextSeq = entry.seq + 1;
    this.#prevHash = entry.hash;
    return true;
  }

  /** Records a read failure at `seq` (the storage could not give the entry back). */
  unreadable(seq: number, detail: string): false {
    if (this.#failure) return false;
    return this.#fail('unreadable', seq, detail);
  }

  /** The outcome; call once every entry was pushed. */
  result(): VerifyResult {
    if (this.#failure) return this.#failure;
    const head = this.#knownHead;
    if (head && !this.#headSeen && head.seq >= this.#nextSeq) {
      return {
        ok: false,
        checked: this.#checked,
        ...(this.#last ? { head: this.#last } : {}),
        firstBadSeq: this.#nextSeq,
        problem: 'truncated',
        detail: `the chain ends at seq ${this.#nextSeq - 1} but the known head is at seq ${head.seq}`,
      };
    }
    return { ok: true, checked: this.#checked, ...(this.#last ? { head: this.#last } : {}) };
  }

  #fail(problem: ChainProblem, seq: number, detail: string): false {
    this.#failure = {
      ok: false,
      checked: this.#checked,
      ...(this.#last ? { head: this.#last } : {}),
      firstBadSeq: seq,
      problem,
      detail,
    };
    return false;
  }
}

/**
 * Verifies a run of entries: each has the next seq, links to its predecessor and hashes to its
 * `hash`. With `head`, also that the chain reaches the known head with the same hash.
 */
export function verifyChain(entries: readonly unknown[], options: VerifyChainOptions = {}): VerifyResult {
  const verifier = new ChainVerifier(options);
  for (const entry of entries) if (!verifier.push(entry)) break;
  return verifier.result();
}
