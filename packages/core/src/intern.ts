/**
 * One shared copy of strings that recur across many records: issuer DIDs, capability and
 * certification names, regions. Each session's JSON parses into fresh strings, so a hub holding
 * 10,000 sessions of meshes credentialed by one authority held thousands of copies of its DID.
 *
 * Bounded: once MAX_INTERNED distinct strings are held, others are returned as they are (a peer
 * sending made-up names can only make interning stop helping, never grow memory). Only for short
 * strings of small sets; a mesh's own DID is unique per session and gains nothing here.
 */
export const MAX_INTERNED = 4_096;

/**
 * `s` in storage of its own. V8 keeps a substring (slice, split, a regular expression's capture)
 * as a view of the string it was cut from: a 36-character id cut from a 48 KB batch of frames
 * keeps the whole batch alive for as long as the id is kept (a map key, a queued message).
 */
export function ownCopy(s: string): string {
  // The concatenation is flattened into a new string by the slice, which then views that one.
  return (s + ' ').slice(0, -1);
}
const MAX_LENGTH = 256;
const table = new Map<string, string>();

export function intern(s: string): string {
  const known = table.get(s);
  if (known !== undefined) return known;
  if (table.size < MAX_INTERNED && s.length <= MAX_LENGTH) table.set(s, s);
  return s;
}

/** The strings of a list, interned (a new array; the list is left as it is). */
export function internAll(list: readonly string[]): string[] {
  return list.map(intern);
}

const MAX_LISTS = 1_024;
const MAX_LIST_LENGTH = 16;
const lists = new Map<string, readonly string[]>();
const NO_STRINGS: readonly string[] = Object.freeze([]);

/**
 * One shared, frozen copy of a short list of strings that recurs across many records (a
 * credential's types, a mesh's capabilities): each record otherwise holds an array of its own.
 * Bounded as `intern` is; a list past the bounds comes back as an interned copy of its own.
 */
export function internList(list: readonly string[]): readonly string[] {
  if (list.length === 0) return NO_STRINGS;
  if (list.length > MAX_LIST_LENGTH) return internAll(list);
  // The list's JSON is its key: no separator for a name to collide with.
  const key = JSON.stringify(list);
  const known = lists.get(key);
  if (known !== undefined) return known;
  const shared = Object.freeze(internAll(list));
  if (lists.size < MAX_LISTS && key.length <= MAX_LENGTH * 4) lists.set(key, shared);
  return shared;
}

/** How many strings are held (for tests and metrics). */
export function internedCount(): number {
  return table.size;
}

/**
 * `text` as one flat string, for a string kept for long. A string built by concatenation (the
 * canonical JSON of a credential, piece by piece) is a rope in V8: a node per piece, the pieces kept
 * apart, 3.6 KB held for 705 characters of credential against 0.74 KB flat. Decoding its UTF-16
 * code units makes a new sequential string whatever the input's shape (every unit kept, a lone
 * surrogate too; V8 stores it one byte per character when it can).
 */
export function flatString(text: string): string {
  return Buffer.from(text, 'utf16le').toString('utf16le');
}
