import { AuditLog } from '@fmp/compliance';
import type { Command } from 'commander';
import { loadConfig, NodeConfigSchema } from '../config.js';
import { UsageError } from '../errors.js';
import type { CommandContext } from '../main.js';
import { openAuditStore } from '../node-compliance.js';
import { control } from './node.js';

const CONFIG_HELP = "the node's config file (default ./node.yaml)";

async function withLog<T>(configFile: string, run: (log: AuditLog) => Promise<T>): Promise<T> {
  const config = loadConfig(configFile, NodeConfigSchema);
  const store = await openAuditStore(config);
  try {
    const log = await AuditLog.open(store.audit);
    try {
      return await run(log);
    } finally {
      await log.close();
    }
  } finally {
    await store.close();
  }
}

interface FilterOpts {
  config: string;
  federation?: string;
  mesh?: string;
  kind?: string;
  since?: string;
  until?: string;
  limit?: string;
}

function queryOf(opts: FilterOpts) {
  const num = (v: string | undefined, what: string) => {
    if (v === undefined) return undefined;
    const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    if (!Number.isFinite(n)) throw new UsageError(`${what}: a time in ms or an ISO date`);
    return n;
  };
  const since = num(opts.since, '--since');
  const until = num(opts.until, '--until');
  return {
    ...(opts.federation ? { federationId: opts.federation } : {}),
    ...(opts.mesh ? { mesh: opts.mesh } : {}),
    ...(opts.kind ? { kind: opts.kind } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    limit: Number(opts.limit ?? 100),
  };
}

export function registerAuditCommands(program: Command, ctx: CommandContext): void {
  const audit = program.command('audit').description("a node's hash-chained audit trail");
  audit
    .command('verify')
    .description('checks the whole chain: any changed, reordered or deleted entry is reported (exit 1)')
    .option('--config <file>', CONFIG_HELP, 'node.yaml')
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const result = await withLog(opts.config, (log) => log.verify());
      ctx.io.out(
        opts.json
          ? JSON.stringify(result)
          : result.ok
            ? `audit trail intact: ${result.checked} entries`
            : `audit trail BROKEN at entry ${result.firstBadSeq ?? '?'}: ${result.problem ?? 'unknown problem'} (${result.checked} checked)`,
      );
      ctx.exitCode = result.ok ? 0 : 1;
    });
  const filters = (c: Command) =>
    c
      .option('--config <file>', CONFIG_HELP, 'node.yaml')
      .option('--federation <id>')
      .option('--mesh <did>', 'entries where this mesh acted or was acted on')
      .option('--kind <kind>')
      .option('--since <time>', 'ms since the epoch or an ISO date')
      .option('--until <time>')
      .option('--limit <n>', 'most entries', '100');
  filters(audit.command('query').description('entries by federation, mesh, kind and time'))
    .option('--json', 'print JSON')
    .action(async (opts: FilterOpts & { json?: boolean }) => {
      const entries = await withLog(opts.config, (log) => log.query(queryOf(opts)));
      ctx.io.out(
        opts.json
          ? JSON.stringify({ entries })
          : entries
              .map(
                (e) =>
                  `${e.seq} ${new Date(e.at).toISOString()} ${e.kind} ${e.decision ?? ''} ${e.actor} -> ${e.subject ?? ''} ${e.reasons?.join('; ') ?? ''}`,
              )
              .join('\n') || 'no entries',
      );
    });
  filters(audit.command('export').description('the audit trail as JSON Lines on stdout')).action(
    async (opts: FilterOpts) => {
      const q = queryOf(opts);
      const { limit: _l, ...filter } = q;
      await withLog(opts.config, (log) => log.exportJsonl((line) => ctx.io.out(line), filter));
    },
  );

  program
    .command('explain <actionId>')
    .description('spec 7.3: why an action (a tool call, a message) was taken or refused')
    .option('--config <file>', CONFIG_HELP, 'node.yaml')
    .option('--json', 'print JSON')
    .action(async (actionId: string, opts: { config: string; json?: boolean }) => {
      const res = await control(opts.config, 'GET', `/v1/explanations/${encodeURIComponent(actionId)}`);
      if (opts.json) {
        ctx.io.out(JSON.stringify(res));
        return;
      }
      const lines: string[] = [`action ${actionId}`];
      for (const e of (res.explanations as {
        side: string;
        tool: string;
        outcome: string;
        explanation: { reasoning: string };
      }[]) ?? []) {
        lines.push(`  ${e.side}: ${e.tool} ${e.outcome}: ${e.explanation.reasoning}`);
      }
      for (const a of (res.audit as {
        seq: number;
        kind: string;
        decision?: string;
        reasons?: string[];
        policyIds?: string[];
      }[]) ?? []) {
        lines.push(
          `  audit #${a.seq} ${a.kind} ${a.decision ?? ''}${a.reasons?.length ? `: ${a.reasons.join('; ')}` : ''}${a.policyIds?.length ? ` [${a.policyIds.join(', ')}]` : ''}`,
        );
      }
      ctx.io.out(lines.join('\n'));
    });

  program
    .command('erase <dataSubject>')
    .description("erasure request: shreds the data subject's stored payload copies (crypto-shredding)")
    .option('--config <file>', CONFIG_HELP, 'node.yaml')
    .option('--json', 'print JSON')
    .action(async (dataSubject: string, opts: { config: string; json?: boolean }) => {
      const res = await control(opts.config, 'POST', '/v1/erasure', { dataSubject });
      ctx.io.out(
        opts.json ? JSON.stringify(res) : `erased ${String(res.erased)} payload copies of ${dataSubject}`,
      );
    });
}
