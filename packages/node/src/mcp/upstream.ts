/**
 * The organization's own MCP servers, as the node sees them: one official-SDK client per server
 * (a child process over stdio, or Streamable HTTP), their tools mapped to mesh capabilities, calls
 * with progress, cancellation and deadlines. A server that exits is respawned with backoff (and at
 * once when a call needs it); a call it was running fails as `upstream_crashed`, never hangs.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { NodeLogger } from '../node.js';
import { type CatalogTool, catalogToolSchema, MCP_LIMITS, type TaskErrorCode } from './protocol.js';

export const upstreamServerSchema = z
  .strictObject({
    /** Lowercase name, used in logs and to qualify a tool name two servers share. */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes'),
    command: z.string().min(1).optional(),
    args: z.array(z.string()).max(256).optional(),
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
    url: z.url({ protocol: /^https?$/ }).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    /** Tool name -> capability (spec names such as `ml.inference`). */
    capabilities: z.record(z.string(), z.string()).optional(),
    /** Capability of tools the map above does not name; without it, those tools are not offered. */
    defaultCapability: z.string().optional(),
  })
  .refine((s) => (s.command === undefined) !== (s.url === undefined), {
    message: 'exactly one of command (stdio) or url (Streamable HTTP)',
  });
export type UpstreamServerConfig = z.infer<typeof upstreamServerSchema>;

export interface UpstreamTool extends CatalogTool {
  readonly server: string;
  /** The name on the upstream server (the exposed name may be qualified). */
  readonly upstreamName: string;
}

/** A failed call, with the code the partner will see. */
export class TaskFailure extends Error {
  readonly code: TaskErrorCode;
  readonly retryAfterMs: number | undefined;
  constructor(code: TaskErrorCode, message: string, retryAfterMs?: number) {
    super(message.slice(0, MCP_LIMITS.reasonLength));
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs: number;
  readonly onProgress?: (p: { progress: number; total?: number; message?: string }) => void;
}

interface Conn {
  readonly config: UpstreamServerConfig;
  client: Client | undefined;
  state: 'down' | 'connecting' | 'up' | 'closed';
  connecting: Promise<void> | undefined;
  tools: UpstreamTool[];
  attempts: number;
  retryTimer: NodeJS.Timeout | undefined;
  lastAttemptAt: number;
  /** Tail of the child's stderr, to say why it died. */
  stderrTail: string;
  /** Bumped on every (re)connection: a call compares it to tell a crash from its own error. */
  generation: number;
}

export interface UpstreamPoolOptions {
  readonly servers: readonly UpstreamServerConfig[];
  readonly logger?: NodeLogger;
  /** Connect timeout. Default 10,000 ms. */
  readonly connectTimeoutMs?: number;
  /** Delay before reconnect attempt n. Default min(30 s, 2^(n-1) s). */
  readonly reconnectDelayMs?: (attempt: number) => number;
}

const STDERR_TAIL = 2048;
const silent: NodeLogger = { debug() {}, info() {}, warn() {}, error() {} };

export class UpstreamPool {
  private readonly conns: Conn[];
  private readonly log: NodeLogger;
  private readonly connectTimeoutMs: number;
  private readonly delay: (attempt: number) => number;
  private readonly listeners = new Set<() => void>();
  private byName = new Map<string, { conn: Conn; tool: UpstreamTool }>();
  private closed = false;

  constructor(options: UpstreamPoolOptions) {
    const names = new Set<string>();
    this.conns = options.servers.map((raw) => {
      const config = upstreamServerSchema.parse(raw);
      if (names.has(config.name)) throw new Error(`two MCP servers are named ${config.name}`);
      names.add(config.name);
      return {
        config,
        client: undefined,
        state: 'down',
        connecting: undefined,
        tools: [],
        attempts: 0,
        retryTimer: undefined,
        lastAttemptAt: 0,
        stderrTail: '',
        generation: 0,
      };
    });
    this.log = options.logger ?? silent;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.delay = options.reconnectDelayMs ?? ((n) => Math.min(30_000, 1000 * 2 ** (n - 1)));
  }

  /** Connects every server once (failures are retried in the background); never rejects. */
  async start(): Promise<void> {
    await Promise.all(this.conns.map((c) => this.connect(c)));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.conns.map(async (c) => {
        clearTimeout(c.retryTimer);
        c.state = 'closed';
        const client = c.client;
        c.client = undefined;
        await client?.close().catch(() => {});
      }),
    );
  }

  /** Called after the tool set changed (a server came up, went away for good, or listed anew). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every offered tool, by exposed name (tools stay listed while their server restarts). */
  tools(): UpstreamTool[] {
    return [...this.byName.values()].map((e) => e.tool);
  }

  tool(name: string): UpstreamTool | undefined {
    return this.byName.get(name)?.tool;
  }

  status(): { name: string; state: Conn['state']; tools: number }[] {
    return this.conns.map((c) => ({ name: c.config.name, state: c.state, tools: c.tools.length }));
  }

  async call(name: string, args: Record<string, unknown>, options: CallOptions): Promise<CallToolResult> {
    const entry = this.byName.get(name);
    if (!entry) throw new TaskFailure('unknown_tool', `no tool named ${name}`);
    const { conn, tool } = entry;
    if (conn.state !== 'up') {
      // Respawn now rather than at the next backoff step: a caller is waiting.
      if (conn.state === 'down' && Date.now() - conn.lastAttemptAt > 1000) {
        clearTimeout(conn.retryTimer);
        conn.retryTimer = undefined;
      }
      await this.connect(conn);
      if ((conn.state as Conn['state']) !== 'up' || !conn.client) {
        throw new TaskFailure(
          'upstream_unavailable',
          `the MCP server ${conn.config.name} is not running${this.why(conn)}`,
        );
      }
    }
    const client = conn.client!;
    const generation = conn.generation;
    try {
      const result = await client.callTool(
        { name: tool.upstreamName, arguments: args },
        {
          timeout: Math.max(1, options.timeoutMs),
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.onProgress
            ? {
                onprogress: (p: { progress: number; total?: number; message?: string }) =>
                  options.onProgress?.({
                    progress: p.progress,
                    ...(p.total !== undefined ? { total: p.total } : {}),
                    ...(p.message !== undefined ? { message: p.message } : {}),
                  }),
              }
            : {}),
        },
      );
      return result as CallToolResult;
    } catch (err) {
      if (options.signal?.aborted) throw new TaskFailure('cancelled', 'the call was cancelled');
      // The connection closed under the call: the server died (or was restarted) while working.
      if (conn.generation !== generation || conn.state !== 'up') {
        throw new TaskFailure(
          'upstream_crashed',
          `the MCP server ${conn.config.name} exited during the call${this.why(conn)}`,
        );
      }
      const message = err instanceof Error ? err.message : String(err);
      if (/timed? ?out/i.test(message)) {
        throw new TaskFailure('timeout', `${conn.config.name} did not answer within ${options.timeoutMs} ms`);
      }
      throw new TaskFailure('upstream_error', `${conn.config.name}: ${message}`);
    }
  }

  private why(conn: Conn): string {
    const tail = conn.stderrTail.trim().split('\n').at(-1);
    return tail ? ` (last stderr: ${tail.slice(0, 200)})` : '';
  }

  private connect(conn: Conn): Promise<void> {
    if (this.closed || conn.state === 'closed' || conn.state === 'up') return Promise.resolve();
    if (conn.connecting) return conn.connecting;
    if (conn.retryTimer) return Promise.resolve();
    conn.state = 'connecting';
    conn.lastAttemptAt = Date.now();
    conn.connecting = this.open(conn).finally(() => {
      conn.connecting = undefined;
    });
    return conn.connecting;
  }

  private async open(conn: Conn): Promise<void> {
    const cfg = conn.config;
    const client = new Client(
      { name: 'fmp-node', version: '0.1.0' },
      {
        listChanged: {
          tools: {
            onChanged: (error, tools) => {
              if (error || !tools || conn.client !== client) return;
              this.setTools(conn, tools);
            },
          },
        },
      },
    );
    let transport: StdioClientTransport | StreamableHTTPClientTransport;
    if (cfg.command) {
      const stdio = new StdioClientTransport({
        command: cfg.command,
        args: cfg.args ?? [],
        env: { ...getDefaultEnvironment(), ...(cfg.env ?? {}) },
        ...(cfg.cwd ? { cwd: cfg.cwd } : {}),
        stderr: 'pipe',
      });
      conn.stderrTail = '';
      stdio.stderr?.on('data', (chunk: Buffer) => {
        conn.stderrTail = (conn.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
      });
      transport = stdio;
    } else {
      transport = new StreamableHTTPClientTransport(new URL(cfg.url!), {
        ...(cfg.headers ? { requestInit: { headers: cfg.headers } } : {}),
      });
    }
    try {
      await client.connect(transport, { timeout: this.connectTimeoutMs });
      const { tools } = await client.listTools(undefined, { timeout: this.connectTimeoutMs });
      if (this.closed) {
        await client.close().catch(() => {});
        return;
      }
      conn.client = client;
      conn.generation++;
      conn.state = 'up';
      conn.attempts = 0;
      client.onclose = () => this.onClosed(conn, client);
      this.log.info({ server: cfg.name, tools: tools.length }, 'MCP server connected');
      this.setTools(conn, tools);
    } catch (err) {
      await client.close().catch(() => {});
      conn.state = 'down';
      this.log.warn({ server: cfg.name, err: String(err), stderr: this.why(conn) }, 'MCP server unavailable');
      this.scheduleRetry(conn);
    }
  }

  private onClosed(conn: Conn, client: Client): void {
    if (conn.client !== client) return;
    conn.client = undefined;
    conn.generation++;
    if (this.closed || conn.state === 'closed') return;
    conn.state = 'down';
    this.log.warn({ server: conn.config.name, stderr: this.why(conn) }, 'MCP server connection closed');
    this.scheduleRetry(conn);
  }

  private scheduleRetry(conn: Conn): void {
    if (this.closed || conn.retryTimer) return;
    conn.attempts++;
    conn.retryTimer = setTimeout(() => {
      conn.retryTimer = undefined;
      void this.connect(conn);
    }, this.delay(conn.attempts));
    conn.retryTimer.unref();
  }

  private setTools(conn: Conn, tools: Tool[]): void {
    const cfg = conn.config;
    const mapped: UpstreamTool[] = [];
    for (const t of tools) {
      const capability = cfg.capabilities?.[t.name] ?? cfg.defaultCapability;
      if (capability === undefined) continue;
      const candidate = {
        name: t.name,
        ...(t.title ? { title: t.title } : {}),
        ...(t.description ? { description: t.description.slice(0, MCP_LIMITS.descriptionLength) } : {}),
        inputSchema: t.inputSchema,
        ...(t.outputSchema ? { outputSchema: t.outputSchema } : {}),
        ...(t.annotations ? { annotations: t.annotations } : {}),
        capability,
      };
      const parsed = catalogToolSchema.safeParse(candidate);
      if (!parsed.success) {
        this.log.warn(
          { server: cfg.name, tool: t.name },
          'MCP tool not offered: its definition is out of bounds',
        );
        continue;
      }
      mapped.push({ ...parsed.data, server: cfg.name, upstreamName: t.name });
    }
    conn.tools = mapped.slice(0, MCP_LIMITS.toolsPerCatalog);
    this.reindex();
  }

  /** Exposed names: a tool keeps its name unless an earlier server (config order) has it. */
  private reindex(): void {
    const next = new Map<string, { conn: Conn; tool: UpstreamTool }>();
    for (const conn of this.conns) {
      for (const tool of conn.tools) {
        let name = tool.upstreamName;
        if (next.has(name)) name = `${conn.config.name}.${tool.upstreamName}`.slice(0, 128);
        if (next.has(name)) continue;
        next.set(name, { conn, tool: { ...tool, name } });
      }
    }
    // A reconnect lists the same tools again: only a real change is announced to partners.
    const fingerprint = (m: typeof next) => JSON.stringify([...m.values()].map((e) => e.tool));
    const changed = fingerprint(next) !== fingerprint(this.byName);
    this.byName = next;
    if (changed) for (const l of this.listeners) l();
  }
}
