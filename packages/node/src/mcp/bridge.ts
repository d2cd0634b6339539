/**
 * MCP federation on a mesh node (docs/mcp.md). Two roles on every node:
 *
 * - provider: the organization's MCP servers (UpstreamPool) are offered to federated partners. Each
 *   partner gets a catalog of the tools its federation covers and the access rules grant it; each
 *   `agent.task.request` is checked again (rules, partner trust, rate, concurrency), run on the
 *   upstream server with progress and cancellation, and answered with `agent.task.response`.
 * - consumer: partners' catalogs become tools of a local MCP endpoint (see server.ts); a call
 *   travels as a signed, sealed `agent.task.request` and waits for the answer, with a deadline.
 *
 * Every call leaves an explanation record (spec 7.3) on both sides.
 */
import { randomUUID } from 'node:crypto';
import {
  type ClearPayload,
  type ComplianceContext,
  complianceContextSchema,
  type Explanation,
  ProtocolError as FmpProtocolError,
  RateLimiter,
  type VerifiableCredentialJson,
} from '@fmp/core';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { ComplianceDeniedError } from '../compliance.js';
import { DeliveryError, NodeBusyError, NodeNotConnectedError, UnknownFederationError } from '../errors.js';
import type { FederationInfo, IncomingMessage, MeshNode, NodeLogger } from '../node.js';
import { exposedToolName, partnerAliases } from './names.js';
import {
  type Agent,
  type Catalog,
  type CatalogTool,
  catalogSchema,
  MCP_LIMITS,
  MCP_MESSAGE_TYPES,
  parseTaskRequest,
  parseTaskResponse,
  type TaskErrorCode,
  type TaskRequest,
  taskCancelSchema,
  taskProgressSchema,
} from './protocol.js';
import { TaskFailure, UpstreamPool, type UpstreamServerConfig, type UpstreamTool } from './upstream.js';

/** Who may call which of this node's tools. The default (no rules) denies everything. */
export interface McpAccessRule {
  /** Partner DIDs, or `*` for every federated partner. */
  readonly partners: readonly string[] | '*';
  /** Tool names or capability names; a trailing `*` matches a prefix (`ml.*`, `*`). */
  readonly tools: readonly string[];
  /** Lowest partner trust score (0-100) for this rule; default 0. */
  readonly minTrust?: number;
}

/** Spec 7.3, with what the call was: one per call and side. */
export interface ExplanationRecord {
  readonly actionId: string;
  readonly at: number;
  readonly side: 'caller' | 'provider';
  readonly federationId: string | undefined;
  readonly partner: string;
  readonly agent: Agent;
  readonly tool: string;
  readonly capability: string | undefined;
  readonly outcome: 'ok' | 'tool_error' | TaskErrorCode;
  readonly message: string | undefined;
  readonly durationMs: number;
  readonly complianceContext: ComplianceContext | undefined;
  /** The local Cedar policies that decided (provider side). */
  readonly policyIds?: readonly string[];
  readonly explanation: Explanation;
}

export interface McpBridgeOptions {
  readonly node: MeshNode;
  /** This mesh's MeshAgentCredential, sent with catalogs so partners can weigh its trust. */
  readonly credential: VerifiableCredentialJson;
  /** The organization's MCP servers (or a pool built elsewhere). */
  readonly servers?: readonly UpstreamServerConfig[];
  readonly upstream?: UpstreamPool;
  readonly access?: readonly McpAccessRule[];
  /**
   * complianceContext of calls that do not carry one in `_meta`. Default: confidential data with an
   * audit trail (every call carries one; unknown data is treated as confidential, not as public).
   */
  readonly defaultComplianceContext?: ComplianceContext;
  /** How long a caller waits for a partner's answer. Default 60,000 ms; per call via `_meta`. */
  readonly callTimeoutMs?: number;
  /** Partner calls running on this node's servers at once. Default 32. */
  readonly maxConcurrentCalls?: number;
  /** Calls per second and burst per partner. Default 20 / 40. */
  readonly partnerRate?: { readonly ratePerSec: number; readonly burst: number };
  /** Outgoing calls waiting for answers. Default 256. */
  readonly maxPendingCalls?: number;
  /** Largest result sent back, in JSON bytes (the sealed frame must fit the hub's 1 MiB). Default 700 KiB. */
  readonly maxResultBytes?: number;
  /** Replaces the credential-based trust of partners (the trust engine plugs in here). */
  readonly trustOf?: (did: string) => Promise<number | undefined>;
  readonly onExplanation?: (record: ExplanationRecord) => void;
  readonly logger?: NodeLogger;
  readonly now?: () => number;
}

/** A partner's tool as the local MCP endpoint lists it. */
export interface RemoteTool {
  readonly name: string;
  readonly partner: string;
  readonly federationId: string;
  readonly tool: CatalogTool;
}

export interface RemoteCallOptions {
  readonly agent: Agent;
  readonly complianceContext?: unknown;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: { progress: number; total?: number; message?: string }) => void;
}

export type RemoteCallResult =
  | { readonly ok: true; readonly result: CallToolResult }
  | {
      readonly ok: false;
      readonly code: TaskErrorCode;
      readonly message: string;
      readonly retryAfterMs?: number;
    };

interface PartnerCatalog {
  readonly federationId: string;
  readonly partner: string;
  readonly revision: number;
  readonly tools: readonly CatalogTool[];
}

interface PendingCall {
  readonly taskId: string;
  readonly federationId: string;
  readonly partner: string;
  delivered: boolean;
  readonly onProgress: RemoteCallOptions['onProgress'];
  readonly settle: (r: RemoteCallResult) => void;
}

interface RunningTask {
  readonly partner: string;
  readonly abort: AbortController;
}

const silent: NodeLogger = { debug() {}, info() {}, warn() {}, error() {} };
const PROGRESS_INTERVAL_MS = 100;
/** Failures that are the partner's (its server crashed or erred, it did not answer in time). */
const PARTNER_FAULTS = new Set<TaskErrorCode>([
  'upstream_crashed',
  'upstream_error',
  'upstream_unavailable',
  'timeout',
]);
const DEFAULT_COMPLIANCE: ComplianceContext = { dataClassification: 'confidential', auditTrail: true };

function matches(pattern: string, value: string): boolean {
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : pattern === value;
}

function jsonBytes(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v));
}

const MESSAGES: Record<TaskErrorCode, string> = {
  unknown_tool: 'unknown tool',
  policy_denied: 'denied by policy',
  trust_too_low: 'trust too low',
  rate_limited: 'rate limited',
  busy: 'partner busy',
  invalid_request: 'invalid request',
  timeout: 'timeout',
  cancelled: 'cancelled',
  upstream_unavailable: 'upstream server unavailable',
  upstream_crashed: 'upstream server crashed',
  upstream_error: 'upstream server error',
  result_too_large: 'result too large',
  partner_offline: 'partner offline',
  not_federated: 'not federated',
};

/** The readable prefix of an MCP tool error for a failure code. */
export function describeFailure(code: TaskErrorCode): string {
  return MESSAGES[code];
}

export class McpBridge {
  readonly upstream: UpstreamPool;
  private readonly node: MeshNode;
  private readonly o: McpBridgeOptions;
  private readonly log: NodeLogger;
  private readonly now: () => number;
  private readonly access: readonly McpAccessRule[];
  private readonly callTimeoutMs: number;
  private readonly maxConcurrent: number;
  private readonly maxPending: number;
  private readonly maxResultBytes: number;
  private readonly limiter: RateLimiter;
  private readonly ownsUpstream: boolean;

  private revision = 0;
  /** Partners' catalogs by federation id. */
  private readonly catalogs = new Map<string, PartnerCatalog>();
  /** Partner trust from the credential in its latest catalog (checked once per catalog). */
  private readonly partnerTrust = new Map<string, Promise<number>>();
  /** Federations (id:handshake) our catalog was sent on. */
  private readonly announced = new Set<string>();
  private readonly pending = new Map<string, PendingCall>();
  private readonly running = new Map<string, RunningTask>();
  private readonly changeListeners = new Set<() => void>();
  private readonly unsubscribe: (() => void)[] = [];
  private remoteIndex: Map<string, RemoteTool> | undefined;
  private started = false;

  constructor(options: McpBridgeOptions) {
    this.o = options;
    this.node = options.node;
    this.log = options.logger ?? silent;
    this.now = options.now ?? Date.now;
    this.access = options.access ?? [];
    this.callTimeoutMs = options.callTimeoutMs ?? 60_000;
    this.maxConcurrent = options.maxConcurrentCalls ?? 32;
    this.maxPending = options.maxPendingCalls ?? 256;
    this.maxResultBytes = options.maxResultBytes ?? 700 * 1024;
    this.limiter = new RateLimiter({
      defaultQuota: options.partnerRate ?? { ratePerSec: 20, burst: 40 },
      maxKeys: 10_000,
      now: this.now,
    });
    this.ownsUpstream = options.upstream === undefined;
    this.upstream =
      options.upstream ?? new UpstreamPool({ servers: options.servers ?? [], logger: this.log });
    if (options.defaultComplianceContext) complianceContextSchema.parse(options.defaultComplianceContext);
  }

  /** Connects the upstream servers and starts answering partners. Call before or after node.start(). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.unsubscribe.push(
      this.node.onMessage((m) => this.onMessage(m)),
      this.node.onFederation((f) => this.onFederation(f)),
      this.node.onStatus((e) => {
        if (e.status === 'active') {
          const f = this.node.federation(e.federationId);
          if (f) this.onFederation(f);
        } else {
          this.dropFederation(e.federationId, `federation ${e.status}: ${e.reason}`);
        }
      }),
      this.upstream.onChange(() => {
        this.revision++;
        this.announced.clear();
        for (const f of this.node.federations()) this.onFederation(f);
      }),
    );
    if (this.ownsUpstream) await this.upstream.start();
    for (const f of this.node.federations()) this.onFederation(f);
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    for (const p of this.pending.values())
      p.settle({ ok: false, code: 'cancelled', message: 'the node is stopping' });
    for (const t of this.running.values()) t.abort.abort();
    if (this.ownsUpstream) await this.upstream.close();
    this.started = false;
  }

  /** Called when the partners' tool list changed (federation started or ended, new catalog). */
  onToolsChanged(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  // ---------------------------------------------------------------------------------------------
  // Provider: what partners may call here
  // ---------------------------------------------------------------------------------------------

  /** The tools offered to `partner` on `federation` (rules by identity; trust is checked per call). */
  offeredTo(federation: Pick<FederationInfo, 'peer' | 'role' | 'capabilities'>): UpstreamTool[] {
    return this.upstream.tools().filter((t) => this.refusal(federation, t) === undefined);
  }

  private rulesFor(partner: string, tool: UpstreamTool): McpAccessRule[] {
    return this.access.filter(
      (r) =>
        (r.partners === '*' || r.partners.includes(partner)) &&
        r.tools.some((p) => matches(p, tool.name) || matches(p, tool.capability)),
    );
  }

  private refusal(
    federation: Pick<FederationInfo, 'peer' | 'role' | 'capabilities'>,
    tool: UpstreamTool,
  ): string | undefined {
    // The federation agreement: a target offers the capabilities it was asked for, no others.
    if (federation.role === 'responder' && !federation.capabilities.includes(tool.capability)) {
      return `${tool.name} (${tool.capability}) is outside this federation's capabilities (${federation.capabilities.join(', ')})`;
    }
    if (this.rulesFor(federation.peer, tool).length === 0) {
      return `no access rule grants ${tool.name} to ${federation.peer}`;
    }
    return undefined;
  }

  private onFederation(f: FederationInfo): void {
    if (f.status !== 'active' || !f.usable) return;
    const key = `${f.federationId}:${f.handshakeId ?? ''}:${this.revision}`;
    if (this.announced.has(key)) return;
    this.announced.add(key);
    if (this.announced.size > 10_000) this.announced.delete(this.announced.values().next().value as string);
    const catalog: Catalog = {
      revision: this.revision,
      tools: this.offeredTo(f).map(({ server: _s, upstreamName: _u, ...t }) => t),
      credential: this.o.credential as Catalog['credential'],
    };
    void this.sendCatalog(f.federationId, catalog, 0);
  }

  private async sendCatalog(federationId: string, catalog: Catalog, attempt: number): Promise<void> {
    try {
      await this.node.send(federationId, MCP_MESSAGE_TYPES.catalog, catalog as ClearPayload['data'], {
        priority: 'high',
      });
    } catch (err) {
      if (err instanceof UnknownFederationError || attempt >= 2 || !this.started) {
        this.log.debug({ federationId, err: String(err) }, 'tool catalog not delivered');
        return;
      }
      const t = setTimeout(
        () => void this.sendCatalog(federationId, catalog, attempt + 1),
        5_000 * (attempt + 1),
      );
      t.unref();
    }
  }

  private async trustOf(partner: string): Promise<number> {
    if (this.o.trustOf) return (await this.o.trustOf(partner)) ?? 0;
    return (await this.partnerTrust.get(partner)) ?? 0;
  }

  private async onTaskRequest(m: IncomingMessage, answered?: () => void): Promise<void> {
    const started = this.now();
    const parsed = parseTaskRequest(m.data);
    if (!parsed.success) {
      const taskId = (m.data as { taskId?: unknown } | null)?.taskId;
      if (typeof taskId === 'string' && /^[0-9a-f-]{36}$/i.test(taskId)) {
        await this.respond(
          m,
          taskId,
          {
            error: { code: 'invalid_request', message: parsed.error.issues[0]?.message ?? 'invalid request' },
          },
          answered,
        );
      }
      return;
    }
    const req = parsed.data;
    // By id: a provider with many partners must not list every federation for each call.
    const federation = this.node.federation(m.federationId);
    let outcome: ExplanationRecord['outcome'] = 'ok';
    let message: string | undefined;
    let policyIds: string[] = [];
    const tool = this.upstream.tool(req.tool);
    try {
      if (federation?.status !== 'active') throw new TaskFailure('not_federated', 'no active federation');
      if (!tool) throw new TaskFailure('unknown_tool', `this mesh offers no tool named ${req.tool}`);
      const refusal = this.refusal(federation, tool);
      if (refusal) throw new TaskFailure('policy_denied', refusal);
      const trust = await this.trustOf(m.source);
      const needed = Math.min(...this.rulesFor(m.source, tool).map((r) => r.minTrust ?? 0));
      if (trust < needed) {
        throw new TaskFailure(
          'trust_too_low',
          `${req.tool} needs partner trust ${needed}; ${m.source} has ${trust}`,
        );
      }
      // Local policy (Cedar, `callTool`), when the node has one: the agent, its mesh, the tool.
      const policy = this.node.compliance?.callTool(
        m.source,
        req.agent.did,
        { name: tool.name, capability: tool.capability, server: tool.server },
        trust,
        m.complianceContext,
      );
      if (policy && !policy.allow) {
        policyIds = [...policy.policyIds];
        throw new TaskFailure(
          'policy_denied',
          policy.policyIds.length
            ? `local policy forbids ${req.tool} (${policy.policyIds.join(', ')})`
            : `no local policy permits ${req.tool} for ${m.source}${policy.errors[0] ? `: ${policy.errors[0]}` : ''}`,
        );
      }
      if (policy) policyIds = [...policy.policyIds];
      const rate = this.limiter.check(m.source);
      if (!rate.ok)
        throw new TaskFailure('rate_limited', 'too many calls from this partner', rate.retryAfterMs);
      if (this.running.size >= this.maxConcurrent) {
        throw new TaskFailure('busy', `${this.maxConcurrent} partner calls are already running here`);
      }
      if (this.running.has(req.taskId)) return; // A resend of a running task: the answer will come.
      const task: RunningTask = { partner: m.source, abort: new AbortController() };
      this.running.set(req.taskId, task);
      let lastProgress = 0;
      try {
        const result = await this.upstream.call(tool.name, req.arguments, {
          signal: task.abort.signal,
          timeoutMs: Math.max(1, req.deadline - this.now()),
          ...(req.progress
            ? {
                onProgress: (p) => {
                  // Progress is advisory: at most one message per interval crosses the federation.
                  const t = this.now();
                  if (t - lastProgress < PROGRESS_INTERVAL_MS) return;
                  lastProgress = t;
                  void this.node
                    .send(
                      m.federationId,
                      MCP_MESSAGE_TYPES.progress,
                      { taskId: req.taskId, ...p },
                      {
                        priority: 'normal',
                        ...(m.complianceContext ? { complianceContext: m.complianceContext } : {}),
                      },
                    )
                    .catch(() => {});
                },
              }
            : {}),
        });
        if (jsonBytes(result) > this.maxResultBytes) {
          throw new TaskFailure('result_too_large', `the result exceeds ${this.maxResultBytes} bytes`);
        }
        if (result.isError) outcome = 'tool_error';
        await this.respond(m, req.taskId, { result: result as unknown as ClearPayload['data'] }, answered);
      } finally {
        this.running.delete(req.taskId);
      }
    } catch (err) {
      const failure =
        err instanceof TaskFailure
          ? err
          : new TaskFailure('upstream_error', err instanceof Error ? err.message : String(err));
      outcome = failure.code;
      message = failure.message;
      await this.respond(
        m,
        req.taskId,
        {
          error: {
            code: failure.code,
            message: failure.message,
            ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
          },
        },
        answered,
      );
    }
    this.explain({
      actionId: req.taskId,
      at: started,
      side: 'provider',
      federationId: m.federationId,
      partner: m.source,
      agent: req.agent,
      tool: req.tool,
      capability: tool?.capability,
      outcome,
      message,
      durationMs: this.now() - started,
      complianceContext: m.complianceContext,
      ...(policyIds.length ? { policyIds } : {}),
      explanation: {
        reasoning:
          outcome === 'ok' || outcome === 'tool_error'
            ? `Federated tool call accepted: ${req.tool} (${tool?.capability}) is granted to ${m.source} by local access rules within federation ${m.federationId}`
            : `Federated tool call refused or failed (${outcome}): ${message}`,
        dataUsed: ['tool-arguments', 'access-rules', 'partner-credential', 'federation-capabilities'],
        alternatives: ['deny-call', 'partner-local-execution'],
        humanReviewable: true,
      },
    });
  }

  private async respond(
    /** The request answered: the answer goes on its federation, under its complianceContext. */
    to: Pick<IncomingMessage, 'federationId' | 'complianceContext'>,
    taskId: string,
    body:
      | { result: ClearPayload['data'] }
      | { error: { code: TaskErrorCode; message: string; retryAfterMs?: number } },
    /** Called once the answer is queued on the link. */
    queued?: () => void,
  ): Promise<void> {
    const { federationId, complianceContext } = to;
    try {
      // The answer is data of the same call: the same context, checked and audited on both sides,
      // and the hubs keep it on the request's geography.
      await this.node.send(
        federationId,
        MCP_MESSAGE_TYPES.response,
        { taskId, ...body },
        {
          priority: 'high',
          ...(complianceContext ? { complianceContext } : {}),
          ...(queued ? { onQueued: queued } : {}),
        },
      );
    } catch (err) {
      if ('result' in body && err instanceof ComplianceDeniedError) {
        // The caller must not wait for a result that may not leave: a refusal carrying nothing of
        // the call's data goes instead (without the context, whose checks just kept the data here).
        await this.respond(
          { federationId, complianceContext: undefined },
          taskId,
          {
            error: {
              code: 'policy_denied',
              message: `the provider's compliance rules keep this result from leaving: ${err.message}`.slice(
                0,
                MCP_LIMITS.reasonLength,
              ),
            },
          },
          queued,
        );
        return;
      }
      if ('result' in body && err instanceof FmpProtocolError && err.wireCode === 'message_too_large') {
        await this.respond(
          to,
          taskId,
          { error: { code: 'result_too_large', message: 'the sealed result exceeds the largest frame' } },
          queued,
        );
        return;
      }
      this.log.warn({ federationId, taskId, err: String(err) }, 'task response not delivered');
    }
  }

  private onCancel(m: IncomingMessage): void {
    const parsed = taskCancelSchema.safeParse(m.data);
    if (!parsed.success) return;
    const task = this.running.get(parsed.data.taskId);
    // Only the partner that asked may cancel.
    if (task && task.partner === m.source) task.abort.abort(parsed.data.reason);
  }

  // ---------------------------------------------------------------------------------------------
  // Consumer: partners' tools
  // ---------------------------------------------------------------------------------------------

  private onCatalog(m: IncomingMessage): void {
    const parsed = catalogSchema.safeParse(m.data);
    if (!parsed.success) {
      this.log.warn(
        { partner: m.source, issue: parsed.error.issues[0]?.message },
        'malformed tool catalog ignored',
      );
      return;
    }
    const previous = this.catalogs.get(m.federationId);
    if (previous && previous.revision > parsed.data.revision) return;
    const credential = parsed.data.credential;
    this.partnerTrust.set(
      m.source,
      this.node.checkCredential(credential).then(
        (c) => (c.verified && c.subject === m.source ? c.trustScore : 0),
        () => 0,
      ),
    );
    if (this.partnerTrust.size > 10_000)
      this.partnerTrust.delete(this.partnerTrust.keys().next().value as string);
    this.catalogs.set(m.federationId, {
      federationId: m.federationId,
      partner: m.source,
      revision: parsed.data.revision,
      tools: parsed.data.tools,
    });
    this.changed();
  }

  private dropFederation(federationId: string, reason: string): void {
    if (this.catalogs.delete(federationId)) this.changed();
    for (const p of this.pending.values()) {
      if (p.federationId === federationId) p.settle({ ok: false, code: 'not_federated', message: reason });
    }
    for (const key of this.announced) if (key.startsWith(`${federationId}:`)) this.announced.delete(key);
  }

  private changed(): void {
    this.remoteIndex = undefined;
    for (const l of this.changeListeners) {
      try {
        l();
      } catch (err) {
        this.log.warn({ err: String(err) }, 'tools-changed listener failed');
      }
    }
  }

  /** Partners' tools on active federations, namespaced `<partner>__<tool>`. */
  remoteTools(): RemoteTool[] {
    return [...this.index().values()];
  }

  private index(): Map<string, RemoteTool> {
    if (this.remoteIndex) return this.remoteIndex;
    const active = new Map(
      this.node
        .federations()
        .filter((f) => f.status === 'active' && f.usable)
        .map((f) => [f.federationId, f]),
    );
    // One catalog per partner: the most recently received wins when several federations are active.
    const byPartner = new Map<string, PartnerCatalog>();
    for (const c of this.catalogs.values()) if (active.has(c.federationId)) byPartner.set(c.partner, c);
    const aliases = partnerAliases(byPartner.keys());
    const out = new Map<string, RemoteTool>();
    for (const c of byPartner.values()) {
      for (const tool of c.tools) {
        const name = exposedToolName(aliases.get(c.partner)!, tool.name);
        out.set(name, { name, partner: c.partner, federationId: c.federationId, tool });
      }
    }
    this.remoteIndex = out;
    return out;
  }

  /** Resolves an exposed name; undefined when no active federation lists it. */
  remoteTool(name: string): RemoteTool | undefined {
    return this.index().get(name);
  }

  /**
   * Like remoteTool, and also `<partner>__<tool>` for a tool the partner's catalog does not list:
   * the partner is the authority on its tools (a stale catalog, or a tool it will refuse with its
   * reason), so such a call is sent rather than refused here.
   */
  resolve(name: string): RemoteTool | undefined {
    const listed = this.remoteTool(name);
    if (listed) return listed;
    const sep = name.indexOf('__');
    if (sep <= 0) return undefined;
    const alias = name.slice(0, sep);
    const tool = name.slice(sep + 2);
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(tool)) return undefined;
    const known = new Map<string, string>();
    for (const r of this.index().values()) known.set(r.partner, r.federationId);
    for (const c of this.catalogs.values()) if (!known.has(c.partner)) known.set(c.partner, c.federationId);
    const active = new Set(
      this.node
        .federations()
        .filter((f) => f.status === 'active' && f.usable)
        .map((f) => f.federationId),
    );
    for (const [did, a] of partnerAliases(known.keys())) {
      const federationId = known.get(did)!;
      if (a === alias && active.has(federationId)) {
        return {
          name,
          partner: did,
          federationId,
          tool: { name: tool, inputSchema: { type: 'object' }, capability: 'unlisted' },
        };
      }
    }
    return undefined;
  }

  /**
   * Calls a partner's tool through the federation. Never rejects: failures come back as
   * `{ ok: false, code, message }` (the MCP endpoint turns them into tool errors).
   */
  async callRemote(
    name: string,
    args: Record<string, unknown>,
    options: RemoteCallOptions,
  ): Promise<RemoteCallResult> {
    const started = this.now();
    const remote = this.resolve(name);
    if (!remote) {
      return { ok: false, code: 'unknown_tool', message: `no federated partner offers ${name}` };
    }
    let complianceContext: ComplianceContext = this.o.defaultComplianceContext ?? DEFAULT_COMPLIANCE;
    if (options.complianceContext !== undefined) {
      const cc = complianceContextSchema.safeParse(options.complianceContext);
      if (!cc.success) {
        return {
          ok: false,
          code: 'invalid_request',
          message: `complianceContext: ${cc.error.issues[0]?.path.join('.')}: ${cc.error.issues[0]?.message}`,
        };
      }
      complianceContext = cc.data;
    }
    const result = await this.call(remote, args, options, complianceContext);

    const durationMs = this.now() - started;
    // The answer goes back first; the outcome report and the explanation record (an audit append)
    // follow in the next turn, off the caller's wait.
    setImmediate(() => {
      this.reportOutcome(remote, result.r);
      this.explain({
        actionId: result.taskId,
        at: started,
        side: 'caller',
        federationId: remote.federationId,
        partner: remote.partner,
        agent: options.agent,
        tool: remote.tool.name,
        capability: remote.tool.capability,
        outcome: result.r.ok ? (result.r.result.isError ? 'tool_error' : 'ok') : result.r.code,
        message: result.r.ok ? undefined : result.r.message,
        durationMs,
        complianceContext,
        explanation: {
          reasoning: `Task delegated based on capability match: ${remote.tool.capability} is offered by ${remote.partner} as ${remote.tool.name} over federation ${remote.federationId}`,
          dataUsed: ['tool-arguments', 'partner-catalog', 'federation-registry'],
          alternatives: ['local-execution', 'alternative-mesh'],
          humanReviewable: true,
        },
      });
    });
    return result.r;
  }

  private async call(
    remote: RemoteTool,
    args: Record<string, unknown>,
    options: RemoteCallOptions,
    complianceContext: ComplianceContext,
  ): Promise<{ taskId: string; r: RemoteCallResult }> {
    const taskId = randomUUID();
    if (this.pending.size >= this.maxPending) {
      return {
        taskId,
        r: { ok: false, code: 'busy', message: `${this.maxPending} federated calls are already waiting` },
      };
    }
    if (options.signal?.aborted)
      return { taskId, r: { ok: false, code: 'cancelled', message: 'cancelled by the client' } };
    const timeoutMs = Math.min(options.timeoutMs ?? this.callTimeoutMs, 10 * 60_000);
    const request: TaskRequest = {
      taskId,
      tool: remote.tool.name,
      arguments: args as TaskRequest['arguments'],
      agent: options.agent,
      progress: options.onProgress !== undefined,
      deadline: this.now() + timeoutMs,
    };
    const r = await new Promise<RemoteCallResult>((resolve) => {
      let done = false;
      const onAbort = () => {
        this.sendCancel(remote.federationId, taskId, 'cancelled by the client', complianceContext);
        settle({ ok: false, code: 'cancelled', message: 'cancelled by the client' });
      };
      const timer = setTimeout(() => {
        const call = this.pending.get(taskId);
        this.sendCancel(remote.federationId, taskId, 'deadline passed', complianceContext);
        settle(
          call && !call.delivered
            ? {
                ok: false,
                code: 'partner_offline',
                message: `${remote.partner} did not receive the call within ${timeoutMs} ms`,
              }
            : {
                ok: false,
                code: 'timeout',
                message: `${remote.partner} did not answer within ${timeoutMs} ms`,
              },
        );
      }, timeoutMs);
      const settle = (result: RemoteCallResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(taskId);
        resolve(result);
      };
      this.pending.set(taskId, {
        taskId,
        federationId: remote.federationId,
        partner: remote.partner,
        delivered: false,
        onProgress: options.onProgress,
        settle,
      });
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.node
        .send(remote.federationId, MCP_MESSAGE_TYPES.request, request, {
          priority: 'high',
          complianceContext,
        })
        .then(
          () => {
            const call = this.pending.get(taskId);
            if (call) call.delivered = true;
          },
          (err) => settle(sendFailure(remote.partner, err)),
        );
    });
    return { taskId, r };
  }

  /** The partner's hub hears how its tools behaved (trust engine input); refusals are not failures. */
  private reportOutcome(remote: RemoteTool, r: RemoteCallResult): void {
    const failed = !r.ok && PARTNER_FAULTS.has(r.code);
    if (!r.ok && !failed) return;
    try {
      this.node.reportInteraction(
        remote.federationId,
        failed ? 'tool_call_failed' : 'tool_call_ok',
        failed ? `${remote.tool.name}: ${r.code}` : remote.tool.name,
      );
    } catch {
      // the federation ended meanwhile
    }
  }

  private sendCancel(
    federationId: string,
    taskId: string,
    reason: string,
    complianceContext: ComplianceContext,
  ): void {
    void this.node
      .send(
        federationId,
        MCP_MESSAGE_TYPES.cancel,
        { taskId, reason },
        { priority: 'high', complianceContext },
      )
      .catch(() => {});
  }

  private onResponse(m: IncomingMessage): void {
    const parsed = parseTaskResponse(m.data);
    if (!parsed.success) return;
    const call = this.pending.get(parsed.data.taskId);
    if (!call || call.partner !== m.source || call.federationId !== m.federationId) return;
    if ('error' in parsed.data) {
      const e = parsed.data.error;
      call.settle({
        ok: false,
        code: e.code,
        message: e.message,
        ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
      });
      return;
    }
    const result = parsed.data.result as unknown as CallToolResult;
    if (!Array.isArray(result.content)) {
      call.settle({
        ok: false,
        code: 'upstream_error',
        message: 'the partner answered with a malformed result',
      });
      return;
    }
    call.settle({ ok: true, result });
  }

  private onProgressMessage(m: IncomingMessage): void {
    const parsed = taskProgressSchema.safeParse(m.data);
    if (!parsed.success) return;
    const call = this.pending.get(parsed.data.taskId);
    if (!call || call.partner !== m.source) return;
    call.delivered = true;
    const { taskId: _t, ...p } = parsed.data;
    call.onProgress?.(p);
  }

  // ---------------------------------------------------------------------------------------------

  private onMessage(m: IncomingMessage): Promise<void> | undefined {
    switch (m.type) {
      case MCP_MESSAGE_TYPES.request: {
        // The node holds the request's receipt until this resolves (at most its receiptWithinMs):
        // once the answer is queued, so both leave in one batch. The call itself is not awaited.
        let answered!: () => void;
        const queued = new Promise<void>((resolve) => {
          answered = resolve;
        });
        void this.onTaskRequest(m, answered)
          .catch((err) => this.log.warn({ err: String(err) }, 'task request failed'))
          .finally(answered);
        return queued;
      }
      case MCP_MESSAGE_TYPES.response:
        this.onResponse(m);
        return;
      case MCP_MESSAGE_TYPES.progress:
        this.onProgressMessage(m);
        return;
      case MCP_MESSAGE_TYPES.cancel:
        this.onCancel(m);
        return;
      case MCP_MESSAGE_TYPES.catalog:
        this.onCatalog(m);
        return;
    }
  }

  private explain(record: ExplanationRecord): void {
    try {
      this.o.onExplanation?.(record);
    } catch (err) {
      this.log.warn({ err: String(err) }, 'explanation sink failed');
    }
  }
}

function sendFailure(partner: string, err: unknown): RemoteCallResult {
  if (err instanceof DeliveryError) {
    if (err.wireCode === 'rate_limited') {
      return {
        ok: false,
        code: 'rate_limited',
        message: `the hub throttled this federation: ${err.message}`,
        ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
      };
    }
    return { ok: false, code: 'partner_offline', message: `${partner} is unreachable: ${err.message}` };
  }
  if (err instanceof UnknownFederationError)
    return { ok: false, code: 'not_federated', message: err.message };
  if (err instanceof NodeNotConnectedError) {
    return { ok: false, code: 'partner_offline', message: 'this node is not connected to its hub' };
  }
  if (err instanceof NodeBusyError) return { ok: false, code: 'busy', message: err.message };
  if (err instanceof FmpProtocolError && err.wireCode === 'message_too_large') {
    return { ok: false, code: 'invalid_request', message: 'the arguments are too large for one message' };
  }
  return {
    ok: false,
    code: 'partner_offline',
    message: `${partner}: ${err instanceof Error ? err.message : String(err)}`.slice(
      0,
      MCP_LIMITS.reasonLength,
    ),
  };
}
