/**
 * matchRelayedFrame against the general path (JSON.parse, the Relay check, parseRelayedFrame):
 * whatever it reads from a hub link's text, the general path reads the same from it; honest relays
 * in the layout hubs write are read; anything else is left to the general path.
 */
import {
  createEnvelope,
  DEFAULT_MAX_FRAME_BYTES,
  ed25519,
  hopForward,
  parseFrame,
  randomBytes,
  sealPayload,
  signEnvelope,
} from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchRelayedFrame, parseRelayedFrame, type Relay } from './frames.js';

const keys = ed25519.generateKeyPair();
const sessionKey = randomBytes(32);
const SOURCE = 'did:mesh:enterprise:acme-001';
const TARGET = 'did:mesh:academic:mit-001';
const HUB_EU = 'did:mesh:hub:eu-001';
const HUB_NA = 'did:mesh:hub:na-001';

function sealed(
  over: { complianceContext?: object; traceparent?: string; hops?: number; data?: unknown } = {},
) {
  const draft = createEnvelope(
    {
      type: 'agent.task.request',
      federationId: '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69',
      sourceMeshId: SOURCE,
      targetMeshId: TARGET,
      payload: { type: 'agent.task.request', data: { a: 1 } },
      priority: 'high',
      ...(over.complianceContext ? { complianceContext: over.complianceContext as never } : {}),
      ...(over.traceparent ? { traceparent: over.traceparent } : {}),
    },
    { now: Date.now },
  );
  let env = signEnvelope({ ...draft, payload: sealPayload(sessionKey, draft, draft.payload as never) }, keys);
  for (let i = 0; i < (over.hops ?? 1); i++) env = hopForward(env, `did:mesh:hub:h${i}`);
  return env;
}

/** The text PeerLinks.send writes: the outer members serialized, the envelope text spliced in last. */
function relayText(outer: Omit<Relay, 'frame'>, innerText: string): string {
  return `${JSON.stringify(outer).slice(0, -1)},"frame":${innerText}}`;
}

/** What the general path reads from `text`, or undefined where it refuses it. */
function general(text: string, maxBytes = DEFAULT_MAX_FRAME_BYTES) {
  try {
    const parsed = parseFrame(text, { maxBytes: maxBytes * 2 });
    if (parsed.kind !== 'Relay') return undefined;
    const inner = parseRelayedFrame(parsed.frame as Relay, maxBytes);
    return { relay: parsed.frame as Relay, inner };
  } catch {
    return undefined;
  }
}

const outers: Omit<Relay, 'frame'>[] = [
  { type: 'Relay', toMeshId: TARGET, fromHub: HUB_EU },
  { type: 'Relay', toMeshId: TARGET, fromHub: HUB_EU, toHub: HUB_NA },
  { type: 'Relay', toMeshId: TARGET, fromHub: HUB_EU, route: [HUB_EU, HUB_NA] },
  { type: 'Relay', toMeshId: TARGET, fromHub: HUB_EU, route: [HUB_EU], toHub: HUB_NA },
];
const envelopes = [
  sealed(),
  sealed({ hops: 0 }),
  sealed({ hops: 3, complianceContext: { dataClassification: 'confidential', auditTrail: true } }),
  sealed({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
];
const delivered = [
  {
    type: 'Delivered',
    messageId: envelopes[0]!.messageId,
    federationId: envelopes[0]!.federationId,
    by: TARGET,
  },
  {
    type: 'Delivered',
    messageId: envelopes[1]!.messageId,
    federationId: envelopes[1]!.federationId,
    by: SOURCE,
  },
];
const honest = outers.flatMap((o) => [
  ...envelopes.map((e) => relayText(o, JSON.stringify(e))),
  ...delivered.map((d) => relayText(o, JSON.stringify(d))),
]);

function same(text: string, maxBytes = DEFAULT_MAX_FRAME_BYTES): boolean {
  const fast = matchRelayedFrame(text, maxBytes);
  if (fast === undefined) return false;
  const slow = general(text, maxBytes);
  expect(slow, `the general path refuses what the matcher read: ${text.slice(0, 200)}`).toBeDefined();
  expect(JSON.stringify(fast.relay)).toBe(JSON.stringify(slow!.relay));
  expect(Object.keys(fast.relay)).toEqual(Object.keys(slow!.relay));
  expect(fast.inner.kind).toBe(slow!.inner.kind);
  expect(fast.inner.text).toBe(slow!.inner.text);
  expect(JSON.stringify(fast.inner.frame)).toBe(JSON.stringify(slow!.inner.frame));
  return true;
}

describe('matchRelayedFrame', () => {
  it('reads every honest relay of a sealed envelope or a receipt as the general path does', () => {
    for (const text of honest) expect(same(text)).toBe(true);
  });

  it('never reads a text the general path reads otherwise or refuses (single-character edits)', () => {
    const chars = fc.constantFrom(...'"\\{}[],:0123456789abcdefzAZ -_.é\u0001\u2028'.split(''));
    let read = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...honest),
        fc.nat(),
        fc.oneof(
          chars.map((c) => ({ op: 'replace' as const, c })),
          chars.map((c) => ({ op: 'insert' as const, c })),
          fc.constant({ op: 'delete' as const, c: '' }),
        ),
        (text, n, edit) => {
          const i = n % text.length;
          const edited =
            edit.op === 'replace'
              ? text.slice(0, i) + edit.c + text.slice(i + 1)
              : edit.op === 'insert'
                ? text.slice(0, i) + edit.c + text.slice(i)
                : text.slice(0, i) + text.slice(i + 1);
          if (same(edited)) read++;
        },
      ),
      { numRuns: 4000 },
    );
    // Some edits keep a valid relay (a changed ciphertext character, say): those are read too.
    expect(read).toBeGreaterThan(0);
  });

  it('leaves an envelope whose compliance context has whitespace to the general path', () => {
    // Found by the property above: the relay is valid, but its inner text is not the spelling the
    // general path forwards (it re-serializes), so the matcher must not read it.
    const text = relayText(outers[2]!, JSON.stringify(envelopes[2])).replace(
      '"dataClassification":',
      '"dataClassification" :',
    );
    expect(general(text)).toBeDefined();
    expect(matchRelayedFrame(text, DEFAULT_MAX_FRAME_BYTES)).toBeUndefined();
  });

  it('leaves other layouts, inner frames and sizes to the general path', () => {
    const env = envelopes[0]!;
    const inner = JSON.stringify(env);
    // Another member order, whitespace, the frame not last, a pretty-printed envelope.
    const reordered = `{"toMeshId":"${TARGET}","type":"Relay","fromHub":"${HUB_EU}","frame":${inner}}`;
    const spaced = relayText(outers[0]!, inner).replace('"frame":', '"frame": ');
    const notLast = `{"type":"Relay","toMeshId":"${TARGET}","frame":${inner},"fromHub":"${HUB_EU}"}`;
    const pretty = relayText(outers[0]!, JSON.stringify(env, null, 1));
    for (const text of [reordered, spaced, notLast, pretty]) {
      expect(matchRelayedFrame(text, DEFAULT_MAX_FRAME_BYTES)).toBeUndefined();
      expect(general(text)).toBeDefined(); // still a valid relay, read the slow way
    }
    // A handshake message or an error frame inside: neither an envelope nor a receipt.
    const errorFrame = relayText(outers[0]!, '{"type":"error","code":"unreachable","message":"x"}');
    expect(matchRelayedFrame(errorFrame, DEFAULT_MAX_FRAME_BYTES)).toBeUndefined();
    expect(general(errorFrame)).toBeDefined();
    // Receipts with a bad member, another order or an extra one: the general path decides.
    const receipt = delivered[0]!;
    for (const frame of [
      { ...receipt, by: 'nobody' },
      { ...receipt, messageId: 'not-a-uuid' },
      { ...receipt, federationId: receipt.federationId.slice(1) },
      {
        by: receipt.by,
        type: receipt.type,
        messageId: receipt.messageId,
        federationId: receipt.federationId,
      },
      { ...receipt, extra: 1 },
    ]) {
      const text = relayText(outers[0]!, JSON.stringify(frame));
      expect(matchRelayedFrame(text, DEFAULT_MAX_FRAME_BYTES)).toBeUndefined();
    }
    // Anything after the relay's closing brace: not one frame.
    for (const text of honest) {
      for (const tail of [' ', '}', 'x', ',{}']) {
        expect(matchRelayedFrame(text + tail, DEFAULT_MAX_FRAME_BYTES)).toBeUndefined();
        // Trailing whitespace is still one frame to JSON.parse: read the slow way.
        if (tail !== ' ') expect(general(text + tail)).toBeUndefined();
      }
    }
    const receiptText = relayText(outers[0]!, JSON.stringify(receipt));
    expect(matchRelayedFrame(receiptText, 20)).toBeUndefined();
    expect(general(receiptText, 20)).toBeUndefined();
    // Bad outer members: the general path refuses them and so does the matcher.
    for (const outer of [
      { ...outers[0]!, toMeshId: 'not-a-did' },
      { ...outers[0]!, fromHub: 'did:x' },
      { ...outers[0]!, route: [HUB_EU, HUB_EU] },
      { ...outers[0]!, route: Array.from({ length: 6 }, (_, i) => `did:mesh:hub:h${i}`) },
      { ...outers[0]!, toHub: 'did:' },
    ]) {
      const text = relayText(outer as Omit<Relay, 'frame'>, inner);
      expect(matchRelayedFrame(text, DEFAULT_MAX_FRAME_BYTES)).toBeUndefined();
      expect(general(text)).toBeUndefined();
    }
    // An inner frame over the limit: the general path names the error.
    const text = relayText(outers[0]!, inner);
    expect(matchRelayedFrame(text, inner.length - 1)).toBeUndefined();
    expect(same(text, inner.length)).toBe(true);
  });
});
