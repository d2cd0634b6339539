/**
 * did:mesh syntax: `did:mesh:<category>:<name>`, category one of MESH_CATEGORIES, name
 * `[a-z0-9][a-z0-9._-]{0,62}` (lowercase only, so two spellings never name the same org).
 */
import { InvalidDidError } from '../errors.js';
import { type ParsedDid, parseDid } from '../parse.js';

export const MESH_CATEGORIES = [
  'enterprise',
  'academic',
  'government',
  'ngo',
  'public',
  'authority',
  'hub',
] as const;
export type MeshCategory = (typeof MESH_CATEGORIES)[number];

export const MESH_DID_PATTERN =
  /^did:mesh:(enterprise|academic|government|ngo|public|authority|hub):([a-z0-9][a-z0-9._-]{0,62})$/;

export interface ParsedMeshDid {
  readonly did: string;
  readonly category: MeshCategory;
  readonly name: string;
}

/** Parses a did:mesh DID. Throws InvalidDidError. */
export function parseMeshDid(input: string | ParsedDid): ParsedMeshDid {
  const did = typeof input === 'string' ? parseDid(input).did : input.did;
  const match = MESH_DID_PATTERN.exec(did);
  if (!match) {
    throw new InvalidDidError(
      `not a did:mesh DID: expected did:mesh:<${MESH_CATEGORIES.join('|')}>:<name matching [a-z0-9][a-z0-9._-]{0,62}>`,
    );
  }
  return { did, category: match[1] as MeshCategory, name: match[2]! };
}

export function meshDid(category: MeshCategory, name: string): string {
  return parseMeshDid(`did:mesh:${category}:${name}`).did;
}
