/**
 * Names under which partners' tools appear to local MCP clients: `<partner>__<tool>`, within MCP's
 * tool-name rules (1-128 of [A-Za-z0-9_.-]). The partner part is the did:mesh name (`mit-001`),
 * or category and name when two partners share a name; other DID methods get a short hash.
 */
import { createHash } from 'node:crypto';

const SEP = '__';

function shortHash(s: string, n = 8): string {
  return createHash('sha256').update(s).digest('hex').slice(0, n);
}

function clean(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/_{2,}/g, '_');
}

function aliases(did: string): { short: string; long: string } {
  const mesh = /^did:mesh:([a-z0-9-]+):([A-Za-z0-9._-]+)$/.exec(did);
  if (mesh) {
    const short = clean(mesh[2]!).slice(0, 40);
    return { short, long: clean(`${mesh[1]}-${mesh[2]}`).slice(0, 48) };
  }
  const method = /^did:([a-z0-9]+):/.exec(did)?.[1] ?? 'did';
  const h = `${method}-${shortHash(did, 12)}`;
  return { short: h, long: h };
}

/** One alias per partner DID, unique among `dids`. */
export function partnerAliases(dids: Iterable<string>): Map<string, string> {
  const list = [...new Set(dids)];
  const counts = new Map<string, number>();
  for (const d of list) {
    const { short } = aliases(d);
    counts.set(short, (counts.get(short) ?? 0) + 1);
  }
  const out = new Map<string, string>();
  for (const d of list) {
    const a = aliases(d);
    let alias = (counts.get(a.short) ?? 0) > 1 ? a.long : a.short;
    if ([...out.values()].includes(alias)) alias = `${alias.slice(0, 38)}-${shortHash(d)}`;
    out.set(d, alias);
  }
  return out;
}

/** `<alias>__<tool>`, shortened with a hash when it would pass 128 characters. */
export function exposedToolName(alias: string, tool: string): string {
  const full = `${alias}${SEP}${tool}`;
  if (full.length <= 128) return full;
  const room = 128 - alias.length - SEP.length - 9;
  return `${alias}${SEP}${tool.slice(0, room)}-${shortHash(tool)}`;
}
