/**
 * A node hands a message to its socket within send() when nothing else is in flight (a request, an
 * answer: nothing would share its write at the end of the turn), and batches sends made while others
 * are in flight into the turn's write, as before.
 */
import type { Hub } from '@fmp/hub';
import type { FederationInfo, MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordWebSocketSends } from '../../packages/hub/src/test-support.js';
import { createWorld, nodeFor, startHub, until } from './fixtures.js';

describe('when a send leaves', () => {
  let hub: Hub;
  let na: MeshNode;
  let nb: MeshNode;
  let fed: FederationInfo;
  const received: string[] = [];

  beforeAll(async () => {
    const world = await createWorld();
    let url: string;
    ({ hub, url } = await startHub(world));
    const a = await world.member('did:mesh:enterprise:lone-a-001');
    const b = await world.member('did:mesh:academic:lone-b-001');
    na = nodeFor(world, a, url);
    nb = nodeFor(world, b, url);
    await na.start();
    await nb.start();
    nb.onMessage((m) => {
      received.push(m.type);
    });
    fed = await na.federate(b.did, {
      capabilities: ['ml.inference'],
      purpose: 'lone send test',
      ttlSeconds: 600,
    });
    await until(() => nb.federations().some((f) => f.federationId === fed.federationId && f.usable), 5000);
  });

  afterAll(async () => {
    await na?.stop();
    await nb?.stop();
    await hub?.stop();
  });

  const onSocket = (sent: readonly string[], type: string) =>
    sent.some((s) => s.includes(`"type":"${type}"`));

  it('alone in flight, the message is on the socket when send() queues it', async () => {
    const { sent, restore } = recordWebSocketSends();
    try {
      let atQueue: boolean | undefined;
      const receipt = await na.send(
        fed.federationId,
        'test.lone',
        { n: 1 },
        { onQueued: () => (atQueue = onSocket(sent, 'test.lone')) },
      );
      expect(atQueue).toBe(true);
      expect(receipt.messageId).toMatch(/[0-9a-f-]{36}/);
      await until(() => received.includes('test.lone'), 5000);
    } finally {
      restore();
    }
  });

  it('sent while another is in flight, it waits for the end of the turn and shares its write', async () => {
    const { sent, restore } = recordWebSocketSends();
    try {
      const seen: boolean[] = [];
      const sends = ['test.first', 'test.second', 'test.third'].map((type) =>
        na.send(fed.federationId, type, { type }, { onQueued: () => seen.push(onSocket(sent, type)) }),
      );
      await Promise.all(sends);
      // The first alone went at once; the two queued behind it left together at the turn's end.
      expect(seen).toEqual([true, false, false]);
      const shared = sent.filter((s) => onSocket([s], 'test.second'));
      expect(shared.length).toBeGreaterThanOrEqual(1);
      expect(shared.some((s) => onSocket([s], 'test.third'))).toBe(true);
      await until(() => ['test.first', 'test.second', 'test.third'].every((t) => received.includes(t)), 5000);
    } finally {
      restore();
    }
  });
});
