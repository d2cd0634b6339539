/**
 * A federation's row is written after the handshake without holding the initiator's link: the
 * link's next frame (here the next handshake) does not wait for the store, and stopping the hub
 * waits for the write.
 */
import { memoryHubStore } from '@fmp/hub';
import { describe, expect, it } from 'vitest';
import { createWorld, nodeFor, startHub } from './fixtures.js';

describe("a federation's row and the link", () => {
  it('establishes the next federation while the first is still being written; stop() waits for both', async () => {
    const world = await createWorld();
    const store = memoryHubStore();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const started: string[] = [];
    const put = store.federations.put.bind(store.federations);
    const { hub, url } = await startHub(world, {
      store: {
        ...store,
        federations: {
          ...store.federations,
          put: async (row) => {
            started.push(row.federationId);
            await gate;
            return put(row);
          },
        },
      },
    });
    const acme = await world.member('did:mesh:enterprise:acme-001');
    const mit = await world.member('did:mesh:academic:mit-001');
    const a = nodeFor(world, acme, url);
    const b = nodeFor(world, mit, url);
    await a.start();
    await b.start();
    const options = { capabilities: ['ml.inference'], purpose: 'write', ttlSeconds: 3600 };
    const first = await a.federate(mit.did, options);
    // Bounded: on a hub that holds the link for the write, this would wait for the gate forever.
    const second = await Promise.race([
      a.federate(mit.did, options),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the next handshake waited for the first write')), 5_000),
      ),
    ]);
    expect(started).toContain(first.federationId);
    expect(await store.federations.get(first.federationId)).toBeUndefined();
    await a.stop();
    await b.stop();
    let stopped = false;
    const stopping = hub.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    open();
    await stopping;
    for (const id of [first.federationId, second.federationId]) {
      expect((await store.federations.get(id))?.status).toBe('active');
    }
  });
});
