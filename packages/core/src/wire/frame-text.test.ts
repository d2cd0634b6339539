/**
 * matchSealedEnvelope held to what it replaces on the hub's path: JSON.parse of the element's text
 * followed by isSealedEnvelope (and parseFrame's rule that a registered frame type is not an
 * envelope). Whenever it returns an envelope, that is exactly the value the general path would
 * accept, members in the same order; for every text in the standard layout, it returns one exactly
 * when the general path accepts the text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ed25519 } from '../crypto.js';
import { createEnvelope, hopForward, sealPayload, signEnvelope } from '../envelope.js';
import { splitBatch } from './batch.js';
import { hopForwardedText, isRegisteredFrameType, parseFrame } from './frame.js';
import { ENVELOPE_EDGE_STRINGS, SIX_HUBS } from './test-edges.js';
import './link.js'; // registers Ack with the frame parser
import { forwardedEnvelopeText, matchFrameText, matchPlainAck, matchSealedEnvelope } from './frame-text.js';
import { type Envelope, isSealedEnvelope, LIMITS, MAX_HOPS } from './messages.js';

const keys = ed25519.keyPairFromSeed(new Uint8Array(32).fill(9));
const HUB = 'did:mesh:hub:eu';

function sealedEnvelope(extra: { complianceContext?: unknown; traceparent?: string } = {}): Envelope {
  const draft = createEnvelope(
    {
      type: 'agent.task.request',
      federationId: '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69',
      sourceMeshId: 'did:mesh:enterprise:acme-001',
      targetMeshId: 'did:mesh:academic:mit-001',
      payload: { type: 'agent.task.request', data: { task: 'summarize', n: 3 } },
      ...(extra as object),
    },
    { now: () => 1_730_246_400_000 },
  );
  return signEnvelope(
    { ...draft, payload: sealPayload(new Uint8Array(32).fill(1), draft, draft.payload as never) },
    keys,
  );
}

const plain = sealedEnvelope();
const withContext = sealedEnvelope({
  complianceContext: {
    dataClassification: 'personal-identifiable',
    processingBasis: 'consent',
    geographicRestrictions: ['eu', 'us-ca'],
    auditTrail: true,
    purpose: 'research: "a", b',
  },
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
});

/** What the general path makes of an element's text: the envelope, or undefined when it refuses it. */
function generalPath(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isSealedEnvelope(value) || isRegisteredFrameType(value.type)) return undefined;
  return value;
}

/** Values near the edges of each field's rules; none needs an escape in JSON. */
const edgeValue: fc.Arbitrary<unknown> = fc.constantFrom(
  ...ENVELOPE_EDGE_STRINGS,
  'discovery.query',
  '3b241101-e2bb-4255-8caf-4136c566a96--',
  'did:a b:c',
  'did:x:é',
  'z',
  '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
  '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
  '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  -0,
  0,
  1,
  5,
  6,
  -1,
  1.5,
  2 ** 53,
  2 ** 53 - 1,
  1e21,
  null,
  true,
  [],
  [HUB],
  [HUB, HUB],
  [...SIX_HUBS],
  { dataClassification: 'public', auditTrail: false },
  { dataClassification: 'secret', auditTrail: false },
  { dataClassification: 'personal-identifiable', auditTrail: true },
  { dataClassification: 'public', auditTrail: false, geographicRestrictions: [] },
  { dataClassification: 'public', auditTrail: false, purpose: 'x}' },
  { alg: 'ChaCha20-Poly1305', nonce: 'AAAAAAAAAAAAAAAA', ciphertext: 'AAAAAAAAAAAAAAAAAAAAAA' },
  { alg: 'ChaCha20-Poly1305', nonce: 'AAAAAAAAAAAAAAAA', ciphertext: 'AAAAAAAAAAAAAAAAAAAAA' },
  { type: 'agent.task.request', data: {} },
);

const FIELDS = [...Object.keys(plain), 'complianceContext', 'traceparent'];

/** The plain or the full envelope with up to two members replaced, removed or added, in the standard order. */
const envelopeValue = fc
  .record({
    base: fc.constantFrom(plain, withContext),
    edits: fc.array(fc.tuple(fc.constantFrom(...FIELDS, 'nonce', 'ciphertext', 'alg'), edgeValue), {
      maxLength: 2,
    }),
    drop: fc.option(fc.constantFrom(...FIELDS), { nil: undefined, freq: 4 }),
    hops: fc.option(fc.integer({ min: 0, max: MAX_HOPS + 1 }), { nil: undefined }),
  })
  .map(({ base, edits, drop, hops }) => {
    const v = structuredClone(base) as Record<string, unknown>;
    if (hops !== undefined) {
      v['hopCount'] = hops;
      v['route'] = Array.from({ length: hops }, (_, i) => `did:mesh:hub:h${i}`);
    }
    for (const [field, value] of edits) {
      const payload = v['payload'];
      if (field === 'nonce' || field === 'ciphertext' || field === 'alg') {
        if (typeof payload === 'object' && payload !== null)
          (payload as Record<string, unknown>)[field] = value;
      } else v[field] = structuredClone(value);
    }
    if (drop !== undefined) delete v[drop];
    // The standard order: optional members between route and signature, as createEnvelope writes them.
    const ordered: Record<string, unknown> = {};
    for (const key of [
      ...Object.keys(plain).filter((k) => k !== 'signature'),
      ...FIELDS.slice(-2),
      'signature',
    ])
      if (key in v) ordered[key] = v[key];
    return ordered;
  });

describe('matchSealedEnvelope is JSON.parse + isSealedEnvelope', () => {
  it('reads the envelopes senders write, alone and inside a batch', () => {
    for (const env of [plain, withContext, hopForward(hopForward(withContext, HUB), 'did:mesh:hub:na')]) {
      const text = JSON.stringify(env);
      const alone = matchSealedEnvelope(text, 0);
      expect(alone?.end).toBe(text.length);
      expect(JSON.stringify(alone?.envelope)).toBe(text);
      const batch = `[${JSON.stringify(plain)},${text}]`;
      const inside = matchSealedEnvelope(batch, JSON.stringify(plain).length + 2);
      expect(inside?.end).toBe(batch.length - 1);
      expect(inside?.envelope).toEqual(env);
    }
  });

  it('in the standard layout, accepts exactly what the general path accepts, with the same value', () => {
    let accepted = 0;
    fc.assert(
      fc.property(envelopeValue, fc.constantFrom('', '[', '[{"a":1},'), (value, prefix) => {
        const text = JSON.stringify(value);
        const expected = generalPath(text);
        const matched = matchSealedEnvelope(`${prefix}${text},`, prefix.length);
        // A text that needed an escape or has a brace in its compliance context is outside the layout.
        const standard =
          !text.includes('\\') && !/[{}]/.test(JSON.stringify(value['complianceContext'] ?? '').slice(1, -1));
        if (matched) {
          accepted++;
          expect(matched.end).toBe(prefix.length + text.length);
          expect(JSON.stringify(matched.envelope)).toBe(JSON.stringify(expected));
        } else if (standard) {
          expect(expected).toBeUndefined();
        }
      }),
      { numRuns: 4000 },
    );
    expect(accepted).toBeGreaterThan(200);
  });

  it('decides each rule as the general path does', () => {
    const twoHops = hopForward(hopForward(plain, HUB), 'did:mesh:hub:na');
    const cases: [Record<string, unknown>, boolean][] = [
      [{ ...plain, type: 'discovery.query' }, false], // a registered frame type is no envelope
      [{ ...plain, timestamp: 2 ** 53 }, false],
      [{ ...plain, timestamp: 2 ** 53 - 1 }, true],
      [{ ...plain, timestamp: 0 }, true],
      [{ ...twoHops, maxHops: 1 }, false],
      [{ ...twoHops, maxHops: 2 }, true],
      [{ ...twoHops, route: [HUB, HUB] }, false],
      [{ ...twoHops, route: [HUB] }, false],
      [{ ...plain, hopCount: 1 }, false],
      [{ ...plain, messageId: '3b241101-e2bb-9255-8caf-4136c566a962' }, false],
      [{ ...plain, priority: 'critical' }, true],
      [{ ...plain, payload: { ...plain.payload, ciphertext: 'A'.repeat(LIMITS.ciphertextLength) } }, true],
      [
        { ...plain, payload: { ...plain.payload, ciphertext: 'A'.repeat(LIMITS.ciphertextLength + 1) } },
        false,
      ],
    ];
    for (const [value, valid] of cases) {
      const text = JSON.stringify(value);
      expect(generalPath(text) !== undefined).toBe(valid);
      const matched = matchSealedEnvelope(text, 0);
      expect(matched !== undefined).toBe(valid);
      if (matched) expect(JSON.stringify(matched.envelope)).toBe(text);
    }
  });

  it('never accepts a text the general path refuses or reads differently (single-character edits)', () => {
    const texts = [plain, withContext, hopForward(withContext, HUB)].map((e) => JSON.stringify(e));
    const chars = fc.constantFrom(
      '"',
      '\\',
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      ' ',
      '0',
      '9',
      'a',
      'Z',
      '-',
      '_',
      'é',
      '\u0000',
      '\n',
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...texts),
        fc.nat(),
        fc.constantFrom('insert', 'delete', 'replace'),
        chars,
        (text, at, edit, c) => {
          const i = at % text.length;
          const edited =
            edit === 'insert'
              ? text.slice(0, i) + c + text.slice(i)
              : text.slice(0, i) + (edit === 'replace' ? c : '') + text.slice(i + 1);
          const matched = matchSealedEnvelope(edited, 0);
          if (!matched) return;
          const expected = generalPath(edited.slice(0, matched.end));
          expect(expected).toBeDefined();
          expect(JSON.stringify(matched.envelope)).toBe(JSON.stringify(expected));
          // Only the standard spelling is read: what a hub forwards as it came is what it would
          // write from the value.
          expect(edited.slice(0, matched.end)).toBe(JSON.stringify(expected));
        },
      ),
      { numRuns: 6000 },
    );
  });

  it('leaves a compliance context spelled otherwise (whitespace, an escape) to the general path', () => {
    const text = JSON.stringify(withContext);
    const spaced = text.replace('"processingBasis":', '"processingBasis" :');
    const escaped = text.replace('"consent"', '"\\u0063onsent"');
    for (const other of [spaced, escaped]) {
      expect(other).not.toBe(text);
      expect(generalPath(other)).toEqual(withContext); // valid, the same value
      expect(matchSealedEnvelope(other, 0)).toBeUndefined();
    }
  });

  it('gives the forwarded text hopForwardedText gives', () => {
    for (const env of [plain, withContext, hopForward(plain, 'did:mesh:hub:na')]) {
      const text = JSON.stringify(env);
      const matched = matchSealedEnvelope(text, 0)!;
      const forwarded = hopForward(matched.envelope, HUB);
      const out = forwardedEnvelopeText(matched, forwarded);
      expect(out).toBe(hopForwardedText(text, forwarded));
      expect(JSON.parse(out)).toEqual(forwarded);
    }
  });

  it('comes with the batch split, element by element', () => {
    const ack =
      '{"type":"Ack","messageId":"3b241101-e2bb-4255-8caf-4136c566a962","federationId":"6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69"}';
    const spaced = JSON.stringify(plain, null, 1);
    const spans: unknown[] = [];
    const frames = splitBatch(
      `[${JSON.stringify(plain)}, ${spaced},${ack},${JSON.stringify(withContext)}]`,
      8,
      spans as never,
    );
    expect(frames).toEqual([JSON.stringify(plain), spaced, ack, JSON.stringify(withContext)]);
    expect((spans[0] as { envelope: Envelope }).envelope).toEqual(plain);
    // Whitespace is outside the layout: the element has its hopCount and route spans instead.
    expect(spans[1]).not.toHaveProperty('envelope');
    expect(spans[1]).toHaveProperty('hop');
    expect(spans[2]).toEqual({ ack: JSON.parse(ack), end: expect.any(Number) });
    expect((spans[3] as { envelope: Envelope }).envelope).toEqual(withContext);
  });
});

describe('matchPlainAck is JSON.parse + the Ack check', () => {
  const ack = {
    type: 'Ack',
    messageId: '3b241101-e2bb-4255-8caf-4136c566a962',
    federationId: '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69',
  };
  /** parseFrame's Ack without an error, or undefined. */
  const general = (text: string): unknown => {
    try {
      const parsed = parseFrame(text);
      return parsed.kind === 'Ack' && parsed.frame.error === undefined ? parsed.frame : undefined;
    } catch {
      return undefined;
    }
  };

  it('reads the receipts receivers write, and nothing the general path refuses or reads otherwise', () => {
    const text = JSON.stringify(ack);
    expect(matchPlainAck(`[${text}]`, 1)).toEqual({ ack, end: text.length + 1 });
    expect(matchFrameText(text, 0)).toEqual({ ack, end: text.length });
    const edge = fc.constantFrom(
      ...[
        ack.messageId,
        ack.federationId,
        '3b241101-e2bb-9255-8caf-4136c566a962',
        'ffffffff-ffff-ffff-ffff-ffffffffffff',
      ],
      ...['3B241101-E2BB-4255-8CAF-4136C566A962', '3b241101-e2bb-4255-8caf-4136c566a96', 'Ack', 'ack', 7],
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('type', 'messageId', 'federationId', 'error'), edge, { maxKeys: 2 }),
        fc.nat(),
        fc.constantFrom('', '"', '\\', '}', ' ', 'a', '9', '-'),
        (edits, at, c) => {
          const value = { ...ack, ...edits };
          const base = JSON.stringify(value);
          const i = at % (base.length + 1);
          for (const candidate of [base, base.slice(0, i) + c + base.slice(i)]) {
            const matched = matchPlainAck(candidate, 0);
            if (!matched) {
              // In the receivers' layout, a miss is a refusal by the general path too.
              if (candidate === base && Object.keys(value).join() === 'type,messageId,federationId')
                expect(general(candidate)).toBeUndefined();
              continue;
            }
            expect(matched.ack).toEqual(general(candidate.slice(0, matched.end)));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
