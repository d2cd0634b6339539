/**
 * Property tests: verification never throws, and a signed credential with any meaningful change
 * never verifies. "Meaningful" excludes edits that JSON-LD itself ignores (a member set to null or
 * to an empty array, key order): the Linked Data suites sign the RDF graph, not the JSON text, so
 * those are the same credential. The JCS suite signs the JSON text, so there any edit counts.
 */
import { canonicalJson } from '@fmp/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DataModel, issueMeshAgentCredential, type VerifiableCredential } from './issue.js';
import { PROOF_SUITES, type ProofSuiteName } from './suites.js';
import { didKeyIdentity, staticResolver } from './test-support.js';
import { verifyCredential } from './verify.js';

const issuer = didKeyIdentity();
const resolveDid = staticResolver(issuer.document);
const NOW = new Date('2026-01-01T00:00:00Z');
// Raise with VC_PROPERTY_RUNS=5000 for a longer search.
const RUNS = Number(process.env.VC_PROPERTY_RUNS ?? 150);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Step = string | number;

function paths(value: Json, prefix: Step[] = [], out: Step[][] = []): Step[][] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([...prefix, i]);
      paths(v, [...prefix, i], out);
    });
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push([...prefix, k]);
      paths(v, [...prefix, k], out);
    }
  }
  return out;
}

function containerAt(root: Json, path: Step[]): Json {
  let node = root;
  for (const step of path) node = (node as Record<string, Json>)[step as string] as Json;
  return node;
}

interface Mutation {
  kind: 'replace' | 'delete' | 'add';
  pick: number;
  key: string;
  value: Json;
}

/** Applies the mutation to a copy; null when it would leave the JSON unchanged. */
function mutate(original: Json, m: Mutation): Json | null {
  const copy = structuredClone(original);
  const all = paths(copy);
  if (m.kind === 'add') {
    const objects = [[], ...all].filter((p) => {
      const node = containerAt(copy, p);
      return node !== null && typeof node === 'object' && !Array.isArray(node);
    });
    const target = containerAt(copy, objects[m.pick % objects.length]!) as Record<string, Json>;
    if (m.key in target) return null;
    target[m.key] = m.value;
    return copy;
  }
  const path = all[m.pick % all.length]!;
  const parent = containerAt(copy, path.slice(0, -1)) as Record<string, Json> | Json[];
  const last = path[path.length - 1]!;
  if (m.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last as string];
    return copy;
  }
  const before = (parent as Record<string, Json>)[last as string] as Json;
  if (canonicalJson(before) === canonicalJson(m.value)) return null;
  (parent as Record<string, Json>)[last as string] = m.value;
  return copy;
}

const key = fc.stringMatching(/^[a-z][A-Za-z0-9]{0,8}$/);
const scalar = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
);
/** Values that carry data in JSON-LD (never null, never an empty array). */
const meaningful: fc.Arbitrary<Json> = fc.oneof(
  scalar,
  fc.array(scalar, { minLength: 1, maxLength: 3 }),
  fc.dictionary(key, scalar, { minKeys: 1, maxKeys: 3 }),
);
const mutation = (value: fc.Arbitrary<Json>) =>
  fc.record({
    kind: fc.constantFrom<Mutation['kind']>('replace', 'delete', 'add'),
    pick: fc.nat(),
    key,
    value,
  });

const credentials = new Map<string, VerifiableCredential>();
const label = (suite: ProofSuiteName, model: DataModel) => `${suite} / VC ${model}`;

beforeAll(async () => {
  for (const suite of PROOF_SUITES) {
    for (const dataModel of ['1.1', '2.0'] as const) {
      const vc = await issueMeshAgentCredential({
        signer: issuer.signer,
        subject: {
          id: 'did:mesh:enterprise:acme-001',
          meshCapabilities: ['ml.inference', 'data.processing'],
          complianceCertifications: ['GDPR', 'SOC2'],
          trustLevel: 85,
        },
        id: 'urn:uuid:0b8e5f4c-66f5-4d8e-a5a3-0c1f3b9a8e11',
        suite,
        dataModel,
        now: new Date('2025-10-30T00:00:00Z'),
        validUntil: new Date('2026-10-30T00:00:00Z'),
      });
      credentials.set(label(suite, dataModel), vc);
    }
  }
});

describe('verifyCredential properties', () => {
  it('random values never verify and never throw', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.anything(), fc.jsonValue()), async (input) => {
        const result = await verifyCredential(input, { resolveDid, now: NOW });
        expect(result.verified).toBe(false);
        expect(result.errors.length).toBeGreaterThan(0);
      }),
      { numRuns: 200 },
    );
  });

  for (const suite of PROOF_SUITES) {
    for (const dataModel of ['1.1', '2.0'] as const) {
      const values =
        suite === 'eddsa-jcs-2022'
          ? fc.oneof(meaningful, fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>)
          : meaningful;
      it(`${label(suite, dataModel)}: every mutation fails with errors`, async () => {
        const vc = credentials.get(label(suite, dataModel))!;
        expect((await verifyCredential(vc, { resolveDid, now: NOW })).errors).toEqual([]);
        await fc.assert(
          fc.asyncProperty(mutation(values), async (m) => {
            const mutated = mutate(vc as Json, m);
            fc.pre(mutated !== null);
            const result = await verifyCredential(mutated, { resolveDid, now: NOW });
            expect(result.verified).toBe(false);
            expect(result.errors.length).toBeGreaterThan(0);
          }),
          { numRuns: RUNS },
        );
      });
    }
  }
});
