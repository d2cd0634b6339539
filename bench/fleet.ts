/**
 * The processes of the networked benchmarks, started once and shared by the sections that need the
 * same thing: one main hub (hub 0) for the hub path, the wire handshake, throughput, the federated
 * MCP call's first hop and the mixed load; a peer hub (hub 1, dialing the main one) for the second
 * hop; two SDK nodes on the main hub (the handshake's initiator and target, then sender and receiver
 * of the one-hop throughput and the mixed load) and one on the peer hub (the two-hop receiver); the
 * raw link clients of the hub path; the MCP consumer (main hub) and the two providers (one per hub);
 * the raw WebSocket baselines; the sessions' own hub and helpers.
 *
 * Start-up (mostly loading modules, seconds per process under tsx) dominated short runs when every
 * section started its own processes one after the other. Here each process is spawned on first use,
 * and `boot()` spawns all of a run's processes at once, before any section measures: a process that
 * needs another's URL loads its modules meanwhile and gets the URL on its first stdin line
 * (bench/worker-lines.ts). Nothing runs on them until their section: sections measure deltas
 * (CPU time, counters) over their own operations, and a section's processes that no later section
 * needs are stopped when it ends (`stop`), so that idle processes do not linger.
 */
import { randomUUID } from 'node:crypto';
import {
  type BenchWorld,
  createBenchWorld,
  type HubWorker,
  LOAD_HUB_OPTIONS,
  startHubWorker,
  startWorker,
  type Worker,
} from './network.js';

/** Every member a fleet may start; a world for a fleet has them all (credentials are cheap). */
export const FLEET_MEMBERS = ['node-a', 'node-b', 'node-r', 'hp-s', 'hp-r', 'mcp-c', 'mcp-p', 'mx-p'];

/** Options of the sessions' own hub and helpers (bench/sessions.ts). */
export interface SessionsSetUp {
  target: number;
  hub?: { heartbeatMs?: number; credentialRecheckMs?: number };
}

/** Sessions per helper process. */
export const SESSIONS_PER_HELPER = 2_500;

export interface McpWorker {
  readonly worker: Worker;
  /** The worker's ready line: upstreamTools (provider) or mcpUrl (consumer). */
  readonly ready: Record<string, unknown>;
}

/** What `Fleet.stop` stops: a worker, or a resource of this process (an MCP client and its server). */
export interface Stoppable {
  stop(): Promise<void>;
}

/** FMP_BENCH_NODE_FLAGS: extra Node flags for the node processes (e.g. --cpu-prof). */
const nodeFlags = () => process.env.FMP_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];

export class Fleet {
  /** Federations seeded in the main hub's store for the hub path (raw clients send without handshakes). */
  readonly hubPathFederations: readonly string[] = Array.from({ length: 4 }, () => randomUUID());
  readonly #started = new Map<string, { ready: Promise<unknown>; stoppers: Stoppable[] }>();

  private constructor(readonly w: BenchWorld) {}

  /** A fleet over a fresh world file (every member of FLEET_MEMBERS). */
  static async create(): Promise<Fleet> {
    return new Fleet(await createBenchWorld(FLEET_MEMBERS));
  }

  did(member: string): string {
    return this.w.world.members[member]!.did;
  }

  /**
   * The process(es) under `key`, started by `make` on first use; later calls get the same ones.
   * `make` registers what `stop(key)` must stop as soon as it starts it (before awaiting anything).
   */
  shared<T>(key: string, make: (spawned: Stoppable[]) => Promise<T>): Promise<T> {
    const known = this.#started.get(key);
    if (known) return known.ready as Promise<T>;
    const stoppers: Stoppable[] = [];
    const ready = make(stoppers);
    // Awaited by the sections that use it, which report a failure; not an unhandled rejection here.
    ready.catch(() => undefined);
    this.#started.set(key, { ready, stoppers });
    return ready;
  }

  /**
   * The main hub: load options (no per-federation quota in the way), accepts the peer hub. Both hubs
   * keep their store, registry and ledger in SQLite, as `fmp hub start` does by default.
   */
  hub(): Promise<HubWorker> {
    return this.shared('hub', async (spawned) => {
      const source = this.did('hp-s');
      const target = this.did('hp-r');
      const hub = startHubWorker(this.w, 0, {
        ...LOAD_HUB_OPTIONS,
        sqliteStore: true,
        handshake: { timeoutMs: 10_000 },
        allowedPeers: [this.w.world.hubs[1]!.did],
        seedFederations: this.hubPathFederations.map((federationId) => ({ federationId, source, target })),
      });
      spawned.push(hub.worker);
      return hub.ready;
    });
  }

  /** The peer hub: dials the main hub (its URL sent once the main hub listens). */
  peerHub(): Promise<HubWorker> {
    return this.shared('peerHub', async (spawned) => {
      const main = this.hub();
      const hub = startHubWorker(
        this.w,
        1,
        main.then((h) => ({
          ...LOAD_HUB_OPTIONS,
          sqliteStore: true,
          peers: [{ did: this.w.world.hubs[0]!.did, url: h.url }],
        })),
      );
      spawned.push(hub.worker);
      return hub.ready;
    });
  }

  #hubOf(on: 'main' | 'peer'): Promise<HubWorker> {
    return on === 'main' ? this.hub() : this.peerHub();
  }

  /** An SDK node (bench/worker-node.ts) of `member` on the main or the peer hub. */
  node(member: string, on: 'main' | 'peer'): Promise<Worker> {
    return this.shared(`node:${member}`, async (spawned) => {
      const url = this.#hubOf(on).then((h) => ({ hubUrl: h.url }));
      const worker = startWorker('worker-node.ts', [this.w.file, member, '-'], nodeFlags(), url);
      spawned.push(worker);
      await worker.line((l) => l.ready === true, 120_000);
      return worker;
    });
  }

  /** The hub path's raw link clients on the main hub: the sink, then the source sending to it. */
  rawLinks(): Promise<{ sink: Worker; source: Worker }> {
    return this.shared('rawLinks', async (spawned) => {
      const url = this.hub().then((h) => ({ hubUrl: h.url }));
      const sink = startWorker('worker-raw-link.ts', [this.w.file, 'hp-r', '-', 'sink'], [], url);
      spawned.push(sink);
      // The source authenticates after the sink, as a sender would find its receiver online.
      const sinkReady = sink.line((l) => l.ready === true, 120_000);
      const source = startWorker(
        'worker-raw-link.ts',
        [this.w.file, 'hp-s', '-', 'source', 'hp-r'],
        [],
        Promise.all([url, sinkReady]).then(([u]) => u),
      );
      spawned.push(source);
      await Promise.all([sinkReady, source.line((l) => l.ready === true, 120_000)]);
      return { sink, source };
    });
  }

  /**
   * A node with the MCP bridge (bench/worker-mcp.ts): the consumer serving /mcp on the main hub, or a
   * provider fronting the fixture MCP server for the consumer: `mcp-p` on the peer hub (the federated
   * call across two hubs), `mx-p` on the main hub (the mixed load's tool calls, one hub).
   */
  mcp(member: 'mcp-c' | 'mcp-p' | 'mx-p'): Promise<McpWorker> {
    return this.shared(`mcp:${member}`, async (spawned) => {
      const on = member === 'mcp-p' ? 'peer' : 'main';
      const mode = member === 'mcp-c' ? ['consumer'] : ['provider', 'mcp-c'];
      const url = this.#hubOf(on).then((h) => ({ hubUrl: h.url }));
      // The consumer also serves MCP over stdio on a socket pair (fd 3), as `fmp node mcp` does.
      const worker = startWorker(
        'worker-mcp.ts',
        [this.w.file, member, '-', ...mode],
        nodeFlags(),
        url,
        member === 'mcp-c',
      );
      spawned.push(worker);
      const ready = await worker.line((l) => l.ready === true, 120_000);
      if (mode[0] === 'provider') {
        const upstream = ready.upstreamTools as string[];
        if (!upstream.includes('add') || !upstream.includes('echo')) {
          throw new Error(
            `the provider's fixture server lists ${JSON.stringify(upstream)}, not add and echo`,
          );
        }
      }
      return { worker, ready };
    });
  }

  /** The raw WebSocket echo server (the round-trip baseline). */
  /** fmp's gRPC link listener echoing (the gRPC transport's round trip). */
  grpcEcho(): Promise<{ worker: Worker; url: string }> {
    return this.shared('grpcEcho', async (spawned) => {
      const echo = startWorker('worker-ws.ts', ['grpc-echo']);
      spawned.push(echo);
      return { worker: echo, url: (await echo.line((l) => typeof l.url === 'string')).url as string };
    });
  }

  wsEcho(): Promise<{ worker: Worker; url: string }> {
    return this.shared('wsEcho', async (spawned) => {
      const echo = startWorker('worker-ws.ts', ['echo']);
      spawned.push(echo);
      return { worker: echo, url: (await echo.line((l) => typeof l.url === 'string')).url as string };
    });
  }

  /**
   * A chain of `hops` raw WebSocket processes, each forwarding to the next, the last one echoing: the
   * floor of a federated call's added latency (as many processes as it adds: consumer, two hubs,
   * provider), with none of their work. The URL is the first hop's.
   */
  wsChain(hops: number): Promise<{ workers: Worker[]; url: string }> {
    return this.shared(`wsChain:${hops}`, async (spawned) => {
      const echo = startWorker('worker-ws.ts', ['echo']);
      spawned.push(echo);
      const workers = [echo];
      let next = echo.line((l) => typeof l.url === 'string').then((l) => ({ url: l.url }));
      for (let i = 1; i < hops; i++) {
        const hop = startWorker('worker-ws.ts', ['hop', '-'], [], next);
        spawned.push(hop);
        workers.unshift(hop);
        next = hop.line((l) => typeof l.url === 'string').then((l) => ({ url: l.url }));
      }
      return { workers, url: (await next).url as string };
    });
  }

  /** A raw WebSocket server that only holds connections (the baseline of memory per session). */
  wsHold(): Promise<{ worker: Worker; url: string }> {
    return this.shared('wsHold', async (spawned) => {
      const hold = startWorker('worker-ws.ts', ['hold'], ['--expose-gc']);
      spawned.push(hold);
      return { worker: hold, url: (await hold.line((l) => typeof l.url === 'string')).url as string };
    });
  }

  /** The raw WebSocket relay (A -> relay -> B): the relay, the sink (its first connection), the source. */
  wsRelay(): Promise<{ relay: Worker; source: Worker }> {
    return this.shared('wsRelay', async (spawned) => {
      const relay = startWorker('worker-ws.ts', ['relay']);
      spawned.push(relay);
      const url = relay.line((l) => typeof l.url === 'string').then((l) => ({ url: l.url }));
      // The sink connects first: the relay pairs its first and second connections.
      const sink = startWorker('worker-ws.ts', ['sink', '-'], [], url);
      spawned.push(sink);
      const sinkReady = sink.line((l) => l.ready === true);
      const source = startWorker(
        'worker-ws.ts',
        ['source', '-'],
        [],
        Promise.all([url, sinkReady]).then(([u]) => u),
      );
      spawned.push(source);
      await Promise.all([sinkReady, source.line((l) => l.ready === true)]);
      return { relay, source };
    });
  }

  /**
   * The sessions' own hub (its limits and timers set for the run) and helpers, each building its
   * sessions' identities while the hub starts; they get the hub's URL with the `open` command.
   */
  sessions(setUp: SessionsSetUp): Promise<{ hub: HubWorker; helpers: Worker[]; sourceAddresses: number }> {
    return this.shared('sessions', async (spawned) => {
      // Set up as a deployed hub is by default (SQLite): a memory store would hold every mesh's
      // rows, operations and ledger leaves in the heap, which no deployed hub does.
      const hub = startHubWorker(this.w, 0, {
        sqliteStore: true,
        limits: {
          maxSessions: setUp.target + 1_000,
          ...(setUp.hub?.heartbeatMs === undefined ? {} : { heartbeatMs: setUp.hub.heartbeatMs }),
        },
        ...(setUp.hub?.credentialRecheckMs === undefined
          ? {}
          : { credentialRecheckMs: setUp.hub.credentialRecheckMs }),
      });
      spawned.push(hub.worker);
      const count = Math.max(1, Math.ceil(setUp.target / SESSIONS_PER_HELPER));
      const addresses = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
      const helpers: Worker[] = [];
      for (let h = 0; h < count; h++) {
        const first = h * SESSIONS_PER_HELPER;
        const n = Math.min(SESSIONS_PER_HELPER, setUp.target - first);
        // Each helper gets its own pair of source addresses.
        const mine = [addresses[(2 * h) % 8]!, addresses[(2 * h + 1) % 8]!].join(',');
        const worker = startWorker('worker-sessions.ts', [
          this.w.file,
          '-',
          String(first),
          String(n),
          mine,
          '32',
        ]);
        spawned.push(worker);
        helpers.push(worker);
      }
      const [ready] = await Promise.all([
        hub.ready,
        ...helpers.map((x) => x.line((l) => typeof l.prepared === 'number', 600_000)),
      ]);
      return { hub: ready, helpers, sourceAddresses: Math.min(8, count * 2) };
    });
  }

  /** Spawns the given processes at once (e.g. `() => fleet.hub()`) and waits until all are ready. */
  async boot(parts: (() => Promise<unknown>)[]): Promise<void> {
    await Promise.allSettled(parts.map((p) => p()));
  }

  /** Stops what was started under these keys (as `hub`, `peerHub`, `node:<member>`, `mcp:<member>`). */
  async stop(...keys: string[]): Promise<void> {
    await Promise.all(
      keys.flatMap((k) => {
        const started = this.#started.get(k);
        this.#started.delete(k);
        return (started?.stoppers ?? []).map((x) => x.stop().catch(() => undefined));
      }),
    );
  }

  /** Stops every process and removes the world file. */
  async close(): Promise<void> {
    await this.stop(...this.#started.keys());
    this.w.cleanup();
  }
}
