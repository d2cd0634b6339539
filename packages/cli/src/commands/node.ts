/**
 * `fmp node start` runs a mesh node; `fmp discover|federate|send|federations|terminate` drive a
 * running node through its loopback control API (address and token from the node's config).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig, type NodeConfig, NodeConfigSchema } from '../config.js';
import { controlRequest } from '../control-client.js';
import { UsageError } from '../errors.js';
import type { CommandContext } from '../main.js';
import { relayStdioTo, serveEmbedded } from '../mcp-stdio.js';
import { controlTokenPath, readRuntime, startNodeProcess } from '../node-process.js';
import { collect } from '../options.js';
import { waitForShutdown } from '../shutdown.js';

const CONFIG_HELP = "the node's config file (default ./node.yaml)";

/** A request to the running node of `configFile` (address from node.runtime.json, token from its file). */
export async function control(
  configFile: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const config = loadConfig(configFile, NodeConfigSchema) as NodeConfig & { configDir: string };
  let token: string;
  try {
    token = readFileSync(controlTokenPath(config), 'utf8').trim();
  } catch (cause) {
    throw new UsageError('no control token: is the node running (fmp node start)?', { cause });
  }
  const base = readRuntime(config)?.controlUrl ?? `http://${config.listen.host}:${config.listen.port}`;
  return controlRequest(base, token, method, path, body);
}

export function registerNodeCommands(program: Command, ctx: CommandContext): void {
  const node = program.command('node').description('run a mesh node');
  node
    .command('start')
    .description('connect to the home hub and serve the local control API until SIGINT/SIGTERM')
    .option('--config <file>', CONFIG_HELP, 'node.yaml')
    .option('--json', 'print one JSON line when ready')
    .action(async (opts: { config: string; json?: boolean }) => {
      const config = loadConfig(opts.config, NodeConfigSchema);
      const running = await startNodeProcess(config);
      const ready = {
        did: config.did,
        controlUrl: running.controlUrl,
        hub: config.hubUrl,
        ...(running.mcpUrl ? { mcpUrl: running.mcpUrl } : {}),
      };
      ctx.io.out(
        opts.json
          ? JSON.stringify({ ready })
          : `node ${config.did} ready; control API ${running.controlUrl}${running.mcpUrl ? `; MCP ${running.mcpUrl}` : ''}`,
      );
      await waitForShutdown(() => running.stop());
    });
  node
    .command('mcp')
    .description(
      "serve federated partners' tools over stdio (MCP): through the running node's /mcp, or by running the node here",
    )
    .option('--config <file>', CONFIG_HELP, 'node.yaml')
    .action(async (opts: { config: string }) => {
      const config = loadConfig(opts.config, NodeConfigSchema);
      const runtime = readRuntime(config);
      const base = runtime?.controlUrl ?? `http://${config.listen.host}:${config.listen.port}`;
      let running = false;
      try {
        running = (await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
      } catch {
        running = false;
      }
      if (!running && runtime) {
        // A second process with the same DID would take the hub session from the running node.
        throw new UsageError(
          `the node runs (pid ${runtime.pid}) but its control API ${base} does not answer`,
        );
      }
      if (running && !config.mcp.endpoint) {
        throw new UsageError('the running node has its MCP endpoint off (mcp.endpoint: false)');
      }
      if (running) {
        let headers: Record<string, string> = {};
        if (config.mcp.requireToken) {
          headers = { authorization: `Bearer ${readFileSync(controlTokenPath(config), 'utf8').trim()}` };
        }
        await relayStdioTo(new URL(`${base}/mcp`), headers);
      } else {
        await serveEmbedded(config);
      }
    });

  const print = (json: boolean | undefined, value: unknown, text: () => string) =>
    ctx.io.out(json ? JSON.stringify(value) : text());

  program
    .command('discover')
    .description('spec phase 1: meshes available through the home hub')
    .option('--config <file>', CONFIG_HELP, 'node.yaml')
    .option('--region <region>')
    .option('--capability <capability>')
    .option('--min-trust-score <n>')
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        config: string;
        region?: string;
        capability?: string;
        minTrustScore?: string;
        json?: boolean;
      }) => {
        const q = new URLSearchParams();
        if (opts.region) q.set('region', opts.region);
        if (opts.capability) q.set('capability', opts.capability);
        if (opts.minTrustScore) q.set('minTrustScore', opts.minTrustScore);
        const res = await control(opts.config, 'GET', `/v1/discovery?${q}`);
        const meshes = res.meshes as {
          meshId: string;
          region: string;
          trustScore: number;
          capabilities: string[];
        }[];
        print(opts.json, res, () =>
          meshes
            .map((m) => `${m.meshId}  ${m.region}  trust ${m.trustScore}  ${m.capabilities.join(',')}`)
            .join('\n'),
        );
      },
    );

  program
    .command('federate <did>')
    .description('run the federation handshake with a mesh')
    .option('--config <file>', CONFIG_HELP, 'node.yaml')
    .option('--capability <name>', 'requested capability (repeatable)', collect)
    .option('--purpose <text>', 'purpose of the federation', 'collaboration')
    .option('--ttl <seconds>', 'requested lifetime in seconds', '86400')
    .option('--json', 'print JSON')
    .action(
      async (
        did: string,
        opts: { config: string; capability?: string[]; purpose: string; ttl: string; json?: boolean },
      ) => {
        const res = await control(opts.config, 'POST', '/v1/federations', {
          target: did,
          capabilities: opts.capability ?? [],
          purpose: opts.purpose,
          ttlSeconds: Number(opts.ttl),
        });
        const f = res.federation as { federationId: string; status: string };
        print(opts.json, res, () => `federation ${f.federationId} ${f.status} (${res.handshakeMs} ms)`);
      },
    );

  program
    .command('send <federationId> <type> <json>')
    .description('send a signed, sealed message on a federation, e.g. agent.task.request \'{"task":"x"}\'')
    .option('--config <file>', CONFIG_HELP, 'node.yaml')
    .option('--priority <priority>', 'critical | high | normal | low', 'normal')
    .option('--json', 'print JSON')
    .action(
      async (
        federationId: string,
        type: string,
        data: string,
        opts: { config: string; priority: string; json?: boolean },
      ) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(data);
        } catch (cause) {
          throw new UsageError('the message data must be JSON', { cause });
        }
        const res = await control(
          opts.config,
          'POST',
          `/v1/federations/${encodeURIComponent(federationId)}/messages`,
          {
            type,
            data: parsed,
            priority: opts.priority,
          },
        );
        print(opts.json, res, () => `delivered (${res.deliveredMs} ms)`);
      },
    );

  program
    .command('federations')
    .description("list the running node's federations")
    .option('--config <file>', CONFIG_HELP, 'node.yaml')
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const res = await control(opts.config, 'GET', '/v1/federations');
      const list = res.federations as { federationId: string; peer: string; status: string; role: string }[];
      print(
        opts.json,
        res,
        () => list.map((f) => `${f.federationId}  ${f.status}  ${f.role}  ${f.peer}`).join('\n') || '(none)',
      );
    });

  program
    .command('terminate <federationId>')
    .description('terminate a federation')
    .option('--config <file>', CONFIG_HELP, 'node.yaml')
    .option('--json', 'print JSON')
    .action(async (federationId: string, opts: { config: string; json?: boolean }) => {
      const res = await control(opts.config, 'DELETE', `/v1/federations/${encodeURIComponent(federationId)}`);
      print(opts.json, res, () => `terminated ${federationId}`);
    });
}
