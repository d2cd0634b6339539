/** `fmp hub start`: runs a federation hub until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { HubConfigSchema, loadConfig } from '../config.js';
import { startHubProcess } from '../hub-process.js';
import type { CommandContext } from '../main.js';
import { waitForShutdown } from '../shutdown.js';

export function registerHubCommands(program: Command, ctx: CommandContext): void {
  const hub = program.command('hub').description('run a federation gateway hub');
  hub
    .command('start')
    .description(
      'serve HTTP and WebSocket on one port (and gRPC links with listen.grpcPort) until SIGINT/SIGTERM',
    )
    .option('--config <file>', "the hub's config file", 'hub.yaml')
    .option('--json', 'print one JSON line when ready')
    .action(async (opts: { config: string; json?: boolean }) => {
      const config = loadConfig(opts.config, HubConfigSchema);
      const running = await startHubProcess(config);
      const grpcUrl = running.hub.grpcUrl;
      const ready = {
        did: config.did,
        region: config.region,
        url: running.url,
        httpUrl: running.httpUrl,
        ...(grpcUrl ? { grpcUrl } : {}),
      };
      ctx.io.out(
        opts.json
          ? JSON.stringify({ ready })
          : `hub ${config.did} (${config.region}) ready at ${running.httpUrl}${grpcUrl ? `; gRPC links at ${grpcUrl}` : ''}`,
      );
      await waitForShutdown(() => running.stop());
    });
}
