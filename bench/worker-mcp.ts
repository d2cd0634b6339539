/**
 * A mesh node with the MCP bridge in its own process, for the federated tools/call benchmark:
 *   node --import tsx bench/worker-mcp.ts <world.json> <member> <hubUrl> provider <consumerMember>
 *     fronts the fixture MCP server (test/fixtures/mcp-server.ts, spawned over stdio by the bridge)
 *     and grants `add` and `echo` to the consumer; prints {"ready":true,"upstreamTools"}.
 *   node --import tsx bench/worker-mcp.ts <world.json> <member> <hubUrl> consumer
 *     serves its partners' tools at /mcp on 127.0.0.1, port 0; prints {"ready":true,"mcpUrl"}; with
 *     FMP_BENCH_FD3=1, over stdio's framing on fd 3 too (a socket pair the parent holds the other end
 *     of), as `fmp node mcp` serves them on its stdin and stdout.
 * Commands:
 *   {"cmd":"federate","target"}  (consumer) federates with the provider and waits until the bridge
 *                                lists its tools: {tools: [exposed names]}
 *   {"cmd":"cpu"}                -> {cpuUs, systemUs} (this process's CPU time so far, kernel share)
 * With `-` for <hubUrl>, the hub's URL comes as the first stdin line, {"hubUrl"}.
 * A consumer may federate with several providers (the federated call's across two hubs, the mixed
 * load's on one); each `federate` answers that provider's tools.
 */
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  createMeshNode,
  McpBridge,
  McpHttpEndpoint,
  type McpIncoming,
  serveFederatedToolsStdio,
  writeMcpResponse,
} from '@fmp/node';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { argOrConfig, benchLogger, memberNodeOptions, print, type SavedWorld, serve } from './worker-io.js';

const MCP_FIXTURE = fileURLToPath(new URL('../test/fixtures/mcp-server.ts', import.meta.url));

const [file, name, hubArg, mode, consumerName] = process.argv.slice(2);
if (mode !== 'provider' && mode !== 'consumer') throw new Error(`mode must be provider or consumer: ${mode}`);
const world = JSON.parse(readFileSync(file!, 'utf8')) as SavedWorld;
const me = world.members[name!]!;
const logger = benchLogger();
const hubUrl = await argOrConfig(hubArg, 'hubUrl');

const node = createMeshNode({ ...memberNodeOptions(world, me, hubUrl), logger });

const consumer = mode === 'provider' ? world.members[consumerName ?? '']?.did : undefined;
if (mode === 'provider' && !consumer) throw new Error(`unknown consumer member ${consumerName}`);

const bridge = new McpBridge({
  node,
  credential: me.credential as never,
  logger,
  ...(mode === 'provider'
    ? {
        servers: [
          {
            name: 'fixture',
            command: process.execPath,
            // The bench's bundle of the fixture when it made one (bench/bundle.ts), else the source.
            args: process.env.FMP_BENCH_MCP_FIXTURE
              ? [process.env.FMP_BENCH_MCP_FIXTURE]
              : ['--import', 'tsx', MCP_FIXTURE],
            defaultCapability: 'ml.inference',
          },
        ],
        access: [{ partners: [consumer!], tools: ['add', 'echo'] }],
        // The per-partner quota (default 20 calls/s) is an operator's policy, not a cost: raised out
        // of the way of sequential calls, as the throughput runs raise the hub's per-federation quota.
        partnerRate: { ratePerSec: 1_000_000, burst: 1_000_000 },
      }
    : { callTimeoutMs: 10_000 }),
});

await node.start();
await bridge.start();

let endpoint: McpHttpEndpoint | undefined;
let http: ReturnType<typeof createServer> | undefined;
let mcpUrl: string | undefined;
if (mode === 'consumer') {
  const ep = new McpHttpEndpoint({ bridge, meshDid: me.did, logger });
  endpoint = ep;
  http = createServer(
    // As the node process serves it (packages/cli/src/node-process.ts): a POST body read from Node's
    // request, then handed to the endpoint.
    getRequestListener(
      async (req, env) => {
        if (new URL(req.url).pathname !== '/mcp') return new Response('not found', { status: 404 });
        const { incoming, outgoing } = env as { incoming: McpIncoming; outgoing: ServerResponse };
        await writeMcpResponse(await ep.fetchFromNode(req, incoming), outgoing);
        return RESPONSE_ALREADY_SENT;
      },
      { overrideGlobalObjects: false },
    ),
  );
  const server = http;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  mcpUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

// As `fmp node mcp` serves them (packages/cli/src/mcp-stdio.ts), on fd 3 instead of stdin and stdout
// (those carry this worker's commands).
let stdio: { close(): Promise<void> } | undefined;
if (mode === 'consumer' && process.env.FMP_BENCH_FD3 === '1') {
  const socket = new Socket({ fd: 3, readable: true, writable: true });
  stdio = serveFederatedToolsStdio({ bridge, meshDid: me.did, streams: { input: socket, output: socket } });
}

async function federate(target: string): Promise<string[]> {
  await node.federate(target, { capabilities: ['ml.inference'], purpose: 'bench mcp', ttlSeconds: 3600 });
  // The provider's catalog arrives as its own message after the handshake.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const tools = bridge
      .remoteTools()
      .filter((t) => t.partner === target)
      .map((t) => t.name);
    if (tools.some((t) => t.endsWith('__add')) && tools.some((t) => t.endsWith('__echo'))) return tools;
    if (Date.now() > deadline) throw new Error(`no catalog with add and echo from ${target} within 20 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

serve(
  async (cmd) => {
    switch (cmd.cmd) {
      case 'federate':
        if (mode !== 'consumer') throw new Error('only the consumer federates');
        return { tools: await federate(String(cmd.target)) };
      case 'cpu': {
        const used = process.cpuUsage();
        return { cpuUs: used.user + used.system, systemUs: used.system };
      }
      default:
        throw new Error(`unknown command ${String(cmd.cmd)}`);
    }
  },
  async () => {
    await endpoint?.close();
    await stdio?.close();
    http?.closeAllConnections();
    await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
    await bridge.stop();
    await node.stop();
  },
);
// The provider says which upstream tools it has, so a server that failed to start is named at once.
print({
  ready: true,
  upstreamTools: bridge.upstream.tools().map((t) => t.name),
  ...(mcpUrl ? { mcpUrl } : {}),
});
