/**
 * MIT shares one of its MCP servers with ACME through the federation, and an ordinary MCP client at
 * ACME calls MIT's tool: MIT's node fronts its MCP server (Streamable HTTP here) under an access rule,
 * ACME's node lists MIT's tools at its own /mcp endpoint, and the call travels as a signed, sealed
 * agent.task.request through the hub.
 * Run: npx tsx examples/mcp-federation.ts
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ed25519 } from '@fmp/core';
import { createHub } from '@fmp/hub';
import { buildMeshCreate, issueMeshAgentCredential, MeshRegistry } from '@fmp/identity';
import { createMeshNode, McpBridge, McpHttpEndpoint } from '@fmp/node';
import { getRequestListener } from '@hono/node-server';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import pino from 'pino';
import { z } from 'zod';

const quiet = pino({ level: 'silent' });

function identity(did: string) {
  const keyPair = ed25519.generateKeyPair();
  const op = buildMeshCreate({ did, key: keyPair, nextPublicKey: ed25519.generateKeyPair().publicKey });
  return { did, keyPair, op: op as unknown as Record<string, unknown> };
}

async function listen(
  fetch: (request: Request) => Promise<Response>,
): Promise<{ server: HttpServer; url: string }> {
  const server = createServer(getRequestListener(fetch));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp` };
}

/** MIT's own MCP server: nothing fmp-specific about it. */
function researchServer(): McpServer {
  const server = new McpServer({ name: 'mit-research', version: '1.0.0' });
  server.registerTool(
    'word_count',
    {
      description: 'Counts the words of a text.',
      inputSchema: z.object({ text: z.string().max(100_000) }),
      outputSchema: z.object({ words: z.number() }),
    },
    async ({ text }) => {
      const words = text.split(/\s+/).filter(Boolean).length;
      return { content: [{ type: 'text', text: String(words) }], structuredContent: { words } };
    },
  );
  return server;
}

export async function main(): Promise<{ tools: string[]; words: unknown }> {
  const authority = identity('did:mesh:authority:foundation');
  const hubId = identity('did:mesh:hub:eu-west');
  const registry = await MeshRegistry.open();
  await registry.append(authority.op);
  await registry.append(hubId.op);
  const hub = createHub({
    did: hubId.did,
    keyPair: hubId.keyPair,
    region: 'eu',
    trustedIssuers: [authority.did],
    registry,
    logger: quiet,
  });
  const { url: hubUrl } = await hub.start();
  const signer = {
    keyPair: authority.keyPair,
    issuer: authority.did,
    verificationMethod: `${authority.did}#key-1`,
  };
  const mesh = async (did: string, capabilities: string[]) => {
    const me = identity(did);
    const credential = await issueMeshAgentCredential({
      signer,
      subject: {
        id: did,
        meshCapabilities: capabilities,
        complianceCertifications: ['GDPR'],
        trustLevel: 85,
      },
    });
    const node = createMeshNode({
      did,
      keyPair: me.keyPair,
      credential: credential as never,
      capabilities,
      region: 'eu',
      hubUrl,
      meshLog: [me.op],
      trustedIssuers: [authority.did],
      logger: quiet,
    });
    return { node, credential };
  };
  const mit = await mesh('did:mesh:academic:mit-001', ['ml.inference']);
  const acme = await mesh('did:mesh:enterprise:acme-001', ['data.processing']);
  const research = await listen(createMcpHandler(() => researchServer()).fetch);

  // MIT offers word_count as ml.inference, to ACME only (the default is to offer nothing).
  const mitBridge = new McpBridge({
    node: mit.node,
    credential: mit.credential as never,
    servers: [{ name: 'research', url: research.url, capabilities: { word_count: 'ml.inference' } }],
    access: [{ partners: [acme.node.did], tools: ['word_count'], minTrust: 50 }],
    logger: quiet,
  });
  const acmeBridge = new McpBridge({ node: acme.node, credential: acme.credential as never, logger: quiet });
  const endpoint = new McpHttpEndpoint({ bridge: acmeBridge, meshDid: acme.node.did });
  const acmeMcp = await listen(endpoint.fetch);
  const client = new Client({ name: 'acme-agent', version: '1.0.0' });
  try {
    await Promise.all([mit.node.start(), acme.node.start(), mitBridge.start(), acmeBridge.start()]);
    await acme.node.federate(mit.node.did, { capabilities: ['ml.inference'], purpose: 'research-collab' });
    // MIT's catalog arrives right after the handshake.
    while (acmeBridge.remoteTools().length === 0) await new Promise((r) => setTimeout(r, 20));

    await client.connect(new StreamableHTTPClientTransport(new URL(acmeMcp.url)));
    const tools = (await client.listTools()).tools.map((t) => t.name); // ['mit-001__word_count']
    const result = await client.callTool({
      name: 'mit-001__word_count',
      arguments: { text: 'federated tools, signed and sealed' },
    });
    return { tools, words: result.structuredContent };
  } finally {
    await client.close();
    await endpoint.close();
    acmeMcp.server.closeAllConnections();
    acmeMcp.server.close();
    research.server.closeAllConnections();
    research.server.close();
    await acmeBridge.stop();
    await mitBridge.stop();
    await acme.node.stop();
    await mit.node.stop();
    await hub.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await main());
}
