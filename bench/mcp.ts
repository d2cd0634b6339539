/**
 * Federated MCP tools/call (issue #4): the added latency of calling an MCP server's tool through the
 * federation, over calling the same server directly, in the same run.
 *   - federated: an official-SDK MCP client (this process) -> the consumer node's /mcp (Streamable
 *     HTTP) -> hub 1 -> hub 2 -> the provider node -> the fixture MCP server (stdio) and back; every
 *     node, hub and server in its own process, on loopback;
 *   - direct: an official-SDK MCP client (this process) -> the same fixture server, spawned over stdio
 *     with the same command;
 *   - raw chain: a 1 KB message through a chain of four raw WebSocket processes that only forward
 *     bytes (as many processes as the federated call adds: consumer, two hubs, provider) and back:
 *     the floor of the added latency on this machine, at the same pace.
 * Calls rotate between the three, one at a time, so all see the same machine load. Then the same
 * rotation with the federated call made over the consumer's stdio framing (as `fmp node mcp` serves
 * it, on a socket pair): the client reaches the consumer as it reaches the direct server, so the
 * difference is the federation's alone, not Streamable HTTP's over stdio's.
 */

import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  Client,
  type JSONRPCMessage,
  ReadBuffer,
  StreamableHTTPClientTransport,
  serializeMessage,
  type Transport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { turn } from './ab-turn.js';
import { bundleWorkers } from './bundle.js';
import { Fleet } from './fleet.js';
import { percentiles } from './lib.js';
import { fixtureArgs, killAll, routeTo, useBundles, wsRoundTrips } from './network.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../test/fixtures/mcp-server.ts', import.meta.url));

export interface McpLatency {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export interface McpCallResult {
  n: number;
  hops: 2;
  /** The exposed tool name the federated client called. */
  tool: string;
  federated: McpLatency;
  direct: McpLatency;
  /**
   * tools/list at the consumer's /mcp, answered by the consumer from catalogs it holds (no message
   * crosses the mesh): what the HTTP endpoint and the MCP SDK cost on their own, same client.
   */
  endpointOnly: McpLatency;
  addedP50Ms: number;
  addedP95Ms: number;
  /**
   * Round trips through four raw WebSocket processes forwarding bytes (no JSON, no crypto), paced
   * like the calls: what four added processes cost on this machine before any work.
   */
  rawChain: McpLatency;
  /** CPU time per round trip of one raw chain process (the mean of the four), ms. */
  rawChainCpuMsPerHop: number;
  /** Federated calls that answered with an error (their time is not in the percentiles). */
  failures: number;
  errors: Record<string, number>;
  /** CPU time per federated call in each process on the path, ms (all threads, GC included). */
  cpuMsPerCall: McpCpu;
  /** The kernel's share of cpuMsPerCall (socket and pipe reads and writes, wake-ups). */
  kernelMsPerCall: McpCpu;
  /**
   * The same calls with the client on the consumer's stdio framing (`fmp node mcp`), rotating with
   * direct calls and raw chain trips of their own: the added latency with the client's transport the
   * same on both sides.
   */
  stdio: {
    federated: McpLatency;
    direct: McpLatency;
    rawChain: McpLatency;
    addedP50Ms: number;
    addedP95Ms: number;
    failures: number;
    cpuMsPerCall: McpCpu;
  };
}

export interface McpCpu {
  consumer: number;
  hub1: number;
  hub2: number;
  provider: number;
}

/** A federated call answered, but with the wrong sum: the benchmark must not report a figure. */
export class McpWrongAnswer extends Error {
  override readonly name = 'McpWrongAnswer';
}

export type CallResult = Awaited<ReturnType<Client['callTool']>>;

/** The sum from an `add` result, or undefined when the result does not carry one in both forms. */
export function sumOf(r: CallResult): number | undefined {
  const structured = (r.structuredContent as { sum?: unknown } | undefined)?.sum;
  const text = (r.content as { type: string; text?: string }[] | undefined)?.[0];
  if (typeof structured !== 'number' || text?.type !== 'text' || text.text !== String(structured)) {
    return undefined;
  }
  return structured;
}

export function errorCode(r: CallResult): string {
  const meta = (r._meta as Record<string, { code?: unknown }> | undefined)?.['mesh.global/error'];
  return typeof meta?.code === 'string' ? meta.code : 'tool_error';
}

/**
 * fetch with a signal of its own per request, following the transport's. The transport passes its one
 * long-lived signal to every request, and undici removes a request's abort listener from it only when
 * the Request is garbage collected: thousands of sequential calls pile up listeners between
 * collections (about 1,700 seen), and as undici resets the signal's bound to 1,500 on each request,
 * Node warns of a leak once per call past it. Here the transport's signal holds one listener per
 * request only until its response arrives (the bench's calls are sequential and done before close).
 */
export const fetchOwnSignal: typeof fetch = async (input, init) => {
  const outer = init?.signal;
  if (!outer) return fetch(input, init);
  const inner = new AbortController();
  const onAbort = () => inner.abort(outer.reason);
  if (outer.aborted) onAbort();
  else outer.addEventListener('abort', onAbort, { once: true });
  try {
    return await fetch(input, { ...init, signal: inner.signal });
  } finally {
    outer.removeEventListener('abort', onAbort);
  }
};

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

/**
 * An MCP client transport over a socket speaking stdio's framing (newline-delimited JSON-RPC), as
 * the SDK's StdioClientTransport reads a spawned server's stdout: the consumer's end is its fd 3.
 */
export class SocketClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly #socket: Duplex;
  readonly #buffer = new ReadBuffer();

  constructor(socket: Duplex) {
    this.#socket = socket;
  }

  readonly #onData = (chunk: Buffer) => {
    this.#buffer.append(chunk);
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.#buffer.readMessage();
      } catch (err) {
        this.onerror?.(err as Error);
        continue;
      }
      if (message === null) break;
      this.onmessage?.(message);
    }
  };
  readonly #onError = (err: Error) => this.onerror?.(err);
  readonly #onClose = () => this.onclose?.();

  async start(): Promise<void> {
    this.#socket.on('data', this.#onData);
    this.#socket.on('error', this.#onError);
    this.#socket.on('close', this.#onClose);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (!this.#socket.write(serializeMessage(message))) {
      await new Promise((resolve) => this.#socket.once('drain', resolve));
    }
  }

  async close(): Promise<void> {
    this.#socket.off('data', this.#onData);
    this.#socket.off('error', this.#onError);
    this.#socket.off('close', this.#onClose);
    this.#buffer.clear();
    this.#socket.end();
    this.onclose?.();
  }
}

/**
 * The direct baseline's MCP client, connected to its own fixture server over stdio (spawned as the
 * provider spawns its own: the same bundle, or the same source under tsx), under the fleet's key
 * `mcp:direct`.
 */
export function directMcpClient(fleet: Fleet): Promise<{ client: Client; stderr: () => string }> {
  return fleet.shared('mcp:direct', async (spawned) => {
    const client = new Client({ name: 'fmp-bench', version: '0.1.0' });
    spawned.push({ stop: () => client.close() });
    let stderr = '';
    const stdio = new StdioClientTransport({
      command: process.execPath,
      args: fixtureArgs(FIXTURE),
      cwd: ROOT,
      stderr: 'pipe',
    });
    stdio.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    await client.connect(stdio);
    return { client, stderr: () => stderr };
  });
}

/**
 * The consumer (on the fleet's main hub) federates with provider `mcp-p` on the peer hub; the calls
 * then cross both hubs.
 */
export async function benchMcpCall(
  fleet: Fleet,
  options: { n: number; warmup: number },
): Promise<McpCallResult> {
  const { n, warmup } = options;
  const clients: Client[] = [];
  let chainTrips: Awaited<ReturnType<typeof wsRoundTrips>> | undefined;
  try {
    const [hub1, hub2, provider, consumer, direct, chain] = await Promise.all([
      fleet.hub(),
      fleet.peerHub(),
      fleet.mcp('mcp-p'),
      fleet.mcp('mcp-c'),
      directMcpClient(fleet),
      fleet.wsChain(4),
    ]);
    chainTrips = await wsRoundTrips(chain.url);
    const trips = chainTrips;
    const providerDid = fleet.did('mcp-p');
    // The consumer's hub must have learned the route to the provider over the peer link.
    await routeTo(hub1, providerDid);
    const { tools } = await consumer.worker.call({ cmd: 'federate', target: providerDid }, 30_000);
    const tool = (tools as string[]).find((t) => t.endsWith('__add'))!;

    const federated = new Client({ name: 'fmp-bench', version: '0.1.0' });
    clients.push(federated);
    await federated.connect(
      new StreamableHTTPClientTransport(new URL(consumer.ready.mcpUrl as string), { fetch: fetchOwnSignal }),
    );
    // As an agent would: list first (the SDK client then checks results against the output schema).
    const listed = (await federated.listTools()).tools.map((t) => t.name);
    if (!listed.includes(tool)) throw new Error(`the consumer's /mcp does not list ${tool}: ${listed}`);
    if (!(await direct.client.listTools()).tools.some((t) => t.name === 'add')) {
      throw new Error(`the fixture server does not list add (stderr: ${direct.stderr()})`);
    }

    // The same calls over the consumer's stdio framing (fd 3, as `fmp node mcp` serves them).
    const viaStdio = new Client({ name: 'fmp-bench', version: '0.1.0' });
    clients.push(viaStdio);
    const fd3 = consumer.worker.child.stdio[3];
    if (!fd3) throw new Error("the consumer worker has no fd 3 (its stdio MCP server's socket)");
    await viaStdio.connect(new SocketClientTransport(fd3 as Duplex));
    if (!(await viaStdio.listTools()).tools.some((t) => t.name === tool)) {
      throw new Error(`the consumer's stdio server does not list ${tool}`);
    }

    const errors: Record<string, number> = {};
    let failures = 0;
    const federatedMs: number[] = [];
    const directMs: number[] = [];
    const endpointMs: number[] = [];
    // Distinct arguments per call (a fraction too), so a stale or misrouted answer cannot pass.
    const args = (i: number) => ({ a: i + 1, b: i * 7 + 0.25 });
    const callVia = async (client: Client, i: number, record: boolean) => {
      const { a, b } = args(i);
      const t = performance.now();
      let r: CallResult;
      try {
        r = await client.callTool({ name: tool, arguments: { a, b } });
      } catch (err) {
        const code = `exception: ${String((err as Error)?.message ?? err).slice(0, 80)}`;
        errors[code] = (errors[code] ?? 0) + 1;
        failures++;
        return;
      }
      const elapsed = performance.now() - t;
      if (r.isError) {
        const code = errorCode(r);
        errors[code] = (errors[code] ?? 0) + 1;
        failures++;
        return;
      }
      const sum = sumOf(r);
      if (sum !== a + b) {
        throw new McpWrongAnswer(
          `federated ${tool}(${a}, ${b}) answered ${JSON.stringify(r).slice(0, 300)}, expected sum ${a + b}`,
        );
      }
      if (record) federatedMs.push(elapsed);
    };
    const callFederated = (i: number, record: boolean) => callVia(federated, i, record);
    const callStdio = (i: number, record: boolean) => callVia(viaStdio, i, record);
    const callDirect = async (i: number, record: boolean) => {
      const { a, b } = args(i);
      const t = performance.now();
      const r = await direct.client.callTool({ name: 'add', arguments: { a, b } });
      const elapsed = performance.now() - t;
      if (r.isError || sumOf(r) !== a + b) {
        throw new Error(`direct add(${a}, ${b}) answered ${JSON.stringify(r).slice(0, 300)}`);
      }
      if (record) directMs.push(elapsed);
    };

    const chainMs: number[] = [];
    const callChain = async (record: boolean) => {
      const elapsed = await trips.once();
      if (record) chainMs.push(elapsed);
    };

    const listLocal = async (record: boolean) => {
      const t = performance.now();
      const r = await federated.listTools(undefined, { cacheMode: 'bypass' });
      const elapsed = performance.now() - t;
      if (!r.tools.some((x) => x.name === tool)) throw new Error(`tools/list at /mcp lost ${tool}`);
      if (record) endpointMs.push(elapsed);
    };

    // Every process's code is compiled as it runs: a few hundred calls leave much of it unoptimized
    // (the hubs' CPU per call then is ~0.3 ms higher). The warm-up is long enough that what is
    // measured is a node that has been serving for a while.
    for (let i = 0; i < warmup; i++) {
      await turn();
      await callFederated(i, false);
      await callStdio(i, false);
      await callDirect(i, false);
      await callChain(false);
      await listLocal(false);
    }
    // Two federated calls a round (/mcp and stdio).
    if (warmup > 0 && failures === 2 * warmup) {
      throw new Error(`every warm-up call failed: ${JSON.stringify(errors)}`);
    }
    failures = 0;
    for (const k of Object.keys(errors)) delete errors[k];

    const cpu = async () => {
      const [c, p, h1, h2] = [
        await consumer.worker.call({ cmd: 'cpu' }),
        await provider.worker.call({ cmd: 'cpu' }),
        await hub1.stats(),
        await hub2.stats(),
      ];
      return {
        total: { consumer: c.cpuUs as number, provider: p.cpuUs as number, hub1: h1.cpuUs, hub2: h2.cpuUs },
        kernel: {
          consumer: c.systemUs as number,
          provider: p.systemUs as number,
          hub1: h1.systemUs,
          hub2: h2.systemUs,
        },
      };
    };
    const chainCpu = async () => {
      let sum = 0;
      for (const w of chain.workers) sum += (await w.call({ cmd: 'stats' })).cpuUs as number;
      return sum;
    };
    /** n rotations of a federated call (`federatedCall`), a direct call and a raw chain trip. */
    const timedLoop = async (federatedCall: (i: number, record: boolean) => Promise<void>, first: number) => {
      federatedMs.length = 0;
      directMs.length = 0;
      chainMs.length = 0;
      failures = 0;
      const chainBefore = await chainCpu();
      const before = await cpu();
      // Rotate which goes first, so none always runs right after another's wake-ups.
      const order = [
        (i: number) => federatedCall(first + i, true),
        (i: number) => callDirect(first + i, true),
        () => callChain(true),
      ];
      for (let i = 0; i < n; i++) {
        await turn();
        for (let k = 0; k < order.length; k++) await order[(i + k) % order.length]!(i);
      }
      const after = await cpu();
      const chainAfter = await chainCpu();
      if (federatedMs.length === 0) throw new Error(`every federated call failed: ${JSON.stringify(errors)}`);
      const ok = federatedMs.length;
      const perCall = (kind: 'total' | 'kernel'): McpCpu => {
        const of = (k: keyof McpCpu) => round4((after[kind][k] - before[kind][k]) / ok / 1000);
        return { consumer: of('consumer'), hub1: of('hub1'), hub2: of('hub2'), provider: of('provider') };
      };
      return {
        federated: percentiles(federatedMs),
        direct: percentiles(directMs),
        chain: percentiles(chainMs),
        chainCpuUsPerTrip: (chainAfter - chainBefore) / chainMs.length / chain.workers.length,
        failures,
        cpu: perCall('total'),
        kernel: perCall('kernel'),
      };
    };
    const latency = (p: { p50Ms: number; p95Ms: number; p99Ms: number }): McpLatency => ({
      p50Ms: p.p50Ms,
      p95Ms: p.p95Ms,
      p99Ms: p.p99Ms,
    });

    const http = await timedLoop(callFederated, warmup);
    // Apart from the timed loop, so that the CPU figures above are the federated calls' alone.
    for (let i = 0; i < n; i++) {
      await turn();
      await listLocal(true);
    }

    const stdio = await timedLoop(callStdio, warmup + n);

    const f = http.federated;
    const d = http.direct;
    const e = percentiles(endpointMs);
    return {
      n,
      hops: 2,
      tool,
      federated: latency(f),
      direct: latency(d),
      endpointOnly: latency(e),
      addedP50Ms: round4(f.p50Ms - d.p50Ms),
      addedP95Ms: round4(f.p95Ms - d.p95Ms),
      rawChain: latency(http.chain),
      rawChainCpuMsPerHop: round4(http.chainCpuUsPerTrip / 1000),
      failures: http.failures,
      errors,
      cpuMsPerCall: http.cpu,
      kernelMsPerCall: http.kernel,
      stdio: {
        federated: latency(stdio.federated),
        direct: latency(stdio.direct),
        rawChain: latency(stdio.chain),
        addedP50Ms: round4(stdio.federated.p50Ms - stdio.direct.p50Ms),
        addedP95Ms: round4(stdio.federated.p95Ms - stdio.direct.p95Ms),
        failures: stdio.failures,
        cpuMsPerCall: stdio.cpu,
      },
    };
  } finally {
    chainTrips?.close();
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}

// Standalone: `npx tsx bench/mcp.ts [n] [warm-up rotations]` (this benchmark alone, its processes
// from bundles as in the full run).
if (process.argv[1]?.endsWith('mcp.ts')) {
  const bundles = await bundleWorkers();
  if (typeof bundles !== 'string') {
    useBundles(bundles);
    process.on('exit', () => bundles.cleanup());
  }
  const fleet = await Fleet.create();
  try {
    const n = Number(process.argv[2] ?? 500);
    const result = await benchMcpCall(fleet, { n, warmup: Number(process.argv[3] ?? 3000) });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await fleet.close();
    killAll();
  }
}
