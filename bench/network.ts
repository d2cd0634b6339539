/**
 * Networked benchmarks (issue #3): the hub in its own process, load generators in others, all on
 * loopback, each figure beside a raw baseline measured in the same run:
 *   - baselines: raw WebSocket round trip between two processes, a raw WebSocket relay
 *     (A -> relay -> B, acked), batched SQLite inserts (better-sqlite3);
 *   - the handshake over the wire with warm caches (node.federate(), hub and nodes in 3 processes);
 *   - message throughput through one hub and through two peered hubs (SDK sender and receiver in
 *     child processes; the hubs' own CPU time per message as their capacity figure).
 * The processes come from a Fleet (bench/fleet.ts), which starts them once for the whole run.
 * Every child is registered and killed (SIGKILL) at the end, on failure and on exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ed25519, hexEncode } from '@fmp/core';
import { buildMeshCreate, issueMeshAgentCredential } from '@fmp/identity';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import type { Bundles } from './bundle.js';
import type { Fleet } from './fleet.js';
import { type Latency, percentiles } from './lib.js';
import type { SavedIdentity, SavedWorld } from './worker-io.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const children = new Set<ChildProcess>();

/** Kills every child still running (synchronous, so it also works in an 'exit' handler). */
export function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

let bundles: Bundles | undefined;

/**
 * From now on, workers start from these bundles (bench/bundle.ts) instead of under tsx; the MCP
 * fixture server too (its bundle's path goes to the workers in FMP_BENCH_MCP_FIXTURE).
 */
export function useBundles(b: Bundles): void {
  bundles = b;
}

/** How to run the MCP fixture server: its bundle when there is one, else under tsx. */
export function fixtureArgs(fixture: string): string[] {
  const bundled = bundles?.path('mcp-server.ts') ?? process.env.FMP_BENCH_MCP_FIXTURE;
  return bundled ? [bundled] : ['--import', 'tsx', fixture];
}

export interface Worker {
  readonly child: ChildProcess;
  /** The first stdout line matching `match`. */
  line(match: (l: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  /** Sends a command and waits for its answer; rejects on `{ok:false}`. */
  call(cmd: Record<string, unknown>, ms?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

let nextId = 1;

/**
 * Spawns `bench/<script>` under tsx. With `config`, the worker was given `-` for an argument it reads
 * from its first stdin line (bench/worker-lines.ts): the line is written once `config` resolves, and
 * if it rejects the worker is killed (its line() waits then fail with the reason).
 */
export function startWorker(
  script: string,
  args: string[],
  nodeFlags: string[] = [],
  config?: Promise<Record<string, unknown>>,
  /** A fourth stdio pipe (a socket pair): `child.stdio[3]` here, fd 3 there (FMP_BENCH_FD3=1). */
  fd3 = false,
): Worker {
  const bundled = bundles?.path(script);
  const entry = bundled ? [bundled] : ['--import', 'tsx', join(ROOT, 'bench', script)];
  const fixture = bundles?.path('mcp-server.ts');
  const child = spawn(process.execPath, [...nodeFlags, ...entry, ...args], {
    cwd: ROOT,
    stdio: fd3 ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...(fixture ? { FMP_BENCH_MCP_FIXTURE: fixture } : {}),
      ...(fd3 ? { FMP_BENCH_FD3: '1' } : {}),
    },
  });
  children.add(child);
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  child.stdin!.on('error', () => undefined);
  config?.then(
    (value) => child.stdin!.write(`${JSON.stringify(value)}\n`),
    (err: unknown) => {
      stderr = `not started: ${String((err as Error)?.message ?? err)}`;
      child.kill('SIGKILL');
    },
  );
  // Errors a worker's hub or node logged as JSON lines on stdout (pino: level 50 and up; benchLogger
  // in worker-io.ts): counted, and its next answer fails the run.
  let stdoutErrors = 0;
  let firstStdoutError: string | undefined;
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof parsed.level === 'number' && parsed.level >= 50 && parsed.id === undefined) {
      stdoutErrors++;
      firstStdoutError ??= text.slice(0, 500);
      return;
    }
    lines.push(parsed);
    for (const w of waiters) w();
  });
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      children.delete(child);
      for (const w of waiters) w();
      resolve();
    }),
  );
  const line = (match: (l: Record<string, unknown>) => boolean, ms = 60_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const index = lines.findIndex(match);
        if (index >= 0) {
          done();
          resolve(lines.splice(index, 1)[0]!);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`${script} ${args[1] ?? ''} exited: ${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${script} ${args[1] ?? ''}: no answer within ${ms} ms (stderr: ${stderr})`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return {
    child,
    line,
    async call(cmd, ms) {
      const id = nextId++;
      child.stdin!.write(`${JSON.stringify({ ...cmd, id })}\n`);
      const answer = await line((l) => l.id === id, ms);
      if (answer.ok !== true) throw new Error(`${script}: ${String(answer.error)}`);
      if (stdoutErrors > 0) {
        throw new WorkerLoggedErrors(
          `${script} ${args[1] ?? ''} logged ${stdoutErrors} errors, the first: ${firstStdoutError}`,
        );
      }
      return answer;
    },
    async stop() {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The world: an issuer, hubs and members with real keys, did:mesh logs and credentials.
// ---------------------------------------------------------------------------------------------

export interface BenchWorld {
  readonly file: string;
  readonly world: SavedWorld;
  cleanup(): void;
}

function saved(did: string): SavedIdentity & { keyPair: ReturnType<typeof ed25519.generateKeyPair> } {
  const keyPair = ed25519.generateKeyPair();
  const op = buildMeshCreate({ did, key: keyPair, nextPublicKey: ed25519.generateKeyPair().publicKey });
  return { did, seed: hexEncode(keyPair.seed), op: op as unknown as Record<string, unknown>, keyPair };
}

export async function createBenchWorld(memberNames: string[]): Promise<BenchWorld> {
  const issuer = saved('did:mesh:authority:bench');
  const signer = { keyPair: issuer.keyPair, issuer: issuer.did, verificationMethod: `${issuer.did}#key-1` };
  const members: Record<string, SavedIdentity> = {};
  for (const name of memberNames) {
    const m = saved(`did:mesh:enterprise:bench-${name}`);
    const credential = await issueMeshAgentCredential({
      signer,
      suite: 'eddsa-jcs-2022',
      subject: {
        id: m.did,
        meshCapabilities: ['ml.inference'],
        complianceCertifications: [],
        trustLevel: 90,
      },
      validUntil: new Date(Date.now() + 86_400_000),
    });
    members[name] = { did: m.did, seed: m.seed, op: m.op, credential: credential as never };
  }
  const strip = ({ keyPair: _, ...rest }: ReturnType<typeof saved>): SavedIdentity => rest;
  const world: SavedWorld = {
    issuer: strip(issuer),
    hubs: [strip(saved('did:mesh:hub:bench-0')), strip(saved('did:mesh:hub:bench-1'))],
    members,
  };
  const dir = mkdtempSync(join(tmpdir(), 'fmp-bench-'));
  const file = join(dir, 'world.json');
  writeFileSync(file, JSON.stringify(world));
  return { file, world, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface HubWorker {
  readonly worker: Worker;
  readonly url: string;
  /** CPU time and memory after a full GC (`settle`: the memory-reducing kind, see settledGc). */
  stats(settle?: boolean): Promise<{
    cpuUs: number;
    systemUs: number;
    rss: number;
    heapUsed: number;
    heapTotal: number;
    newSpace: number;
    external: number;
  }>;
}

/** A worker logged errors: its figures are not those of a working hub or node. */
export class WorkerLoggedErrors extends Error {
  override readonly name = 'WorkerLoggedErrors';
}

/**
 * Spawns hub `index` of the world at once; `options` may be a promise (say, of the URL of a hub this
 * one dials): the process loads its modules meanwhile and creates its hub when they come.
 */
export function startHubWorker(
  w: BenchWorld,
  index: number,
  options: Record<string, unknown> | Promise<Record<string, unknown>>,
): { worker: Worker; ready: Promise<HubWorker> } {
  // FMP_BENCH_HUB_FLAGS: extra Node flags for the hub process, e.g. --cpu-prof to see where it spends.
  const flags = ['--expose-gc', ...(process.env.FMP_BENCH_HUB_FLAGS?.split(' ').filter(Boolean) ?? [])];
  const worker =
    options instanceof Promise
      ? startWorker('worker-hub.ts', [w.file, String(index), '-'], flags, options)
      : startWorker('worker-hub.ts', [w.file, String(index), JSON.stringify(options)], flags);
  const ready = worker
    .line((l) => typeof l.url === 'string', 120_000)
    .then(
      (line): HubWorker => ({
        worker,
        url: line.url as string,
        stats: async (settle = false) => {
          const s = await worker.call({ cmd: 'stats', settle });
          return {
            cpuUs: s.cpuUs as number,
            systemUs: s.systemUs as number,
            rss: s.rss as number,
            heapUsed: s.heapUsed as number,
            heapTotal: s.heapTotal as number,
            newSpace: s.newSpace as number,
            external: s.external as number,
          };
        },
      }),
    );
  return { worker, ready };
}

/** Hub options for load: no per-federation quota in the way, frequent sweeps off the hot path. */
export const LOAD_HUB_OPTIONS = {
  rateLimit: { messagesPerSec: 10_000_000, burst: 10_000_000 },
  limits: { maxOutboundPerLink: 100_000, maxInboundBacklog: 100_000, maxQueuedPerMesh: 100_000 },
};

// ---------------------------------------------------------------------------------------------
// Baselines
// ---------------------------------------------------------------------------------------------

export interface NetworkBaselines {
  wsRttP50Ms: number;
  wsRttP99Ms: number;
  /** The same round trip over fmp's gRPC link transport (GrpcLinkSocket on @grpc/grpc-js). */
  grpcRttP50Ms?: number;
  grpcRttP99Ms?: number;
  wsRelayMsgsPerSec: number;
  wsRelayCpuUsPerMsg: number;
  sqliteInsertsPerSec: number;
}

/**
 * A raw WebSocket client timing one round trip of a 1 KB message at a time (to an echo server, or
 * through a chain of hops to one).
 */
export async function wsRoundTrips(url: string): Promise<{ once(): Promise<number>; close(): void }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const payload = Buffer.alloc(1024, 120);
  return {
    once: () =>
      new Promise<number>((resolve) => {
        const t = performance.now();
        ws.once('message', () => resolve(performance.now() - t));
        ws.send(payload);
      }),
    close: () => ws.close(),
  };
}

/** As wsRtt, over a gRPC link (GrpcLinkSocket both ends; the echo in its own process). */
async function grpcRtt(fleet: Fleet, n: number): Promise<Latency> {
  const { connectGrpcLink, loadGrpc } = await import('@fmp/core/grpc');
  await loadGrpc();
  const link = connectGrpcLink((await fleet.grpcEcho()).url, { maxMessageBytes: 4 * 1024 * 1024 });
  const payload = 'x'.repeat(1024);
  const once = () =>
    new Promise<number>((resolve) => {
      const t = performance.now();
      link.once('message', () => resolve(performance.now() - t));
      link.send(payload);
    });
  for (let i = 0; i < 200; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) samples.push(await once());
  link.close();
  return percentiles(samples);
}

async function wsRtt(fleet: Fleet, n: number): Promise<Latency> {
  const rt = await wsRoundTrips((await fleet.wsEcho()).url);
  for (let i = 0; i < 200; i++) await rt.once();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) samples.push(await rt.once());
  rt.close();
  return percentiles(samples);
}

export async function wsRelay(
  fleet: Fleet,
  durationMs: number,
  window: number,
): Promise<{ msgsPerSec: number; cpuUsPerMsg: number }> {
  const { relay, source } = await fleet.wsRelay();
  await source.call({ cmd: 'run', durationMs: Math.min(300, durationMs), window, bytes: 1024 }); // warm-up
  const before = await relay.call({ cmd: 'stats' });
  const r = await source.call({ cmd: 'run', durationMs, window, bytes: 1024 });
  const after = await relay.call({ cmd: 'stats' });
  const acked = r.acked as number;
  return {
    msgsPerSec: Math.round((acked / (r.elapsedMs as number)) * 1000),
    cpuUsPerMsg: round2(((after.cpuUs as number) - (before.cpuUs as number)) / acked),
  };
}

function sqliteInserts(rows: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'fmp-bench-sqlite-'));
  try {
    const db = new Database(join(dir, 'bench.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(
      'CREATE TABLE messages (id TEXT PRIMARY KEY, federation_id TEXT NOT NULL, ts INTEGER NOT NULL, body TEXT NOT NULL)',
    );
    const insert = db.prepare('INSERT INTO messages (id, federation_id, ts, body) VALUES (?, ?, ?, ?)');
    const body = 'x'.repeat(200);
    let k = 0;
    const batch = db.transaction((count: number) => {
      for (let i = 0; i < count; i++, k++) insert.run(`m-${k}`, 'f-1', Date.now(), body);
    });
    batch(1000); // warm-up
    const start = performance.now();
    for (let done = 0; done < rows; done += 1000) batch(1000);
    const elapsed = performance.now() - start;
    db.close();
    return Math.round((rows / elapsed) * 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The raw baselines, on the fleet's `wsEcho`, `grpcEcho` and `wsRelay` processes. */
export async function benchBaselines(fleet: Fleet, quick: boolean): Promise<NetworkBaselines> {
  const rtt = await wsRtt(fleet, quick ? 2000 : 10_000);
  const grpc = await grpcRtt(fleet, quick ? 2000 : 10_000);
  const relay = await wsRelay(fleet, quick ? 600 : 5000, 256);
  return {
    wsRttP50Ms: rtt.p50Ms,
    wsRttP99Ms: rtt.p99Ms,
    grpcRttP50Ms: grpc.p50Ms,
    grpcRttP99Ms: grpc.p99Ms,
    wsRelayMsgsPerSec: relay.msgsPerSec,
    wsRelayCpuUsPerMsg: relay.cpuUsPerMsg,
    sqliteInsertsPerSec: sqliteInserts(quick ? 50_000 : 200_000),
  };
}

// ---------------------------------------------------------------------------------------------
// Handshake over the wire and throughput through one hub
// ---------------------------------------------------------------------------------------------

export interface WireHandshake extends Latency {
  handshakesPerSec: number;
  /** CPU time per handshake, ms, in each process (the critical path is at most their sum). */
  cpuMs: { hub: number; initiator: number; target: number };
}

export interface ThroughputResult {
  hops: number;
  msgsPerSec: number;
  hubCpuUsPerMsg: number;
  /** The kernel's share of hubCpuUsPerMsg (socket reads and writes). */
  hubSystemUsPerMsg: number;
  /** Messages the receivers verified, opened and delivered to the application. */
  received: number;
  sent: number;
  delivered: number;
  successRate: number;
  senders: number;
  receivers: number;
  window: number;
  errors: Record<string, number>;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Node A federates with node B n times (after a warm-up that fills the credential and DID caches on
 * hub and target), hub, A and B each in their own process.
 */
export async function benchWireHandshake(fleet: Fleet, n: number): Promise<WireHandshake> {
  const [hub, a, b] = await Promise.all([
    fleet.hub(),
    fleet.node('node-a', 'main'),
    fleet.node('node-b', 'main'),
  ]);
  const target = fleet.did('node-b');
  const start = performance.now();
  await a.call({ cmd: 'federateTimed', target, n: 0, warmup: 20 }, 600_000);
  const hub0 = await hub.stats();
  const b0 = (await b.call({ cmd: 'cpu' })).cpuUs as number;
  const r = await a.call({ cmd: 'federateTimed', target, n, warmup: 0 }, 600_000);
  const elapsed = performance.now() - start;
  const hub1 = await hub.stats();
  const b1 = (await b.call({ cmd: 'cpu' })).cpuUs as number;
  const perHs = (us: number) => Math.round(us / n) / 1000;
  if (process.env.FMP_BENCH_VERBOSE) {
    process.stderr.write(`hub system CPU per handshake: ${perHs(hub1.systemUs - hub0.systemUs)} ms\n`);
  }
  return {
    ...percentiles(r.samplesMs as number[]),
    handshakesPerSec: Math.round(((n + 20) / elapsed) * 1000),
    cpuMs: {
      hub: perHs(hub1.cpuUs - hub0.cpuUs),
      initiator: perHs(r.cpuUs as number),
      target: perHs(b1 - b0),
    },
  };
}

/**
 * Node A (on the main hub) sends to node B on the same hub (one hop) or to node R on the peer hub
 * (two hops: main hub -> peer link -> peer hub), `window` sends in flight over
 * `federationsPerSender` federations, for `durationMs` after a warm-up.
 */
export async function benchThroughput(
  fleet: Fleet,
  options: {
    durationMs: number;
    /**
     * The unrecorded run before it (default 300 ms). The SDK processes take about 1.5 s of traffic
     * to reach their steady rate (JIT tiers in four processes on two cores), hence run.ts's 1.5 s.
     */
    warmupMs?: number;
    window: number;
    federationsPerSender: number;
    hops?: 1 | 2;
  },
): Promise<ThroughputResult> {
  const hops = options.hops ?? 1;
  const hubs = await Promise.all(hops === 2 ? [fleet.hub(), fleet.peerHub()] : [fleet.hub()]);
  const [sender, receiver] = await Promise.all([
    fleet.node('node-a', 'main'),
    hops === 2 ? fleet.node('node-r', 'peer') : fleet.node('node-b', 'main'),
  ]);
  const target = fleet.did(hops === 2 ? 'node-r' : 'node-b');
  if (hops === 2) await routeTo(hubs[0]!, target);
  await sender.call({ cmd: 'federate', target, count: options.federationsPerSender }, 60_000);
  const run = (durationMs: number) =>
    sender.call({ cmd: 'run', target, durationMs, window: options.window }, durationMs + 120_000);
  await run(options.warmupMs ?? 300);
  const received0 = (await receiver.call({ cmd: 'count' })).received as number;
  const before = await Promise.all(hubs.map((h) => h.stats()));
  const r = await run(options.durationMs);
  const after = await Promise.all(hubs.map((h) => h.stats()));
  const received = ((await receiver.call({ cmd: 'count' })).received as number) - received0;
  const sent = r.sent as number;
  const delivered = r.delivered as number;
  // Per hub: the mean over the hubs on the path (each hub handles every message once).
  const perHub = (k: 'cpuUs' | 'systemUs') =>
    round2(
      hubs.reduce((acc, _, i) => acc + (after[i]![k] - before[i]![k]), 0) /
        hubs.length /
        Math.max(1, delivered),
    );
  return {
    hops,
    msgsPerSec: Math.round((delivered / (r.elapsedMs as number)) * 1000),
    hubCpuUsPerMsg: perHub('cpuUs'),
    hubSystemUsPerMsg: perHub('systemUs'),
    received,
    sent,
    delivered,
    successRate: sent === 0 ? 0 : Math.round((delivered / sent) * 10_000) / 10_000,
    senders: 1,
    receivers: 1,
    window: options.window,
    errors: r.errors as Record<string, number>,
  };
}

/** Waits until `hub` has learned a route to `meshId` over its peer link (polled every 20 ms). */
export async function routeTo(hub: HubWorker, meshId: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!((await hub.worker.call({ cmd: 'routes' })).meshes as string[]).includes(meshId)) {
    if (Date.now() > deadline) throw new Error(`no route to ${meshId} through the peer hub`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Standalone: `npx tsx bench/network.ts handshake [n]` (the wire handshake alone, with its RTT baseline).
// Not awaited: fleet.ts imports this module, which must finish evaluating before fleet.ts can.
if (process.argv[1]?.endsWith('network.ts') && process.argv[2] === 'handshake') {
  void import('./fleet.js').then(async ({ Fleet }) => {
    const fleet = await Fleet.create();
    try {
      const rtt = await wsRtt(fleet, 2000);
      const handshake = await benchWireHandshake(fleet, Number(process.argv[3] ?? 500));
      process.stdout.write(`${JSON.stringify({ wsRtt: rtt, handshake }, null, 2)}\n`);
    } finally {
      await fleet.close();
      killAll();
    }
  });
}
