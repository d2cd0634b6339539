/**
 * The trust engine as a live system (issue #5): the hub runs in its own process and scores meshes
 * from what it sees; nodes in this process make real events happen (credentials, delivered
 * messages, attestations, partners' reports, a node going away) and read the effect over HTTP.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hexEncode } from '@fmp/core';
import { DeliveryError, type FederationStatusEvent, type MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, identity, type Member, nodeFor, until, type World } from './fixtures.js';

const SCRIPT = join(process.cwd(), 'test/network/hub-proc.ts');
const TOKEN = 'trust-test-admin-token-0123456789';

interface Explanation {
  score: number;
  level: string;
  factors: { factor: string; value: number }[];
  violations: { count: number };
  attestations: { attester: string }[];
  recentEvents: { what: string }[];
}

describe('trust engine on a hub in its own process', () => {
  let dir: string;
  let child: ChildProcess;
  let httpUrl: string;
  let world: World;
  const nodes: MeshNode[] = [];
  let alice: MeshNode;
  let bob: MeshNode;
  let carol: MeshNode;
  let mallory: MeshNode;
  let members: Record<string, Member>;

  const trust = async (did: string): Promise<Explanation> => {
    const res = await fetch(`${httpUrl}/v1/trust/${encodeURIComponent(did)}`);
    if (!res.ok) throw new Error(`GET /v1/trust/${did}: ${res.status}`);
    return (await res.json()) as Explanation;
  };
  const factor = async (did: string, name: string) =>
    (await trust(did)).factors.find((f) => f.factor === name)!.value;

  beforeAll(async () => {
    world = await createWorld();
    const hub = identity('did:mesh:hub:trust-test');
    dir = mkdtempSync(join(tmpdir(), 'fmp-trust-'));
    const file = join(dir, 'hub.json');
    writeFileSync(
      file,
      JSON.stringify({
        issuer: { did: world.issuer.did, op: world.issuer.op },
        hub: { did: hub.did, seed: hexEncode(hub.keyPair.seed), op: hub.op },
        trust: { recomputeMs: 200, options: { uptimePriorMs: 2_000 } },
        adminToken: TOKEN,
      }),
    );
    child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const started = await new Promise<{ url: string; httpUrl: string }>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          resolve(JSON.parse(line));
        } catch {
          // not ours
        }
      });
      child.on('exit', () => reject(new Error(`hub exited: ${stderr}`)));
    });
    httpUrl = started.httpUrl;
    // The hub in the child knows no status list: credentials without a revocation entry.
    members = {
      alice: await world.member('did:mesh:enterprise:alice-001', { trustLevel: 85, revocable: false }),
      bob: await world.member('did:mesh:academic:bob-001', { trustLevel: 85, revocable: false }),
      carol: await world.member('did:mesh:ngo:carol-001', { trustLevel: 40, revocable: false }),
      mallory: await world.member('did:mesh:enterprise:mallory-001', { trustLevel: 85, revocable: false }),
    };
    const make = (m: Member) => {
      const n = nodeFor(world, m, started.url, { policy: { minPartnerTrust: 0 } });
      nodes.push(n);
      return n;
    };
    alice = make(members.alice!);
    bob = make(members.bob!);
    carol = make(members.carol!);
    mallory = make(members.mallory!);
    for (const n of nodes) await n.start();
  }, 60_000);

  afterAll(async () => {
    for (const n of nodes) await n.stop().catch(() => {});
    child?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('scores the credential: a higher trustLevel from a trusted issuer scores higher', async () => {
    const a = await trust(alice.did);
    const c = await trust(carol.did);
    expect(a.factors.find((f) => f.factor === 'credential')!.value).toBe(85);
    expect(c.factors.find((f) => f.factor === 'credential')!.value).toBe(40);
    expect(a.score).toBeGreaterThan(c.score);
    expect(alice.trustScore).toBeCloseTo(a.score, 0);
  });

  it('delivered messages raise the behaviour of both ends, and draw an edge of the trust graph', async () => {
    const before = await factor(bob.did, 'behavior');
    const fed = await alice.federate(bob.did, { capabilities: ['ml.inference'], purpose: 'trust test' });
    for (let i = 0; i < 30; i++) await alice.send(fed.federationId, 'agent.notification', { i });
    await until(async () => (await factor(bob.did, 'behavior')) > before + 5, 10_000, "bob's behaviour");
    expect(await factor(alice.did, 'behavior')).toBeGreaterThan(before);
    const graph = (await (
      await fetch(`${httpUrl}/v1/trust/graph?did=${encodeURIComponent(bob.did)}`)
    ).json()) as {
      edges: { from: string; to: string; interactions: number; weight: number }[];
    };
    const edge = graph.edges.find((e) => e.from === alice.did && e.to === bob.did);
    expect(edge?.interactions).toBeGreaterThanOrEqual(30);
    expect(edge?.weight).toBeGreaterThan(0.9);
  });

  it("a partner's attestation raises the attestations factor; strangers cannot attest", async () => {
    expect(await factor(bob.did, 'attestations')).toBe(0);
    await alice.attest(bob.did, { score: 90, claim: 'reliable ml.inference partner' });
    await until(async () => (await factor(bob.did, 'attestations')) > 0, 10_000, 'attestation counted');
    expect((await trust(bob.did)).attestations.map((a) => a.attester)).toEqual([alice.did]);
    const refused = await carol.attest(bob.did, { score: 100, claim: 'never met' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DeliveryError);
    expect((refused as DeliveryError).wireCode).toBe('policy_denied');
  });

  it("partners' reports move the score: failed tool calls lower behaviour, a compliance violation lowers compliance", async () => {
    const fed = alice.federations().find((f) => f.peer === bob.did)!;
    const behavior = await factor(bob.did, 'behavior');
    const compliance = await factor(bob.did, 'compliance');
    // Tool calls the hub routes (agent.task.request) are what tool-call reports may count.
    for (let i = 0; i < 10; i++) await alice.send(fed.federationId, 'agent.task.request', { tool: 'x', i });
    for (let i = 0; i < 10; i++)
      alice.reportInteraction(fed.federationId, 'tool_call_failed', 'upstream_crashed');
    alice.reportInteraction(
      fed.federationId,
      'compliance_violation',
      'personal data sent without a lawful basis',
    );
    await until(async () => (await factor(bob.did, 'compliance')) < compliance, 10_000, 'compliance lowered');
    await until(async () => (await factor(bob.did, 'behavior')) < behavior, 10_000, 'behaviour lowered');
    expect((await trust(bob.did)).violations.count).toBe(1);
  });

  it('counts tool-call reports up to the tool calls the hub routed, never more', async () => {
    const fed = alice.federations().find((f) => f.peer === bob.did)!;
    const edge = async () => {
      const graph = (await (
        await fetch(`${httpUrl}/v1/trust/graph?did=${encodeURIComponent(bob.did)}`)
      ).json()) as { edges: { from: string; to: string; interactions: number }[] };
      return graph.edges.find((e) => e.from === alice.did && e.to === bob.did)?.interactions ?? 0;
    };
    const denied = async () => {
      const text = await (await fetch(`${httpUrl}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('fmp_hub_frame_errors_total{') && l.includes('code="policy_denied"'));
      return Number(line?.split(' ').at(-1) ?? 0);
    };
    await new Promise((r) => setTimeout(r, 1_500)); // earlier receipts and reports reach the engine
    const refusedBefore = await denied();
    const interactions = await edge();
    // Nothing routed since the last reports: a made-up tool call is refused and counts for nothing.
    alice.reportInteraction(fed.federationId, 'tool_call_ok', 'never called');
    await until(async () => (await denied()) > refusedBefore, 10_000, 'the refusal');
    expect(await edge()).toBe(interactions);
    // Two tool calls routed, five reported: two count (beside the two deliveries).
    for (let i = 0; i < 2; i++) await alice.send(fed.federationId, 'agent.task.request', { tool: 'add', i });
    for (let i = 0; i < 5; i++) alice.reportInteraction(fed.federationId, 'tool_call_ok', 'add');
    await until(async () => (await edge()) >= interactions + 4, 10_000, 'the counted calls');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await edge()).toBe(interactions + 4);
  });

  it('a mesh that goes away loses uptime', async () => {
    const before = await factor(carol.did, 'uptime');
    await carol.stop();
    await until(async () => (await factor(carol.did, 'uptime')) < before - 5, 10_000, "carol's uptime");
  });

  it('a mesh that starts violating policy is suspended from a federation that requires more trust, and resumed when it recovers', async () => {
    const statuses: FederationStatusEvent[] = [];
    alice.onStatus((e) => statuses.push(e));
    // Bob has dealt with mallory (so bob may vouch for it later).
    const bobFed = await bob.federate(mallory.did, { capabilities: ['ml.inference'], purpose: 'other' });
    await bob.send(bobFed.federationId, 'agent.notification', { hello: true });
    await new Promise((r) => setTimeout(r, 1_200)); // the hub's trust tick
    const score = (await trust(mallory.did)).score;
    // Alice asks for about mallory's current standing: one violation takes it below.
    const fed = await alice.federate(mallory.did, {
      capabilities: ['ml.inference'],
      purpose: 'watch me',
      minTrustScore: Math.floor(score),
    });

    const events = await fetch(`${httpUrl}/v1/admin/trust/events`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(events.ok).toBe(true);
    const reader = events.body!.getReader();
    let sse = '';
    const levelEvent = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return false;
        sse += new TextDecoder().decode(value);
        if (sse.includes('event: score') && sse.includes(mallory.did)) return true;
      }
    })().catch(() => false);

    alice.reportInteraction(fed.federationId, 'policy_violation', 'called tools it was denied, 40 times');
    await until(
      () =>
        statuses.some(
          (s) =>
            s.federationId === fed.federationId && s.status === 'suspended' && s.reason === 'trust_too_low',
        ),
      10_000,
      'suspension',
    );
    expect((await trust(mallory.did)).recentEvents.map((e) => e.what).join(' | ')).toContain(
      'violation policy',
    );
    expect(await levelEvent).toBe(true);
    await reader.cancel().catch(() => {});

    // Recovery: an established partner vouches for it.
    await bob.attest(mallory.did, { score: 100, claim: 'known good after review' });
    await until(
      () =>
        statuses.some(
          (s) => s.federationId === fed.federationId && s.status === 'active' && s.reason === 'resumed',
        ),
      15_000,
      'resumption',
    );
  });
});
