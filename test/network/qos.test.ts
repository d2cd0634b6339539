/**
 * Per-federation quotas on one hub: a federation flooding far past its quota is throttled with
 * `rate_limited` + retryAfterMs, while another federation on the same hub keeps every message and
 * its latency (p50 of send -> Delivered) stays within a generous bound of its unloaded p50,
 * measured in the same test. A behaviour test, not a benchmark.
 */
import { createEnvelope, signEnvelope } from '@fmp/core';
import type { Hub } from '@fmp/hub';
import type { FederationInfo, MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type Member, nodeFor, startHub, until } from './fixtures.js';
import { type RawClient, rawAuthenticated } from './raw-client.js';

const QUOTA = { messagesPerSec: 100, burst: 100 };

function p50(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('QoS: per-federation quotas', () => {
  let hub: Hub;
  let httpUrl: string;
  let url: string;
  let flooder: Member;
  let target: Member;
  let x: MeshNode;
  let y: MeshNode;
  let t: MeshNode;
  let floodFed: FederationInfo;
  let fed: FederationInfo;
  let raw: RawClient;
  let delivered = 0;

  beforeAll(async () => {
    const world = await createWorld();
    ({ hub, url, httpUrl } = await startHub(world, { rateLimit: QUOTA }));
    flooder = await world.member('did:mesh:enterprise:flood-001');
    target = await world.member('did:mesh:enterprise:sink-001');
    const xm = await world.member('did:mesh:enterprise:x-001');
    const ym = await world.member('did:mesh:academic:y-001');
    const f = nodeFor(world, flooder, url);
    t = nodeFor(world, target, url);
    x = nodeFor(world, xm, url);
    y = nodeFor(world, ym, url);
    for (const n of [f, t, x, y]) await n.start();
    floodFed = await f.federate(target.did, {
      capabilities: ['ml.inference'],
      purpose: 'flood',
      ttlSeconds: 600,
    });
    fed = await x.federate(ym.did, { capabilities: ['ml.inference'], purpose: 'measured', ttlSeconds: 600 });
    await until(() => y.federations().some((i) => i.federationId === fed.federationId && i.usable), 5000);
    y.onMessage(() => {
      delivered++;
    });
    // The flooder speaks raw: it sends the same signed envelope as fast as it likes.
    await f.stop();
    raw = await rawAuthenticated(url, flooder);
  });

  afterAll(async () => {
    raw?.close();
    for (const n of [t, x, y]) await n?.stop();
    await hub?.stop();
  });

  async function measure(n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      await x.send(fed.federationId, 'agent.task.request', { i });
      out.push(performance.now() - start);
      await new Promise((r) => setTimeout(r, 15)); // stays well under the quota
    }
    return out;
  }

  it('throttles the flooder and keeps the other federation whole and fast', async () => {
    await measure(5); // warm-up
    const unloaded = await measure(30);

    const envelope = signEnvelope(
      createEnvelope(
        {
          type: 'agent.task.request',
          federationId: floodFed.federationId,
          sourceMeshId: flooder.did,
          targetMeshId: target.did,
          payload: { type: 'agent.task.request', data: { flood: true } },
        },
        { now: Date.now },
      ),
      flooder.keyPair,
    );
    const frame = JSON.stringify(envelope);
    let flooded = 0;
    let flooding = true;
    // ~3,000 frames/s: thirty times the quota.
    const pump = setInterval(() => {
      if (!flooding) return;
      for (let i = 0; i < 30; i++) raw.sendRaw(frame);
      flooded += 30;
    }, 10);
    const before = delivered;
    const loaded = await measure(30);
    flooding = false;
    clearInterval(pump);

    expect(delivered - before).toBe(30);
    const limited = raw.frames.filter((f) => f.type === 'error' && f.code === 'rate_limited');
    expect(flooded).toBeGreaterThan(1_000);
    expect(limited.length).toBeGreaterThan(flooded / 2);
    expect(limited[0]?.retryAfterMs).toBeGreaterThan(0);
    expect(limited[0]?.inReplyTo).toBe(envelope.messageId);
    // Generous: the flood costs the hub parsing work, but never the other federation's quota.
    expect(p50(loaded)).toBeLessThan(p50(unloaded) * 4 + 25);

    const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/fmp_hub_queue_seconds_count\{[^}]*priority="normal",link="node"\} [1-9]/);
    expect(metrics).toMatch(/fmp_hub_frame_errors_total\{code="rate_limited"[^}]*\} [1-9]/);
  });
});
