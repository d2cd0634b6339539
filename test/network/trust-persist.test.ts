/**
 * The hub writes a mesh's trust state within trust.persistMs when something happened to it, but a
 * state changed only by answered heartbeats waits for trust.routinePersistMs (or the hub's stop).
 */
import { memoryHubStore } from '@fmp/hub';
import { TrustEngine } from '@fmp/trust';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorld, nodeFor, startHub, until } from './fixtures.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

describe('trust state persistence', () => {
  it('writes heartbeat-only changes on the slow cadence and at stop, news at once', async () => {
    const world = await createWorld();
    const store = memoryHubStore();
    const written: { did: string; at: number }[] = [];
    const trust = store.trust!;
    const engine = new TrustEngine({ preTrusted: [world.hub.did, world.issuer.did] });
    const { hub, url } = await startHub(world, {
      store: {
        ...store,
        trust: {
          ...trust,
          putSubjects: async (rows) => {
            for (const r of rows) written.push({ did: r.did, at: Date.now() });
            return trust.putSubjects(rows);
          },
        },
      },
      limits: { heartbeatMs: 100 },
      trust: { engine, persistMs: 50, routinePersistMs: 3_600_000 },
    });
    let stopped = false;
    stops.push(async () => {
      if (!stopped) await hub.stop();
    });
    const acme = await world.member('did:mesh:enterprise:acme-001');
    const node = nodeFor(world, acme, url);
    stops.push(() => node.stop());
    await node.start();
    // The session (news) is written within persistMs.
    await until(() => written.some((w) => w.did === acme.did), 5000, 'the session written');
    const afterOpen = written.length;
    // Heartbeats answered (routine changes held back), and nothing more written for the mesh.
    await until(() => engine.routineDirtyCount > 0, 5000, 'an answered heartbeat');
    await new Promise((r) => setTimeout(r, 500));
    expect(written.slice(afterOpen).filter((w) => w.did === acme.did)).toEqual([]);
    expect(engine.routineDirtyCount).toBeGreaterThan(0);
    // The hub's stop writes them.
    await node.stop();
    stopped = true;
    await hub.stop();
    expect(written.slice(afterOpen).some((w) => w.did === acme.did)).toBe(true);
  });
});
