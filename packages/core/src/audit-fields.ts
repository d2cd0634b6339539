/**
 * The fields of an audit record (spec 7.2), checked without zod. The compliance audit log
 * (AuditRecordSchema) and the store (its audit entries' schema) take the same record fields with
 * the same rules; each checks a valid record with this and sends anything else through its own
 * schema, which names the problem. Each package's tests hold this to its schema, edit by edit.
 */
import { isDidValue, onlyKeys } from './wire/messages.js';

/** Longest free text and did (subject, reasons, obligation details, actor), in UTF-16 units. */
export const AUDIT_TEXT_MAX = 1024;
/** An audit record's kind: lowercase, e.g. tool_call. */
export const AUDIT_KIND_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;

const isWellFormed = (String.prototype as unknown as { isWellFormed: (this: string) => boolean })
  .isWellFormed;
// biome-ignore lint/suspicious/noControlCharactersInRegex: this is the check for them
const CONTROL = /[\u0000-\u001f\u007f]/;
const OBLIGATION_KEYS = new Set(['kind', 'detail', 'adapter']);

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
/** min..max UTF-16 units, well-formed; `id` (a column of its own): and no control characters. */
const isText = (v: unknown, min: number, max: number, id: boolean): boolean =>
  typeof v === 'string' &&
  v.length >= min &&
  v.length <= max &&
  isWellFormed.call(v) &&
  !(id && CONTROL.test(v));
/** A list of at most maxItems texts; every index, holes included (`every` skips them; the schemas refuse them). */
function isTextList(v: unknown, maxItems: number, max: number): boolean {
  if (v === undefined) return true;
  if (!Array.isArray(v) || v.length > maxItems) return false;
  for (let i = 0; i < v.length; i++) if (!isText(v[i], 0, max, false)) return false;
  return true;
}
const isObligation = (o: unknown): boolean =>
  isPlain(o) &&
  onlyKeys(o, OBLIGATION_KEYS) &&
  isText(o['kind'], 0, 64, false) &&
  isText(o['detail'], 0, AUDIT_TEXT_MAX, false) &&
  isText(o['adapter'], 0, 128, false);
function isObligations(v: unknown): boolean {
  if (v === undefined) return true;
  if (!Array.isArray(v) || v.length > 32) return false;
  for (let i = 0; i < v.length; i++) if (!isObligation(v[i])) return false;
  return true;
}

/**
 * True for a plain object whose members are all named in `keys` and whose record fields (at, kind,
 * actor, subject, federationId, actionId, decision, reasons, policyIds, adapters, obligations) hold
 * what the audit schemas accept. What else `keys` allows (context and data, a stored entry's seq
 * and hashes) is the caller's to check.
 */
export function hasValidAuditFields(v: unknown, keys: ReadonlySet<string>): v is Record<string, unknown> {
  if (!isPlain(v) || !onlyKeys(v, keys)) return false;
  const { at, kind, actor, subject, federationId, actionId, decision } = v;
  return (
    Number.isInteger(at) &&
    (at as number) >= 0 &&
    (at as number) <= 8.64e15 &&
    typeof kind === 'string' &&
    AUDIT_KIND_PATTERN.test(kind) &&
    isDidValue(actor) &&
    actor.length <= AUDIT_TEXT_MAX &&
    (subject === undefined || isText(subject, 1, AUDIT_TEXT_MAX, true)) &&
    (federationId === undefined || isText(federationId, 1, 256, true)) &&
    (actionId === undefined || isText(actionId, 1, 256, true)) &&
    (decision === undefined || decision === 'allow' || decision === 'deny') &&
    isTextList(v['reasons'], 32, AUDIT_TEXT_MAX) &&
    isTextList(v['policyIds'], 64, 256) &&
    isTextList(v['adapters'], 16, 128) &&
    isObligations(v['obligations'])
  );
}
