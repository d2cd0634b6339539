/**
 * MCP federation across two hubs: mesh alice (hub A) serves `/mcp` to a real MCP client from the
 * official SDK; mesh bob (hub B) fronts a real stdio MCP server (test/fixtures/mcp-server.ts).
 * Listing, calls, progress, cancellation, policy and trust refusals, a crashing upstream, a partner
 * going offline and tool-list changes, all over signed, sealed envelopes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ExplanationRecord,
  type IncomingMessage,
  MAX_MCP_BODY_BYTES,
  McpBridge,
  McpHttpEndpoint,
  type McpIncoming,
  type MeshNode,
} from '@fmp/node';
import { getRequestListener } from '@hono/node-server';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type Member, nodeFor, silent, until, type World } from './fixtures.js';
import { hubIdentity, linkedTo, type RunningHub, routeTo, startPeerHub } from './multi-hub.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/mcp-server.ts', import.meta.url));

describe('MCP federation across two hubs', () => {
  let world: World;
  let A: RunningHub;
  let B: RunningHub;
  let alice: Member;
  let bob: Member;
  let aliceNode: MeshNode;
  let bobNode: MeshNode;
  let aliceBridge: McpBridge;
  let bobBridge: McpBridge;
  let endpoint: McpHttpEndpoint;
  let http: HttpServer;
  let mcpUrl: URL;
  let dir: string;
  let federationId: string;
  const explanations: { alice: ExplanationRecord[]; bob: ExplanationRecord[] } = { alice: [], bob: [] };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fmp-mcp-'));
    world = await createWorld();
    const ia = hubIdentity('mcp-a');
    const ib = hubIdentity('mcp-b');
    B = await startPeerHub(world, ib, { allowedPeers: [ia.did] });
    A = await startPeerHub(world, ia, { peers: [{ did: ib.did, url: B.url }] });
    await until(linkedTo(A.hub, ib.did), 10_000, 'hub link');
    alice = await world.member('did:mesh:enterprise:alice-001', { trustLevel: 80 });
    bob = await world.member('did:mesh:academic:bob-001', { trustLevel: 90, capabilities: ['ml.inference'] });
    aliceNode = nodeFor(world, alice, A.url, { logger: silent });
    bobNode = nodeFor(world, bob, B.url, { logger: silent, policy: { minPartnerTrust: 50 } });
    await aliceNode.start();
    await bobNode.start();
    await until(routeTo(A.hub, bob.did), 10_000, 'route to bob');

    bobBridge = new McpBridge({
      node: bobNode,
      credential: bob.credential as never,
      servers: [
        {
          name: 'fixture',
          command: process.execPath,
          args: ['--import', 'tsx', FIXTURE],
          env: {
            FMP_FIXTURE_START_LOG: join(dir, 'starts.log'),
            FMP_FIXTURE_CANCEL_LOG: join(dir, 'cancels.log'),
          },
          capabilities: { fail: 'data.analysis' },
          defaultCapability: 'ml.inference',
        },
        // The same tools again: they are offered as fixture2.<tool> (the first server keeps the names).
        {
          name: 'fixture2',
          command: process.execPath,
          args: ['--import', 'tsx', FIXTURE],
          defaultCapability: 'ml.inference',
        },
      ],
      access: [
        { partners: [alice.did], tools: ['echo', 'add', 'slow', 'crash', 'fail'] },
        { partners: '*', tools: ['big'], minTrust: 95 },
        { partners: [alice.did], tools: ['fixture2.big'] },
      ],
      // Low enough that a flood of 60 calls is limited however slowly this machine delivers them.
      partnerRate: { ratePerSec: 5, burst: 20 },
      logger: silent,
      onExplanation: (r) => explanations.bob.push(r),
    });
    aliceBridge = new McpBridge({
      node: aliceNode,
      credential: alice.credential as never,
      logger: silent,
      callTimeoutMs: 10_000,
      onExplanation: (r) => explanations.alice.push(r),
    });
    await bobBridge.start();
    await aliceBridge.start();
    endpoint = new McpHttpEndpoint({ bridge: aliceBridge, meshDid: alice.did });
    http = createServer(
      getRequestListener((req) =>
        new URL(req.url).pathname === '/mcp'
          ? endpoint.fetch(req)
          : new Response('not found', { status: 404 }),
      ),
    );
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    mcpUrl = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);

    const fed = await aliceNode.federate(bob.did, { capabilities: ['ml.inference'], purpose: 'mcp test' });
    federationId = fed.federationId;
    await until(() => aliceBridge.remoteTools().length > 0, 10_000, "bob's catalog");
  }, 60_000);

  afterAll(async () => {
    await endpoint?.close();
    http?.closeAllConnections();
    await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
    await aliceBridge?.stop();
    await bobBridge?.stop();
    await aliceNode?.stop();
    await bobNode?.stop();
    await A?.hub.stop();
    await B?.hub.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function connect(mode: 'legacy' | 'auto' = 'legacy', onToolsChanged?: () => void): Promise<Client> {
    const client = new Client(
      { name: 'vitest-agent', version: '1.0.0' },
      {
        versionNegotiation: { mode },
        ...(onToolsChanged ? { listChanged: { tools: { onChanged: () => onToolsChanged() } } } : {}),
      },
    );
    await client.connect(new StreamableHTTPClientTransport(mcpUrl));
    return client;
  }

  function errorCode(result: unknown): string | undefined {
    return (result as { _meta?: Record<string, { code?: string }> })._meta?.['mesh.global/error']?.code;
  }

  it("lists bob's tools, namespaced, with the partner's schemas; refused tools are not listed", async () => {
    const client = await connect();
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    // `fail` is data.analysis, outside the federation's ml.inference; `big` needs trust 95 (alice has 80)
    // but is listed: trust is checked per call.
    expect(names).toEqual([
      'bob-001__add',
      'bob-001__big',
      'bob-001__crash',
      'bob-001__echo',
      'bob-001__fixture2.big',
      'bob-001__slow',
    ]);
    const add = tools.find((t) => t.name === 'bob-001__add')!;
    expect(add.description).toContain(bob.did);
    expect(add.inputSchema.properties).toHaveProperty('a');
    await client.close();
  });

  it('calls a tool across two hubs and gets the right result (2025 and 2026 protocol clients)', async () => {
    for (const mode of ['legacy', 'auto'] as const) {
      const client = await connect(mode);
      const result = await client.callTool({ name: 'bob-001__add', arguments: { a: 2, b: 40 } });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual({ sum: 42 });
      await client.close();
    }
    const caller = explanations.alice.find((r) => r.tool === 'add' && r.outcome === 'ok');
    const provider = explanations.bob.find((r) => r.tool === 'add' && r.outcome === 'ok');
    expect(caller?.explanation.reasoning).toContain('capability match');
    expect(provider?.partner).toBe(alice.did);
    expect(provider?.agent.did).toBe(`${alice.did}#agent-vitest-agent`);
    expect(provider?.actionId).toBe(caller?.actionId);
  });

  it('a tool outside the federation is denied by the partner with its reason', async () => {
    const client = await connect();
    const result = await client.callTool({ name: 'bob-001__fail', arguments: { message: 'x' } });
    expect(result.isError).toBe(true);
    expect(errorCode(result)).toBe('policy_denied');
    expect(JSON.stringify(result.content)).toContain("outside this federation's capabilities");
    await client.close();
  });

  it('a tool needing more trust than the caller has is refused as trust_too_low', async () => {
    const client = await connect();
    const result = await client.callTool({ name: 'bob-001__big', arguments: { kb: 1 } });
    expect(errorCode(result)).toBe('trust_too_low');
    expect(JSON.stringify(result.content)).toMatch(/needs partner trust 95.*has 80/);
    await client.close();
  });

  it('an unknown tool name is an MCP protocol error', async () => {
    const client = await connect();
    await expect(client.callTool({ name: 'nobody__nothing', arguments: {} })).rejects.toThrow(/Unknown tool/);
    await client.close();
  });

  it('progress crosses the federation', async () => {
    const client = await connect();
    const seen: number[] = [];
    const result = await client.callTool(
      { name: 'bob-001__slow', arguments: { steps: 5, delayMs: 150 } },
      { onprogress: (p) => seen.push(p.progress) },
    );
    expect(result.structuredContent).toEqual({ steps: 5 });
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    await client.close();
  });

  it('cancellation reaches the upstream server through the partner', async () => {
    const client = await connect();
    const controller = new AbortController();
    const call = client.callTool(
      { name: 'bob-001__slow', arguments: { steps: 200, delayMs: 50 } },
      { signal: controller.signal, onprogress: () => controller.abort('enough') },
    );
    await expect(call).rejects.toThrow();
    const log = join(dir, 'cancels.log');
    await until(
      () => existsSync(log) && readFileSync(log, 'utf8').includes('cancelled'),
      10_000,
      'cancel log',
    );
    await until(
      () => explanations.bob.some((r) => r.tool === 'slow' && r.outcome === 'cancelled'),
      10_000,
      'provider record',
    );
    await client.close();
  });

  it('a partner that does not answer in time gives timeout, and its upstream call is cancelled', async () => {
    const client = await connect();
    const result = await client.callTool({
      name: 'bob-001__slow',
      arguments: { steps: 100, delayMs: 100 },
      _meta: { 'mesh.global/timeoutMs': 400 },
    });
    expect(errorCode(result)).toBe('timeout');
    await until(
      () =>
        explanations.bob.some(
          (r) => r.tool === 'slow' && (r.outcome === 'cancelled' || r.outcome === 'timeout'),
        ),
      10_000,
      'provider gave up too',
    );
    // The caller's record is written in the turn after the answer (off the caller's wait).
    await until(() => explanations.alice.some((r) => r.outcome === 'timeout'), 10_000, 'caller record');
    const record = explanations.alice.find((r) => r.outcome === 'timeout')!;
    expect(record.complianceContext).toEqual({ dataClassification: 'confidential', auditTrail: true });
    await client.close();
  });

  it('a crashed upstream server gives an error, and the next call works on a respawned server', async () => {
    const client = await connect();
    const crashed = await client.callTool({ name: 'bob-001__crash', arguments: {} });
    expect(crashed.isError).toBe(true);
    expect(errorCode(crashed)).toBe('upstream_crashed');
    const again = await client.callTool({ name: 'bob-001__echo', arguments: { text: 'still here' } });
    expect(again.content).toEqual([{ type: 'text', text: 'still here' }]);
    const starts = readFileSync(join(dir, 'starts.log'), 'utf8').trim().split('\n');
    expect(starts.length).toBeGreaterThanOrEqual(2);
    await client.close();
  });

  it('answers an oversized or non-JSON POST at /mcp with an HTTP error', async () => {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const big = await fetch(mcpUrl, { method: 'POST', headers, body: 'x'.repeat(MAX_MCP_BODY_BYTES + 1) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { message: string } }).error.message).toContain(
      'Payload Too Large',
    );
    const bad = await fetch(mcpUrl, { method: 'POST', headers, body: '{not json' });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);
    // The same behind node:http with the body read from Node's request (what the node process does).
    const node = createServer(
      getRequestListener((req, env) =>
        endpoint.fetchFromNode(req, (env as { incoming: McpIncoming }).incoming),
      ),
    );
    await new Promise<void>((r) => node.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(node.address() as AddressInfo).port}/mcp`;
      const tooBig = await fetch(url, { method: 'POST', headers, body: 'x'.repeat(MAX_MCP_BODY_BYTES + 1) });
      expect(tooBig.status).toBe(413);
      const notJson = await fetch(url, { method: 'POST', headers, body: '{not json' });
      expect(notJson.status).toBe(bad.status);
    } finally {
      node.closeAllConnections();
      await new Promise<void>((r) => node.close(() => r()));
    }
  });

  it('a large result crosses the federation; one too large for a frame is refused, not lost', async () => {
    const client = await connect();
    const ok = await client.callTool({ name: 'bob-001__fixture2.big', arguments: { kb: 200 } });
    expect((ok.content as { text: string }[])[0]!.text.length).toBe(200 * 1024);
    const tooBig = await client.callTool({ name: 'bob-001__fixture2.big', arguments: { kb: 900 } });
    expect(errorCode(tooBig)).toBe('result_too_large');
    await client.close();
  });

  it("every answer travels under its call's complianceContext (so both sides check and audit it)", async () => {
    const context = { dataClassification: 'internal', purpose: 'answer-context test', auditTrail: true };
    const answers: IncomingMessage[] = [];
    const off = aliceNode.onMessage((m) => {
      if (m.type === 'agent.task.response') answers.push(m);
    });
    try {
      const client = await connect();
      const meta = { 'mesh.global/complianceContext': context };
      const ok = await client.callTool({ name: 'bob-001__echo', arguments: { text: 'ctx' }, _meta: meta });
      expect(ok.isError).toBeFalsy();
      const failed = await client.callTool({ name: 'bob-001__fail', arguments: {}, _meta: meta });
      expect(failed.isError).toBe(true);
      await client.close();
    } finally {
      off();
    }
    expect(answers.length).toBeGreaterThanOrEqual(2);
    for (const a of answers.slice(-2)) expect(a.complianceContext).toEqual(context);
    // Without one in _meta, the call's default context (confidential) goes both ways.
    const before = answers.length;
    const off2 = aliceNode.onMessage((m) => {
      if (m.type === 'agent.task.response') answers.push(m);
    });
    try {
      const client = await connect();
      await client.callTool({ name: 'bob-001__echo', arguments: { text: 'default' } });
      await client.close();
    } finally {
      off2();
    }
    expect(answers[before]?.complianceContext).toEqual({
      dataClassification: 'confidential',
      auditTrail: true,
    });
  });

  it('a malformed task request from an authenticated partner gets a typed error answer', async () => {
    const taskId = crypto.randomUUID();
    const answered = new Promise<unknown>((resolve) => {
      const off = aliceNode.onMessage((m) => {
        if (m.type === 'agent.task.response' && (m.data as { taskId?: string }).taskId === taskId) {
          off();
          resolve(m.data);
        }
      });
    });
    await aliceNode.send(federationId, 'agent.task.request', {
      taskId,
      tool: 'echo',
      arguments: 'not an object',
    });
    expect(await answered).toMatchObject({ taskId, error: { code: 'invalid_request' } });
  });

  it('a partner flooding calls is rate limited with retry-after; every call is answered', async () => {
    const client = await connect();
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        client.callTool({ name: 'bob-001__echo', arguments: { text: `n${i}` } }, { timeout: 20_000 }),
      ),
    );
    const codes = results.map((r) => errorCode(r) ?? 'ok');
    expect(codes.filter((c) => c === 'ok').length).toBeGreaterThan(0);
    expect(codes).toContain('rate_limited');
    expect(codes.every((c) => c === 'ok' || c === 'rate_limited' || c === 'busy')).toBe(true);
    const limited = results.find((r) => errorCode(r) === 'rate_limited')!;
    expect(
      (limited._meta as Record<string, { retryAfterMs?: number }>)['mesh.global/error']!.retryAfterMs,
    ).toBeGreaterThan(0);
    await client.close();
  });

  it('tool-list changes are announced when the federation ends', async () => {
    let changes = 0;
    const client = await connect('legacy', () => changes++);
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await aliceNode.terminate(federationId, 'test over');
    await until(() => changes > 0, 10_000, 'tools/list_changed');
    expect((await client.listTools()).tools).toEqual([]);
    // A new federation brings the tools back, announced the same way.
    const seen = changes;
    await aliceNode.federate(bob.did, { capabilities: ['ml.inference'], purpose: 'mcp test again' });
    await until(() => changes > seen, 10_000, 'tools/list_changed again');
    expect((await client.listTools()).tools.length).toBe(6);
    await client.close();
  });

  it('a partner that went offline gives partner_offline, never a hang', async () => {
    const client = await connect();
    await bobNode.stop();
    const result = await client.callTool({
      name: 'bob-001__echo',
      arguments: { text: 'anyone?' },
      _meta: { 'mesh.global/timeoutMs': 1500 },
    });
    expect(result.isError).toBe(true);
    expect(errorCode(result)).toBe('partner_offline');
    await client.close();
  });
});
