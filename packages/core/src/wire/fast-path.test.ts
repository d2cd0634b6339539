/**
 * The fast paths of the hot routing path, held to what they replace: isEnvelope against
 * envelopeSchema (accepted by one iff accepted by the other, and the same value), and
 * hopForwardedText against JSON.stringify(hopForward(...)) (the same object once parsed).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ed25519 } from '../crypto.js';
import { createEnvelope, hopForward, sealPayload, signEnvelope } from '../envelope.js';
import { MAX_BATCH_FRAMES, splitBatch } from './batch.js';
import { type HopSpans, hopForwardedText, parseFrame } from './frame.js';
import { AckSchema, DeliveredSchema, isDeliveredValue, isPlainAck } from './link.js';
import {
  type ClearPayload,
  clearPayloadSchema,
  complianceContextSchema,
  copyPlainJson,
  type Envelope,
  envelopeSchema,
  isClearPayloadValue,
  isComplianceContextValue,
  isEnvelope,
  isPlainJsonValue,
  isSealedEnvelope,
  isUnsignedEnvelope,
  isUnsignedSealedEnvelope,
  isUuidValue,
  MAX_HOPS,
  unsignedEnvelopeSchema,
  uuidSchema,
} from './messages.js';
import { ENVELOPE_EDGE_STRINGS } from './test-edges.js';

const keys = ed25519.keyPairFromSeed(new Uint8Array(32).fill(7));
const HUB = 'did:mesh:hub:eu';
const draft = createEnvelope(
  {
    type: 'agent.task.request',
    federationId: '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69',
    sourceMeshId: 'did:mesh:enterprise:acme',
    targetMeshId: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
    payload: { type: 'agent.task.request', data: { task: 'summarize' } },
  },
  { now: () => 1_730_246_400_000 },
);
const sealed = signEnvelope(
  { ...draft, payload: sealPayload(new Uint8Array(32).fill(1), draft, draft.payload as never) },
  keys,
);
const clear = signEnvelope(draft, keys);

/** Values near the edges of every field's rules, and a few of the wrong type. */
const edgeString = fc.constantFrom(...ENVELOPE_EDGE_STRINGS);
const edgeNumber = fc.constantFrom(-0, 0, 1, 5, 6, -1, 1.5, 2 ** 53, 2 ** 53 - 1, 1e300, 1_730_246_400_000);
const edgeValue: fc.Arbitrary<unknown> = fc.oneof(
  edgeString,
  edgeNumber,
  fc.constantFrom(null, true, false),
  fc.array(fc.oneof(edgeString, fc.constant(HUB)), { maxLength: 7 }),
  fc.jsonValue({ maxDepth: 2 }),
);

const complianceValue = fc.oneof(
  fc.constant(undefined),
  fc.record(
    {
      dataClassification: fc.constantFrom('public', 'personal-identifiable', 'secret'),
      processingBasis: fc.constantFrom('consent', 'whim'),
      retentionPeriod: fc.constantFrom('90-days', '0-days'),
      geographicRestrictions: fc.array(fc.constantFrom('eu', 'us-ca', 'EU'), { maxLength: 3 }),
      auditTrail: fc.oneof(fc.boolean(), fc.constant('yes')),
    },
    { requiredKeys: [] },
  ),
);

const payloadValue = fc.oneof(
  fc.constant(sealed.payload),
  fc.constant(clear.payload),
  fc.record(
    {
      alg: fc.oneof(fc.constant('ChaCha20-Poly1305'), edgeValue),
      nonce: fc.oneof(fc.constant('AAAAAAAAAAAAAAAA'), edgeValue),
      ciphertext: fc.oneof(fc.constant('AAAAAAAAAAAAAAAAAAAAAA'), edgeValue),
      type: fc.oneof(fc.constant('agent.task.request'), edgeValue),
      data: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  ),
);

/** Envelopes with each field kept, dropped, or replaced, and sometimes an unknown key. */
const envelopeLike = fc
  .record({
    base: fc.constantFrom(sealed, clear),
    // Often none at all, so that a good share of the values are valid envelopes.
    replace: fc.option(
      fc.dictionary(
        fc.constantFrom(...Object.keys(sealed), 'complianceContext', 'traceparent', 'extra', '__proto__'),
        edgeValue,
        { maxKeys: 2 },
      ),
      { nil: {}, freq: 2 },
    ),
    drop: fc.option(fc.subarray(Object.keys(sealed), { maxLength: 2 }), { nil: [], freq: 2 }),
    // One field set to an edge string, the rest left valid: every rule is met on its own.
    single: fc.option(fc.tuple(fc.constantFrom(...Object.keys(sealed)), edgeString), { nil: undefined }),
    payload: fc.option(payloadValue, { nil: undefined }),
    compliance: complianceValue,
    traceparent: fc.option(
      fc.constantFrom(
        '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
        '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
        '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      ),
      { nil: undefined },
    ),
    hops: fc.option(fc.integer({ min: 0, max: MAX_HOPS + 1 }), { nil: undefined }),
  })
  .map(({ base, replace, drop, single, payload, compliance, traceparent, hops }) => {
    const v: Record<string, unknown> = { ...base };
    if (hops !== undefined) {
      v['hopCount'] = hops;
      v['route'] = Array.from({ length: hops }, (_, i) => `did:mesh:hub:h${i}`);
    }
    if (payload !== undefined) v['payload'] = payload;
    if (compliance !== undefined) v['complianceContext'] = compliance;
    if (traceparent !== undefined) v['traceparent'] = traceparent;
    for (const [k, x] of Object.entries(replace)) v[k] = x;
    for (const k of drop) delete v[k];
    if (single) v[single[0]] = single[1];
    // Through JSON, as a hub sees it (a "__proto__" key becomes an own property there).
    return JSON.parse(JSON.stringify(v).replace('"extra"', '"__proto__"')) as unknown;
  });

describe('isEnvelope is envelopeSchema, both ways', () => {
  it('accepts the valid sealed and clear envelopes', () => {
    expect(isEnvelope(JSON.parse(JSON.stringify(sealed)))).toBe(true);
    expect(isEnvelope(JSON.parse(JSON.stringify(clear)))).toBe(true);
  });

  it('agrees with the schema on mutated envelopes, and yields the same value', () => {
    let accepted = 0;
    fc.assert(
      fc.property(envelopeLike, (value) => {
        const zod = envelopeSchema.safeParse(value);
        expect(isEnvelope(value)).toBe(zod.success);
        expect(isSealedEnvelope(value)).toBe(zod.success && 'alg' in zod.data.payload);
        if (zod.success) {
          accepted++;
          expect(value).toEqual(zod.data);
        }
      }),
      { numRuns: 5000 },
    );
    // Not a vacuous run: part of the generated values are valid envelopes.
    expect(accepted).toBeGreaterThan(20);
  });

  it('isUnsignedSealedEnvelope is unsignedEnvelopeSchema on sealed payloads (what signEnvelope skips zod for)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(envelopeLike, fc.boolean(), (value, unsign) => {
        // Mostly without the signature (what signEnvelope checks), sometimes with it (refused).
        const v =
          unsign && typeof value === 'object' && value !== null && !Array.isArray(value)
            ? Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'signature'))
            : value;
        const zod = unsignedEnvelopeSchema.safeParse(v);
        expect(isUnsignedSealedEnvelope(v)).toBe(zod.success && 'alg' in zod.data.payload);
        if (isUnsignedSealedEnvelope(v)) {
          accepted++;
          expect(v).toEqual(zod.data);
        }
      }),
      { numRuns: 5000 },
    );
    // Not vacuous: the generator makes few valid unsigned sealed envelopes, but some.
    expect(accepted).toBeGreaterThan(0);
    const { signature: _s, ...unsigned } = JSON.parse(JSON.stringify(sealed)) as Record<string, unknown>;
    expect(isUnsignedSealedEnvelope(unsigned)).toBe(true);
    expect(isUnsignedSealedEnvelope({ ...unsigned, signature: sealed.signature })).toBe(false);
    expect(isUnsignedSealedEnvelope({ ...unsigned, payload: clear.payload })).toBe(false);
  });

  it('agrees with the schema on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (value) => {
        expect(isEnvelope(value)).toBe(envelopeSchema.safeParse(value).success);
      }),
    );
  });

  it('leaves the rejections to zod, with the same error codes', () => {
    const bad = JSON.stringify({ ...sealed, hopCount: 2 });
    expect(() => parseFrame(bad)).toThrow(expect.objectContaining({ wireCode: 'malformed_frame' }));
  });
});

describe('hopForwardedText', () => {
  const forwardedBy = (text: string, hub = HUB) => {
    const parsed = parseFrame(text);
    if (parsed.kind !== 'envelope') throw new Error('not an envelope');
    return hopForward(parsed.frame, hub);
  };

  it('edits only hopCount and route', () => {
    const text = JSON.stringify(sealed);
    const forwarded = forwardedBy(text);
    const edited = hopForwardedText(text, forwarded)!;
    expect(JSON.parse(edited)).toEqual(JSON.parse(JSON.stringify(forwarded)));
    // Every signed byte is where it was: the text differs only in the two values.
    expect(edited.replace(/"hopCount":\d+|"route":\[[^\]]*\]/g, '')).toBe(
      text.replace(/"hopCount":\d+|"route":\[[^\]]*\]/g, ''),
    );
  });

  it('matches the re-serialized envelope for any key order and spacing', () => {
    fc.assert(
      fc.property(
        fc.shuffledSubarray(Object.keys(sealed), { minLength: Object.keys(sealed).length }),
        fc.constantFrom('', ' ', '\n  '),
        fc.integer({ min: 0, max: 3 }),
        (order, space, hops) => {
          const base: Record<string, unknown> = {
            ...sealed,
            hopCount: hops,
            route: Array.from({ length: hops }, (_, i) => `did:mesh:hub:h${i}`),
          };
          const ordered = Object.fromEntries(order.map((k) => [k, base[k]]));
          const text = JSON.stringify(ordered, null, space);
          const forwarded = forwardedBy(text);
          const edited = hopForwardedText(text, forwarded);
          expect(edited).toBeDefined();
          expect(JSON.parse(edited!)).toEqual(JSON.parse(JSON.stringify(forwarded)));
        },
      ),
    );
  });

  it('takes the spans a batch split found, with the same result as its own scan', () => {
    fc.assert(
      fc.property(
        fc.array(fc.shuffledSubarray(Object.keys(sealed), { minLength: Object.keys(sealed).length }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.constantFrom('', ' ', '\n  '),
        (orders, space) => {
          const texts = orders.map((order) =>
            JSON.stringify(
              Object.fromEntries(order.map((k) => [k, (sealed as Record<string, unknown>)[k]])),
              null,
              space,
            ),
          );
          const spans: (HopSpans | undefined)[] = [];
          const frames = splitBatch(`[${space}${texts.join(`,${space}`)}${space}]`, MAX_BATCH_FRAMES, spans);
          expect(frames).toEqual(texts);
          expect(spans).toHaveLength(texts.length);
          frames.forEach((text, k) => {
            const forwarded = forwardedBy(text);
            expect(spans[k]).toBeDefined();
            expect(hopForwardedText(text, forwarded, spans[k])).toBe(hopForwardedText(text, forwarded));
          });
        },
      ),
    );
  });

  it('gives up on text it cannot edit safely', () => {
    const forwarded = hopForward(sealed as Envelope, HUB);
    const text = JSON.stringify(sealed);
    // A key written with an escape, and a duplicate key: the caller serializes instead.
    expect(hopForwardedText(text.replace('"hopCount"', '"hop\\u0043ount"'), forwarded)).toBeUndefined();
    expect(hopForwardedText(text.replace('{', '{"route":[],'), forwarded)).toBeUndefined();
    expect(hopForwardedText(text.replace('{', '{"type":"x.y",'), forwarded)).toBeUndefined();
    expect(hopForwardedText('[]', forwarded)).toBeUndefined();
  });

  it('keeps strings holding quotes, braces and escapes intact', () => {
    const env = signEnvelope(
      createEnvelope(
        {
          type: 'agent.task.request',
          federationId: sealed.federationId,
          sourceMeshId: sealed.sourceMeshId,
          targetMeshId: sealed.targetMeshId,
          payload: { type: 'agent.task.request', data: { s: 'a "}]\\", "route": [', t: ['\\', '{'] } },
        },
        { now: () => 1 },
      ),
      keys,
    );
    const text = JSON.stringify(env);
    const forwarded = forwardedBy(text);
    expect(JSON.parse(hopForwardedText(text, forwarded)!)).toEqual(JSON.parse(JSON.stringify(forwarded)));
  });
});

describe('isUuidValue and the Ack fast check', () => {
  const hexish = fc.constantFrom(...'0123456789abcdefABCDEFgG-z'.split(''));
  const uuidLike = fc.oneof(
    fc.uuid(),
    fc.uuid().map((u) => u.toUpperCase()),
    fc.array(hexish, { minLength: 36, maxLength: 36 }).map((a) => a.join('')),
    fc.tuple(fc.uuid(), fc.nat(35), hexish).map(([u, i, c]) => `${u.slice(0, i)}${c}${u.slice(i + 1)}`),
    fc.constantFrom(
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
      'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
      '6f1c2e0a-8d44-0c5b-9e7a-1f2d3c4b5a69',
      '6f1c2e0a-8d44-9c5b-9e7a-1f2d3c4b5a69',
      '6f1c2e0a-8d44-4c5b-7e7a-1f2d3c4b5a69',
      '6f1c2e0a-8d44-4c5b-Ce7a-1f2d3c4b5a69',
    ),
    fc.string(),
  );

  it('accepts exactly what zod uuid() accepts', () => {
    fc.assert(
      fc.property(uuidLike, (s) => {
        expect(isUuidValue(s)).toBe(uuidSchema.safeParse(s).success);
      }),
      { numRuns: 3000 },
    );
    expect(isUuidValue(42)).toBe(false);
  });

  it('passes an Ack only when AckSchema accepts it unchanged', () => {
    const value = fc.oneof(uuidLike, fc.integer(), fc.constant(undefined), fc.constant(null));
    const ack = fc.record(
      {
        type: fc.constantFrom('Ack', 'ack', 'Delivered'),
        messageId: value,
        federationId: value,
        error: fc.constant({ code: 'unreachable', message: 'gone' }),
        extra: fc.string(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(ack, (a) => {
        const plain = JSON.parse(JSON.stringify(a)) as unknown;
        if (isPlainAck(plain)) {
          const parsed = AckSchema.safeParse(plain);
          expect(parsed.success).toBe(true);
          expect(parsed.data).toEqual(plain);
        }
      }),
      { numRuns: 3000 },
    );
    const ok = { type: 'Ack', messageId: sealed.messageId, federationId: sealed.federationId };
    expect(isPlainAck(ok)).toBe(true);
    expect(parseFrame(JSON.stringify(ok))).toEqual({ kind: 'Ack', frame: ok });
  });

  it('passes a Delivered exactly when DeliveredSchema accepts it unchanged', () => {
    const value = fc.oneof(uuidLike, fc.integer(), fc.constant(undefined), fc.constant(null));
    const did = fc.oneof(
      fc.constantFrom(sealed.targetMeshId, 'did:mesh:academic:mit-001', 'did:key:z6Mk', 'did:', 'DID:mesh:x'),
      fc.constant(`did:mesh:${'a'.repeat(300)}`),
      fc.string(),
      fc.integer(),
    );
    const delivered = fc.record(
      {
        type: fc.constantFrom('Delivered', 'delivered', 'Ack'),
        messageId: value,
        federationId: value,
        by: did,
        extra: fc.string(),
        ['__proto__']: fc.constant({}),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(delivered, (d) => {
        const plain = JSON.parse(JSON.stringify(d)) as unknown;
        const parsed = DeliveredSchema.safeParse(plain);
        expect(isDeliveredValue(plain)).toBe(
          parsed.success && JSON.stringify(parsed.data) === JSON.stringify(plain),
        );
      }),
      { numRuns: 3000 },
    );
    const ok = {
      type: 'Delivered',
      messageId: sealed.messageId,
      federationId: sealed.federationId,
      by: sealed.targetMeshId,
    };
    expect(isDeliveredValue(ok)).toBe(true);
    expect(isDeliveredValue({ ...ok, by: 'not-a-did' })).toBe(false);
    expect(isDeliveredValue(JSON.parse(JSON.stringify({ ...ok, ['__proto__']: 1 })))).toBe(false);
    expect(parseFrame(JSON.stringify(ok))).toEqual({ kind: 'Delivered', frame: ok });
  });
});

/** A valid compliance context (every field), then fields bent, of the wrong type, or dropped. */
const validCompliance: Record<string, unknown> = {
  dataClassification: 'personal-identifiable',
  processingBasis: 'consent',
  retentionPeriod: '90-days',
  geographicRestrictions: ['eu', 'us-ca'],
  auditTrail: true,
  purpose: 'research',
  dataSubjectRegion: 'eu',
  safeguards: ['scc', 'dpf'],
  explicitConsent: true,
  aiRiskLevel: 'high',
  humanReview: false,
  saleOrShare: false,
  optOut: true,
  crossBorderNotice: true,
  dataSubject: 'subject-1',
};
const badCompliance: Record<string, fc.Arbitrary<unknown>> = {
  dataClassification: fc.constantFrom('public', 'internal', 'special-category', 'secret', 1),
  processingBasis: fc.constantFrom('legitimate-interest', 'whim', null),
  retentionPeriod: fc.constantFrom('1-year', '99999-hours', '0-days', '100000-days', '1-days ', 90),
  geographicRestrictions: fc.oneof(
    fc.array(fc.constantFrom('eu', 'apac', 'EU', 'e', 'abcdefghi', 'eu-abcdefgh', 'eu-abcdefghi'), {
      maxLength: 3,
    }),
    fc.constant(
      Array.from({ length: 33 }, (_, i) => `r${String.fromCharCode(97 + (i % 26))}${i >= 26 ? 'x' : ''}`),
    ),
    fc.constant('eu'),
  ),
  auditTrail: fc.constantFrom(false, 'yes'),
  purpose: fc.constantFrom('', 'p'.repeat(128), 'p'.repeat(129)),
  dataSubjectRegion: fc.constantFrom('us-ca', 'EU', ''),
  safeguards: fc.oneof(
    fc.array(fc.constantFrom('bcr', 'explicit-consent', 'binding-instrument', 'pinky-promise'), {
      maxLength: 6,
    }),
    fc.constant('scc'),
  ),
  explicitConsent: fc.constantFrom(false, 0),
  aiRiskLevel: fc.constantFrom('minimal', 'unacceptable', 'extreme'),
  humanReview: fc.constantFrom(true, 'no'),
  saleOrShare: fc.constant(true),
  optOut: fc.constantFrom(false, null),
  crossBorderNotice: fc.constant(false),
  dataSubject: fc.constantFrom('', 's'.repeat(128), 's'.repeat(129)),
  extra: fc.constant(1),
};
const complianceLike = fc
  .record({
    replace: fc.option(
      fc.dictionary(fc.constantFrom(...Object.keys(badCompliance)), fc.constant(0), { maxKeys: 2 }),
      {
        nil: {},
        freq: 2,
      },
    ),
    values: fc.record(badCompliance),
    drop: fc.subarray(Object.keys(validCompliance), { maxLength: 3 }),
  })
  .map(({ replace, values, drop }) => {
    const v: Record<string, unknown> = { ...validCompliance };
    for (const k of Object.keys(replace)) v[k] = values[k];
    for (const k of drop) delete v[k];
    // Through JSON, as it arrives (and sometimes with a "__proto__" key of its own).
    return JSON.parse(JSON.stringify(v).replace('"extra"', '"__proto__"')) as unknown;
  });

describe('the hand-written checks of payloads and compliance contexts', () => {
  it('isComplianceContextValue is complianceContextSchema, both ways, and keeps the value', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(complianceLike, fc.jsonValue({ maxDepth: 2 })), (value) => {
        const zod = complianceContextSchema.safeParse(value);
        expect(isComplianceContextValue(value)).toBe(zod.success);
        if (zod.success) {
          accepted++;
          expect(value).toEqual(zod.data);
        }
      }),
      { numRuns: 5000 },
    );
    expect(accepted).toBeGreaterThan(20);
  });

  it('isPlainJsonValue and copyPlainJson accept only what z.json() gives back unchanged', () => {
    const json = z.json();
    const odd = fc.constantFrom<unknown>(
      undefined,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -0,
      new Date(0),
      new Map(),
      Object.create(null),
      // A sparse array (a hole is not a JSON value).
      new Array(3).fill(1, 0, 1),
      () => 1,
      Symbol('s'),
      10n,
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 1 }),
        odd,
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom('a', 'b', '__proto__', 'constructor'), tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        const copy = copyPlainJson(v);
        expect(copy !== undefined).toBe(isPlainJsonValue(v));
        if (copy === undefined) return;
        // Shown plain: zod accepts it and builds an equal value; the copy shares no object with it.
        const zod = json.safeParse(v);
        expect(zod.success).toBe(true);
        expect(copy).toEqual(zod.data);
        if (typeof v === 'object' && v !== null) expect(copy).not.toBe(v);
      }),
      { numRuns: 3000 },
    );
    // Deeper than MAX_JSON_DEPTH is left to zod.
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = [deep];
    expect(isPlainJsonValue(deep)).toBe(false);
    expect(copyPlainJson(deep)).toBeUndefined();
  });

  it('isClearPayloadValue accepts only what clearPayloadSchema accepts, unchanged', () => {
    let accepted = 0;
    fc.assert(
      fc.property(payloadValue, fc.jsonValue({ maxDepth: 2 }), fc.boolean(), (p, other, useOther) => {
        const value = JSON.parse(JSON.stringify(useOther ? other : p)) as unknown;
        const zod = clearPayloadSchema.safeParse(value);
        if (isClearPayloadValue(value)) {
          accepted++;
          expect(zod.success).toBe(true);
          expect(value).toEqual(zod.data);
        } else {
          // Nothing but depth (left to zod) separates a plain JSON payload from the schema's verdict.
          expect(zod.success).toBe(false);
        }
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(20);
    const payload: ClearPayload = { type: 'agent.task.request', data: { task: 'x' } };
    expect(isClearPayloadValue(payload)).toBe(true);
  });

  it('isUnsignedEnvelope is unsignedEnvelopeSchema, both ways (what createEnvelope skips zod for)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(envelopeLike, (value) => {
        const v =
          typeof value === 'object' && value !== null && !Array.isArray(value)
            ? Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'signature'))
            : value;
        const zod = unsignedEnvelopeSchema.safeParse(v);
        expect(isUnsignedEnvelope(v)).toBe(zod.success);
        if (zod.success) {
          accepted++;
          expect(v).toEqual(zod.data);
        }
      }),
      { numRuns: 5000 },
    );
    expect(accepted).toBeGreaterThan(20);
  });

  it('createEnvelope copies what the caller passed: changing it afterwards changes nothing', () => {
    const data = { task: 'summarize', args: { n: [1, 2] } };
    const complianceContext = { dataClassification: 'internal' as const, auditTrail: true };
    const env = createEnvelope(
      {
        type: 'agent.task.request',
        federationId: sealed.federationId,
        sourceMeshId: sealed.sourceMeshId,
        targetMeshId: sealed.targetMeshId,
        payload: { type: 'agent.task.request', data },
        complianceContext,
      },
      { now: () => 1_730_246_400_000 },
    );
    data.args.n.push(3);
    complianceContext.auditTrail = false;
    expect((env.payload as ClearPayload).data).toEqual({ task: 'summarize', args: { n: [1, 2] } });
    expect(env.complianceContext?.auditTrail).toBe(true);
    // Not plain JSON (a Date): zod decides, as before, and refuses it.
    expect(() =>
      createEnvelope(
        {
          type: 'agent.task.request',
          federationId: sealed.federationId,
          sourceMeshId: sealed.sourceMeshId,
          targetMeshId: sealed.targetMeshId,
          payload: { type: 'agent.task.request', data: { at: new Date(0) } as never },
        },
        { now: () => 1_730_246_400_000 },
      ),
    ).toThrow(/invalid envelope/);
  });
});
