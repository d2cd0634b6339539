/**
 * The node's own MCP endpoint: every active federation's tools, namespaced by partner, for any MCP
 * client (desktop assistants, IDEs, MCP Inspector). Served over Streamable HTTP at `/mcp` (both the
 * 2026-07-28 per-request protocol and 2025-era sessions, so `notifications/tools/list_changed`
 * reaches clients of either) and over stdio.
 */
import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import {
  type CallToolResult,
  createMcpHandler,
  hostHeaderValidationResponse,
  isLegacyRequest,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  originValidationResponse,
  ProtocolError,
  ProtocolErrorCode,
  readRequestBody,
  Server,
  type ServerContext,
  type Tool,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import type { NodeLogger } from '../node.js';
import { describeFailure, type McpBridge, type RemoteCallResult } from './bridge.js';
import type { Agent } from './protocol.js';

/** `_meta` keys a client may set on tools/call. */
export const META_KEYS = {
  agent: 'mesh.global/agent',
  complianceContext: 'mesh.global/complianceContext',
  timeoutMs: 'mesh.global/timeoutMs',
  error: 'mesh.global/error',
  partner: 'mesh.global/partner',
  capability: 'mesh.global/capability',
} as const;

const CLIENT_INFO_META_KEY = 'io.modelcontextprotocol/clientInfo';

export interface FederatedToolsServerOptions {
  readonly bridge: McpBridge;
  /** The mesh's DID: agents without their own DID are named `<did>#agent-<client name>`. */
  readonly meshDid: string;
  readonly name?: string;
  readonly version?: string;
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'client';
}

function toMcpTool(remote: ReturnType<McpBridge['remoteTools']>[number]): Tool {
  const t = remote.tool;
  return {
    name: remote.name,
    title: `${t.title ?? t.name} (${remote.partner})`,
    description: `[${remote.partner}, ${t.capability}] ${t.description ?? ''}`.trim(),
    inputSchema: t.inputSchema as Tool['inputSchema'],
    ...(t.outputSchema ? { outputSchema: t.outputSchema as Tool['outputSchema'] } : {}),
    ...(t.annotations ? { annotations: t.annotations as Tool['annotations'] } : {}),
    _meta: { [META_KEYS.partner]: remote.partner, [META_KEYS.capability]: t.capability },
  };
}

/** A failure as an MCP tool error: the model sees why, programs read `_meta`. */
export function toolError(r: Extract<RemoteCallResult, { ok: false }>): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: `${describeFailure(r.code)}: ${r.message}` }],
    _meta: {
      [META_KEYS.error]: {
        code: r.code,
        message: r.message,
        ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}),
      },
    },
  };
}

/** One low-level MCP server instance (per request, session or stdio connection). */
export function createFederatedToolsServer(options: FederatedToolsServerOptions): Server {
  const { bridge } = options;
  const server = new Server(
    { name: options.name ?? 'fmp-federation', version: options.version ?? '0.1.0' },
    {
      capabilities: { tools: { listChanged: true } },
      instructions:
        "Tools of this organization's federated partners in the Federated Mesh. Each tool name is <partner>__<tool>; calls travel signed and end-to-end encrypted to the partner's mesh node.",
    },
  );
  const agentOf = (ctx: ServerContext, meta: Record<string, unknown>): Agent => {
    const info = (ctx.mcpReq._meta?.[CLIENT_INFO_META_KEY] as { name?: unknown } | undefined) ?? undefined;
    const client = typeof info?.name === 'string' ? info.name : server.getClientVersion()?.name;
    const own = meta[META_KEYS.agent];
    const did =
      typeof own === 'string' && /^did:[a-z0-9]+:\S{1,500}$/.test(own)
        ? own
        : `${options.meshDid}#agent-${slug(client ?? 'mcp-client')}`;
    return { did, ...(client ? { client: client.slice(0, 128) } : {}) };
  };
  server.setRequestHandler('tools/list', async () => ({ tools: bridge.remoteTools().map(toMcpTool) }));
  server.setRequestHandler('tools/call', async (req, ctx) => {
    const { name } = req.params;
    if (!bridge.resolve(name))
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
    const meta = (req.params._meta ?? {}) as Record<string, unknown>;
    const token = meta.progressToken as string | number | undefined;
    const timeout = meta[META_KEYS.timeoutMs];
    const r = await bridge.callRemote(name, (req.params.arguments ?? {}) as Record<string, unknown>, {
      agent: agentOf(ctx, meta),
      ...(meta[META_KEYS.complianceContext] !== undefined
        ? { complianceContext: meta[META_KEYS.complianceContext] }
        : {}),
      ...(typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0
        ? { timeoutMs: timeout }
        : {}),
      signal: ctx.mcpReq.signal,
      ...(token !== undefined
        ? {
            onProgress: (p) => {
              void ctx.mcpReq
                .notify({ method: 'notifications/progress', params: { progressToken: token, ...p } })
                .catch(() => {});
            },
          }
        : {}),
    });
    return r.ok ? r.result : toolError(r);
  });
  return server;
}

export interface McpHttpEndpointOptions extends FederatedToolsServerOptions {
  /** 2025-era sessions kept at once; the least recently used is closed beyond. Default 64. */
  readonly maxSessions?: number;
  /** A session unused this long is closed. Default 30 min. */
  readonly sessionIdleMs?: number;
  /** Host names accepted in Host/Origin (DNS-rebinding protection). Default: loopback names. */
  readonly allowedHosts?: readonly string[];
  readonly logger?: NodeLogger;
}

interface LegacySession {
  readonly server: Server;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  lastSeen: number;
}

/** The largest MCP request body taken (the SDK's default bound). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** 413 as a JSON-RPC error, as the SDK answers it. */
function payloadTooLarge(): Response {
  return Response.json(
    {
      jsonrpc: '2.0',
      error: {
        code: -32000,
        message: `Payload Too Large: Request body must not exceed ${MAX_BODY_BYTES} bytes`,
      },
      id: null,
    },
    { status: 413 },
  );
}

/** What readMcpBody needs of Node's IncomingMessage. */
export interface McpIncoming extends AsyncIterable<Buffer> {
  readonly headers: Record<string, string | string[] | undefined>;
}

/**
 * A POST body as UTF-8 text read straight from Node's request, or undefined when it is (or says it
 * is) larger than MAX_BODY_BYTES: for McpHttpEndpoint.fetchWithBody(request, body) behind node:http (with
 * @hono/node-server, `env.incoming`). A web stream over the same bytes cost more than the rest of
 * the endpoint's work for a small call.
 */
async function readMcpBody(incoming: McpIncoming): Promise<string | undefined> {
  if (Number(incoming.headers['content-length']) > MAX_BODY_BYTES) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/** The `/mcp` endpoint as a web-standard handler (`fetch(request)`), mounted by the node's HTTP server. */
export class McpHttpEndpoint {
  private readonly o: McpHttpEndpointOptions;
  private readonly modern: ReturnType<typeof createMcpHandler>;
  private readonly sessions = new Map<string, LegacySession>();
  private readonly maxSessions: number;
  private readonly idleMs: number;
  private readonly hosts: string[];
  private readonly origins: string[];
  private readonly sweep: NodeJS.Timeout;
  private readonly off: () => void;

  constructor(options: McpHttpEndpointOptions) {
    this.o = options;
    this.maxSessions = options.maxSessions ?? 64;
    this.idleMs = options.sessionIdleMs ?? 30 * 60_000;
    this.hosts = options.allowedHosts ? [...options.allowedHosts] : localhostAllowedHostnames();
    this.origins = options.allowedHosts ? [...options.allowedHosts] : localhostAllowedOrigins();
    this.modern = createMcpHandler(() => createFederatedToolsServer(options), {
      legacy: 'reject',
      onerror: (err) => options.logger?.debug({ err: String(err) }, 'MCP request failed'),
    });
    this.off = options.bridge.onToolsChanged(() => this.toolsChanged());
    this.sweep = setInterval(() => this.closeIdle(), 60_000);
    this.sweep.unref();
  }

  /** Open 2025-era sessions (for tests and metrics). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Serves one HTTP request (a web-standard handler: pass it to any `fetch`-style server). */
  fetch = (request: Request): Promise<Response> => this.serve(request, undefined);

  /**
   * fetch() behind node:http (with @hono/node-server, `env.incoming`): a POST body is read straight
   * from Node's request (readMcpBody: bounded, 413 beyond), cheaper than a web stream over it; the
   * request's own body is then not read.
   */
  fetchFromNode = async (request: Request, incoming: McpIncoming | undefined): Promise<Response> => {
    if (request.method !== 'POST' || !incoming) return this.serve(request, undefined);
    const body = await readMcpBody(incoming);
    return body === undefined ? payloadTooLarge() : this.serve(request, body);
  };

  private async serve(request: Request, body: string | undefined): Promise<Response> {
    const rejected =
      hostHeaderValidationResponse(request, this.hosts) ?? originValidationResponse(request, this.origins);
    if (rejected) return rejected;
    // A POST body is read and parsed once, here, and handed on parsed (the SDK's `parsedBody`):
    // otherwise the routing predicate clones the request and reads it, then the handler again.
    let parsedBody: unknown;
    if (request.method === 'POST') {
      let text = body;
      if (text === undefined) {
        const read = await readRequestBody(request, MAX_BODY_BYTES);
        if (read.tooLarge) return payloadTooLarge();
        text = read.text;
      }
      try {
        parsedBody = JSON.parse(text);
      } catch {
        // Not JSON: the SDK gives the answer; it gets the request as it came.
        return this.route(new Request(request.url, { method: 'POST', headers: request.headers, body: text }));
      }
    }
    return this.route(request, parsedBody);
  }

  private async route(request: Request, parsedBody?: unknown): Promise<Response> {
    const options = parsedBody === undefined ? undefined : { parsedBody };
    if (!(await isLegacyRequest(request, parsedBody))) return this.modern.fetch(request, options);
    const sessionId = request.headers.get('mcp-session-id');
    if (sessionId) {
      const session = this.sessions.get(sessionId);
      if (!session) {
        return Response.json(
          { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null },
          { status: 404 },
        );
      }
      session.lastSeen = Date.now();
      return session.transport.handleRequest(request, options);
    }
    return this.openSession(request, options);
  }

  private async openSession(request: Request, options?: { parsedBody: unknown }): Promise<Response> {
    while (this.sessions.size >= this.maxSessions) {
      const [oldest] = [...this.sessions.entries()].sort((a, b) => a[1].lastSeen - b[1].lastSeen);
      if (!oldest) break;
      await this.closeSession(oldest[0]);
    }
    const server = createFederatedToolsServer(this.o);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        this.sessions.set(id, { server, transport, lastSeen: Date.now() });
      },
      onsessionclosed: (id) => {
        this.sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) this.sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return transport.handleRequest(request, options);
  }

  private async closeSession(id: string): Promise<void> {
    const s = this.sessions.get(id);
    this.sessions.delete(id);
    await s?.server.close().catch(() => {});
  }

  private closeIdle(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const [id, s] of this.sessions) if (s.lastSeen < cutoff) void this.closeSession(id);
  }

  private toolsChanged(): void {
    this.modern.notify.toolsChanged();
    for (const s of this.sessions.values()) void s.server.sendToolListChanged().catch(() => {});
  }

  async close(): Promise<void> {
    clearInterval(this.sweep);
    this.off();
    await Promise.all([...this.sessions.keys()].map((id) => this.closeSession(id)));
    await this.modern.close();
  }
}

export interface FederatedToolsStdioOptions extends FederatedToolsServerOptions {
  /**
   * The byte streams to serve (both ends of one socket, say); default this process's stdin and
   * stdout (`fmp node mcp`). Newline-delimited JSON-RPC, as MCP's stdio transport.
   */
  readonly streams?: { readonly input: Readable; readonly output: Writable };
}

/** Serves the federated tools over this process's stdio (`fmp node mcp`), or over `streams`. */
export function serveFederatedToolsStdio(options: FederatedToolsStdioOptions): { close(): Promise<void> } {
  const instances = new Set<Server>();
  const off = options.bridge.onToolsChanged(() => {
    for (const s of instances) void s.sendToolListChanged().catch(() => {});
  });
  const handle = serveStdio(
    () => {
      const s = createFederatedToolsServer(options);
      instances.add(s);
      if (instances.size > 4) instances.delete(instances.values().next().value as Server);
      return s;
    },
    options.streams
      ? { transport: new StdioServerTransport(options.streams.input, options.streams.output) }
      : {},
  );
  return {
    async close() {
      off();
      await handle.close();
    },
  };
}
