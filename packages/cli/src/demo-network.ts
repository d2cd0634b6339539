/**
 * `fmp demo` (what `npm start` runs): a whole mesh on loopback, as separate processes. Three
 * regional hubs peered with each other, a foundation authority issuing MeshAgentCredentials, five
 * organizations' mesh nodes spread over the regions (spec 2.1), discovery, handshakes within and
 * across regions, signed and sealed messages on every federation, and refusals with their reasons.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FmpError } from '@fmp/core';
import { issueMeshAgentCredential } from '@fmp/identity';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { bundleScripts } from './bundle.js';
import { IDENTITY_LOG, initIdentity } from './commands/init.js';
import { controlRequest } from './control-client.js';
import { DEMO_TOOL_CAPABILITIES, type DemoOrg } from './demo-mcp/servers.js';
import { readKeyFile } from './keyfile.js';

const BIN = fileURLToPath(new URL('../bin/fmp.js', import.meta.url));
const DEMO_MCP_BIN = fileURLToPath(new URL('../bin/demo-mcp.js', import.meta.url));
const AUTHORITY = 'did:mesh:authority:foundation';

import { DemoError } from './demo-errors.js';
import { type DemoLedgerResult, demoGenesis, runDemoLedger } from './demo-ledger.js';

export { DemoError };

interface HubPlan {
  name: string;
  region: string;
}
interface MeshPlan {
  did: string;
  category: string;
  /** Which demo MCP server the organization runs (packages/cli/src/demo-mcp). */
  org: DemoOrg;
  /** Who may call which of its tools (default deny). */
  access: { partners: '*' | string[]; tools: string[]; minTrust?: number }[];
  hub: string;
  capabilities: string[];
  trustLevel: number;
  minPartnerTrust: number;
}

const HUBS: HubPlan[] = [
  { name: 'na-east', region: 'na' },
  { name: 'eu-west', region: 'eu' },
  { name: 'apac-south', region: 'apac' },
];
const MESHES: MeshPlan[] = [
  {
    did: 'did:mesh:enterprise:acme-001',
    category: 'ENT',
    org: 'ent',
    access: [{ partners: '*', tools: ['dedupe_records'], minTrust: 70 }],
    hub: 'na-east',
    capabilities: ['ml.inference', 'data.processing'],
    trustLevel: 85,
    minPartnerTrust: 50,
  },
  {
    did: 'did:mesh:academic:mit-001',
    category: 'EDU',
    org: 'edu',
    access: [{ partners: '*', tools: ['ml.inference', 'data.analysis'], minTrust: 60 }],
    hub: 'na-east',
    capabilities: ['ml.inference', 'data.analysis'],
    trustLevel: 92,
    minPartnerTrust: 50,
  },
  {
    did: 'did:mesh:government:opendata-001',
    category: 'GOV',
    org: 'gov',
    // Aggregates of restricted datasets only for the most trusted partners.
    access: [
      { partners: '*', tools: ['lookup_dataset'], minTrust: 60 },
      { partners: '*', tools: ['restricted_records'], minTrust: 95 },
    ],
    hub: 'eu-west',
    capabilities: ['data.opendata'],
    trustLevel: 90,
    minPartnerTrust: 60,
  },
  {
    did: 'did:mesh:ngo:relief-001',
    category: 'NGO',
    org: 'ngo',
    access: [{ partners: '*', tools: ['translation.*'] }],
    hub: 'apac-south',
    capabilities: ['translation.glossary'],
    trustLevel: 75,
    minPartnerTrust: 50,
  },
  {
    did: 'did:mesh:public:library-001',
    category: 'PUB',
    org: 'pub',
    access: [{ partners: '*', tools: ['*'] }],
    hub: 'eu-west',
    capabilities: ['data.catalog'],
    trustLevel: 40,
    minPartnerTrust: 30,
  },
];
/** Pairs to federate: [source, target, capability]. The last one is refused by GOV's policy (PUB's trust is 40). */
const PAIRS: [string, string, string][] = [
  ['did:mesh:enterprise:acme-001', 'did:mesh:academic:mit-001', 'ml.inference'],
  ['did:mesh:enterprise:acme-001', 'did:mesh:government:opendata-001', 'data.opendata'],
  ['did:mesh:academic:mit-001', 'did:mesh:ngo:relief-001', 'translation.glossary'],
  ['did:mesh:government:opendata-001', 'did:mesh:ngo:relief-001', 'translation.glossary'],
  ['did:mesh:ngo:relief-001', 'did:mesh:public:library-001', 'data.catalog'],
  ['did:mesh:public:library-001', 'did:mesh:government:opendata-001', 'data.opendata'],
];
const ROGUE = 'did:mesh:enterprise:rogue-001';
/** The organization whose node links to its hub over gRPC. */
const GRPC_MESH = 'did:mesh:ngo:relief-001';

export interface NetworkDemoResult {
  ok: boolean;
  dataDir: string;
  /** `grpcUrl`: the hub also takes mesh links over gRPC there (the APAC hub). */
  hubs: { did: string; region: string; url: string; grpcUrl?: string }[];
  meshes: {
    did: string;
    category: string;
    hub: string;
    /** How the node is linked to its hub: `websocket`, or `grpc` (NGO, to show the second transport). */
    link: 'websocket' | 'grpc';
    controlUrl: string;
    mcpUrl: string;
    /** The trust engine's score (spec 5.1) at the end of the demo, from the mesh's home hub. */
    trustScore: number;
    trustLevel: string;
  }[];
  /** Compliance decisions the demo shows (spec 7): transfers allowed, and refused with their reason. */
  compliance: {
    allowed: number;
    refused: { source: string; target: string; adapter: string; reason: string }[];
    allowedWith: { source: string; target: string; label: string }[];
    /** Entries in the meshes' audit trails, all verified. */
    auditEntries?: number;
  };
  /** Attestations the demo organizations made of partners (spec 5.2). */
  attestations: { attester: string; subject: string; score: number; claim: string }[];
  discovery: { from: string; seen: number };
  federations: {
    federationId: string;
    source: string;
    target: string;
    status: string;
    path: string[];
    handshakeMs: number;
  }[];
  refused: { source: string; target: string; reason: string }[];
  messages: { sent: number; delivered: number; failed: number; p50Ms: number; p95Ms: number };
  /** Federated MCP tool calls, made by an MCP client at the caller's /mcp. */
  toolCalls: {
    caller: string;
    partner: string;
    tool: string;
    ok: boolean;
    /** The failure code (policy_denied, trust_too_low, ...) when refused. */
    error?: string;
    /** What the tool answered, or why it was refused (shortened). */
    summary: string;
    ms: number;
    /** Whether the outcome is the one the demo means to show (some calls are meant to be refused). */
    expected: boolean;
    progress?: number;
  }[];
  /** The mesh ledger (issue #7): run by the NA hub, mirrored and witnessed by the others. */
  ledger: DemoLedgerResult['ledger'];
  governance: DemoLedgerResult['governance'];
  token: DemoLedgerResult['token'];
  durationMs: number;
}

export interface NetworkDemoOptions {
  dataDir?: string;
  messagesPerDirection?: number;
  log?: (line: string) => void;
}

export interface RunningNetworkDemo {
  result: NetworkDemoResult;
  /** Stops every process (and removes the temporary data directory unless one was given). */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * What the demo runs its children from: the CLI and the MCP server bundled once (bundle.ts: about
 * half the start-up CPU of eleven processes on two cores), or the tsx bins when bundling is not
 * possible or FMP_DEMO_TSX=1.
 */
interface ChildEntries {
  readonly fmp: string;
  readonly mcp: string;
  readonly how: string;
  cleanup(): void;
}

async function childEntries(): Promise<ChildEntries> {
  const tsx = (how: string): ChildEntries => ({ fmp: BIN, mcp: DEMO_MCP_BIN, how, cleanup() {} });
  if (process.env.FMP_DEMO_TSX === '1') return tsx('tsx (FMP_DEMO_TSX=1)');
  const bundles = await bundleScripts(
    { fmp: 'packages/cli/src/run.ts', 'demo-mcp': 'packages/cli/src/demo-mcp/run.ts' },
    'fmp-demo',
  );
  if (typeof bundles === 'string') return tsx(`tsx (${bundles})`);
  return {
    fmp: bundles.path('fmp')!,
    mcp: bundles.path('demo-mcp')!,
    how: 'bundled',
    cleanup: bundles.cleanup,
  };
}

class Children {
  readonly all: ChildProcess[] = [];
  constructor(private readonly entry: string) {}
  spawn(
    args: string[],
    name: string,
  ): { child: ChildProcess; ready: Promise<Record<string, unknown>>; stderr: () => string } {
    const child = spawn(process.execPath, [this.entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.all.push(child);
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
      // A bound for a hung child, not the demo's pace: eleven processes load on two shared cores,
      // and under a parallel test run that took more than 30 s on this machine.
      const timer = setTimeout(
        () => reject(new DemoError(`${name} did not start within 120 s: ${err.trim()}`)),
        120_000,
      );
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        try {
          const msg = JSON.parse(line) as { ready?: Record<string, unknown> };
          if (msg.ready) {
            clearTimeout(timer);
            resolve(msg.ready);
          }
        } catch {
          // not a JSON line
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new DemoError(`${name} exited (${code}): ${err.trim().split('\n').pop() ?? ''}`));
      });
    });
    ready.catch(() => {});
    return { child, ready, stderr: () => err };
  }
  async stopAll(): Promise<void> {
    await Promise.all(
      this.all.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const kill = setTimeout(() => c.kill('SIGKILL'), 5000);
            c.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
  }
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 1000) / 1000;
}

/** Runs the demo and leaves everything running; call stop() to end it. */
export async function startNetworkDemo(options: NetworkDemoOptions = {}): Promise<RunningNetworkDemo> {
  const started = performance.now();
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'fmp-demo-'));
  const log = options.log ?? (() => {});
  const perDirection = options.messagesPerDirection ?? 10;
  const entries = await childEntries();
  const children = new Children(entries.fmp);
  // Ctrl-C or SIGTERM while the demo is starting or running stops every child before exiting.
  const onSignal = (signal: NodeJS.Signals) => {
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  let cleaned: Promise<void> | undefined;
  const cleanup = () => {
    cleaned ??= (async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await children.stopAll();
      entries.cleanup();
      if (!options.dataDir) rmSync(dir, { recursive: true, force: true });
    })();
    return cleaned;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // The authority and every identity: keys, signed did:mesh create operations, credentials.
    await initIdentity(join(dir, 'authority'), AUTHORITY);
    const authority = readKeyFile(join(dir, 'authority', 'identity.key'));
    const signer = {
      keyPair: authority.keyPair,
      issuer: AUTHORITY,
      verificationMethod: authority.verificationMethod,
    };
    const ports = new Map<string, number>();
    for (const h of HUBS) ports.set(h.name, await freePort());
    // The APAC hub's gRPC listener: the other hubs dial it there (their hub links to APAC run over
    // gRPC) and NGO's node links to it over gRPC.
    const grpcHub = HUBS.find((h) => h.region === 'apac')!;
    const grpcPort = await freePort();
    for (const h of HUBS) await initIdentity(join(dir, 'hubs', h.name), `did:mesh:hub:${h.name}`);
    const hubDid = (name: string) => `did:mesh:hub:${name}`;
    const identityLogs = [
      join(dir, 'authority', IDENTITY_LOG),
      ...HUBS.map((h) => join(dir, 'hubs', h.name, IDENTITY_LOG)),
    ];

    // The ledger: NA runs it on a manual clock (so the demo can take a proposal through weeks of
    // stages), EU and APAC mirror and witness it.
    const ledgerHub = HUBS[0]!;
    const adminToken = randomBytes(24).toString('base64url');
    writeFileSync(join(dir, 'hubs', ledgerHub.name, 'admin.token'), adminToken, { mode: 0o600 });
    const ledgerConfig = (h: HubPlan) =>
      h === ledgerHub
        ? {
            clock: 'manual',
            genesis: demoGenesis(
              MESHES.map((m) => ({ did: m.did, balance: DEMO_BALANCES[m.category] ?? '1000' })),
              HUBS.map((x) => hubDid(x.name)),
              [MESHES[0]!.did, MESHES[1]!.did],
              AUTHORITY,
            ),
          }
        : {
            role: 'mirror',
            sequencer: { url: `http://127.0.0.1:${ports.get(ledgerHub.name)}`, did: hubDid(ledgerHub.name) },
            syncMs: 300,
          };
    log(`starting 3 hubs in ${dir} (child processes: ${entries.how})`);
    const hubs = HUBS.map((h) => {
      const hubDir = join(dir, 'hubs', h.name);
      const config = {
        ledger: ledgerConfig(h),
        ...(h === ledgerHub ? { adminTokenFile: 'admin.token' } : {}),
        did: hubDid(h.name),
        keyFile: 'identity.key',
        region: h.region,
        // The APAC hub also takes links over gRPC (the spec's second transport): NGO's and the other hubs'.
        listen: { host: '127.0.0.1', port: ports.get(h.name), ...(h === grpcHub ? { grpcPort } : {}) },
        dataDir: 'data',
        trustedIssuers: [AUTHORITY],
        importIdentities: identityLogs,
        peers: HUBS.filter((p) => p.name !== h.name).map((p) => ({
          did: hubDid(p.name),
          url: p === grpcHub ? `grpc://127.0.0.1:${grpcPort}` : `ws://127.0.0.1:${ports.get(p.name)}/v1/hub`,
        })),
        // Global trust every second, so the demo's attestations count before it reports.
        trust: { recomputeMs: 1_000 },
        logLevel: 'warn',
      };
      writeFileSync(join(hubDir, 'hub.json'), JSON.stringify(config, null, 2));
      return {
        plan: h,
        ...children.spawn(['hub', 'start', '--config', join(hubDir, 'hub.json'), '--json'], `hub ${h.name}`),
      };
    });
    const hubReady = await Promise.all(hubs.map((h) => h.ready));
    const hubUrl = (name: string) => `ws://127.0.0.1:${ports.get(name)}/v1/mesh`;
    const grpcUrlOf = (name: string) => {
      const url = hubReady[HUBS.findIndex((h) => h.name === name)]!.grpcUrl;
      return typeof url === 'string' ? url : undefined;
    };
    const overGrpc = (m: { did: string; hub: string }) =>
      m.did === GRPC_MESH && grpcUrlOf(m.hub) !== undefined;

    // Organizations: each with its own credential; the rogue signs its own (untrusted issuer).
    const nodeDir = (did: string) => join(dir, 'meshes', did.split(':').slice(2).join('-'));
    for (const m of MESHES) {
      const d = nodeDir(m.did);
      await initIdentity(d, m.did);
      const vc = await issueMeshAgentCredential({
        signer,
        subject: {
          id: m.did,
          meshCapabilities: m.capabilities,
          complianceCertifications: ['GDPR'],
          trustLevel: m.trustLevel,
        },
        validUntil: new Date(Date.now() + 365 * 86_400_000),
      });
      writeFileSync(join(d, 'credential.json'), JSON.stringify(vc));
    }
    const rogueDir = nodeDir(ROGUE);
    await initIdentity(rogueDir, ROGUE);
    const rogueKey = readKeyFile(join(rogueDir, 'identity.key'));
    const rogueVc = await issueMeshAgentCredential({
      signer: { keyPair: rogueKey.keyPair, issuer: ROGUE, verificationMethod: rogueKey.verificationMethod },
      subject: {
        id: ROGUE,
        meshCapabilities: ['ml.inference'],
        complianceCertifications: ['GDPR', 'SOC2'],
        trustLevel: 100,
      },
    });
    writeFileSync(join(rogueDir, 'credential.json'), JSON.stringify(rogueVc));

    log('starting 5 mesh nodes (and one with a self-issued credential)');
    const nodeConfig = (
      did: string,
      hub: string,
      capabilities: string[],
      minPartnerTrust: number,
      plan?: MeshPlan,
    ) => {
      const mcp = plan
        ? {
            servers: [
              {
                name: `${plan.org}-tools`,
                command: process.execPath,
                args: [entries.mcp, plan.org],
                capabilities: DEMO_TOOL_CAPABILITIES[plan.org],
              },
            ],
            access: plan.access,
            complianceContext: { dataClassification: 'public', auditTrail: true },
          }
        : undefined;
      const config = {
        did,
        keyFile: 'identity.key',
        credentialFile: 'credential.json',
        ...(overGrpc({ did, hub })
          ? { hubUrl: grpcUrlOf(hub), hubHttpUrl: `http://127.0.0.1:${ports.get(hub)}` }
          : { hubUrl: hubUrl(hub) }),
        region: HUBS.find((h) => h.name === hub)!.region,
        trustedIssuers: [AUTHORITY],
        capabilities,
        listen: { host: '127.0.0.1', port: 0 },
        policy: { minPartnerTrust, deny: [] },
        ...(mcp ? { mcp } : {}),
        logLevel: 'warn',
      };
      const file = join(nodeDir(did), 'node.json');
      writeFileSync(file, JSON.stringify(config, null, 2));
      return file;
    };
    const nodes = MESHES.map((m) => ({
      plan: m,
      ...children.spawn(
        [
          'node',
          'start',
          '--config',
          nodeConfig(m.did, m.hub, m.capabilities, m.minPartnerTrust, m),
          '--json',
        ],
        m.did,
      ),
    }));
    const rogue = children.spawn(
      ['node', 'start', '--config', nodeConfig(ROGUE, 'na-east', ['ml.inference'], 50), '--json'],
      ROGUE,
    );
    const ready = await Promise.all(nodes.map((n) => n.ready));
    const refused: NetworkDemoResult['refused'] = [];
    try {
      await rogue.ready;
      refused.push({ source: ROGUE, target: hubDid('na-east'), reason: 'unexpectedly accepted' });
    } catch (err) {
      refused.push({
        source: ROGUE,
        target: hubDid('na-east'),
        reason: (err as Error).message.replace(/^.*?exited \(\d+\): (fmp: )?/, ''),
      });
    }
    const control = new Map(
      MESHES.map((m, i) => [
        m.did,
        {
          url: String(ready[i]!.controlUrl),
          mcpUrl: String(ready[i]!.mcpUrl),
          token: readFileSync(join(nodeDir(m.did), 'control.token'), 'utf8').trim(),
        },
      ]),
    );
    const call = (did: string, method: string, path: string, body?: unknown) => {
      const c = control.get(did)!;
      return controlRequest(c.url, c.token, method, path, body, 30_000);
    };

    const from = MESHES[0]!.did;
    const discovered = (await call(from, 'GET', '/v1/discovery')).meshes as unknown[];
    log(`discovery from ${from}: ${discovered.length} meshes`);

    const federations: NetworkDemoResult['federations'] = [];
    for (const [source, target, capability] of PAIRS) {
      try {
        const res = await call(source, 'POST', '/v1/federations', {
          target,
          capabilities: [capability],
          purpose: 'demo-collaboration',
          ttlSeconds: 3600,
        });
        const f = res.federation as { federationId: string; status: string; path?: string[] };
        federations.push({
          federationId: f.federationId,
          source,
          target,
          status: f.status,
          path: f.path ?? [],
          handshakeMs: Number(res.handshakeMs),
        });
        log(`federated ${source} -> ${target} in ${res.handshakeMs} ms`);
      } catch (err) {
        const reason = err instanceof FmpError ? `${err.code}: ${err.message}` : (err as Error).message;
        refused.push({ source, target, reason });
        log(`refused   ${source} -> ${target}: ${reason}`);
      }
    }

    // The path each federation takes, from its source's home hub routing table (spec 6.1).
    for (const f of federations) {
      const home = HUBS.findIndex((h) => h.name === MESHES.find((m) => m.did === f.source)!.hub);
      const res = await fetch(`${String(hubReady[home]!.httpUrl)}/v1/routes`, {
        signal: AbortSignal.timeout(10_000),
      });
      const table = (await res.json()) as { routes?: { federationId: string; path: string[] }[] };
      f.path = table.routes?.find((r) => r.federationId === f.federationId)?.path ?? f.path;
    }

    const latencies: number[] = [];
    let sent = 0;
    let failed = 0;
    for (const f of federations) {
      for (const [a, b] of [
        [f.source, f.target],
        [f.target, f.source],
      ] as const) {
        for (let i = 0; i < perDirection; i++) {
          sent++;
          try {
            const res = await call(a, 'POST', `/v1/federations/${f.federationId}/messages`, {
              type: 'agent.notification',
              data: { from: a, to: b, n: i, note: 'demo' },
              priority: (['critical', 'high', 'normal', 'low'] as const)[i % 4],
            });
            latencies.push(Number(res.deliveredMs));
          } catch {
            failed++;
          }
        }
      }
    }
    // What the receivers' applications saw (verified, decrypted, de-duplicated).
    let received = 0;
    for (const m of MESHES) {
      const inbox = (await call(m.did, 'GET', '/v1/messages')).messages as { type: string }[];
      received += inbox.filter((x) => x.type === 'agent.notification').length;
    }
    latencies.sort((x, y) => x - y);

    const toolCalls = await demoToolCalls(
      (did) => control.get(did)!.mcpUrl,
      (did) => call(did, 'GET', '/v1/mcp'),
      log,
    );

    // Compliance (spec 7): GOV in the EU sends personal data to NGO in APAC (no adequacy decision).
    const compliance: NetworkDemoResult['compliance'] = { allowed: 0, refused: [], allowedWith: [] };
    const govNgo = federations.find((f) => f.source === GOV && f.target === NGO);
    if (govNgo) {
      for (const [label, context] of COMPLIANCE_SENDS) {
        try {
          await call(GOV, 'POST', `/v1/federations/${govNgo.federationId}/messages`, {
            type: 'agent.notification',
            data: { note: `beneficiary list (${label})`, contact: 'registrar at the district office' },
            complianceContext: context,
          });
          compliance.allowed++;
          compliance.allowedWith.push({ source: GOV, target: NGO, label });
          log(`compliance: ${label}: allowed`);
        } catch (err) {
          const reason = (err as Error).message.replace(/^.*?compliance_denied: /, '');
          compliance.refused.push({
            source: GOV,
            target: NGO,
            adapter: /GDPR/.test(reason) ? 'gdpr' : 'policy',
            reason,
          });
          log(`compliance: ${label}: refused: ${reason}`);
        }
      }
    }
    for (const m of MESHES) {
      const verified = (await call(m.did, 'GET', '/v1/audit/verify')) as { ok?: boolean; checked?: number };
      if (!verified.ok) throw new DemoError(`${m.did}: the audit trail does not verify`);
      compliance.auditEntries = (compliance.auditEntries ?? 0) + (verified.checked ?? 0);
    }

    // Partners vouch for each other after working together (weighted by their global trust).
    const attestations: NetworkDemoResult['attestations'] = [];
    for (const [attester, subject, score, claim] of ATTESTATIONS) {
      try {
        const r = (await call(attester, 'POST', '/v1/attestations', { subject, score, claim })) as {
          ledger?: { index?: number; error?: string };
        };
        if (r.ledger?.index === undefined) {
          throw new DemoError(`${attester}'s attestation is not on the ledger: ${r.ledger?.error}`);
        }
        attestations.push({ attester, subject, score, claim });
        log(`attestation ${attester} -> ${subject}: ${score}`);
      } catch (err) {
        log(`attestation ${attester} -> ${subject} refused: ${(err as Error).message}`);
      }
    }
    // One trust tick and one global recompute (1 s each in the demo's hubs).
    await new Promise((r) => setTimeout(r, 2_200));
    const httpOf = (hub: string) => String(hubReady[HUBS.findIndex((h) => h.name === hub)]!.httpUrl);
    const trust = new Map<string, { score: number; level: string }>();
    for (const m of MESHES) {
      const res = await fetch(`${httpOf(m.hub)}/v1/trust/${encodeURIComponent(m.did)}`, {
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { score?: number; level?: string };
      trust.set(m.did, { score: body.score ?? 0, level: body.level ?? 'Unverified' });
    }
    // The ledger: compute payments, attestation rewards and a governance proposal (issue #7).
    const ledger: DemoLedgerResult = await runDemoLedger({
      hubs: HUBS.map((h) => ({ did: hubDid(h.name), http: httpOf(h.name) })),
      adminToken,
      orgs: MESHES.map((m) => ({
        did: m.did,
        keyPair: readKeyFile(join(nodeDir(m.did), 'identity.key')).keyPair,
        hub: hubDid(m.hub),
      })),
      callers: [...new Set(toolCalls.filter((c) => c.ok).map((c) => c.caller))],
      settle: async (did) => (await call(did, 'POST', '/v1/ledger/settle')) as never,
      attestations,
      log,
    });
    const result: NetworkDemoResult = {
      ok:
        ledger.ledger.verified &&
        ledger.governance.proposals.every((p) => p.status === 'implemented') &&
        federations.length > 0 &&
        failed === 0 &&
        received === sent - failed &&
        toolCalls.length > 0 &&
        toolCalls.every((c) => c.expected) &&
        compliance.allowed === 1 &&
        compliance.refused.length === 1,
      dataDir: dir,
      hubs: HUBS.map((h, i) => ({
        did: hubDid(h.name),
        region: h.region,
        url: String(hubReady[i]!.url),
        ...(grpcUrlOf(h.name) ? { grpcUrl: grpcUrlOf(h.name)! } : {}),
      })),
      meshes: MESHES.map((m) => ({
        did: m.did,
        category: m.category,
        hub: hubDid(m.hub),
        link: overGrpc(m) ? ('grpc' as const) : ('websocket' as const),
        controlUrl: control.get(m.did)!.url,
        mcpUrl: control.get(m.did)!.mcpUrl,
        trustScore: trust.get(m.did)!.score,
        trustLevel: trust.get(m.did)!.level,
      })),
      attestations,
      compliance,
      discovery: { from, seen: discovered.length },
      federations,
      refused,
      messages: {
        sent,
        delivered: received,
        failed,
        p50Ms: percentile(latencies, 0.5),
        p95Ms: percentile(latencies, 0.95),
      },
      toolCalls,
      ledger: ledger.ledger,
      governance: ledger.governance,
      token: ledger.token,
      durationMs: Math.round(performance.now() - started),
    };
    return { result, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

const ENT = 'did:mesh:enterprise:acme-001';
const EDU = 'did:mesh:academic:mit-001';
const GOV = 'did:mesh:government:opendata-001';
const NGO = 'did:mesh:ngo:relief-001';

/** Personal data from GOV (EU) to NGO (APAC): without a safeguard (refused), then with SCCs (allowed). */
const COMPLIANCE_SENDS: [string, Record<string, unknown>][] = [
  [
    'EU personal data to APAC, no safeguard',
    {
      dataClassification: 'personal-identifiable',
      processingBasis: 'public-task',
      retentionPeriod: '90-days',
      purpose: 'humanitarian aid',
      auditTrail: true,
    },
  ],
  [
    'EU personal data to APAC under standard contractual clauses',
    {
      dataClassification: 'personal-identifiable',
      processingBasis: 'public-task',
      retentionPeriod: '90-days',
      purpose: 'humanitarian aid',
      safeguards: ['scc'],
      auditTrail: true,
    },
  ],
];

/** Genesis holdings (MESH, of which 1,000 bonded) by category: enough for the 60% quorum. */
const DEMO_BALANCES: Record<string, string> = {
  ENT: '19000',
  GOV: '14000',
  EDU: '9000',
  NGO: '4000',
  PUB: '4000',
};

/** [attester, subject, score, claim]: partners that worked together in the demo. */
const ATTESTATIONS: [string, string, number, string][] = [
  [ENT, EDU, 95, 'accurate ml.inference results'],
  [EDU, NGO, 90, 'reliable glossary service'],
  [GOV, NGO, 85, 'reliable glossary service'],
];

/** [caller, partner, tool as listed at the caller, arguments, expected failure code or undefined]. */
const TOOL_CALLS: [string, string, string, Record<string, unknown>, string | undefined][] = [
  [
    ENT,
    EDU,
    'mit-001__sentiment',
    { text: 'The federation works great, a clear and helpful success.' },
    undefined,
  ],
  [ENT, GOV, 'opendata-001__lookup_dataset', { query: 'air quality', limit: 3 }, undefined],
  [EDU, NGO, 'relief-001__translate_term', { term: 'water', to: 'sw' }, undefined],
  [GOV, NGO, 'relief-001__translate_term', { term: 'shelter', to: 'fr' }, undefined],
  [
    ENT,
    EDU,
    'mit-001__train_toy_model',
    {
      points: [
        [0, 1],
        [1, 3],
        [2, 5],
        [3, 7],
      ],
      steps: 20,
    },
    undefined,
  ],
  // Refused by the partner's policy: data.analysis is not part of the ENT-EDU federation (ml.inference).
  [ENT, EDU, 'mit-001__describe_numbers', { values: [1, 2, 3] }, 'policy_denied'],
  // Refused for trust: GOV's rule asks 95 for restricted aggregates, ENT's credential says 85.
  [ENT, GOV, 'opendata-001__restricted_records', { datasetId: 'nv-air-quality-hourly' }, 'trust_too_low'],
];

/** Calls partners' tools through each caller's /mcp with the official MCP client. */
async function demoToolCalls(
  mcpUrl: (did: string) => string,
  status: (did: string) => Promise<Record<string, unknown>>,
  log: (line: string) => void,
): Promise<NetworkDemoResult['toolCalls']> {
  // Catalogs cross the federation right after each handshake: wait until every caller lists them.
  const deadline = Date.now() + 15_000;
  for (const caller of new Set(TOOL_CALLS.map((c) => c[0]))) {
    const wanted = TOOL_CALLS.filter((c) => c[0] === caller && c[4] === undefined).map((c) => c[2]);
    for (;;) {
      const listed = ((await status(caller)).partnerTools as { name: string }[]).map((t) => t.name);
      if (wanted.every((w) => listed.includes(w))) break;
      if (Date.now() > deadline) throw new DemoError(`${caller} does not list ${wanted.join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const out: NetworkDemoResult['toolCalls'] = [];
  const clients = new Map<string, Client>();
  try {
    for (const [caller, partner, tool, args, expectedError] of TOOL_CALLS) {
      let client = clients.get(caller);
      if (!client) {
        client = new Client({ name: 'fmp-demo-agent', version: '0.1.0' });
        await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl(caller))));
        clients.set(caller, client);
      }
      let progress = 0;
      const t = performance.now();
      const result = await client.callTool(
        { name: tool, arguments: args },
        { onprogress: () => progress++, timeout: 30_000 },
      );
      const ms = Math.round((performance.now() - t) * 1000) / 1000;
      const text = (result.content as { type: string; text?: string }[])
        .map((c) => c.text ?? '')
        .join(' ')
        .replace(/\s+/g, ' ');
      const error = (result._meta as Record<string, { code?: string }> | undefined)?.['mesh.global/error']
        ?.code;
      const ok = !result.isError;
      out.push({
        caller,
        partner,
        tool,
        ok,
        ...(error ? { error } : {}),
        summary: text.length > 120 ? `${text.slice(0, 117)}...` : text,
        ms,
        expected: expectedError === undefined ? ok : error === expectedError,
        ...(progress ? { progress } : {}),
      });
      log(`tool call ${caller} -> ${tool}: ${ok ? 'ok' : error} in ${ms} ms`);
    }
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close().catch(() => {})));
  }
  return out;
}

/** Runs the demo, stops everything and returns the summary. */
export async function runNetworkDemo(options: NetworkDemoOptions = {}): Promise<NetworkDemoResult> {
  const running = await startNetworkDemo(options);
  await running.stop();
  return running.result;
}
