/**
 * `fmp demo --json` (what `npm start` runs, as JSON): real hub and node processes on loopback.
 * The JSON shape is a contract (issue #3).
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = new URL('../packages/cli/bin/fmp.js', import.meta.url).pathname;

describe('fmp demo --json', () => {
  it('federates organizations over real hubs, delivers every message, and reports refusals', async () => {
    // Parse the summary even when the demo exits 1, so a failure shows which part failed.
    const { stdout } = await run(process.execPath, [BIN, 'demo', '--json', '--messages', '4'], {
      timeout: 180_000,
    }).catch((err: { stdout?: string; stderr?: string }) => ({
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    }));
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]!);
    expect(r.hubs).toHaveLength(3);
    for (const h of r.hubs) expect(Object.keys(h)).toEqual(expect.arrayContaining(['did', 'region', 'url']));
    expect(r.meshes).toHaveLength(5);
    for (const m of r.meshes)
      expect(Object.keys(m)).toEqual(expect.arrayContaining(['did', 'category', 'hub']));
    // The APAC hub also serves mesh links over gRPC, and NGO's node is linked over it: its
    // federations, messages and tool calls below cross that transport.
    expect(
      r.hubs.filter((h: { grpcUrl?: string }) => h.grpcUrl).map((h: { region: string }) => h.region),
    ).toEqual(['apac']);
    expect(
      r.meshes.filter((m: { link: string }) => m.link === 'grpc').map((m: { did: string }) => m.did),
    ).toEqual(['did:mesh:ngo:relief-001']);
    expect(r.federations.length).toBeGreaterThan(0);
    expect(r.federations.some((f: { target: string }) => f.target === 'did:mesh:ngo:relief-001')).toBe(true);
    for (const f of r.federations) {
      expect(Object.keys(f)).toEqual(
        expect.arrayContaining(['federationId', 'source', 'target', 'status', 'path', 'handshakeMs']),
      );
      expect(f.status).toBe('active');
    }
    expect(r.refused.length).toBeGreaterThan(0);
    expect(
      r.refused.find((x: { source: string }) => x.source === 'did:mesh:enterprise:rogue-001').reason,
    ).toMatch(/untrusted_issuer/);
    expect(r.messages.sent).toBe(r.federations.length * 2 * 4);
    expect(r.messages.delivered).toBe(r.messages.sent);
    expect(r.messages.failed).toBe(0);
    expect(r.messages.p95Ms).toBeGreaterThanOrEqual(r.messages.p50Ms);
    // MCP federation (issue #4): real MCP servers behind the nodes, called through the callers' /mcp.
    for (const m of r.meshes) expect(m.mcpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    type Call = {
      caller: string;
      partner: string;
      tool: string;
      ok: boolean;
      error?: string;
      expected: boolean;
      progress?: number;
    };
    const calls = r.toolCalls as Call[];
    expect(calls.every((c) => c.expected)).toBe(true);
    const hubOf = (did: string) => r.meshes.find((m: { did: string }) => m.did === did).hub;
    // One successful call crosses two hubs, one is refused by the partner's policy, one for trust.
    expect(calls.some((c) => c.ok && hubOf(c.caller) !== hubOf(c.partner))).toBe(true);
    expect(calls.some((c) => c.error === 'policy_denied')).toBe(true);
    expect(calls.some((c) => c.error === 'trust_too_low')).toBe(true);
    expect(calls.find((c) => c.tool === 'mit-001__train_toy_model')?.progress).toBeGreaterThan(0);
    // The trust engine (issue #5): every mesh has a score and level from its home hub.
    for (const m of r.meshes) {
      expect(m.trustScore).toBeGreaterThan(0);
      expect(['Unverified', 'Basic', 'Validated', 'Certified', 'Audited']).toContain(m.trustLevel);
    }
    expect(r.attestations.length).toBeGreaterThan(0);
    // The ledger (issue #7): run by the NA hub, mirrored; a proposal went through every stage.
    expect(r.ledger).toMatchObject({ hub: 'did:mesh:hub:na-east', verified: true });
    expect(r.ledger.size).toBeGreaterThan(10);
    expect(r.ledger.witnesses).toBeGreaterThan(0);
    expect(r.governance.proposals).toHaveLength(1);
    expect(r.governance.proposals[0]).toMatchObject({ status: 'implemented', quorumReached: true });
    expect(r.governance.applied.map((a: { maxHops: number }) => a.maxHops)).toEqual([4, 4, 4]);
    // Compliance (issue #6): EU personal data to APAC refused without a safeguard, allowed with SCCs.
    expect(r.compliance.allowed).toBe(1);
    expect(r.compliance.refused).toHaveLength(1);
    expect(r.compliance.refused[0]).toMatchObject({
      adapter: 'gdpr',
      source: 'did:mesh:government:opendata-001',
    });
    expect(r.compliance.refused[0].reason).toMatch(/GDPR Art\. 44-46/);
    expect(r.ok).toBe(true);
  }, 200_000);

  it('--keep leaves everything running until SIGTERM, which stops every process', async () => {
    const child = spawn(process.execPath, [BIN, 'demo', '--json', '--keep', '--messages', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`demo exited early with ${code}`)));
    });
    const r = JSON.parse(line) as {
      dataDir: string;
      hubs: { url: string }[];
      meshes: { did: string; controlUrl: string; mcpUrl: string }[];
    };
    const health = (url: string) =>
      fetch(`${url.replace(/^ws/, 'http')}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
        (res) => res.ok,
        () => false,
      );
    // Still up after the summary.
    expect(await Promise.all(r.hubs.map((h) => health(h.url)))).toEqual([true, true, true]);
    // Any MCP client can use the partners' tools at a mesh's mcpUrl ...
    const ent = r.meshes.find((m) => m.did === 'did:mesh:enterprise:acme-001')!;
    const http = new Client({ name: 'demo-test', version: '1.0.0' });
    await http.connect(new StreamableHTTPClientTransport(new URL(ent.mcpUrl)));
    const names = (await http.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['mit-001__sentiment', 'opendata-001__lookup_dataset']));
    const stats = await http.callTool({
      name: 'opendata-001__lookup_dataset',
      arguments: { query: 'transit' },
    });
    expect(JSON.stringify(stats.structuredContent)).toContain('nv-transit-ridership-monthly');
    await http.close();
    // ... and over stdio through `fmp node mcp`, which relays to the running node.
    const stdio = new Client({ name: 'demo-test-stdio', version: '1.0.0' });
    await stdio.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, 'node', 'mcp', '--config', join(r.dataDir, 'meshes', 'academic-mit-001', 'node.json')],
        stderr: 'pipe',
      }),
    );
    const translated = await stdio.callTool({
      name: 'relief-001__translate_term',
      arguments: { term: 'vaccine', to: 'es' },
    });
    expect(JSON.stringify(translated.structuredContent)).toContain('vacuna');
    await stdio.close();
    // The audit trail of a running node verifies from the command line.
    const verified = await run(process.execPath, [
      BIN,
      'audit',
      'verify',
      '--json',
      '--config',
      join(r.dataDir, 'meshes', 'government-opendata-001', 'node.json'),
    ]);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });
    // The GDPR refusal is in GOV's trail; `fmp explain` shows why; `fmp audit export` writes JSON Lines.
    const govConfig = join(r.dataDir, 'meshes', 'government-opendata-001', 'node.json');
    const denied = await run(process.execPath, [
      BIN,
      'audit',
      'query',
      '--kind',
      'compliance_denied',
      '--json',
      '--config',
      govConfig,
    ]);
    const entries = (JSON.parse(denied.stdout) as { entries: { actionId: string; reasons: string[] }[] })
      .entries;
    // Seen once with two entries (not reproduced since): say which, should it happen again.
    expect(entries, JSON.stringify(entries).slice(0, 2000)).toHaveLength(1);
    expect(entries[0]!.reasons.join(' ')).toMatch(/GDPR Art\. 44-46/);
    const explained = await run(process.execPath, [
      BIN,
      'explain',
      entries[0]!.actionId,
      '--config',
      govConfig,
    ]);
    expect(explained.stdout).toMatch(/compliance_denied deny: GDPR Art\. 44-46/);
    const exported = await run(process.execPath, [BIN, 'audit', 'export', '--config', govConfig]);
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; hash: string });
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    await exited;
    expect(await Promise.all(r.hubs.map((h) => health(h.url)))).toEqual([false, false, false]);
    expect(await Promise.all(r.meshes.map((m) => health(m.controlUrl)))).toEqual(r.meshes.map(() => false));
  }, 200_000);
});
