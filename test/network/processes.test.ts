import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hexEncode } from '@fmp/core';
import { DeliveryError, type IncomingMessage, type MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type Identity, type Member, nodeFor, until } from './fixtures.js';

const SCRIPT = join(process.cwd(), 'test/network/proc.ts');

interface Proc {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  next(match: (l: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function run(args: string[]): Proc {
  // node --import tsx: the child is the script itself (the tsx CLI would add a wrapper process).
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not ours
    }
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    lines,
    exited,
    async next(match, ms = 20_000) {
      await until(() => lines.some(match), ms, `a line from ${args[1]} (stderr: ${stderr})`);
      return lines.find(match)!;
    },
  };
}

const saved = (id: Identity, member?: Member) => ({
  did: id.did,
  seed: hexEncode(id.keyPair.seed),
  op: id.op,
  ...(member ? { credential: member.credential } : {}),
});

describe('hub and node as separate processes', () => {
  let dir: string;
  let hubProc: Proc;
  let hubUrl: string;
  let httpUrl: string;
  let b: MeshNode;
  let acme: Member;
  let mit: Member;
  const received: IncomingMessage[] = [];

  beforeAll(async () => {
    const world = await createWorld();
    acme = await world.member('did:mesh:enterprise:acme-001', { revocable: false });
    mit = await world.member('did:mesh:academic:mit-001', { revocable: false });
    dir = mkdtempSync(join(tmpdir(), 'fmp-net-'));
    const file = join(dir, 'world.json');
    writeFileSync(
      file,
      JSON.stringify({
        issuer: saved(world.issuer),
        hub: saved(world.hub),
        members: { acme: saved(acme, acme), mit: saved(mit, mit) },
      }),
    );
    hubProc = run([file, 'hub']);
    const ready = await hubProc.next((l) => typeof l.url === 'string');
    hubUrl = ready.url as string;
    httpUrl = ready.httpUrl as string;
    b = nodeFor(world, mit, hubUrl, { statusListLoader: undefined });
    b.onMessage((m) => {
      received.push(m);
    });
    await b.start();
    (globalThis as { __worldFile?: string }).__worldFile = file;
  });

  afterAll(async () => {
    await b?.stop();
    hubProc?.child.kill('SIGTERM');
    await hubProc?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('survives a node killed mid-traffic: no duplicates, the hub stays up, later sends are reported', async () => {
    const file = (globalThis as { __worldFile?: string }).__worldFile!;
    const nodeProc = run([file, 'node', 'acme', hubUrl, mit.did]);
    const { federationId } = await nodeProc.next((l) => typeof l.federationId === 'string');
    await nodeProc.next((l) => l.delivered === 5);
    nodeProc.child.kill('SIGKILL');
    await nodeProc.exited;

    const ids = received.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    const ns = received.map((m) => (m.data as { n: number }).n);
    expect(ns.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    expect((await fetch(`${httpUrl}/healthz`)).status).toBe(200);

    // acme is gone: b's message waits in the hub's queue, then comes back as unreachable.
    await until(async () => !(await b.discover()).some((m) => m.meshId === acme.did), 10_000, 'acme offline');
    const err = await b
      .send(federationId as string, 'agent.task.result', { late: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).wireCode).toBe('unreachable');
    expect(b.connected).toBe(true);
  });
});
