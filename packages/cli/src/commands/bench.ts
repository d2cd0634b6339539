/** `fmp bench`: runs the repository's benchmark suite (bench/run.ts) in a child process. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { CommandContext } from '../main.js';

export function registerBenchCommand(program: Command, ctx: CommandContext): void {
  program
    .command('bench')
    .description('run the benchmarks; writes docs/benchmarks.md and bench/results/latest.json')
    .option('--quick', 'smaller counts and shorter runs, under a minute (every figure still measured)')
    .option('--json', 'print the results as JSON')
    .action(async (opts: { quick?: boolean; json?: boolean }) => {
      const script = fileURLToPath(new URL('../../../../bench/run.ts', import.meta.url));
      if (!existsSync(script)) throw new UsageError('fmp bench runs from a checkout of the fmp repository');
      const args = [
        '--import',
        'tsx',
        script,
        ...(opts.quick ? ['--quick'] : []),
        ...(opts.json ? ['--json'] : []),
      ];
      ctx.exitCode = await new Promise<number>((resolve, reject) => {
        // From the repository root, so `--import tsx` resolves the repository's own tsx.
        const child = spawn(process.execPath, args, {
          stdio: 'inherit',
          cwd: fileURLToPath(new URL('../../../../', import.meta.url)),
        });
        child.on('error', reject);
        child.on('exit', (code) => resolve(code ?? 1));
      });
    });
}
