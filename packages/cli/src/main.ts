/**
 * The `fmp` command. Every sub-command returns an exit code instead of calling process.exit, so
 * tests can run it in-process and output is flushed before the process ends.
 */
import { Command, CommanderError } from 'commander';
import { registerAuditCommands } from './commands/audit.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDidCommands } from './commands/did.js';
import { registerHubCommands } from './commands/hub.js';
import { registerInitCommand } from './commands/init.js';
import { registerLedgerCommands } from './commands/ledger.js';
import { registerNodeCommands } from './commands/node.js';
import { registerTrustCommands } from './commands/trust.js';
import { registerVcCommands } from './commands/vc.js';
import { UsageError } from './errors.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

/** Commands set this to the exit status they want; 0 unless they say otherwise. */
export interface CommandContext {
  io: Io;
  exitCode: number;
}

export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('fmp')
    .description('Federated Mesh Protocol: identities, credentials, federation')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });
  registerInitCommand(program, ctx);
  registerDidCommands(program, ctx);
  registerVcCommands(program, ctx);
  registerHubCommands(program, ctx);
  registerNodeCommands(program, ctx);
  registerTrustCommands(program, ctx);
  registerAuditCommands(program, ctx);
  registerLedgerCommands(program, ctx);
  registerDemoCommand(program, ctx);
  registerBenchCommand(program, ctx);
  return program;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const ctx: CommandContext = { io, exitCode: 0 };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError) {
      io.err(`fmp: ${err.message}`);
      return 2;
    }
    const e = err as Error & { code?: string };
    io.err(`fmp: ${e.code ? `[${e.code}] ` : ''}${e.message}`);
    return 1;
  }
}
