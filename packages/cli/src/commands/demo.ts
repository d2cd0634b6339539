/** `fmp demo` (what `npm start` runs): the networked demo; `--in-memory` runs the single-process one. */
import type { Command } from 'commander';
import { runDemo } from '../demo.js';
import { type NetworkDemoResult, startNetworkDemo } from '../demo-network.js';
import type { CommandContext } from '../main.js';
import { waitForShutdown } from '../shutdown.js';

function summary(r: NetworkDemoResult): string {
  const short = (did: string) => did.replace(/^did:mesh:/, '');
  const lines = [
    '',
    'hubs',
    ...r.hubs.map(
      (h) => `  ${h.did.padEnd(28)} ${h.region.padEnd(5)} ${h.url}${h.grpcUrl ? `  gRPC ${h.grpcUrl}` : ''}`,
    ),
    'meshes',
    ...r.meshes.map(
      (m) =>
        `  ${m.category.padEnd(4)} ${m.did.padEnd(36)} home ${short(m.hub).padEnd(16)} trust ${String(m.trustScore).padStart(6)} ${m.trustLevel.padEnd(10)} MCP ${m.mcpUrl}${m.link === 'grpc' ? '  (linked over gRPC)' : ''}`,
    ),
    `discovery from ${short(r.discovery.from)}: ${r.discovery.seen} meshes`,
    'federations',
    ...r.federations.map(
      (f) =>
        `  ${short(f.source).padEnd(28)} -> ${short(f.target).padEnd(28)} ${f.status.padEnd(9)} ${String(f.handshakeMs).padStart(8)} ms  via ${f.path.map(short).join(' > ') || '-'}`,
    ),
    'refused',
    ...r.refused.map((x) => `  ${short(x.source).padEnd(28)} -> ${short(x.target).padEnd(28)} ${x.reason}`),
    `messages: ${r.messages.delivered}/${r.messages.sent} delivered, ${r.messages.failed} failed, latency p50 ${r.messages.p50Ms} ms, p95 ${r.messages.p95Ms} ms`,
    "MCP tool calls (an MCP client at the caller's /mcp; tools of federated partners)",
    ...r.toolCalls.map(
      (c) =>
        `  ${short(c.caller).padEnd(28)} ${c.tool.padEnd(34)} ${(c.ok ? 'ok' : (c.error ?? 'error')).padEnd(14)} ${String(c.ms).padStart(8)} ms  ${c.summary.slice(0, 70)}`,
    ),
    `compliance (spec 7): ${r.compliance.allowed} allowed, ${r.compliance.refused.length} refused; ${r.compliance.auditEntries ?? 0} audit entries verified`,
    ...r.compliance.allowedWith.map((a) => `  allowed  ${short(a.source)} -> ${short(a.target)}: ${a.label}`),
    ...r.compliance.refused.map(
      (x) => `  refused  ${short(x.source)} -> ${short(x.target)} (${x.adapter}): ${x.reason}`,
    ),
    'attestations (spec 5.2)',
    ...r.attestations.map(
      (a) => `  ${short(a.attester).padEnd(28)} -> ${short(a.subject).padEnd(28)} ${a.score}  ${a.claim}`,
    ),
    `ledger (spec 4.1, 8, 9): ${r.ledger.size} entries at ${short(r.ledger.hub)}, state root ${r.ledger.stateRoot.slice(0, 16)}..., replayed from a mirror: ${r.ledger.verified ? 'match' : 'MISMATCH'}, ${r.ledger.witnesses} witness cosignature(s)`,
    ...r.governance.proposals.map(
      (p) =>
        `  proposal ${p.id}: ${p.status}; for ${p.for}, against ${p.against} MESH; quorum ${p.quorumReached ? 'reached' : 'not reached'}`,
    ),
    `  applied: ${r.governance.applied.map((a) => `${short(a.hub)} maxHops=${a.maxHops}`).join(', ')}`,
    `  treasury ${r.token.treasury} MESH; ${r.token.balances.map((b) => `${short(b.did)} ${b.balance}`).join(', ')}`,
    `done in ${(r.durationMs / 1000).toFixed(1)} s`,
  ];
  return lines.join('\n');
}

export function registerDemoCommand(program: Command, ctx: CommandContext): void {
  program
    .command('demo')
    .description('run a whole mesh on loopback: 3 hubs, 5 organizations, handshakes and messages')
    .option('--json', 'print the summary as one JSON line')
    .option('--keep', 'leave everything running after the summary until SIGINT/SIGTERM')
    .option(
      '--data-dir <dir>',
      'keep the demo files here (default: a temporary directory, removed afterwards)',
    )
    .option('--messages <n>', 'messages per direction per federation', '10')
    .option(
      '--in-memory',
      'run the single-process demo instead (identities, credentials, handshake, sealed messages)',
    )
    .action(
      async (opts: {
        json?: boolean;
        keep?: boolean;
        dataDir?: string;
        messages: string;
        inMemory?: boolean;
      }) => {
        if (opts.inMemory) {
          const result = await runDemo({
            ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
            ...(opts.json ? {} : { log: (line) => ctx.io.out(line) }),
          });
          if (opts.json) ctx.io.out(JSON.stringify(result));
          ctx.exitCode = result.ok ? 0 : 1;
          return;
        }
        const running = await startNetworkDemo({
          ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
          messagesPerDirection: Number(opts.messages),
          ...(opts.json ? {} : { log: (line) => ctx.io.out(line) }),
        });
        const { result } = running;
        ctx.io.out(opts.json ? JSON.stringify(result) : summary(result));
        ctx.exitCode = result.ok ? 0 : 1;
        if (opts.keep) {
          if (!opts.json) ctx.io.out('running; Ctrl-C stops every process');
          await waitForShutdown(() => running.stop());
        } else {
          await running.stop();
        }
      },
    );
}
