/**
 * A mesh node with the MCP bridge in its own process, for the federated tools/call benchmark, set
 * up as `fmp node start` runs one (packages/cli/src/node-process.ts, from a config, key file,
 * credential and identity log written to a temporary directory): compliance on (adapters on every
 * message, the audit trail in SQLite), explanation records to their file and the audit trail, the
 * compute meter, and /mcp served by the node's own HTTP server.
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
 * The node logs errors only, to stdout as JSON lines: the parent counts those (bench/network.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonlMeshStore } from '@fmp/identity';
import { serveFederatedToolsStdio } from '@fmp/node';
import { IDENTITY_LOG } from '../packages/cli/src/commands/init.js';
import { NodeConfigSchema } from '../packages/cli/src/config.js';
import { writeKeyFile } from '../packages/cli/src/keyfile.js';
import { startNodeProcess } from '../packages/cli/src/node-process.js';
import { argOrConfig, keysOf, print, type SavedWorld, serve } from './worker-io.js';

const MCP_FIXTURE = fileURLToPath(new URL('../test/fixtures/mcp-server.ts', import.meta.url));

const [file, name, hubArg, mode, consumerName] = process.argv.slice(2);
if (mode !== 'provider' && mode !== 'consumer') throw new Error(`mode must be provider or consumer: ${mode}`);
const world = JSON.parse(readFileSync(file!, 'utf8')) as SavedWorld;
const me = world.members[name!]!;
const hubUrl = await argOrConfig(hubArg, 'hubUrl');

const consumer = mode === 'provider' ? world.members[consumerName ?? '']?.did : undefined;
if (mode === 'provider' && !consumer) throw new Error(`unknown consumer member ${consumerName}`);

// What `fmp init node` and an operator would have written.
const dir = mkdtempSync(join(tmpdir(), `fmp-bench-${name}-`));
writeKeyFile(join(dir, 'node.key'), {
  did: me.did,
  verificationMethod: `${me.did}#key-1`,
  keyPair: keysOf(me),
});
writeFileSync(join(dir, 'credential.json'), JSON.stringify(me.credential));
const log = jsonlMeshStore({ path: join(dir, IDENTITY_LOG) });
await log.load();
await log.append(me.op as never);
await log.close();
const config = {
  ...NodeConfigSchema.parse({
    did: me.did,
    keyFile: 'node.key',
    credentialFile: 'credential.json',
    hubUrl,
    region: 'eu',
    trustedIssuers: [world.issuer.did],
    capabilities: ['ml.inference'],
    listen: { host: '127.0.0.1', port: 0 },
    logLevel: 'error',
    // FMP_BENCH_AUDIT_SYNC=normal: the audit trail durable against a crash of the node, not a power
    // loss (compliance.auditSync, docs/compliance.md); the default is the deployed default, full.
    compliance: { auditSync: process.env.FMP_BENCH_AUDIT_SYNC === 'normal' ? 'normal' : 'full' },
    mcp:
      mode === 'provider'
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
            // The per-partner quota (default 20 calls/s) is an operator's policy, not a cost: raised
            // out of the way of sequential calls, as the throughput runs raise the hub's quota.
            partnerRate: { ratePerSec: 1_000_000, burst: 1_000_000 },
          }
        : { callTimeoutMs: 10_000 },
  }),
  configDir: dir,
};
const running = await startNodeProcess(config);
const { node, bridge } = running;

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
    await stdio?.close();
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  },
);
// The provider says which upstream tools it has, so a server that failed to start is named at once.
print({
  ready: true,
  upstreamTools: bridge.upstream.tools().map((t) => t.name),
  ...(running.mcpUrl ? { mcpUrl: running.mcpUrl } : {}),
});
