/** `fmp demo` (what `npm start` runs). */
import type { Command } from 'commander';
import { runDemo } from '../demo.js';
import type { CommandContext } from '../main.js';

export function registerDemoCommand(program: Command, ctx: CommandContext): void {
  program
    .command('demo')
    .description('run the in-memory federation demo: identities, credentials, a handshake, sealed messages')
    .option(
      '--data-dir <dir>',
      'keep the demo files here (default: a temporary directory, removed afterwards)',
    )
    .option('--json', 'print the result as JSON')
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      if (!opts.json) ctx.io.out('fmp demo: one authority, one hub, two organizations\n');
      const result = await runDemo({
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
        ...(opts.json ? {} : { log: (line) => ctx.io.out(line) }),
      });
      if (opts.json) ctx.io.out(JSON.stringify(result, null, 2));
      else
        ctx.io.out(
          `\nall ${result.steps.length} steps checked out. The networked hub and nodes are not implemented yet (issue #3).`,
        );
      ctx.exitCode = result.ok ? 0 : 1;
    });
}
