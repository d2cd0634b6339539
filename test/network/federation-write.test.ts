/**
 * A federation's row is written after the handshake, without holding the initiator's link and
 * within a few milliseconds, together with the rows of the other federations changed meanwhile:
 * the link's next frame (here the next handshake) does not wait for the store, a change of the
 * same federation replaces its row not yet written (the store never sees them out of order), and
 * stopping the hub writes what is pending and waits for it.
 */
import { type FederationRow, type HubStore, memoryHubStore } from '@fmp/hub';
import { describe, expect, it, vi } from 'vitest';
import { createWorld, nodeFor, startHub } from './fixtures.js';

/** A memory store whose federation writes are recorded and may be held by a gate. */
function recordingStore(gate?: Promise<void>) {
  const store = memoryHubStore();
  const puts: { federationId: string; status: string; at: number }[] = [];
  const put = store.federations.put.bind(store.federations);
  const wrapped: HubStore = {
    ...store,
    federations: {
      ...store.federations,
      put: async (row: FederationRow) => {
        puts.push({ federationId: row.federationId, status: row.status, at: Date.now() });
        await gate;
        return put(row);
      },
    },
  };
  return { store, wrapped, puts };
}

const options = { capabilities: ['ml.inference'], purpose: 'write', ttlSeconds: 3600 };

async function pair(store: HubStore, federationWriteDelayMs?: number) {
  const world = await createWorld();
  const { hub, url } = await startHub(world, {
    store,
    ...(federationWriteDelayMs === undefined ? {} : { federationWriteDelayMs }),
  });
  const acme = await world.member('did:mesh:enterprise:acme-001');
  const mit = await world.member('did:mesh:academic:mit-001');
  const a = nodeFor(world, acme, url);
  const b = nodeFor(world, mit, url);
  await a.start();
  await b.start();
  return { hub, a, b, target: mit.did };
}

describe("a federation's row and the link", () => {
  it('establishes the next federation while the first is still being written; stop() waits for both', async () => {
    let open!: () => void;
    const { store, wrapped, puts } = recordingStore(new Promise<void>((resolve) => (open = resolve)));
    const { hub, a, b, target } = await pair(wrapped);
    const first = await a.federate(target, options);
    await vi.waitFor(() => expect(puts.map((p) => p.federationId)).toContain(first.federationId), {
      timeout: 2_000,
    });
    // Bounded: on a hub that holds the link for the write, this would wait for the gate forever.
    const second = await Promise.race([
      a.federate(target, options),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the next handshake waited for the first write')), 5_000),
      ),
    ]);
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

  it('writes the rows of federations established together in one turn, shortly after', async () => {
    const { store, wrapped, puts } = recordingStore();
    // A delay longer than three concurrent handshakes take even on a loaded machine: one turn.
    const { hub, a, b, target } = await pair(wrapped, 200);
    const established = Date.now();
    const feds = await Promise.all([1, 2, 3].map(() => a.federate(target, options)));
    await vi.waitFor(
      async () => {
        for (const f of feds) expect((await store.federations.get(f.federationId))?.status).toBe('active');
      },
      { timeout: 2_000 },
    );
    expect(puts).toHaveLength(3);
    // Handed to the store together (one transaction in the SQL stores), well within a second.
    expect(Math.max(...puts.map((p) => p.at)) - Math.min(...puts.map((p) => p.at))).toBeLessThan(5);
    expect(Math.max(...puts.map((p) => p.at)) - established).toBeLessThan(2_000);
    await a.stop();
    await b.stop();
    await hub.stop();
  });

  it('holds the rows of federations established one after another for the delay, then writes them together', async () => {
    const { store, wrapped, puts } = recordingStore();
    const { hub, a, b, target } = await pair(wrapped, 400);
    const t0 = Date.now();
    const first = await a.federate(target, options);
    const second = await a.federate(target, options);
    const established = Date.now();
    if (established - t0 < 300) {
      // Both inside the delay (on a machine slow enough to take 300 ms, the check below says nothing).
      expect(puts).toHaveLength(0);
      expect(await store.federations.get(first.federationId)).toBeUndefined();
    }
    await vi.waitFor(() => expect(puts).toHaveLength(2), { timeout: 3_000 });
    expect(puts.map((p) => p.federationId)).toEqual([first.federationId, second.federationId]);
    expect(puts[1]!.at - puts[0]!.at).toBeLessThan(5);
    expect(puts[0]!.at - t0).toBeGreaterThanOrEqual(380);
    await a.stop();
    await b.stop();
    await hub.stop();
    expect((await store.federations.get(second.federationId))?.status).toBe('active');
  });

  it('a change of a federation waiting to be written replaces its row; a status change writes at once', async () => {
    const { store, wrapped, puts } = recordingStore();
    const { hub, a, b, target } = await pair(wrapped, 10_000);
    const kept = await a.federate(target, options);
    const ended = await a.federate(target, options);
    expect(puts).toHaveLength(0);
    await a.terminate(ended.federationId, 'changed our mind');
    // The termination wrote both pending rows, the ended one once, as ended: not 10 s later.
    await vi.waitFor(() => expect(puts).toHaveLength(2), { timeout: 3_000 });
    expect(puts).toEqual([
      expect.objectContaining({ federationId: kept.federationId, status: 'active' }),
      expect.objectContaining({ federationId: ended.federationId, status: 'terminated' }),
    ]);
    expect((await store.federations.get(ended.federationId))?.status).toBe('terminated');
    await a.stop();
    await b.stop();
    await hub.stop();
  });

  it('a federation ended before its row was written is stored as ended, never as active after', async () => {
    const { store, wrapped, puts } = recordingStore();
    const { hub, a, b, target } = await pair(wrapped);
    const fed = await a.federate(target, options);
    await a.terminate(fed.federationId, 'changed our mind');
    await vi.waitFor(
      async () => expect((await store.federations.get(fed.federationId))?.status).toBe('terminated'),
      { timeout: 2_000 },
    );
    // Whatever was written, the last write of the federation is its end.
    expect(puts.filter((p) => p.federationId === fed.federationId).at(-1)?.status).toBe('terminated');
    await a.stop();
    await b.stop();
    await hub.stop();
    expect((await store.federations.get(fed.federationId))?.status).toBe('terminated');
  });

  it('stop() writes the rows still waiting for their turn', async () => {
    const { store, wrapped } = recordingStore();
    const { hub, a, b, target } = await pair(wrapped);
    const fed = await a.federate(target, options);
    await a.stop();
    await b.stop();
    await hub.stop();
    expect((await store.federations.get(fed.federationId))?.status).toBe('active');
  });
});
