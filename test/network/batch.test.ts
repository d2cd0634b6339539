/**
 * Link batches on a real hub (docs/protocol.md, "Batches"): a batch's frames are handled one by one
 * (a bad element gets its own error, the others are routed), the hub batches only toward links that
 * announced `batch`, and a batch past MAX_BATCH_FRAMES is refused whole.
 */
import {
  createEnvelope,
  DeliveredSchema,
  type Envelope,
  hopForward,
  MAX_BATCH_FRAMES,
  sealPayload,
  signEnvelope,
  splitBatch,
  verifyEnvelope,
} from '@fmp/core';
import type { Hub } from '@fmp/hub';
import type { FederationInfo } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordWebSocketSends } from '../../packages/hub/src/test-support.js';
import { createWorld, type Member, nodeFor, startHub, until, type World } from './fixtures.js';
import { type RawClient, rawAuthenticated } from './raw-client.js';

describe('link batches', () => {
  let hub: Hub;
  let url: string;
  let a: Member;
  let b: Member;
  let fed: FederationInfo;
  let world: World;
  const clients: RawClient[] = [];

  beforeAll(async () => {
    world = await createWorld();
    ({ hub, url } = await startHub(world));
    a = await world.member('did:mesh:enterprise:batch-a-001');
    b = await world.member('did:mesh:academic:batch-b-001');
    const na = nodeFor(world, a, url);
    const nb = nodeFor(world, b, url);
    await na.start();
    await nb.start();
    fed = await na.federate(b.did, {
      capabilities: ['ml.inference'],
      purpose: 'batch test',
      ttlSeconds: 600,
    });
    await until(() => nb.federations().some((f) => f.federationId === fed.federationId && f.usable), 5000);
    // From here on both ends speak raw, to send and see exactly what goes on the wire.
    await na.stop();
    await nb.stop();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await hub?.stop();
  });

  async function connect(member: Member, batch: boolean): Promise<RawClient> {
    const c = await rawAuthenticated(url, member, { batch });
    clients.push(c);
    return c;
  }

  /** Message i from a to b: its payload in the clear, or sealed (under a made-up key: the hub does not open it). */
  const envelope = (i: number, sealed = false): Envelope => {
    const draft = createEnvelope(
      {
        type: 'agent.task.request',
        federationId: fed.federationId,
        sourceMeshId: a.did,
        targetMeshId: b.did,
        payload: { type: 'agent.task.request', data: { i } },
      },
      { now: Date.now },
    );
    const payload = sealed
      ? sealPayload(new Uint8Array(32).fill(i), draft, draft.payload as never)
      : draft.payload;
    return signEnvelope({ ...draft, payload }, a.keyPair);
  };

  const ackBatch = (frames: Record<string, unknown>[]) =>
    `[${frames
      .map((f) => JSON.stringify({ type: 'Ack', messageId: f.messageId, federationId: f.federationId }))
      .join(',')}]`;

  it('routes each element of a batch on its own: a bad one gets its error, the others are delivered', async () => {
    const src = await connect(a, true);
    const dst = await connect(b, true);
    const [e1, e2] = [envelope(1), envelope(2)];
    const bad = { ...envelope(3), federationId: 'not-a-uuid' };
    src.sendRaw(`[${JSON.stringify(e1)},${JSON.stringify(bad)},${JSON.stringify(e2)}]`);

    const error = await src.next((f) => f.type === 'error');
    expect(error.code).toBe('malformed_frame');
    const got = [
      await dst.next((f) => f.type === 'agent.task.request'),
      await dst.next((f) => f.type === 'agent.task.request'),
    ];
    expect(got.map((f) => f.messageId)).toEqual([e1.messageId, e2.messageId]); // order kept
    // Both receipts in one batch; both come back as Delivered.
    dst.sendRaw(ackBatch(got));
    const delivered = [
      await src.next((f) => f.type === 'Delivered'),
      await src.next((f) => f.type === 'Delivered'),
    ];
    expect(delivered.map((f) => f.messageId).sort()).toEqual([e1.messageId, e2.messageId].sort());
    // The hub writes receipts by hand: each must still be exactly a DeliveredSchema frame.
    for (const d of delivered) expect(DeliveredSchema.parse(d)).toEqual({ ...d, by: b.did });
    src.close();
    dst.close();
  });

  it('routes sealed envelopes read straight from the batch text as it routes any other', async () => {
    // The hub reads a sealed envelope written in the senders' layout without JSON.parse
    // (matchSealedEnvelope); one with a bad field in that layout, and one in another layout, take
    // the general path. Each ends as the general path alone would have it.
    const src = await connect(a, true);
    const dst = await connect(b, true);
    const [e1, e2, e3] = [envelope(1, true), envelope(2, true), envelope(3, true)];
    const badVersion = { ...envelope(4, true), messageId: '3b241101-e2bb-9255-8caf-4136c566a962' };
    src.sendRaw(
      `[${JSON.stringify(e1)},${JSON.stringify(badVersion)},${JSON.stringify(e2, null, 2)},${JSON.stringify(e3)}]`,
    );

    const error = await src.next((f) => f.type === 'error');
    expect(error.code).toBe('malformed_frame');
    const got = [];
    for (let k = 0; k < 3; k++) got.push(await dst.next((f) => f.type === 'agent.task.request'));
    // Each arrives as the sender signed it, with only hopCount and route written by the hub.
    expect(got).toEqual([e1, e2, e3].map((e) => hopForward(e, hub.did)));
    for (const e of got) expect(() => verifyEnvelope(e as Envelope, a.keyPair.publicKey)).not.toThrow();
    dst.sendRaw(ackBatch(got));
    for (let k = 0; k < 3; k++) await src.next((f) => f.type === 'Delivered');
    src.close();
    dst.close();
  });

  it('sends batches only to a link that announced them', async () => {
    const count = 20;
    const run = async (batch: boolean) => {
      const src = await connect(a, true);
      const dst = await connect(b, batch);
      const sent = Array.from({ length: count }, (_, i) => envelope(i));
      src.sendRaw(`[${sent.map((e) => JSON.stringify(e)).join(',')}]`);
      await until(() => dst.frames.filter((f) => f.type === 'agent.task.request').length === count, 5000);
      const got = dst.frames.filter((f) => f.type === 'agent.task.request');
      expect(got.map((f) => f.messageId)).toEqual(sent.map((e) => e.messageId));
      const received = { ...dst.received };
      dst.sendRaw(ackBatch(got));
      await until(() => src.frames.filter((f) => f.type === 'Delivered').length === count, 5000);
      src.close();
      dst.close();
      return received;
    };
    const plain = await run(false);
    expect(plain.batches).toBe(0);
    // All twenty were forwarded while handling one incoming message: one turn, one batch.
    const batched = await run(true);
    expect(batched.batches).toBeGreaterThan(0);
    expect(batched.messages).toBeLessThan(count);
  });

  it('refuses a batch longer than MAX_BATCH_FRAMES, and malformed batches, with malformed_frame', async () => {
    const src = await connect(a, true);
    const one = JSON.stringify(envelope(0));
    src.sendRaw(`[${Array.from({ length: MAX_BATCH_FRAMES + 1 }, () => one).join(',')}]`);
    const tooLong = await src.next((f) => f.type === 'error');
    expect(tooLong.code).toBe('malformed_frame');
    expect(String(tooLong.message)).toContain(`at most ${MAX_BATCH_FRAMES}`);
    for (const text of ['[]', '[1,2]', `[${one}`, `[${one}]x`, `[${one},]`]) {
      src.sendRaw(text);
      const e = await src.next((f) => f.type === 'error');
      expect(e.code).toBe('malformed_frame');
    }
    // None of those frames was routed: the link still works and nothing was delivered twice.
    const fresh = envelope(99);
    src.sendRaw(`[${JSON.stringify(fresh)}]`);
    const dst = await connect(b, true);
    const got = await dst.next((f) => f.messageId === fresh.messageId);
    expect(got.messageId).toBe(fresh.messageId);
    expect(
      dst.frames.filter((f) => f.type === 'agent.task.request' && f.messageId !== fresh.messageId),
    ).toEqual([]);
  });

  it("sends a question's receipt in the same message as the answer, and within receiptWithinMs without one", async () => {
    const asker = nodeFor(world, a, url);
    const answerer = nodeFor(world, b, url);
    await asker.start();
    await answerer.start();
    const f = await asker.federate(b.did, {
      capabilities: ['ml.inference'],
      purpose: 'q&a',
      ttlSeconds: 600,
    });
    await until(
      () => answerer.federations().some((x) => x.federationId === f.federationId && x.usable),
      5000,
    );
    const answers: string[] = [];
    asker.onMessage((m) => {
      if (m.type === 'agent.task.response') answers.push(m.messageId);
    });
    answerer.onMessage((m) => {
      if (m.type === 'agent.task.request' && (m.data as { hang?: boolean }).hang)
        return new Promise<void>(() => {});
      if (m.type === 'agent.task.request' && (m.data as { busy?: boolean }).busy) {
        // Answers, then goes on working: the receipt still leaves with the answer.
        void answerer.send(m.federationId, 'agent.task.response', { ok: true });
        return new Promise<void>((resolve) => setTimeout(resolve, 300));
      }
      if (m.type !== 'agent.task.request') return undefined;
      // Resolves once the answer is queued: the node then lets the receipt go, in the same batch.
      return new Promise<void>((resolve) => {
        void answerer.send(m.federationId, 'agent.task.response', { ok: true }, { onQueued: resolve });
      });
    });
    // Every message the nodes' sockets send, in this process.
    const { sent, restore } = recordWebSocketSends();
    try {
      const q = await asker.send(f.federationId, 'agent.task.request', { q: 1 });
      await until(() => answers.length === 1, 5000);
      const withReceipt = sent.filter((m) => m.includes(`"type":"Ack","messageId":"${q.messageId}"`));
      expect(withReceipt).toHaveLength(1);
      const frames = splitBatch(withReceipt[0]!);
      expect(frames.some((x) => x.includes('"type":"agent.task.response"'))).toBe(true);

      const busy = await asker.send(f.federationId, 'agent.task.request', { busy: true });
      await until(() => answers.length === 2, 5000);
      const busyReceipt = sent.filter((m) => m.includes(`"type":"Ack","messageId":"${busy.messageId}"`));
      expect(busyReceipt).toHaveLength(1);
      expect(splitBatch(busyReceipt[0]!).some((x) => x.includes('"type":"agent.task.response"'))).toBe(true);

      // A handler that never finishes holds the receipt only receiptWithinMs (20 ms): no resend.
      // (attempts 1: the receipt came before the sender's 5 s resend timer.)
      const hung = await asker.send(f.federationId, 'agent.task.request', { hang: true });
      expect(hung.attempts).toBe(1);
    } finally {
      restore();
      await asker.stop();
      await answerer.stop();
    }
  });
});
