/**
 * The mixed-load knee (issue #8): handshakes, messages of every priority and federated MCP tool
 * calls through one hub, offered open-loop (bench/open-loop.ts: operations start on schedule, latency
 * counted from the scheduled start) at a rate raised step by step (x factor per step) until the p99
 * of a step crosses the limit (50 ms) or operations fail. The knee is the highest offered rate whose
 * step stayed under the limit without failures.
 *
 * Processes, all on loopback (the fleet's, bench/fleet.ts): the main hub; a generator node
 * (bench/worker-node.ts, its `step` command) sending 1 KB sealed, signed messages of the four
 * priorities to a receiver node over 4 federations, and running new handshakes with it; the MCP
 * consumer and provider nodes (bench/worker-mcp.ts, the provider fronting the fixture MCP server over
 * stdio), both on this hub, with this process's official-SDK MCP client calling `<provider>__add` at
 * the consumer's /mcp, every answer checked. Of each step's operations about 10% are tool calls, 2% handshakes and the rest
 * messages; without the MCP bridge (set-up failed) the step runs handshakes and messages alone and
 * says so.
 *   npx tsx bench/mixed-load.ts [--quick] [--no-tools] [--no-handshakes]   (standalone)
 */
import { setMaxListeners } from 'node:events';
import { cpus } from 'node:os';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Fleet } from './fleet.js';
import { percentiles } from './lib.js';
import { type CallResult, errorCode, fetchOwnSignal, McpWrongAnswer, sumOf } from './mcp.js';
import { killAll, type Worker } from './network.js';
import { type OpenLoopResult, openLoop } from './open-loop.js';

const TOOL_SHARE = 0.1;
const HANDSHAKE_SHARE = 0.02;

export interface KindLatency {
  n: number;
  p50Ms: number;
  p99Ms: number;
}

export interface MixedStep {
  offeredPerSec: number;
  /** Operations completed without error / the step's time (until its last operation ended). */
  achievedPerSec: number;
  /** Over all operations of the step that succeeded. */
  p50Ms: number;
  p99Ms: number;
  n: number;
  errors: number;
  errorCodes: Record<string, number>;
  /** Per kind: critical, high, normal, low (messages), handshake, tool. */
  byKind: Record<string, KindLatency>;
  /** The generators' worst lateness in starting an operation, ms (it counts in the latency). */
  generatorLagMs: number;
  /**
   * CPU over the step of each process, % of one core: hub, generator, receiver, the MCP consumer and
   * provider, and this process (the MCP client); the fixture MCP server is not counted.
   */
  cpuPct: Record<string, number>;
  /** All cores of the machine busy over the step, % (any process: this machine is shared). */
  machineCpuPct: number;
  /** A second run at the rate of a step that crossed the limit (the first may be a one-off stall). */
  repeat?: true;
}

export interface MixedLoadResult {
  /** Whether the mix includes federated MCP tool calls; if not, why. */
  toolCalls: true | { skipped: string };
  /** Shares of the offered operations. */
  mix: { messages: number; handshakes: number; tools: number };
  stepMs: number;
  p99LimitMs: number;
  steps: MixedStep[];
  /** The highest offered rate under the limit, all operations per second (null: the first step crossed). */
  kneeOpsPerSec: number | null;
  /** The messages part of kneeOpsPerSec. */
  kneeMsgsPerSec: number | null;
  /** Why the run stopped: the step that crossed, or the last step without crossing. */
  stoppedAt: { offeredPerSec: number; reason: string };
}

interface Tools {
  readonly consumer: Worker;
  readonly provider: Worker;
  call(k: number): Promise<void>;
  /** The first wrong answer, if any: the run must then fail, not report a figure. */
  wrong: string | undefined;
  close(): Promise<void>;
}

/**
 * The MCP pair on the main hub (the fleet's consumer, federating with provider `mx-p`) and a client
 * at the consumer's /mcp; one tools/call per call(k).
 */
async function setUpTools(fleet: Fleet): Promise<Tools> {
  const providerDid = fleet.did('mx-p');
  const [{ worker: provider }, { worker: consumer, ready }] = await Promise.all([
    fleet.mcp('mx-p'),
    fleet.mcp('mcp-c'),
  ]);
  const mcpUrl = ready.mcpUrl;
  const { tools } = await consumer.call({ cmd: 'federate', target: providerDid }, 30_000);
  const tool = (tools as string[]).find((t) => t.endsWith('__add'));
  if (!tool) throw new Error(`the consumer lists no add tool: ${JSON.stringify(tools)}`);
  const client = new Client({ name: 'fmp-bench-mixed', version: '0.1.0' });
  // fetchOwnSignal keeps one abort listener per request in flight on the transport's one signal:
  // calls here overlap (open loop), so that signal may hold thousands at once, by design.
  const concurrentFetch: typeof fetch = (input, init) => {
    if (init?.signal) setMaxListeners(100_000, init.signal);
    return fetchOwnSignal(input, init);
  };
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl as string), { fetch: concurrentFetch }),
  );
  if (!(await client.listTools()).tools.some((t) => t.name === tool)) {
    throw new Error(`the consumer's /mcp does not list ${tool}`);
  }
  const t: Tools = {
    consumer,
    provider,
    wrong: undefined,
    async call(k) {
      // Distinct arguments per call (a fraction too), so a stale or misrouted answer cannot pass.
      const a = k + 1;
      const b = k * 7 + 0.25;
      const r: CallResult = await client.callTool({ name: tool, arguments: { a, b } });
      if (r.isError) throw Object.assign(new Error('tool error'), { code: errorCode(r) });
      if (sumOf(r) !== a + b) {
        t.wrong ??= `${tool}(${a}, ${b}) answered ${JSON.stringify(r).slice(0, 300)}`;
        throw new McpWrongAnswer(t.wrong);
      }
    },
    close: () => client.close(),
  };
  return t;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** CPU time of all cores since boot (ms): busy and total. */
function machineTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times.user + c.times.nice + c.times.sys + c.times.irq;
    busy += t;
    total += t + c.times.idle;
  }
  return { busy, total };
}

export async function benchMixedLoad(
  fleet: Fleet,
  options: {
    startRate: number;
    factor: number;
    stepMs: number;
    maxSteps: number;
    /** The unrecorded first step (default min(1000, stepMs)). */
    warmupMs?: number;
    p99LimitMs?: number;
    /** Shares of all operations (defaults 0.1 and 0.02); 0 leaves a kind out. */
    toolShare?: number;
    handshakeShare?: number;
    /** Progress lines (one per step). */
    log?: (line: string) => void;
  },
): Promise<MixedLoadResult> {
  const limit = options.p99LimitMs ?? 50;
  const setUpStarted = performance.now();
  let tools: Tools | undefined;
  let toolsReady: Promise<Tools | string> | undefined;
  try {
    const target = fleet.did('node-b');
    // The MCP bridge is the newest part: when it cannot be set up, the mix goes on without it.
    const wantedToolShare = options.toolShare ?? TOOL_SHARE;
    toolsReady =
      wantedToolShare > 0
        ? setUpTools(fleet).then(
            (t): Tools | string => t,
            (err: unknown) => String((err as Error).message).slice(0, 200),
          )
        : Promise.resolve('tool share 0');
    const [hub, gen, receiver] = await Promise.all([
      fleet.hub(),
      fleet.node('node-a', 'main'),
      fleet.node('node-b', 'main'),
    ]);
    await gen.call({ cmd: 'federate', target, count: 4 }, 30_000);
    const set = await toolsReady;
    if (typeof set !== 'string') tools = set;
    const toolCalls: MixedLoadResult['toolCalls'] = typeof set === 'string' ? { skipped: set } : true;
    const toolShare = tools ? wantedToolShare : 0;
    // One handshake per `every` operations of the generator: handshakeShare of all operations.
    const handshakeShare = options.handshakeShare ?? HANDSHAKE_SHARE;
    const every =
      handshakeShare > 0 ? Math.round((1 - toolShare) / handshakeShare) : Number.POSITIVE_INFINITY;
    const handshakesIn = (issued: number) => (Number.isFinite(every) ? Math.ceil(issued / every) : 0);

    // CPU time of every process on the path (the fixture MCP server, the provider's child, aside).
    const processes: [string, () => Promise<number>][] = [
      ['hub', async () => (await hub.stats()).cpuUs],
      ['generator', async () => (await gen.call({ cmd: 'cpu' })).cpuUs as number],
      ['receiver', async () => (await receiver.call({ cmd: 'cpu' })).cpuUs as number],
      ...(tools
        ? ([
            ['consumer', async () => (await tools!.consumer.call({ cmd: 'cpu' })).cpuUs as number],
            ['provider', async () => (await tools!.provider.call({ cmd: 'cpu' })).cpuUs as number],
          ] as [string, () => Promise<number>][])
        : []),
    ];
    const cpu = async (): Promise<Record<string, number>> => ({
      ...Object.fromEntries(await Promise.all(processes.map(async ([k, f]) => [k, await f()]))),
      // This process: the MCP client of the tool calls, and the orchestration.
      bench: ((u) => u.user + u.system)(process.cpuUsage()),
    });

    let toolK = 0;
    const step = async (rate: number, durationMs: number) => {
      const [g, t] = await Promise.all([
        gen.call(
          {
            cmd: 'step',
            target,
            ratePerSec: rate * (1 - toolShare),
            durationMs,
            // JSON has no Infinity: a period longer than any step.
            handshakeEvery: Number.isFinite(every) ? every : Number.MAX_SAFE_INTEGER,
            bytes: 1024,
          },
          durationMs + 120_000,
        ) as unknown as Promise<OpenLoopResult>,
        tools
          ? openLoop({
              ratePerSec: rate * toolShare,
              durationMs,
              kindOf: () => 'tool',
              run: () => tools!.call(toolK++),
            })
          : undefined,
      ]);
      if (tools?.wrong) throw new McpWrongAnswer(tools.wrong);
      return { g, t };
    };

    options.log?.(
      `  set up in ${((performance.now() - setUpStarted) / 1000).toFixed(1)} s (${
        tools ? 'hub, generator, receiver, MCP consumer and provider' : 'without tool calls'
      })`,
    );
    // Warm-up (JIT, caches, connections), not recorded.
    const warm = await step(options.startRate / 2, options.warmupMs ?? Math.min(1000, options.stepMs));
    if (warm.g.succeeded === 0) throw new Error(`the warm-up step failed: ${JSON.stringify(warm.g.errors)}`);

    const measure = async (rate: number, repeat: boolean): Promise<{ result: MixedStep; msgs: number }> => {
      const before = await cpu();
      const machine0 = machineTimes();
      const started = performance.now();
      const { g, t } = await step(rate, options.stepMs);
      const wallMs = performance.now() - started;
      const machine1 = machineTimes();
      const after = await cpu();
      const byKind: Record<string, KindLatency> = {};
      const all: number[] = [];
      for (const r of [g, t]) {
        for (const [kind, samples] of Object.entries(r?.samplesMs ?? {})) {
          const p = percentiles(samples);
          byKind[kind] = { n: p.n, p50Ms: p.p50Ms, p99Ms: p.p99Ms };
          for (const x of samples) all.push(x);
        }
      }
      const p = percentiles(all);
      const seconds = options.stepMs / 1000;
      const result: MixedStep = {
        offeredPerSec: Math.round((g.issued + (t?.issued ?? 0)) / seconds),
        achievedPerSec: Math.round(
          ((g.succeeded + (t?.succeeded ?? 0)) / Math.max(g.elapsedMs, t?.elapsedMs ?? 0)) * 1000,
        ),
        p50Ms: p.p50Ms,
        p99Ms: p.p99Ms,
        n: p.n,
        errors: g.failed + (t?.failed ?? 0),
        errorCodes: { ...g.errors, ...(t?.errors ?? {}) },
        byKind,
        generatorLagMs: Math.max(g.maxStartLagMs, t?.maxStartLagMs ?? 0),
        cpuPct: Object.fromEntries(
          Object.entries(before).map(([k, v]) => [
            k,
            Math.round((((after[k] ?? v) - v) / 1000 / wallMs) * 100),
          ]),
        ),
        machineCpuPct: Math.round(
          ((machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total)) * 100,
        ),
        ...(repeat ? { repeat: true } : {}),
      };
      return { result, msgs: Math.round((g.issued - handshakesIn(g.issued)) / seconds) };
    };
    const crossed = (s: MixedStep) =>
      s.errors > 0
        ? `${s.errors} operations failed (${Object.entries(s.errorCodes)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`
        : s.n === 0 || s.p99Ms > limit
          ? `p99 ${s.p99Ms.toFixed(1)} ms > ${limit} ms`
          : undefined;

    const steps: MixedStep[] = [];
    let knee: { ops: number; msgs: number } | null = null;
    let stoppedAt: MixedLoadResult['stoppedAt'] | undefined;
    let rate = options.startRate;
    for (let i = 0; i < options.maxSteps && !stoppedAt; i++, rate *= options.factor) {
      // A step that crosses runs once more at the same rate: one stall of this shared machine (another
      // process on both cores for 50 ms) is not the knee; crossing twice in a row is.
      for (const repeat of [false, true]) {
        const { result: step, msgs } = await measure(rate, repeat);
        steps.push(step);
        const reason = crossed(step);
        options.log?.(
          `  offered ${step.offeredPerSec}/s${repeat ? ' (again)' : ''}: achieved ${step.achievedPerSec}/s, ` +
            `p50 ${step.p50Ms} ms, p99 ${step.p99Ms} ms, ${step.errors} errors, machine CPU ${step.machineCpuPct}% ` +
            `(${Object.entries(step.cpuPct)
              .map(([k, v]) => `${k} ${v}%`)
              .join(', ')})` +
            (reason ? ` -> ${reason}` : ''),
        );
        if (!reason) {
          knee = { ops: step.offeredPerSec, msgs };
          break;
        }
        if (repeat) stoppedAt = { offeredPerSec: step.offeredPerSec, reason };
      }
    }
    const last = steps.at(-1)!;
    const workerShare = 1 - toolShare;
    return {
      toolCalls,
      mix: {
        messages: round2(workerShare - (Number.isFinite(every) ? workerShare / every : 0)),
        handshakes: round2(Number.isFinite(every) ? workerShare / every : 0),
        tools: toolShare,
      },
      stepMs: options.stepMs,
      p99LimitMs: limit,
      steps,
      kneeOpsPerSec: knee?.ops ?? null,
      kneeMsgsPerSec: knee?.msgs ?? null,
      stoppedAt: stoppedAt ?? {
        offeredPerSec: last.offeredPerSec,
        reason: `the limit was not crossed in ${options.maxSteps} steps`,
      },
    };
  } finally {
    // Also when the run failed while the MCP pair was still being set up.
    const set = await toolsReady;
    if (set !== undefined && typeof set !== 'string') await set.close().catch(() => undefined);
  }
}

// Standalone: `npx tsx bench/mixed-load.ts [--quick]`.
if (process.argv[1]?.endsWith('mixed-load.ts')) {
  const quick = process.argv.includes('--quick');
  const fleet = await Fleet.create();
  try {
    const result = await benchMixedLoad(fleet, {
      startRate: quick ? 200 : 100,
      factor: 1.5,
      stepMs: quick ? 1500 : 4000,
      maxSteps: quick ? 8 : 14,
      ...(process.argv.includes('--no-tools') ? { toolShare: 0 } : {}),
      ...(process.argv.includes('--no-handshakes') ? { handshakeShare: 0 } : {}),
      log: (l) => process.stderr.write(`${l}\n`),
    });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await fleet.close();
    killAll();
  }
}
