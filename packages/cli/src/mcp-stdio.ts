/**
 * `fmp node mcp`: partners' tools over stdio, for MCP clients that spawn their servers (desktop
 * assistants, IDEs). When the node is running (`fmp node start`), this process relays to its `/mcp`
 * endpoint, so federations stay in the one process that holds them; otherwise it runs the node
 * itself for as long as the client keeps stdin open. stdout carries MCP only: logs go to stderr.
 */

import { serveFederatedToolsStdio } from '@fmp/node';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { type CallToolResult, Server } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { NodeConfig } from './config.js';
import { createNodeStack } from './node-process.js';

/** Longer than the longest federated call (10 min): the node answers every call with a deadline. */
const RELAY_TIMEOUT_MS = 11 * 60_000;

function stdinClosed(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
  });
}

/** Relays tools/list and tools/call (progress, cancellation, list changes) to a running node. */
export async function relayStdioTo(url: URL, headers: Record<string, string>): Promise<void> {
  const instances = new Set<Server>();
  const upstream = new Client(
    { name: 'fmp-node-mcp', version: '0.1.0' },
    {
      listChanged: {
        tools: {
          onChanged: () => {
            for (const s of instances) void s.sendToolListChanged().catch(() => {});
          },
        },
      },
    },
  );
  await upstream.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
  const handle = serveStdio(() => {
    const server = new Server(
      { name: 'fmp-federation', version: '0.1.0' },
      { capabilities: { tools: { listChanged: true } } },
    );
    server.setRequestHandler('tools/list', async (req) =>
      upstream.listTools(req.params?.cursor ? { cursor: req.params.cursor } : undefined, {
        cacheMode: 'bypass',
      }),
    );
    server.setRequestHandler('tools/call', async (req, ctx) => {
      const token = req.params._meta?.progressToken;
      return (await upstream.callTool(
        {
          name: req.params.name,
          arguments: req.params.arguments ?? {},
          ...(req.params._meta ? { _meta: req.params._meta } : {}),
        },
        {
          signal: ctx.mcpReq.signal,
          timeout: RELAY_TIMEOUT_MS,
          ...(token !== undefined
            ? {
                onprogress: (p) => {
                  void ctx.mcpReq
                    .notify({ method: 'notifications/progress', params: { ...p, progressToken: token } })
                    .catch(() => {});
                },
              }
            : {}),
        },
      )) as CallToolResult;
    });
    instances.add(server);
    if (instances.size > 4) instances.delete(instances.values().next().value as Server);
    return server;
  });
  await stdinClosed();
  await handle.close();
  await upstream.close();
}

/** Runs the node in this process and serves its partners' tools on stdio until stdin closes. */
export async function serveEmbedded(config: NodeConfig & { configDir: string }): Promise<void> {
  const stack = await createNodeStack(config, 2);
  await stack.start();
  const handle = serveFederatedToolsStdio({
    bridge: stack.bridge,
    meshDid: config.did,
    name: `fmp ${config.did}`,
  });
  await stdinClosed();
  await handle.close();
  await stack.stop();
}
