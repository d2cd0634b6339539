/**
 * Whole-log operations over any AuditStorage, without an AuditLog (what `fmp audit verify` and
 * `fmp audit export` need): verification page by page, and JSON Lines export.
 */
import { canonicalJson, ValidationError, zodIssues } from '@fmp/core';
import { z } from 'zod';
import { type AuditEntry, type ChainHead, ChainVerifier, hashHexSchema, type VerifyResult } from './chain.js';
import { type AuditQuery, type AuditStorage, auditQuerySchema } from './storage.js';

export interface VerifyStorageOptions {
  /** Entries read per page. Default 1,000, at most 10,000. */
  readonly pageSize?: number;
  /** A head known from elsewhere: the log must reach it with this hash (detects a cut tail). */
  readonly head?: ChainHead;
}

const VerifyOptionsSchema = z.strictObject({
  pageSize: z.number().int().min(1).max(10_000).optional(),
  // An entry can be given as the head: its other members are ignored.
  head: z
    .object({ seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), hash: hashHexSchema })
    .optional(),
});

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(`invalid ${what}`, zodIssues(result.error), { cause: result.error });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Walks the whole stored log from seq 1 and checks every entry (seq, link, hash) and, with
 * `head`, that the log reaches it. A row the storage cannot read back is reported as `unreadable`
 * at its seq (read one entry at a time to find it), not thrown.
 */
export async function verifyStorage(
  storage: AuditStorage,
  options: VerifyStorageOptions = {},
): Promise<VerifyResult> {
  const { pageSize = 1000, head } = parse(VerifyOptionsSchema, options, 'verify options');
  const verifier = new ChainVerifier(head ? { head } : {});
  for (;;) {
    const from = verifier.nextSeq;
    let page: AuditEntry[];
    try {
      page = await storage.range(from, pageSize);
    } catch (error) {
      // Find the row at fault: single reads until one fails.
      for (let seq = from; seq < from + pageSize; ) {
        let one: AuditEntry[];
        try {
          one = await storage.range(seq, 1);
        } catch (inner) {
          verifier.unreadable(seq, `entry ${seq} cannot be read back: ${message(inner)}`);
          return verifier.result();
        }
        const entry = one[0];
        if (!entry || !verifier.push(entry)) return verifier.result();
        seq = entry.seq + 1;
      }
      // The page failed as a whole but every entry reads alone: report the page.
      verifier.unreadable(from, `entries from ${from} cannot be read back: ${message(error)}`);
      return verifier.result();
    }
    for (const entry of page) if (!verifier.push(entry)) return verifier.result();
    if (page.length < pageSize) return verifier.result();
  }
}

export interface ExportOptions extends Omit<AuditQuery, 'limit' | 'afterSeq'> {
  /** At most this many entries (default: all that match). */
  readonly limit?: number;
  /** Entries read per page. Default 1,000. */
  readonly pageSize?: number;
}

const ExportOptionsSchema = auditQuerySchema.omit({ limit: true, afterSeq: true }).extend({
  limit: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  pageSize: z.number().int().min(1).max(10_000).optional(),
});

/**
 * Writes matching entries as JSON Lines in seq order: one RFC 8785 canonical JSON object per line,
 * each ending with '\n' (so a line re-hashes exactly as stored). `write` may return a promise,
 * which is awaited (backpressure). Returns the number of lines written.
 */
export async function exportJsonl(
  storage: AuditStorage,
  write: (line: string) => void | Promise<void>,
  options: ExportOptions = {},
): Promise<number> {
  const {
    limit = Number.MAX_SAFE_INTEGER,
    pageSize = 1000,
    ...filter
  } = parse(ExportOptionsSchema, options, 'export options');
  const filtered = Object.keys(filter).length > 0;
  let written = 0;
  let afterSeq = 0;
  while (written < limit) {
    const n = Math.min(pageSize, limit - written);
    // Without a filter, range() walks the primary key alone.
    const page = filtered
      ? await storage.query({ ...filter, afterSeq, limit: n })
      : await storage.range(afterSeq + 1, n);
    for (const entry of page) {
      await write(`${canonicalJson(entry)}\n`);
      afterSeq = entry.seq;
    }
    written += page.length;
    if (page.length < n) break;
  }
  return written;
}
