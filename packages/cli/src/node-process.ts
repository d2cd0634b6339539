/**
 * `fmp node start`: a mesh node from its config file, plus a loopback control API (bearer token)
 * through which `fmp discover|federate|send|federations` and the demo drive the running node.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, rmSync, type WriteStream } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  complianceContextSchema,
  constantTimeEqual,
  FmpError,
  utf8,
  type VerifiableCredentialJson,
} from '@fmp/core';
import { jsonlMeshStore, MeshRegistry } from '@fmp/identity';
import { type SignedEntry, signEntry } from '@fmp/ledger';
import {
  ComputeMeter,
  createMeshNode,
  type ExplanationRecord,
  type IncomingMessage,
  MCP_MESSAGE_TYPES,
  McpBridge,
  McpHttpEndpoint,
  type McpIncoming,
  type MeshNode,
  writeMcpResponse,
} from '@fmp/node';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import pino from 'pino';
import { z } from 'zod';
import { IDENTITY_LOG } from './commands/init.js';
import { LedgerClient } from './commands/ledger/client.js';
import { hubHttpBase, type NodeConfig, resolvePath } from './config.js';
import { UsageError } from './errors.js';
import { readKeyFile } from './keyfile.js';
import { type NodeCompliance, openNodeCompliance } from './node-compliance.js';
import { writeSecretFile } from './secrets.js';

/** Received messages kept for `GET /v1/messages` (the node's own application would subscribe instead). */
const INBOX_LIMIT = 10_000;
/** Explanation records kept in memory for `GET /v1/explanations` (all of them go to the file). */
const EXPLANATIONS_LIMIT = 1_000;

const FederateBody = z.strictObject({
  target: z.string().min(7).max(2048),
  capabilities: z.array(z.string().min(1).max(128)).max(64),
  purpose: z.string().min(1).max(256),
  ttlSeconds: z.number().int().positive().max(31_536_000).optional(),
  minTrustScore: z.number().min(0).max(100).optional(),
});
const ErasureBody = z.strictObject({ dataSubject: z.string().min(1).max(128) });
const AuditQueryParams = z.strictObject({
  federationId: z.string().max(256).optional(),
  mesh: z.string().max(2048).optional(),
  kind: z.string().max(64).optional(),
  since: z.coerce.number().int().min(0).optional(),
  until: z.coerce.number().int().min(0).optional(),
  afterSeq: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});
const AttestBody = z.strictObject({
  subject: z.string().min(7).max(2048),
  score: z.number().int().min(0).max(100),
  claim: z.string().min(1).max(256),
  ttlSeconds: z.number().int().positive().max(31_536_000).optional(),
});
const SendBody = z.strictObject({
  type: z.string().regex(/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/),
  data: z.json(),
  priority: z.enum(['critical', 'high', 'normal', 'low']).optional(),
  complianceContext: complianceContextSchema.optional(),
});

export interface RunningNode {
  node: MeshNode;
  bridge: McpBridge;
  controlUrl: string;
  /** Partners' tools over MCP (Streamable HTTP), when the endpoint is on. */
  mcpUrl: string | undefined;
  token: string;
  stop(): Promise<void>;
}

export interface NodeStack {
  node: MeshNode;
  bridge: McpBridge;
  /** Adapters, local policy, audit trail and vault (undefined when compliance.enabled is false). */
  compliance: NodeCompliance | undefined;
  /** The latest explanation records, oldest first. */
  explanations: (ExplanationRecord & { seq: number })[];
  /** Purges payloads past their retention now; how many. */
  purgeNow(): Promise<number>;
  /** Federated compute this node used and has not paid for yet (issue #7). */
  meter: ComputeMeter;
  /** Pays what the meter holds on the ledger (signed compute.payment entries via the home hub). */
  settleCompute(): ReturnType<ComputeMeter['settle']>;
  /** Signs an attestation entry and submits it to the ledger through the home hub. */
  recordAttestation(body: { subject: string; claim: string; score: number }): Promise<{ index: number }>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function controlTokenPath(config: NodeConfig & { configDir: string }): string {
  return resolvePath(config.configDir, config.controlTokenFile ?? 'control.token');
}

/** Where a running node says where it listens (the config may ask for port 0). */
export function runtimeFilePath(config: NodeConfig & { configDir: string }): string {
  return resolvePath(config.configDir, 'node.runtime.json');
}

export interface NodeRuntime {
  pid: number;
  controlUrl: string;
  mcpUrl: string | null;
}

/** The running node's addresses, or undefined when it does not run (or left a stale file). */
export function readRuntime(config: NodeConfig & { configDir: string }): NodeRuntime | undefined {
  try {
    const rt = JSON.parse(readFileSync(runtimeFilePath(config), 'utf8')) as NodeRuntime;
    process.kill(rt.pid, 0);
    return rt;
  } catch {
    return undefined;
  }
}

/**
 * The node and its MCP bridge from a config (shared by `fmp node start` and `fmp node mcp`).
 * Logs go to `logDestination` (stderr when stdout carries MCP).
 */
export async function createNodeStack(
  config: NodeConfig & { configDir: string },
  logDestination: 1 | 2 = 1,
): Promise<NodeStack> {
  const key = readKeyFile(resolvePath(config.configDir, config.keyFile));
  if (key.did !== config.did) throw new UsageError(`key file is for ${key.did}, config says ${config.did}`);
  const credentialFile = resolvePath(config.configDir, config.credentialFile);
  let credential: VerifiableCredentialJson;
  try {
    credential = JSON.parse(readFileSync(credentialFile, 'utf8'));
  } catch (cause) {
    throw new UsageError(`cannot read the credential ${credentialFile}`, { cause });
  }
  // The node's own did:mesh operations, uploaded to the hub at authentication.
  const logPath = join(config.configDir, IDENTITY_LOG);
  let meshLog: Record<string, unknown>[] | undefined;
  if (existsSync(logPath)) {
    const registry = await MeshRegistry.open({ store: jsonlMeshStore({ path: logPath }) });
    meshLog = registry.history(config.did) as unknown as Record<string, unknown>[];
    await registry.close();
  }
  const logger = pino(
    { level: config.logLevel, base: { mesh: config.did } },
    pino.destination(logDestination),
  );
  // A mesh offers what its config says plus the capabilities its MCP tools are mapped to.
  const capabilities = [
    ...new Set([
      ...config.capabilities,
      ...config.mcp.servers.flatMap((s) => [
        ...Object.values(s.capabilities ?? {}),
        ...(s.defaultCapability ? [s.defaultCapability] : []),
      ]),
    ]),
  ];
  const compliance = await openNodeCompliance(config);
  const node = createMeshNode({
    ...(compliance ? { compliance: compliance.options } : {}),
    did: config.did,
    keyPair: key.keyPair,
    verificationMethod: key.verificationMethod,
    credential,
    capabilities,
    region: config.region,
    hubUrl: config.hubUrl,
    ...(config.hubHttpUrl ? { hubHttpUrl: config.hubHttpUrl } : {}),
    trustedIssuers: config.trustedIssuers,
    maxMessageAgeMs: config.messages.maxAgeMs,
    replayCapacity: config.messages.replayCapacity,
    ...(meshLog ? { meshLog } : {}),
    policy: {
      // Partners may ask for what this node offers unless the policy says otherwise.
      ...(config.policy.acceptCapabilities || capabilities.length
        ? { acceptCapabilities: config.policy.acceptCapabilities ?? capabilities }
        : {}),
      minPartnerTrust: config.policy.minPartnerTrust,
      ...(config.policy.allow ? { allow: config.policy.allow } : {}),
      deny: config.policy.deny,
    },
    logger,
  });
  const explanations: NodeStack['explanations'] = [];
  // Compute credits: the partner calls this node made, paid on the ledger (spec 9.1).
  const meter = new ComputeMeter();
  const hub = new LedgerClient(hubHttpBase(config));
  const ledgerClient = {
    nextSeq: async (did: string) => (await hub.account(did)).nextSeq,
    submit: (entry: SignedEntry) => hub.submit(entry),
  };
  const settleCompute = () => meter.settle({ did: config.did, keyPair: key.keyPair }, ledgerClient);
  let settle: NodeJS.Timeout | undefined;
  let explanationSeq = 0;
  let explanationsOut: WriteStream | undefined;
  const bridge = new McpBridge({
    node,
    credential,
    servers: config.mcp.servers.map((srv) => ({
      ...srv,
      // Relative paths in a server entry are relative to the config file, like every other path.
      cwd: resolvePath(config.configDir, srv.cwd ?? '.'),
    })),
    access: config.mcp.access,
    ...(config.mcp.complianceContext ? { defaultComplianceContext: config.mcp.complianceContext } : {}),
    callTimeoutMs: config.mcp.callTimeoutMs,
    maxConcurrentCalls: config.mcp.maxConcurrentCalls,
    partnerRate: config.mcp.partnerRate,
    logger,
    onExplanation: (record) => {
      if (record.side === 'caller' && (record.outcome === 'ok' || record.outcome === 'tool_error')) {
        const fed = record.federationId === undefined ? undefined : node.federation(record.federationId);
        meter.record({
          provider: record.partner,
          durationMs: record.durationMs,
          federationId: record.federationId,
          route: fed?.path,
        });
      }
      explanations.push({ ...record, seq: ++explanationSeq });
      if (explanations.length > EXPLANATIONS_LIMIT) explanations.shift();
      explanationsOut ??= createWriteStream(resolvePath(config.configDir, config.mcp.explanationsFile), {
        flags: 'a',
        mode: 0o600,
      });
      explanationsOut.write(`${JSON.stringify(record)}\n`);
      // In the audit trail too (spec 7.3), so `fmp explain <actionId>` finds it after a restart.
      void compliance?.audit
        .append({
          at: record.at,
          kind: 'explanation',
          actor: record.side === 'caller' ? config.did : record.partner,
          subject: record.side === 'caller' ? record.partner : config.did,
          ...(record.federationId ? { federationId: record.federationId } : {}),
          actionId: record.actionId,
          decision: record.outcome === 'ok' || record.outcome === 'tool_error' ? 'allow' : 'deny',
          ...(record.policyIds?.length ? { policyIds: [...record.policyIds] } : {}),
          data: JSON.parse(
            JSON.stringify({
              side: record.side,
              tool: record.tool,
              outcome: record.outcome,
              agent: record.agent,
              explanation: record.explanation,
            }),
          ),
        })
        .catch((err: unknown) => logger.warn({ err: String(err) }, 'explanation not audited'));
    },
  });
  // Payloads past their retention period are purged (the audit keeps the hash-only entry).
  let purge: NodeJS.Timeout | undefined;
  const purgeNow = async () => {
    if (!compliance?.vault) return 0;
    const n = await compliance.vault.purgeExpired(Date.now());
    if (n > 0) {
      await compliance.audit.append({
        at: Date.now(),
        kind: 'retention_purge',
        actor: config.did,
        data: { purged: n },
      });
    }
    return n;
  };
  return {
    node,
    bridge,
    compliance,
    explanations,
    meter,
    settleCompute,
    async recordAttestation(body) {
      const seq = await ledgerClient.nextSeq(config.did);
      return ledgerClient.submit(
        signEntry({ type: 'attestation', actor: config.did, seq, body }, key.keyPair),
      );
    },
    async start() {
      await Promise.all([bridge.start(), node.start()]);
      if (config.ledger.settleMs > 0) {
        settle = setInterval(() => {
          if (meter.owed().length === 0) return;
          void settleCompute().then((r) => {
            for (const f of r.failed)
              logger.warn({ provider: f.provider, err: f.error }, 'compute settlement failed');
          });
        }, config.ledger.settleMs);
        settle.unref();
      }
      if (compliance?.vault) {
        purge = setInterval(
          () => void purgeNow().catch((err) => logger.warn({ err: String(err) }, 'retention purge failed')),
          config.compliance.purgeIntervalMs,
        );
        purge.unref();
      }
    },
    async stop() {
      clearInterval(purge);
      clearInterval(settle);
      await bridge.stop();
      await node.stop();
      await compliance?.close();
      await new Promise<void>((resolve) => (explanationsOut ? explanationsOut.end(resolve) : resolve()));
    },
    purgeNow,
  };
}

export async function startNodeProcess(config: NodeConfig & { configDir: string }): Promise<RunningNode> {
  const stack = await createNodeStack(config);
  const { node, bridge } = stack;
  const inbox: (IncomingMessage & { seq: number; receivedAt: number })[] = [];
  let seq = 0;
  const mcpTypes = new Set<string>(Object.values(MCP_MESSAGE_TYPES));
  node.onMessage((m) => {
    // Tool calls and catalogs are the MCP bridge's business (GET /v1/mcp, /v1/explanations).
    if (mcpTypes.has(m.type)) return;
    inbox.push({ ...m, seq: ++seq, receivedAt: Date.now() });
    if (inbox.length > INBOX_LIMIT) inbox.shift();
  });
  await stack.start();

  const tokenFile = controlTokenPath(config);
  const token = existsSync(tokenFile)
    ? readFileSync(tokenFile, 'utf8').trim()
    : randomBytes(32).toString('base64url');
  if (!existsSync(tokenFile)) writeSecretFile(tokenFile, `${token}\n`);
  const expected = utf8(`Bearer ${token}`);

  let port = config.listen.port;
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ ok: true }));
  const endpoint = config.mcp.endpoint
    ? new McpHttpEndpoint({
        bridge,
        meshDid: node.did,
        name: `fmp ${node.did}`,
        ...(config.mcp.allowedHosts
          ? { allowedHosts: ['localhost', '127.0.0.1', '[::1]', ...config.mcp.allowedHosts] }
          : {}),
      })
    : undefined;
  if (endpoint) {
    app.all('/mcp', async (c) => {
      if (
        config.mcp.requireToken &&
        !constantTimeEqual(utf8(c.req.header('authorization') ?? ''), expected)
      ) {
        return c.json({ error: { code: 'unauthorized', message: 'bearer token required' } }, 401);
      }
      const env = c.env as { incoming?: McpIncoming; outgoing?: ServerResponse } | undefined;
      const response = await endpoint.fetchFromNode(c.req.raw, env?.incoming);
      if (!env?.outgoing) return response;
      await writeMcpResponse(response, env.outgoing);
      return RESPONSE_ALREADY_SENT;
    });
  }
  app.use('/v1/*', async (c, next) => {
    if (!constantTimeEqual(utf8(c.req.header('authorization') ?? ''), expected)) {
      return c.json({ error: { code: 'unauthorized', message: 'bearer token required' } }, 401);
    }
    await next();
  });
  app.get('/v1/node', (c) =>
    c.json({ did: node.did, connected: node.connected, trustScore: node.trustScore }),
  );
  app.get('/v1/discovery', async (c) => {
    const q = c.req.query();
    const meshes = await node.discover({
      ...(q.region ? { region: q.region } : {}),
      ...(q.capability ? { capabilities: [q.capability] } : {}),
      ...(q.minTrustScore ? { minTrustScore: Number(q.minTrustScore) } : {}),
    });
    return c.json({ meshes });
  });
  app.get('/v1/federations', (c) => c.json({ federations: node.federations() }));
  app.post('/v1/federations', async (c) => {
    const body = FederateBody.parse(await c.req.json());
    const t = performance.now();
    const federation = await node.federate(body.target, {
      capabilities: body.capabilities,
      purpose: body.purpose,
      ...(body.ttlSeconds ? { ttlSeconds: body.ttlSeconds } : {}),
      ...(body.minTrustScore !== undefined ? { minTrustScore: body.minTrustScore } : {}),
    });
    return c.json({ federation, handshakeMs: Math.round((performance.now() - t) * 1000) / 1000 });
  });
  app.delete('/v1/federations/:id', async (c) => {
    await node.terminate(c.req.param('id'), 'terminated by operator');
    return c.json({ terminated: c.req.param('id') });
  });
  app.post('/v1/federations/:id/messages', async (c) => {
    const body = SendBody.parse(await c.req.json());
    const t = performance.now();
    const receipt = await node.send(c.req.param('id'), body.type, body.data, {
      ...(body.priority ? { priority: body.priority } : {}),
      ...(body.complianceContext ? { complianceContext: body.complianceContext } : {}),
    });
    return c.json({ receipt, deliveredMs: Math.round((performance.now() - t) * 1000) / 1000 });
  });
  app.get('/v1/ledger/compute', (c) => c.json({ owed: stack.meter.owed() }));
  app.post('/v1/ledger/settle', async (c) => c.json(await stack.settleCompute()));
  app.post('/v1/attestations', async (c) => {
    const body = AttestBody.parse(await c.req.json());
    const attestation = await node.attest(body.subject, {
      score: body.score,
      claim: body.claim,
      ...(body.ttlSeconds ? { ttlSeconds: body.ttlSeconds } : {}),
    });
    // The same attestation on the ledger, where it earns the attester its reward (spec 9.2). The
    // trust engine took it already; a refusal here (no entry stake, say) is reported, not fatal.
    const ledger = await stack
      .recordAttestation({ subject: body.subject, claim: body.claim.slice(0, 200), score: body.score })
      .then(
        (r) => ({ index: r.index }),
        (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }),
      );
    return c.json({ attestation, ledger });
  });
  app.get('/v1/mcp', (c) =>
    c.json({
      servers: bridge.upstream.status(),
      offered: bridge.upstream
        .tools()
        .map((t) => ({ name: t.name, capability: t.capability, server: t.server })),
      partnerTools: bridge
        .remoteTools()
        .map((t) => ({ name: t.name, partner: t.partner, capability: t.tool.capability })),
      mcpUrl: endpoint ? `http://${config.listen.host}:${port}/mcp` : null,
    }),
  );
  // Compliance (spec 7): the audit trail, its verification, explanations, erasure.
  const needAudit = () => {
    if (!stack.compliance) throw new UsageError('compliance is off in this node (compliance.enabled: false)');
    return stack.compliance;
  };
  app.get('/v1/audit', async (c) => {
    const q = AuditQueryParams.parse(c.req.query());
    const entries = await needAudit().audit.query({ ...q, limit: q.limit ?? 100 });
    return c.json({ entries });
  });
  app.get('/v1/audit/verify', async (c) => c.json(await needAudit().audit.verify()));
  app.get('/v1/explanations/:id', async (c) => {
    const id = c.req.param('id');
    const live = stack.explanations.filter((e) => e.actionId === id);
    const audited: unknown[] = [];
    if (stack.compliance) {
      // Recent audit entries for this action (explanations, and the compliance decisions of the message).
      for (const kind of ['explanation', 'message', 'tool_call', 'compliance_denied'] as const) {
        const rows = await stack.compliance.audit.query({ kind, limit: 10_000 });
        audited.push(...rows.filter((r) => r.actionId === id));
      }
    }
    if (live.length === 0 && audited.length === 0) {
      return c.json({ error: { code: 'not_found', message: `no explanation for ${id}` } }, 404);
    }
    return c.json({ actionId: id, explanations: live, audit: audited });
  });
  app.post('/v1/erasure', async (c) => {
    const { dataSubject } = ErasureBody.parse(await c.req.json());
    const comp = needAudit();
    if (!comp.vault)
      throw new UsageError('this node keeps no payload copies (compliance.storePayloads: false)');
    const { payloads } = await comp.vault.erase(dataSubject);
    await comp.audit.append({ at: Date.now(), kind: 'erasure', actor: node.did, data: { payloads } });
    return c.json({ erased: payloads });
  });
  app.post('/v1/retention/purge', async (c) => c.json({ purged: await stack.purgeNow() }));
  app.get('/v1/explanations', (c) => {
    const since = Number(c.req.query('since') ?? 0);
    return c.json({ explanations: stack.explanations.filter((e) => e.seq > since) });
  });
  app.get('/v1/messages', (c) => {
    const since = Number(c.req.query('since') ?? 0);
    return c.json({ messages: inbox.filter((m) => m.seq > since) });
  });
  app.onError((err, c) => {
    if (err instanceof z.ZodError) {
      return c.json(
        { error: { code: 'malformed_request', message: err.issues[0]?.message ?? 'invalid body' } },
        400,
      );
    }
    const code = err instanceof FmpError ? err.code : 'internal_error';
    return c.json(
      { error: { code, message: err instanceof FmpError ? err.message : 'internal error' } },
      409,
    );
  });

  // Web Request/Response stay Node's own (no lightweight stand-ins installed globally): the MCP
  // endpoint's answers are written by writeMcpResponse, which reads them as they are.
  const server: Server = createServer(getRequestListener(app.fetch, { overrideGlobalObjects: false }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const runtime: NodeRuntime = {
    pid: process.pid,
    controlUrl: `http://${config.listen.host}:${port}`,
    mcpUrl: endpoint ? `http://${config.listen.host}:${port}/mcp` : null,
  };
  writeSecretFile(runtimeFilePath(config), `${JSON.stringify(runtime)}\n`);
  return {
    node,
    bridge,
    token,
    controlUrl: `http://${config.listen.host}:${port}`,
    mcpUrl: endpoint ? `http://${config.listen.host}:${port}/mcp` : undefined,
    async stop() {
      await endpoint?.close();
      // Stop accepting, then drop open streams (MCP SSE) so close() can finish.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      rmSync(runtimeFilePath(config), { force: true });
      await stack.stop();
    },
  };
}
