/**
 * `fmp trust show <did>` and `fmp trust graph`: a hub's trust engine, read over its HTTP API. The
 * hub is `--hub <url>`, or the home hub of the node whose config is given.
 */
import { existsSync } from 'node:fs';
import { FmpError } from '@fmp/core';
import type { Command } from 'commander';
import { z } from 'zod';
import { httpBase, hubHttpBase, loadConfig, NodeConfigSchema } from '../config.js';
import { UsageError } from '../errors.js';
import type { CommandContext } from '../main.js';

export class TrustQueryError extends FmpError {
  constructor(message: string) {
    super('trust_query_failed', message);
  }
}

const factorSchema = z.object({
  factor: z.string(),
  value: z.number(),
  weight: z.number(),
  contribution: z.number(),
  howToRaise: z.string().optional(),
});
const explanationSchema = z.looseObject({
  did: z.string(),
  score: z.number(),
  level: z.string(),
  factors: z.array(factorSchema).optional(),
  toRaise: z.array(z.string()).optional(),
  scoredBy: z.string().optional(),
  violations: z.object({ count: z.number() }).optional(),
});

function hubHttpUrl(opts: { hub?: string; config?: string }): string {
  if (opts.hub) return httpBase(opts.hub);
  const file = opts.config ?? 'node.yaml';
  if (!existsSync(file))
    throw new UsageError('name the hub with --hub <url> or a node config with --config <file>');
  const config = loadConfig(file, NodeConfigSchema);
  return hubHttpBase(config);
}

async function get(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (cause) {
    throw new TrustQueryError(`cannot reach ${url}: ${(cause as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  if (!res.ok)
    throw new TrustQueryError(`${res.status} ${body.error?.code ?? ''}: ${body.error?.message ?? url}`);
  return body;
}

export function registerTrustCommands(program: Command, ctx: CommandContext): void {
  const trust = program
    .command('trust')
    .description("a hub's trust engine: scores, explanations, the trust graph");
  trust
    .command('show <did>')
    .description("a mesh's trust score explained: factors, violations, attestations, what would raise it")
    .option('--hub <url>', "the hub's URL (http or ws)")
    .option('--config <file>', 'or the config of a node whose home hub to ask')
    .option('--json', 'print JSON')
    .action(async (did: string, opts: { hub?: string; config?: string; json?: boolean }) => {
      const body = await get(`${hubHttpUrl(opts)}/v1/trust/${encodeURIComponent(did)}`);
      if (opts.json) {
        ctx.io.out(JSON.stringify(body));
        return;
      }
      const x = explanationSchema.parse(body);
      const lines = [
        `${x.did}: ${x.score} (${x.level})${x.scoredBy ? `, as announced by ${x.scoredBy}` : ''}`,
      ];
      for (const f of x.factors ?? []) {
        lines.push(
          `  ${f.factor.padEnd(13)} ${String(f.value).padStart(6)} x ${f.weight.toFixed(2)} = ${f.contribution.toFixed(2)}`,
        );
      }
      if (x.violations) lines.push(`  violations ever: ${x.violations.count}`);
      for (const r of x.toRaise ?? []) lines.push(`  to raise: ${r}`);
      ctx.io.out(lines.join('\n'));
    });
  trust
    .command('graph')
    .description('the trust graph of spec 5.2 (edges: weight, interactions, violations, stake)')
    .option('--hub <url>', "the hub's URL (http or ws)")
    .option('--config <file>', 'or the config of a node whose home hub to ask')
    .option('--did <did>', 'only edges from or to this mesh')
    .option('--limit <n>', 'most edges', '100')
    .option('--json', 'print JSON')
    .action(async (opts: { hub?: string; config?: string; did?: string; limit: string; json?: boolean }) => {
      const q = new URLSearchParams({ limit: opts.limit });
      if (opts.did) q.set('did', opts.did);
      const body = (await get(`${hubHttpUrl(opts)}/v1/trust/graph?${q}`)) as {
        edges: { from: string; to: string; weight: number; interactions: number; violations: number }[];
      };
      if (opts.json) {
        ctx.io.out(JSON.stringify(body));
        return;
      }
      ctx.io.out(
        body.edges
          .map(
            (e) =>
              `${e.from} -> ${e.to}  weight ${e.weight}  interactions ${e.interactions}  violations ${e.violations}`,
          )
          .join('\n') || 'no edges',
      );
    });
}
