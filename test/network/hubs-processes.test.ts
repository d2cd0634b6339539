/**
 * The middle hub of a line A – B – C as a real child process: a node on A federates with a node on
 * C through it, messages flow both ways, then B is killed (SIGKILL) mid-traffic: the source gets
 * typed errors, the target never sees a message twice, and A and C stay up.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hexEncode } from '@fmp/core';
import { DeliveryError, type IncomingMessage, type MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type Member, nodeFor, until } from './fixtures.js';
import { hubIdentity, linkedTo, type RunningHub, routeTo, startPeerHub } from './multi-hub.js';

const SCRIPT = join(process.cwd(), 'test/network/hub-proc.ts');

describe('a hub line with the middle hub in its own process', () => {
  let dir: string;
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let A: RunningHub;
  let C: RunningHub;
  let alice: Member;
  let carol: Member;
  let a: MeshNode;
  let c: MeshNode;
  const atC: IncomingMessage[] = [];
  const atA: IncomingMessage[] = [];
  const ib = hubIdentity('b');

  beforeAll(async () => {
    const world = await createWorld();
    const [ia, ic] = [hubIdentity('a'), hubIdentity('c')];
    dir = mkdtempSync(join(tmpdir(), 'fmp-hubs-'));
    const file = join(dir, 'b.json');
    writeFileSync(
      file,
      JSON.stringify({
        issuer: { did: world.issuer.did, op: world.issuer.op },
        hub: { did: ib.did, seed: hexEncode(ib.keyPair.seed), op: ib.op },
        allowedPeers: [ia.did, ic.did],
      }),
    );
    child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    exited = new Promise((r) => child.on('exit', (code) => r(code)));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const bUrl = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          resolve((JSON.parse(line) as { url: string }).url);
        } catch {
          // not ours
        }
      });
      child.on('exit', () => reject(new Error(`hub B exited: ${stderr}`)));
    });
    A = await startPeerHub(world, ia, { peers: [{ did: ib.did, url: bUrl }] });
    C = await startPeerHub(world, ic, { peers: [{ did: ib.did, url: bUrl }] });
    await until(linkedTo(A.hub, ib.did), 20_000, 'A linked to B');
    await until(linkedTo(C.hub, ib.did), 20_000, 'C linked to B');
    alice = await world.member('did:mesh:enterprise:alice-001');
    carol = await world.member('did:mesh:academic:carol-001');
    a = nodeFor(world, alice, A.url, { sendTimeoutMs: 1_000, maxSendAttempts: 3 });
    c = nodeFor(world, carol, C.url);
    a.onMessage((m) => {
      atA.push(m);
    });
    c.onMessage((m) => {
      atC.push(m);
    });
    await a.start();
    await c.start();
    await until(routeTo(A.hub, carol.did, 3), 20_000, 'A routes to carol');
    await until(routeTo(C.hub, alice.did, 3), 20_000, 'C routes to alice');
  });

  afterAll(async () => {
    await a?.stop();
    await c?.stop();
    await A?.hub.stop();
    await C?.hub.stop();
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('federates through the child hub, then survives its death mid-traffic', async () => {
    const fed = await a.federate(carol.did, {
      capabilities: ['ml.inference'],
      purpose: 'proc',
      ttlSeconds: 600,
    });
    await until(() => c.federations().some((f) => f.federationId === fed.federationId && f.usable), 5000);
    const back = await c.send(fed.federationId, 'agent.task.result', { hello: 'alice' });
    await until(() => atA.some((m) => m.messageId === back.messageId), 5000, 'at alice');
    expect(atA[0]?.route).toEqual([C.id.did, ib.did, A.id.did]);

    const outcomes: string[] = [];
    let stop = false;
    const loop = (async () => {
      for (let n = 0; !stop && n < 500; n++) {
        try {
          await a.send(fed.federationId, 'agent.task.request', { n });
          outcomes.push('delivered');
        } catch (e) {
          outcomes.push(e instanceof DeliveryError ? e.wireCode : 'other');
        }
      }
    })();
    await until(() => outcomes.filter((o) => o === 'delivered').length >= 5, 10_000, 'traffic');
    child.kill('SIGKILL');
    await exited;
    await until(
      () => outcomes.filter((o) => o === 'unreachable').length >= 3,
      15_000,
      'errors at the source',
    );
    stop = true;
    await loop;
    expect(outcomes.filter((o) => o !== 'delivered' && o !== 'unreachable' && o !== 'timeout')).toEqual([]);
    const ids = atC.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    // Every receipt stands for a message that arrived; a message whose receipt died with B may
    // have arrived too (at-least-once: the source was told it failed, the target saw it once).
    expect(atC.length).toBeGreaterThanOrEqual(outcomes.filter((o) => o === 'delivered').length);
    expect((await fetch(`${A.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${C.httpUrl}/healthz`)).status).toBe(200);
  });
});
