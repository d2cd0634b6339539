/**
 * The handshake messages' fast checks (wire/handshake.ts, "fast checks") held to their schemas:
 * whenever a check accepts a value, the schema accepts it too and its output equals the value; and
 * every message an honest handshake sends passes its check (else the fast path would never run).
 */
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { multibaseEncode } from '../encoding.js';
import { parseFrame } from '../wire/frame.js';
import {
  FederationAcceptSchema,
  FederationConfirmSchema,
  FederationEstablishedSchema,
  FederationRequestSchema,
  InitiateFederationSchema,
  isFederationAcceptValue,
  isFederationConfirmValue,
  isFederationEstablishedValue,
  isFederationRequestValue,
  isInitiateFederationValue,
} from '../wire/handshake.js';
import { lengthEdges, SIX_HUBS, UUID_EDGES } from '../wire/test-edges.js';
import { type Json, makeWorld, mutate, mutationArb, paths, START } from './test-fixtures.js';

const LINK = 'bGluay1ub25jZS1mb3ItdGhlLXByb3BlcnR5LXRlc3Q';
const HUB = 'did:mesh:hub:eu';

/** Every message of a classic and of an early handshake, the relayed confirm with its path. */
async function honestMessages() {
  const w = makeWorld();
  const initiate = w.initiator.start({
    ...START,
    minTrustScore: 40,
    initiateMetadata: { team: 'ml', n: 2, ok: true },
  });
  const response = await w.initiator.onChallenge(w.hub.onInitiate(initiate));
  const request = await w.hub.onResponse(response);
  const accept = await w.responder.onRequest(request);
  if (accept.type !== 'FederationAccept') throw new Error('refused');
  const established = { ...(await w.hub.onAccept(accept)), path: [HUB, 'did:mesh:hub:na'] };
  const { confirm } = await w.initiator.onEstablished(established);
  const relayed = { ...w.hub.onConfirm(confirm).confirm, path: [HUB] };
  const early = await makeWorld().initiator.startEarly({ ...START, renews: crypto.randomUUID() }, LINK);
  return [initiate, early, request, accept, established, confirm, relayed].map(
    (m) => JSON.parse(JSON.stringify(m)) as Record<string, unknown>,
  );
}

const CHECKS: Record<string, [(v: unknown) => boolean, z.ZodType]> = {
  InitiateFederation: [isInitiateFederationValue, InitiateFederationSchema],
  FederationRequest: [isFederationRequestValue, FederationRequestSchema],
  FederationAccept: [isFederationAcceptValue, FederationAcceptSchema],
  FederationEstablished: [isFederationEstablishedValue, FederationEstablishedSchema],
  FederationConfirm: [isFederationConfirmValue, FederationConfirmSchema],
};

/** Values at the edges of the fields' rules. */
const edge: fc.Arbitrary<Json> = fc.constantFrom<Json>(
  '',
  'x',
  ...lengthEdges(64, 128, 256, 512),
  'VerifiableCredential',
  'ml.inference',
  '-bad',
  'did:mesh:hub:eu',
  'did:mesh:hub:',
  'did:Mesh:x',
  `did:x:${'a'.repeat(250)}`,
  `did:x:${'a'.repeat(251)}`,
  'did:mesh:enterprise:acme-001#key-1',
  'did:mesh:enterprise:acme-001#',
  'did:mesh:enterprise:acme-001',
  ...UUID_EDGES,
  'A'.repeat(43),
  'A'.repeat(42),
  `${'A'.repeat(42)}B`,
  'z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc',
  'z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
  'wss://hub.example/fed/1',
  'ftp://hub.example',
  'a'.repeat(64).replace(/a/g, 'f'),
  'active',
  'ended',
  -1,
  0,
  1,
  1.5,
  100,
  100.5,
  101,
  366 * 86_400,
  366 * 86_400 + 1,
  2 ** 53,
  8.64e15,
  8.64e15 + 1,
  true,
  null,
  [],
  ['ml.inference', 'ml.inference'],
  [HUB, HUB],
  [...SIX_HUBS],
  Array.from({ length: 65 }, (_, i) => `cap${i}`),
  Array.from({ length: 17 }, () => 'https://www.w3.org/ns/credentials/v2'),
  {},
  { id: '' },
  { id: 'did:mesh:authority:foundation' },
  { ttl: 60, purpose: 'x' },
  { ttl: 0, purpose: 'x' },
  { ttl: 60, purpose: '' },
  Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])),
  // Signatures of 32 and 65 bytes (base58btc).
  multibaseEncode(new Uint8Array(32).fill(7)),
  multibaseEncode(new Uint8Array(65).fill(7)),
  'x'.repeat(4097),
  JSON.parse(`${'{"a":'.repeat(17)}1${'}'.repeat(17)}`) as Json,
  Array.from({ length: 9 }, () => ({ a: 1 })),
  Array.from({ length: 17 }, () => ({ a: 1 })),
);

describe('handshake fast checks are their schemas', () => {
  it('pass every message an honest handshake sends, and parseFrame takes them without zod', async () => {
    for (const message of await honestMessages()) {
      const [check, schema] = CHECKS[message['type'] as string]!;
      expect(check(message)).toBe(true);
      const parsed = schema.safeParse(message);
      expect(parsed.success).toBe(true);
      expect(parsed.data).toEqual(message);
      expect(parseFrame(JSON.stringify(message)).frame).toEqual(message);
    }
  });

  it('agree with the schema on every single replacement of a member by an edge value', async () => {
    const edges = fc.sample(edge, { numRuns: 2000 }).filter((v, i, all) => all.indexOf(v) === i);
    let accepted = 0;
    for (const message of await honestMessages()) {
      const [check, schema] = CHECKS[message['type'] as string]!;
      for (const path of paths(message)) {
        for (const value of edges) {
          const copy = structuredClone(message);
          const parent = path
            .slice(0, -1)
            .reduce<Record<string | number, unknown>>((n, k) => n[k] as never, copy);
          parent[path.at(-1)!] = structuredClone(value);
          if (!check(copy)) continue;
          accepted++;
          const parsed = schema.safeParse(copy);
          expect(
            parsed.success,
            `${message['type']} ${path.join('.')} = ${JSON.stringify(value).slice(0, 80)}`,
          ).toBe(true);
          expect(parsed.data).toEqual(copy);
        }
      }
    }
    expect(accepted).toBeGreaterThan(500);
  });

  it('never accept what the schema refuses or reads differently (mutations and edge values)', async () => {
    const messages = await honestMessages();
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...messages),
        fc.array(
          fc.oneof(
            mutationArb,
            mutationArb.chain((m) => edge.map((value) => ({ ...m, kind: 'replace' as const, value }))),
          ),
          {
            minLength: 1,
            maxLength: 3,
          },
        ),
        (message, mutations) => {
          let value: unknown = message;
          for (const m of mutations) value = mutate(value, m);
          // Through JSON, as a frame arrives.
          const text = JSON.stringify(value);
          if (text === undefined) return;
          value = JSON.parse(text);
          for (const [check, schema] of Object.values(CHECKS)) {
            if (!check(value)) continue;
            accepted++;
            const parsed = schema.safeParse(value);
            expect(parsed.success).toBe(true);
            expect(parsed.data).toEqual(value);
          }
        },
      ),
      { numRuns: 6000 },
    );
    expect(accepted).toBeGreaterThan(300);
  });
});
