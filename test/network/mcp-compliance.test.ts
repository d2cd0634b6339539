/**
 * A federated tool call under both nodes' compliance gates (real hub, nodes and fixture MCP server
 * on loopback): the answer travels under the call's complianceContext, so each side checks and
 * audits both the request and the answer; a result the provider's rules keep in place is refused
 * at once with policy_denied, not left for the caller's timeout.
 */
import { fileURLToPath } from 'node:url';
import { AuditLog, memoryAuditStorage, PolicyEngine } from '@fmp/compliance';
import type { Hub } from '@fmp/hub';
import { McpBridge, type MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, nodeFor, silent, startHub, until, type World } from './fixtures.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/mcp-server.ts', import.meta.url));

describe('federated tool calls under compliance gates', () => {
  let world: World;
  let hub: Hub;
  let caller: MeshNode;
  let provider: MeshNode;
  let callerAudit: AuditLog;
  let providerAudit: AuditLog;
  let callerBridge: McpBridge;
  let providerBridge: McpBridge;
  let echo = '';

  beforeAll(async () => {
    world = await createWorld();
    const started = await startHub(world);
    hub = started.hub;
    callerAudit = await AuditLog.open(memoryAuditStorage());
    providerAudit = await AuditLog.open(memoryAuditStorage());
    // The provider may send only answers of calls made for the "release" purpose.
    const policy = PolicyEngine.fromText(`
      @id("federate") permit (principal, action == Fmp::Action::"federate", resource);
      @id("receive") permit (principal, action == Fmp::Action::"receive", resource);
      @id("call") permit (principal, action == Fmp::Action::"callTool", resource);
      @id("send-released") permit (principal, action == Fmp::Action::"send", resource)
        when { context has compliance.purpose && context.compliance.purpose == "release" };
    `);
    const a = await world.member('did:mesh:enterprise:caller-001', { trustLevel: 90 });
    const b = await world.member('did:mesh:academic:provider-001', { trustLevel: 90 });
    caller = nodeFor(world, a, started.url, { compliance: { audit: callerAudit } });
    provider = nodeFor(world, b, started.url, { compliance: { audit: providerAudit, policy } });
    await caller.start();
    await provider.start();
    providerBridge = new McpBridge({
      node: provider,
      credential: b.credential as never,
      servers: [
        {
          name: 'fixture',
          command: process.execPath,
          args: ['--import', 'tsx', FIXTURE],
          defaultCapability: 'ml.inference',
        },
      ],
      access: [{ partners: [a.did], tools: ['echo'] }],
      logger: silent,
    });
    callerBridge = new McpBridge({
      node: caller,
      credential: a.credential as never,
      logger: silent,
      callTimeoutMs: 20_000,
    });
    await providerBridge.start();
    await callerBridge.start();
    await caller.federate(provider.did, { capabilities: ['ml.inference'], purpose: 'compliance test' });
    await until(() => callerBridge.remoteTools().length > 0, 10_000, "the provider's catalog");
    echo = callerBridge.remoteTools().find((t) => t.tool.name === 'echo')!.name;
  }, 60_000);

  afterAll(async () => {
    await callerBridge?.stop();
    await providerBridge?.stop();
    await caller?.stop();
    await provider?.stop();
    await hub?.stop();
  });

  const agent = { did: 'did:mesh:enterprise:caller-001#agent-test' };

  it('checks and audits the request and the answer on both sides', async () => {
    const context = { dataClassification: 'internal' as const, purpose: 'release', auditTrail: true };
    const r = await callerBridge.callRemote(echo, { text: 'hello' }, { agent, complianceContext: context });
    expect(r.ok).toBe(true);
    const directions = async (log: AuditLog) =>
      (await log.query({ kind: 'tool_call', limit: 100 })).map((e) => [
        (e.data as { direction: string; type: string }).direction,
        (e.data as { type: string }).type,
      ]);
    await until(async () => (await directions(callerAudit)).length >= 2, 5_000, 'caller entries');
    expect(await directions(callerAudit)).toEqual([
      ['egress', 'agent.task.request'],
      ['ingress', 'agent.task.response'],
    ]);
    expect(await directions(providerAudit)).toEqual([
      ['ingress', 'agent.task.request'],
      ['egress', 'agent.task.response'],
    ]);
    const answer = (await providerAudit.query({ kind: 'tool_call', limit: 100 })).find(
      (e) => (e.data as { direction: string }).direction === 'egress',
    );
    expect(answer).toMatchObject({ decision: 'allow', policyIds: ['send-released'] });
    expect((await callerAudit.verify()).ok).toBe(true);
    expect((await providerAudit.verify()).ok).toBe(true);
  });

  it("refuses at once, with policy_denied, a result the provider's rules keep in place", async () => {
    const context = { dataClassification: 'internal' as const, purpose: 'keep', auditTrail: true };
    const started = Date.now();
    const r = await callerBridge.callRemote(echo, { text: 'secret' }, { agent, complianceContext: context });
    expect(r).toMatchObject({ ok: false, code: 'policy_denied' });
    expect(r.ok || r.message).toMatch(/compliance rules keep this result/);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The refusal is on record at the provider: its answer was denied, and audited as such.
    const denied = await providerAudit.query({ kind: 'compliance_denied', limit: 10 });
    expect(denied.some((e) => (e.data as { type?: string }).type === 'agent.task.response')).toBe(true);
  });
});
