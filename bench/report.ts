import type { GovernanceBenchResult, LedgerBenchResult } from '@fmp/ledger';
import type { ComplianceBench } from './compliance.js';
/** Renders docs/benchmarks.md from a results object: each figure beside its same-run baseline. */

import type { FederationsResult } from './federations.js';
import type { HubPathResult } from './hub-path.js';
import type { LedgerDurableBench } from './ledger-durable.js';
import type { Latency } from './lib.js';
import type { McpCallResult } from './mcp.js';
import type { MixedLoadResult } from './mixed-load.js';
import type { NetworkBaselines, ThroughputResult, WireHandshake } from './network.js';
import type { SessionsResult } from './sessions.js';
import type { TrustBench } from './trust.js';

/** The federated MCP call when it could not be measured in this run, and why. */
export interface McpSkipped {
  hops: number;
  skipped: string;
}

/** The mixed load when it could not be measured in this run, and why. */
export interface MixedSkipped {
  skipped: string;
}

/** A hop count that could not be measured in this run, and why. */
export interface TwoHops {
  hops: number;
  skipped: string;
}

interface Results {
  date: string;
  quick: boolean;
  durationS: number;
  machine: { cores: number; cpu: string; memGiB: number; node: string };
  baseline: { ed25519SignPerSec: number; ed25519VerifyPerSec: number } & NetworkBaselines;
  envelope: {
    signPerSec: number;
    verifyPerSec: number;
    sealAndSignPerSec: number;
    verifyAndOpenPerSec: number;
    bytes: number;
  };
  identityResolution: {
    didKey: { cached: Latency; uncached: Latency };
    didMesh: { cached: Latency; uncached: Latency };
  };
  credentialVerification: Record<string, { cold: Latency; cached: Latency }>;
  handshakeInMemory: Latency & { handshakesPerSec: number };
  handshake: WireHandshake;
  hubPath: HubPathResult;
  throughput: ThroughputResult & { byHops: (ThroughputResult | TwoHops)[] };
  successRate: number;
  sessions: SessionsResult;
  /** Absent in results from before the MCP benchmark. */
  mcpCall?: McpCallResult | McpSkipped;
  /** Absent in results from before the trust benchmark. */
  trust?: TrustBench;
  compliance?: ComplianceBench;
  /** durable and governance: absent in results from before they were measured (issue #7). */
  ledger?: LedgerBenchResult & { durable?: LedgerDurableBench; governance?: GovernanceBenchResult };
  /** Absent in results from before the scale benchmarks (issue #8). */
  federations?: FederationsResult & { byCount: FederationsResult[] };
  mixedLoad?: MixedLoadResult | MixedSkipped;
}

const num = (x: number) => x.toLocaleString('en-US');
const ms = (x: number) => (x < 0.01 ? x.toFixed(4) : x < 1 ? x.toFixed(3) : x.toFixed(2));
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
/**
 * As ms(), rounded away from our favour: latencies we add up, the baseline beside them down (the
 * epsilon keeps an exact value from being pushed one step by floating-point noise).
 */
const msRound = (x: number, dir: 'up' | 'down') => {
  const digits = Math.abs(x) < 0.01 ? 4 : Math.abs(x) < 1 ? 3 : 2;
  const f = 10 ** digits;
  const v = dir === 'up' ? Math.ceil(x * f - 1e-6) : Math.floor(x * f + 1e-6);
  return (v / f).toFixed(digits);
};
const msUp = (x: number) => msRound(x, 'up');
const msDown = (x: number) => msRound(x, 'down');

export function renderMarkdown(r: Results): string {
  const b = r.baseline;
  const rows: string[][] = [
    [
      'Envelope sign (1 KB payload), per second',
      '-',
      num(r.envelope.signPerSec),
      `Ed25519 sign ${num(b.ed25519SignPerSec)}/s`,
      ratio(r.envelope.signPerSec, b.ed25519SignPerSec),
    ],
    [
      'Envelope verify, per second',
      '-',
      num(r.envelope.verifyPerSec),
      `Ed25519 verify ${num(b.ed25519VerifyPerSec)}/s`,
      ratio(r.envelope.verifyPerSec, b.ed25519VerifyPerSec),
    ],
    [
      'Envelope seal + sign, per second',
      '-',
      num(r.envelope.sealAndSignPerSec),
      `Ed25519 sign ${num(b.ed25519SignPerSec)}/s`,
      ratio(r.envelope.sealAndSignPerSec, b.ed25519SignPerSec),
    ],
    [
      'Envelope verify + open, per second',
      '-',
      num(r.envelope.verifyAndOpenPerSec),
      `Ed25519 verify ${num(b.ed25519VerifyPerSec)}/s`,
      ratio(r.envelope.verifyAndOpenPerSec, b.ed25519VerifyPerSec),
    ],
  ];
  const verifyUs = 1000 / b.ed25519VerifyPerSec;
  for (const [name, res] of [
    ['did:key', r.identityResolution.didKey],
    ['did:mesh (local registry)', r.identityResolution.didMesh],
  ] as const) {
    rows.push([
      `Resolve ${name}, cached, p50 / p99 ms`,
      '8 ms',
      `${ms(res.cached.p50Ms)} / ${ms(res.cached.p99Ms)}`,
      `one Ed25519 verify ${ms(verifyUs)} ms`,
      ratio(res.cached.p50Ms, verifyUs),
    ]);
    rows.push([
      `Resolve ${name}, uncached, p50 / p99 ms`,
      '8 ms',
      `${ms(res.uncached.p50Ms)} / ${ms(res.uncached.p99Ms)}`,
      `one Ed25519 verify ${ms(verifyUs)} ms`,
      ratio(res.uncached.p50Ms, verifyUs),
    ]);
  }
  for (const [suite, res] of Object.entries(r.credentialVerification)) {
    rows.push([
      `Verify credential ${suite}, cold, p50 / p99 ms`,
      '-',
      `${ms(res.cold.p50Ms)} / ${ms(res.cold.p99Ms)}`,
      `one Ed25519 verify ${ms(verifyUs)} ms`,
      ratio(res.cold.p50Ms, verifyUs),
    ]);
    rows.push([
      `Verify credential ${suite}, cached, p50 / p99 ms`,
      '-',
      `${ms(res.cached.p50Ms)} / ${ms(res.cached.p99Ms)}`,
      `one Ed25519 verify ${ms(verifyUs)} ms`,
      ratio(res.cached.p50Ms, verifyUs),
    ]);
  }
  rows.push([
    'Handshake in one process (no transport), p50 / p95 ms',
    '18 / 47 ms',
    `${ms(r.handshakeInMemory.p50Ms)} / ${ms(r.handshakeInMemory.p95Ms)}`,
    `one Ed25519 verify ${ms(verifyUs)} ms`,
    ratio(r.handshakeInMemory.p50Ms, verifyUs),
  ]);
  rows.push([
    'Handshakes per second, one core, in one process',
    '-',
    num(r.handshakeInMemory.handshakesPerSec),
    '-',
    '-',
  ]);
  const rtt = `raw WebSocket round trip p50 ${ms(b.wsRttP50Ms)} ms`;
  rows.push([
    'Raw WebSocket round trip, 1 KB, two processes, p50 / p99 ms (baseline)',
    '-',
    `${ms(b.wsRttP50Ms)} / ${ms(b.wsRttP99Ms)}`,
    '-',
    '-',
  ]);
  if (b.grpcRttP50Ms !== undefined && b.grpcRttP99Ms !== undefined) {
    rows.push([
      'gRPC link round trip (the node-hub transport on @grpc/grpc-js), 1 KB, two processes, p50 / p99 ms',
      '-',
      `${ms(b.grpcRttP50Ms)} / ${ms(b.grpcRttP99Ms)}`,
      rtt,
      ratio(b.grpcRttP50Ms, b.wsRttP50Ms),
    ]);
  }
  rows.push([
    `Handshake over the wire, warm caches (hub + 2 nodes, 3 processes), p50 / p95 ms, n = ${num(r.handshake.n)}`,
    '18 / 47 ms (goal 2 / 5)',
    `${ms(r.handshake.p50Ms)} / ${ms(r.handshake.p95Ms)}`,
    rtt,
    ratio(r.handshake.p50Ms, b.wsRttP50Ms),
  ]);
  if (r.handshake.cpuMs) {
    const c = r.handshake.cpuMs;
    rows.push([
      'Handshake over the wire: CPU per handshake, hub / initiator / target process, ms',
      '-',
      `${ms(c.hub)} / ${ms(c.initiator)} / ${ms(c.target)}`,
      `handshake in one process ${ms(r.handshakeInMemory.p50Ms)} ms (all three roles)`,
      ratio(c.hub + c.initiator + c.target, r.handshakeInMemory.p50Ms),
    ]);
  }
  rows.push([
    'Handshakes per second over the wire, sequential',
    '-',
    num(r.handshake.handshakesPerSec),
    '-',
    '-',
  ]);
  const relay = `raw WebSocket relay ${num(b.wsRelayMsgsPerSec)}/s`;
  rows.push([
    'Hub path: pre-signed 1 KB envelopes through one hub, raw clients (no SDK), msg/s',
    'goal 100,000',
    num(r.hubPath.msgsPerSec),
    relay,
    ratio(r.hubPath.msgsPerSec, b.wsRelayMsgsPerSec),
  ]);
  rows.push([
    'Hub path: hub CPU per message, µs (kernel share)',
    'goal 10 µs',
    `${r.hubPath.hubCpuUsPerMsg} (${r.hubPath.hubSystemUsPerMsg})`,
    `relay process ${b.wsRelayCpuUsPerMsg} µs`,
    ratio(r.hubPath.hubCpuUsPerMsg, b.wsRelayCpuUsPerMsg),
  ]);
  for (const t of r.throughput.byHops) {
    if ('skipped' in t) {
      rows.push([`Message throughput, ${t.hops} hubs`, '-', `not measured: ${t.skipped}`, '-', '-']);
      continue;
    }
    rows.push([
      `Message throughput through ${t.hops === 1 ? 'one hub' : `${t.hops} hubs`} (1 KB, sealed + signed, receiver verifies), msg/s`,
      '12,400 msg/s (goal 100,000)',
      num(t.msgsPerSec),
      relay,
      ratio(t.msgsPerSec, b.wsRelayMsgsPerSec),
    ]);
    rows.push([
      `Hub CPU per message (${t.hops === 1 ? 'one hub' : `${t.hops} hubs, mean per hub`}), µs (kernel share)`,
      'goal 10 µs',
      `${t.hubCpuUsPerMsg} (${t.hubSystemUsPerMsg})`,
      `relay process ${b.wsRelayCpuUsPerMsg} µs`,
      ratio(t.hubCpuUsPerMsg, b.wsRelayCpuUsPerMsg),
    ]);
  }
  const mcp = r.mcpCall;
  if (mcp && 'skipped' in mcp) {
    rows.push([
      'Federated MCP tools/call added latency p50, two hubs',
      'goal <= 2 ms',
      `not measured: ${mcp.skipped}`,
      '-',
      '-',
    ]);
  } else if (mcp) {
    const failed =
      mcp.failures === 0
        ? ''
        : ` (${num(mcp.failures)} of ${num(mcp.n)} calls failed: ${Object.entries(mcp.errors)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`;
    const direct = `direct call p50 ${msDown(mcp.direct.p50Ms)} ms`;
    rows.push([
      `Federated MCP tools/call added latency p50 / p95, two hubs, ms, n = ${num(mcp.n)}`,
      'goal <= 2 ms (p50)',
      `${msUp(mcp.addedP50Ms)} / ${msUp(mcp.addedP95Ms)}${failed}`,
      direct,
      ratio(mcp.addedP50Ms, mcp.direct.p50Ms),
    ]);
    const st = mcp.stdio;
    if (st) {
      rows.push([
        "Federated MCP tools/call added latency p50 / p95, two hubs, the client on the consumer's stdio (`fmp node mcp`), ms",
        'goal <= 2 ms (p50)',
        `${msUp(st.addedP50Ms)} / ${msUp(st.addedP95Ms)}${st.failures ? ` (${num(st.failures)} failed)` : ''}`,
        `direct call p50 ${msDown(st.direct.p50Ms)} ms (same loop); raw chain ${msDown(st.rawChain.p50Ms)} ms`,
        ratio(st.addedP50Ms, st.direct.p50Ms),
      ]);
    }
    rows.push([
      'Federated MCP tools/call end to end, two hubs, p50 / p95 / p99 ms',
      '-',
      `${msUp(mcp.federated.p50Ms)} / ${msUp(mcp.federated.p95Ms)} / ${msUp(mcp.federated.p99Ms)}`,
      `direct call ${msDown(mcp.direct.p50Ms)} / ${msDown(mcp.direct.p95Ms)} / ${msDown(mcp.direct.p99Ms)} ms`,
      ratio(mcp.federated.p50Ms, mcp.direct.p50Ms),
    ]);
    rows.push([
      'Floor of the added latency: a raw WebSocket chain through four forwarding processes (as many as the call adds), p50 / p95 ms',
      '-',
      `${msDown(mcp.rawChain.p50Ms)} / ${msDown(mcp.rawChain.p95Ms)}`,
      `federated call added p50 ${msUp(mcp.addedP50Ms)} ms`,
      ratio(mcp.addedP50Ms, mcp.rawChain.p50Ms),
    ]);
    rows.push([
      "The consumer's /mcp alone (tools/list answered from held catalogs), p50 / p95 ms",
      '-',
      `${msUp(mcp.endpointOnly.p50Ms)} / ${msUp(mcp.endpointOnly.p95Ms)}`,
      direct,
      ratio(mcp.endpointOnly.p50Ms, mcp.direct.p50Ms),
    ]);
    const c = mcp.cpuMsPerCall;
    const k = mcp.kernelMsPerCall;
    rows.push([
      'Federated MCP tools/call (/mcp): CPU per call, consumer / hub 1 / hub 2 / provider process, ms (kernel share)',
      '-',
      [c.consumer, c.hub1, c.hub2, c.provider]
        .map((x, i) => `${msUp(x)} (${msUp([k.consumer, k.hub1, k.hub2, k.provider][i]!)})`)
        .join(' / '),
      `raw chain process ${msDown(mcp.rawChainCpuMsPerHop)} ms per round trip`,
      ratio((c.hub1 + c.hub2) / 2, mcp.rawChainCpuMsPerHop),
    ]);
  }
  const tr = r.trust;
  if (tr) {
    const verifyMs = 1000 / b.ed25519VerifyPerSec;
    rows.push([
      `Trust score update per event (${num(tr.subjects)} meshes), p50 / p99 / max ms`,
      '0.7 s (goal p99 <= 1 ms)',
      `${ms(tr.update.p50Ms)} / ${ms(tr.update.p99Ms)} / ${ms(tr.update.maxMs)}`,
      `one Ed25519 verify ${ms(verifyMs)} ms`,
      ratio(tr.update.p99Ms, verifyMs),
    ]);
    rows.push([
      'Trust events per second, one core',
      '- (goal >= 100,000)',
      num(tr.eventsPerSec),
      `Ed25519 verify ${num(b.ed25519VerifyPerSec)}/s`,
      ratio(tr.eventsPerSec, b.ed25519VerifyPerSec),
    ]);
    rows.push([
      `EigenTrust full recompute, ${num(tr.eigenTrust.nodes)} meshes / ${num(tr.eigenTrust.edges)} edges, ms (iterations)`,
      '- (goal <= 150 ms)',
      `${tr.eigenTrust.ms} (${tr.eigenTrust.iterations})`,
      `one sparse matrix-vector pass ${tr.eigenTrust.rawPassMs} ms`,
      ratio(tr.eigenTrust.ms, tr.eigenTrust.rawPassMs),
    ]);
    rows.push([
      `Sybils' share of global trust: ${num(tr.sybil.sybils)} sybils, ${num(tr.sybil.honest)} honest, ${tr.sybil.attackEdges} attack edges`,
      '- (goal < 0.1%)',
      `${(tr.sybil.share * 100).toFixed(4)}%`,
      '-',
      '-',
    ]);
  }
  const cp = r.compliance;
  if (cp) {
    const verifyUs = 1_000_000 / b.ed25519VerifyPerSec;
    rows.push([
      'Compliance per message: adapters + Cedar decision (cached), p50 µs',
      '- (goal <= 50 µs)',
      `${cp.perMessageP50Us.toFixed(1)} (adapters ${cp.adapters.p50Us.toFixed(2)}, Cedar ${cp.policyWarm.p50Us.toFixed(1)})`,
      `one Ed25519 verify ${verifyUs.toFixed(1)} µs`,
      ratio(cp.perMessageP50Us, verifyUs),
    ]);
    rows.push([
      'Cedar decision not in the cache (a new request), p50 / p99 µs',
      '-',
      `${cp.policyCold.p50Us} / ${cp.policyCold.p99Us}`,
      `one Ed25519 verify ${verifyUs.toFixed(1)} µs`,
      ratio(cp.policyCold.p50Us, verifyUs),
    ]);
    rows.push([
      `Audit appends with group commit (SQLite, ${num(cp.audit.appends)} issued at once), per second`,
      '- (goal >= 50,000)',
      `${num(cp.audit.appendsPerSec)}${cp.audit.verified ? ' (chain verified)' : ' (CHAIN DID NOT VERIFY)'}`,
      `raw SQLite batched insert ${num(b.sqliteInsertsPerSec)}/s`,
      ratio(cp.audit.appendsPerSec, b.sqliteInsertsPerSec),
    ]);
  }
  const lg = r.ledger;
  if (lg) {
    const verifyUs = 1000 / b.ed25519VerifyPerSec;
    rows.push([
      `Ledger appends (RFC 9162 Merkle log, in memory, ${num(lg.leaves)} leaves), per second`,
      '-',
      num(Math.round(lg.appendsPerSecond)),
      `Ed25519 sign ${num(b.ed25519SignPerSec)}/s`,
      ratio(lg.appendsPerSecond, b.ed25519SignPerSec),
    ]);
    rows.push([
      `Ledger inclusion proof verification at ${num(lg.leaves)} leaves, ms`,
      '- (goal < 0.2 ms)',
      ms(lg.proofVerifyMs),
      `one Ed25519 verify ${ms(verifyUs)} ms`,
      ratio(lg.proofVerifyMs, verifyUs),
    ]);
    const d = lg.durable;
    if (d) {
      const sqlite = `raw SQLite batched insert ${num(b.sqliteInsertsPerSec)}/s`;
      rows.push([
        `Ledger durable appends with batching (SQLite, fsynced before acknowledged; ${num(d.concurrency)} appenders, ${d.batches.mean} leaves per commit), per second`,
        '- (goal >= 2,000)',
        `${num(d.appendsPerSec)}${d.reopenedSameRoot ? '' : ' (THE REOPENED LOG HAS ANOTHER ROOT)'}`,
        sqlite,
        ratio(d.appendsPerSec, b.sqliteInsertsPerSec),
      ]);
      rows.push([
        `Ledger durable append acknowledged (${num(d.concurrency)} in flight), p50 / p99 ms`,
        '-',
        `${ms(d.ackLatency.p50Ms)} / ${ms(d.ackLatency.p99Ms)}`,
        '-',
        '-',
      ]);
      rows.push([
        'Ledger durable appends, one appender alone (a commit and fsync per append), per second',
        '-',
        num(d.sequentialAppendsPerSec),
        `the batched appends above ${num(d.appendsPerSec)}/s`,
        ratio(d.sequentialAppendsPerSec, d.appendsPerSec),
      ]);
    }
    const g = lg.governance;
    if (g) {
      const perLeafMs = g.tallyMs / g.replayedLeaves;
      rows.push([
        `Governance: verify and tally ${num(g.voters)} ballots from the log alone (${num(g.replayedLeaves)} leaves replayed), s (ms per leaf)`,
        '- (goal <= 20 s for 100,000)',
        `${(g.tallyMs / 1000).toFixed(2)} (${ms(perLeafMs)})${g.matches ? '' : ' (DIFFERS FROM THE LIVE TALLY)'}`,
        `one Ed25519 verify ${ms(verifyUs)} ms`,
        ratio(perLeafMs, verifyUs),
      ]);
      rows.push([
        'Governance: signed entries taken by the sequencer (transfers and ballots: verified, applied, logged), per second',
        '-',
        num(g.entriesPerSecond),
        `Ed25519 verify ${num(b.ed25519VerifyPerSec)}/s`,
        ratio(g.entriesPerSecond, b.ed25519VerifyPerSec),
      ]);
    }
  }
  for (const f of r.federations?.byCount ?? []) {
    const at = `${num(f.count)} federations in one hub process`;
    rows.push([
      `${at}: JS heap per federation, bytes (with its rate-limit bucket)`,
      f.count >= 1_000_000 ? '100,000 concurrent (goal 1,000,000, <= 1 KB each)' : '100,000 concurrent',
      `${num(f.bytesPerFederation)} (${num(f.bytesPerFederationWithBucket)})`,
      `the row as JSON ${num(f.rowJsonBytes)} B`,
      ratio(f.bytesPerFederation, f.rowJsonBytes),
    ]);
    rows.push([
      `${at}: lookup by federation id (the routing path), ns`,
      '-',
      f.lookupNs.toFixed(0),
      `the same in a 1,000-entry Map ${f.baselineLookupNs.toFixed(0)} ns`,
      ratio(f.lookupNs, f.baselineLookupNs),
    ]);
    rows.push([
      `${at}: federations of one mesh / between two meshes (mesh index), ms`,
      '-',
      `${ms(f.meshScanMs)} / ${ms(f.pairLookupMs)}`,
      `one pass over the table ${ms(f.iterateMs)} ms`,
      ratio(f.meshScanMs, f.iterateMs),
    ]);
    rows.push([
      `${at}: expiry sweep (every second), ms; with ${num(f.expired)} due, ms (µs per expiry)`,
      '-',
      `${ms(f.sweepMs)}; ${ms(f.expirySweepMs)} (${f.expiryUsPerFederation.toFixed(1)})`,
      `one pass over the table ${ms(f.iterateMs)} ms`,
      ratio(f.sweepMs, f.iterateMs),
    ]);
  }
  const ml = r.mixedLoad;
  const oneHop = r.throughput.byHops.find((t): t is ThroughputResult => !('skipped' in t) && t.hops === 1);
  if (ml && 'skipped' in ml) {
    rows.push(['Mixed load knee (p99 <= 50 ms)', '-', `not measured: ${ml.skipped}`, '-', '-']);
  } else if (ml) {
    const knee =
      ml.kneeOpsPerSec === null
        ? `under ${num(ml.steps[0]?.offeredPerSec ?? 0)} (the first step crossed)`
        : `${num(ml.kneeOpsPerSec)} (${num(ml.kneeMsgsPerSec ?? 0)} messages)`;
    rows.push([
      `Mixed load knee: highest offered rate with p99 <= ${ml.p99LimitMs} ms and no errors, one hub, open loop, operations/s (messages/s)${
        ml.toolCalls === true ? '' : ', without tool calls'
      }`,
      '-',
      knee,
      oneHop ? `closed-loop throughput ${num(oneHop.msgsPerSec)} msg/s` : '-',
      oneHop && ml.kneeMsgsPerSec !== null ? ratio(ml.kneeMsgsPerSec, oneHop.msgsPerSec) : '-',
    ]);
  }
  rows.push([
    'Delivery success rate under load (delivered / sent)',
    '99.94% (target 99.9%)',
    `${(r.successRate * 100).toFixed(2)}%`,
    '-',
    '-',
  ]);
  const s = r.sessions;
  rows.push([
    'Concurrent authenticated sessions on one hub',
    '10,000+',
    `${num(s.count)} of ${num(s.target)}`,
    '-',
    '-',
  ]);
  rows.push(['Session authentications per second (hub)', '-', num(s.opensPerSec), '-', '-']);
  rows.push([
    'Hub RSS per session, KB',
    '- (goal <= 20 KB)',
    `${s.rssKBPerSession} held (after V8's memory-reducing GC)${s.youngKBPerSession ? `, ${Math.round((s.rssKBPerSession - s.youngKBPerSession) * 10) / 10} beyond V8's young generation growing back (${s.youngKBPerSession})` : ''}${s.rssKBPerSessionObserved ? `; ${s.rssKBPerSessionObserved.mean} / ${s.rssKBPerSessionObserved.max} mean / largest as the hub stood through the ping phase (no collection forced; mean ${s.rssKBPerSessionObserved.meanBeyondYoung} beyond the young generation)` : ''}${s.rssKBPerSessionAtOpen === undefined ? '' : `; ${s.rssKBPerSessionAtOpen} right after the burst of authentications`} (hub RSS ${num(s.hubRssMB)} MB in all; JS heap ${s.heapKBPerSession ?? '-'} KB per session used, ${s.heapTotalKBPerSession ?? '-'} KB held by V8)`,
    s.rawRssKBPerConnection === undefined
      ? '-'
      : `raw ws server holding ${num(s.rawConnections)} idle WebSocket connections: ${s.rawRssKBPerConnection} KB each`,
    s.rawRssKBPerConnection ? ratio(s.rssKBPerSession, s.rawRssKBPerConnection) : '-',
  ]);
  rows.push([
    `Ping round trip through the hub holding ${num(s.count)} sessions, p50 / p99 ms`,
    '-',
    `${ms(s.p50Ms)} / ${ms(s.p99Ms)}`,
    `raw WebSocket round trip p99 ${ms(b.wsRttP99Ms)} ms`,
    ratio(s.p99Ms, b.wsRttP99Ms),
  ]);
  rows.push([
    'Sessions still open after the ping phase / target',
    '-',
    `${(s.successRate * 100).toFixed(2)}%`,
    '-',
    '-',
  ]);
  rows.push([
    'Raw SQLite batched insert (better-sqlite3, WAL, 1,000-row transactions), rows/s (baseline)',
    '-',
    num(b.sqliteInsertsPerSec),
    '-',
    '-',
  ]);

  const mcpText = mcp ? `\n${mcpParagraph(mcp, r)}` : '';
  const scaleText = scaleSection(r);

  const table = [
    '| metric | spec | ours | same-run baseline | ours / baseline |',
    '|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');

  return `# Benchmarks

Generated by \`npm run bench\`${r.quick ? ' --quick' : ''} on ${r.date.slice(0, 10)} (${r.durationS} s): ${r.machine.cores} cores
(${r.machine.cpu}), ${r.machine.memGiB} GiB, Node ${r.machine.node}. This machine is shared and noisy, so
every figure stands beside a baseline measured in the same run; compare ratios across runs, not
absolute numbers. Raw results: \`bench/results/latest.json\` (not committed).

${table}

## What is measured, and how

- **Baselines**: raw Ed25519 sign and verify of a 1 KB message (libsodium through sodium-native),
  one core, same process.
- **Envelopes**: a spec 6.1 envelope with a 1 KB task payload. Sign and verify cover RFC 8785
  canonicalization of the envelope (without signature, hopCount, route) plus Ed25519; seal adds
  ChaCha20-Poly1305 with the canonical header as associated data; open adds decryption and schema
  validation of the plaintext. Canonicalization costs about as much as the signature itself, which
  is why hubs do not verify per message on the hot path (DESIGN.md).
- **DID resolution**: ${num(r.identityResolution.didKey.cached.n)} distinct DIDs of each method resolved through the resolver;
  "cached" after a warm-up pass, "uncached" with the cache disabled (did:mesh then replays the
  registry's current state and builds the document; did:key decodes the key and derives X25519).
  Goals: p50 under 0.05 ms cached and under 1 ms uncached (spec: 8 ms).
- **Credential verification**: MeshAgentCredentials from a did:mesh authority, each suite; cold =
  full JSON-LD/JCS processing and signature check; cached = hit in the VerificationCache keyed by
  the proof hash (goal under 0.05 ms).
- **Handshake in one process**: all spec 3.1 phases plus the target's signed acceptance and key
  confirmation among three parties in one process, with DID key resolution and (cached)
  credential checks on hub and target; no transport.
- **Network baselines**: a raw WebSocket echo (ws + bufferutil) between two processes, 1 KB,
  sequential; a raw relay process pairing two connections (A -> relay -> B, B answers each message
  with a 16-byte ack, 256 in flight, no JSON, no crypto), with the relay's CPU time per message;
  better-sqlite3 inserting 200-byte rows in 1,000-row transactions (WAL, synchronous=NORMAL).
  The gRPC link row times the same 1 KB echo over the node-hub gRPC transport
  (packages/core/src/wire/grpc-link.ts: a GrpcLinkSocket at both ends, the echo in its own process):
  what linking over gRPC instead of WebSocket costs per message and direction, before any fmp work.
- **Processes**: the networked sections share one set of processes (bench/fleet.ts), all started at
  once before the first of them measures: the main hub serves the hub path, the wire handshake, both
  throughput runs (the first hop), the MCP call (the first hop) and the mixed load; its two SDK nodes
  are the handshake's parties, then the throughput's sender and receiver, then the mixed load's
  generator and receiver; a peer hub carries the second hop; the sessions have a hub of their own.
  Each figure is a delta over its section's own operations (counters, CPU time), and the processes no
  later section needs are stopped when theirs ends. Workers start from per-run bundles of their
  sources (bench/bundle.ts: esbuild, the transformer tsx runs on, npm packages left as imports),
  which load several times faster than under tsx; start-up is in no figure.
- **Handshake over the wire**: the hub and two nodes (SDK) in three processes on loopback; A calls
  \`node.federate(B)\` ${num(r.handshake.n)} times in sequence after 20 warm-up handshakes (credentials
  and DID documents then cached at hub and target). Every handshake still does all its signatures,
  key agreements and key confirmations: four messages up to the initiator's session
  (InitiateFederation with its early response, FederationRequest, FederationAccept,
  FederationEstablished; six with the spec's four phases), the FederationConfirm after. The hubs of this and the
  following rows keep their store, registry and ledger in SQLite as \`fmp hub start\` does by
  default (runs before 2026-11-27 used memory stores: the hub then did not write each new
  federation's row). That write comes up to 10 ms after the handshake, in one transaction with the
  rows of the other handshakes of those 10 ms (docs/operations.md, "Durability of the SQLite store"):
  its commit and fsync (~0.8 ms of hub CPU in a slow phase) no longer sit in front of the next
  handshake's frames (runs on 38db36a and before committed each row in the turn after its handshake; until
  2026-11-27 a read, an insert and the fsync on the event loop, ~0.6 ms that the next handshake on
  the link waited behind). CPU per handshake =
  each process's \`process.cpuUsage()\` over the timed handshakes / handshakes (all threads: JIT
  and GC included). **What bounds it**: CPU, not the wire. The three processes together spend
  several times the in-process handshake (row above): the JSON frames on the critical path, each
  stringified, framed, written, woken up for, parsed and checked with its zod schema (credentials
  included), the same keys and signatures decoded from base58 again in every process, and the
  credential cache lookups (each a canonicalization and hash of the whole credential). With 2
  cores for three processes plus the bench's parent, each hop also waits for a core. Handshake
  frames leave the hub at once (not corked to the end of the turn), and the target reuses the
  credential check it just made when asked for the partner's trust. Since 2026-11-27 the nodes send
  their challenge response with the initiation (docs/handshake.md, "Early response"): four frames
  on the critical path instead of six (a node with \`earlyHandshake: false\` runs the four phases).
- **Hub path** (the hub's own ceiling): a raw link-protocol client (bench/worker-raw-link.ts,
  no SDK) authenticates for real and pushes pre-signed, sealed 1 KB envelopes (a pool of 1,024
  signed once) through one hub to a raw sink, which answers each with an Ack; the hub answers the
  source with Delivered. ${num(r.hubPath.window)} in flight; federations are seeded in the hub's
  store (no handshake). Same four frames per message at the hub as the SDK run (the envelope in and
  out, the Ack in, the Delivered out), same checks (schema, link-bound source, federation,
  timestamp window, quota, hop), without the senders' and receivers' crypto in the way. Hub CPU
  per message as below. Every link announces \`batch\` (docs/protocol.md, "Batches"), so the
  frames of an event-loop turn travel as one WebSocket message (up to 32 frames or 48 Ki
  characters); the relay baseline sends one message per frame. Since 2026-11-27 the hub reads an
  envelope and an Ack written in the senders' layout straight from the batch text
  (packages/core/src/wire/frame-text.ts: one sticky regular expression, then the checks a pattern
  does not make; equal to JSON.parse + the exact check by property tests, any other spelling takes
  the general path), in the same pass that splits the batch: ~1.4 µs less per message than JSON.parse,
  the check and a second scan, in A/B runs here. **What bounds it**: the socket writes of the
  bytes (the kernel share), the one pass over the envelope's text (the ciphertext's base64url
  check is most of it), the garbage of a few objects per frame and V8's scavenges, and the
  receipt (matched, answered with a Delivered written by hand). The forwarded envelope is the
  received text with only \`hopCount\` and \`route\` written anew, a frame goes straight to the
  link's writer when its queue is empty and the socket under its high-water mark, and the
  per-message metrics update plain numbers. Ids the hub keeps (a federation's rate-limit bucket)
  are copied out of the batch text: a view of it kept in a map held each federation's last 48 KB
  batch alive and doubled the scavenges' time.
- **Throughput**: one sender and one receiver node (SDK) in their own processes, the hub in a
  third (two hubs: the sender on one, the receiver on the other, peered over \`/v1/hub\`, each
  hub its own process); 256 sends in flight over 4 federations, 1 KB payload
  sealed and signed by the sender, verified, opened and de-duplicated by the receiver; \`send()\`
  resolves on the hub's \`Delivered\` receipt, timed after 1.5 s of unrecorded traffic (the processes' JIT
  warm-up: their rate climbs for about that long). The per-federation quota is raised out of the way.
  Hub CPU per message = the hub process's \`process.cpuUsage()\` over the run / messages delivered
  (each message is four frames at the hub: envelope in and out, Ack in, Delivered out).
  **What bounds it**: this machine has ${r.machine.cores} cores for three processes. The sender pays envelope
  seal + sign (${num(r.envelope.sealAndSignPerSec)}/s on one core) and the receiver verify + open
  (${num(r.envelope.verifyAndOpenPerSec)}/s), so two SDK processes cannot produce more than a few thousand
  messages per second here, whatever the hub does. At that rate the hub wakes up for a few frames
  at a time, so its CPU per message is mostly per-wakeup cost (epoll, reads, one writev per turn,
  timers), not per-message work; it falls as load rises (the hub path above: about 60 µs with 4
  messages in flight, under 30 µs with 256). The hub path row is the hub's capacity figure
  (1 / its CPU per message = messages per second per hub core).${mcpText}
- **Sessions**: helper processes (2,500 sessions each) hold raw link-protocol clients, each a
  distinct mesh with its own did:mesh log, key and credential, authenticating for real (signature,
  log import, credential check at the hub), 32 at a time per helper, over ${s.sourceAddresses} source
  addresses (127.0.0.x). The hub is set up as \`fmp hub start\` sets up a deployed hub by default:
  its store, the did:mesh registry's operations and the ledger's leaves in SQLite under its data
  directory (an in-memory store would keep every mesh's rows and log entries in the heap, which no
  deployed hub does). RSS per session = the hub's RSS delta / sessions, between a reading of the
  idle hub and one taken with the sessions established, after the ping phase below, both after
  a full GC and V8's memory-reducing collection (the inspector's \`HeapProfiler.collectGarbage\`,
  in process; what V8's memory reducer runs by itself once a process goes quiet: it compacts and
  gives freed pages back): what the sessions hold. Beside it, what an operator sees: the hub's RSS
  as it stands, sampled every 250 ms through the ping phase with no collection forced (mean and
  largest), which also holds the old generation's garbage between V8's full collections and so
  moves with the hub's periodic work (the phase's timers, below, run 3 and 12 times as often as the
  defaults); and the reading right after
  the burst of authentications, after a plain GC: it also holds the garbage and
  free pages of 10,000 credential checks, which the hub gives back once it settles. The
  baseline, just before: the same helpers open as many plain WebSocket connections, from the same
  addresses, to a raw ws server (bench/worker-ws.ts \`hold\`) that only holds them; its RSS delta
  (read the same way) per connection is what a socket and a ws connection cost before any protocol.
  **What bounds it**: more than half is the JS heap (the JS heap share is beside it): per session
  the socket, ws and stream objects (about 3 KB, as the raw server's), the mesh's did:mesh state
  (in the registry and in the ledger's state, about 1.6 KB), its trust-engine state (about 1.8 KB),
  its cached credential check (about 0.8 KB) and the session record. The credential itself stays
  in the store with the mesh's row, read back only when the re-check's cached result is gone. An
  idle link holds no outbound queue: a LinkScheduler is made only when its socket is over its
  high-water mark, and the sweep drops it once empty; the inbound backlog and the open batch's
  lists are made on first use too. The rest is native: the TCP handle, libuv, malloc and SQLite's
  page cache. Then
  WebSocket pings on random sessions: ${num(s.pings)} round trips, answered by the hub's event loop
  while it runs its own timers, set short for this phase so that they always fall inside it: a
  heartbeat ping to every session every 5 s (default 15 s; spread over 32 ticks of the interval,
  not all in one turn) and a credential re-check of every session every 5 s (default 60 s; it
  yields to the event loop every 64 sessions). The p99 is the cost of those timers to traffic.

- **Trust**: one event of each kind on a 100,000-mesh engine with a change listener (as the hub has),
  timed alone; events back to back for the rate; EigenTrust from scratch over a seeded random graph
  (10 out-edges per mesh) beside one sparse matrix-vector pass over the same shape; the sybil share in
  issue #5's scenario with 10 pre-trusted honest seeds.
- **Compliance**: the four adapters over a mix of transactions (geography first), and a Cedar decision
  on the EDU example policies, cached (the same request again) and not (every request new); audit
  appends issued all at once to a SQLite audit trail (group commit), the chain verified afterwards.
${ledgerParagraph(r)}${scaleText}
## Not measured yet

${
  r.quick
    ? `This is a quick run (smaller counts, shorter runs, every figure still measured): it holds
${(r.federations?.byCount ?? []).map((f) => num(f.count)).join(' and ') || 'no'} federations in one hub process, not 100,000 and 1,000,000, and tallies
${num(r.ledger?.governance?.voters ?? 0)} ballots, not the goal's 100,000; the full run (\`npm run bench\`) measures both.
`
    : ''
}Throughput with more sender/receiver processes than cores says nothing on this 2-core machine, so it
is not run.

`;
}

/** The federation-state and mixed-load paragraphs, and the mixed load's steps (issue #8). */
function scaleSection(r: Results): string {
  const out: string[] = [];
  const feds = r.federations?.byCount ?? [];
  const big = feds.reduce<FederationsResult | undefined>(
    (a, f) => (a && a.count > f.count ? a : f),
    undefined,
  );
  if (big) {
    const b = big.breakdown;
    const parts = b
      ? `
  Of it: the table's Map entry ${b.mapEntry.toFixed(0)} B, the row object with its 14
  fields and three boxed timestamps ${b.rowObject.toFixed(0)} B, its two arrays (capabilities, path)
  ${b.arrays.toFixed(0)} B, and its strings ${b.strings.toFixed(0)} B: the two ids, both mesh DIDs, the
  routing endpoint (which repeats the id), status, purpose, capabilities and the hub DID of the path,
  each row with its own copies, as a store or a parsed frame hands them over. Sharing the repeated
  ones (mesh DIDs, status, capabilities, path) would save most of the strings and arrays.
 `
      : '';
    const goal =
      big.count >= 1_000_000
        ? big.bytesPerFederation <= 1024
          ? ' (goal <= 1 KB: met)'
          : ' (goal <= 1 KB: NOT met)'
        : '';
    out.push(`- **Federation state** (issue #8): for each count a fresh hub process (\`--expose-gc\`), started as
  usual (its own did:mesh identity, the memory store), gets that many federation rows in its table
  through \`restoreFederations\`, the method its \`start()\` restores the store's rows with. The rows are
  built as a store hands them back: every string and array parsed from the row's text (no two rows
  share a string), between meshes with DIDs of real length (one mesh per 10 federations, at most
  100,000). Heap per federation = the JS heap after full collections, after minus before, / count;
  "with its rate-limit bucket" adds the token bucket the hub's per-federation limiter makes at a
  federation's first message. Lookups: \`Map.get\` on the hub's own table, with ids parsed afresh in
  random order (each hashed, as an envelope's is), beside the same lookups in a 1,000-entry Map.
  Per-mesh work, called as the hub runs it: \`reconcileMesh\` (the federations of one mesh re-judged; on
  every authentication, credential re-check and trust change of a mesh) and \`haveFederated\` (on every
  trust attestation), both over the table's mesh index (\`byMesh\`, \`between\`); the hub's \`sweep()\`
  (a 1 s timer, off here) over the table's expiry heap, with nothing due and with 1% due, on the hub's
  injected clock. **What bounds it**: memory, ${num(big.bytesPerFederation)} B per federation at
  ${num(big.count)}${goal}.${parts} Time: per-mesh operations cost what one mesh's federations cost
  (byMesh ${big.byMeshUs} µs, between ${big.betweenUs} µs, reconcileMesh ${ms(big.meshScanMs)} ms,
  haveFederated ${ms(big.pairLookupMs)} ms at ${num(big.count)}; one pass over the whole table, what each
  of them cost before the indexes, takes ${ms(big.iterateMs)} ms); an idle sweep reads the top of the
  expiry heap (${ms(big.sweepMs)} ms), and a sweep with work costs the status changes it makes
  (${ms(big.expirySweepMs)} ms for ${num(big.expired)} expiries). Restoring costs
  ${big.restoreUsPerFederation} µs per federation at start (building the indexes).`);
  }
  const ml = r.mixedLoad;
  if (ml && !('skipped' in ml)) {
    const kneeStep = [...ml.steps].reverse().find((s) => s.offeredPerSec === ml.kneeOpsPerSec);
    const cpuOf = (s: MixedLoadResult['steps'][number]) =>
      Object.entries(s.cpuPct)
        .map(([k, v]) => `${k} ${v}%`)
        .join(', ');
    const tools =
      ml.toolCalls === true
        ? `${pct(ml.mix.tools)} federated MCP tool calls (this process's MCP client -> the consumer node's
  /mcp -> hub -> the provider node -> the fixture MCP server over stdio, every answer's sum checked)`
        : `no tool calls (the MCP bridge could not be set up: ${ml.toolCalls.skipped})`;
    const crossed = ml.stoppedAt.reason.startsWith('the limit was not crossed') ? undefined : ml.steps.at(-1);
    const sum = (s: MixedLoadResult['steps'][number]) => Object.values(s.cpuPct).reduce((a, x) => a + x, 0);
    const cores = r.machine.cores;
    const atKnee = kneeStep
      ? `at the knee (${num(kneeStep.offeredPerSec)}/s) the hub used ${kneeStep.cpuPct.hub ?? '-'}% of one core and
  the run's processes together ${sum(kneeStep)}% of one (${cpuOf(kneeStep)}), the machine's ${cores} cores
  being ${kneeStep.machineCpuPct}% busy in all`
      : 'the first step already crossed';
    const atCross = crossed
      ? `; at ${num(crossed.offeredPerSec)}/s, where it crossed, the hub used ${crossed.cpuPct.hub ?? '-'}% and the
  machine's cores were ${crossed.machineCpuPct}% busy, the run's processes taking ${Math.round(sum(crossed) / cores)}% of
  them (the fixture MCP server aside) and other work on this shared machine the rest`
      : '';
    const bound = `${atKnee}${atCross}. The hub is far from its own ceiling (hub path row); the knee
  is where the SDK processes (seal, sign, verify and open per message, the MCP SDK per tool call)
  start to wait for a core.`;
    out.push(`- **Mixed load** (issue #8): one hub; a generator node sends sealed, signed 1 KB messages of
  the four priorities in turn to a receiver node over 4 federations and runs new handshakes with it;
  ${tools}. The mix: ${pct(ml.mix.messages)} messages, ${pct(ml.mix.handshakes)} handshakes and ${pct(ml.mix.tools)} tool calls,
  offered open loop (bench/open-loop.ts: each operation starts on schedule whether or not earlier ones
  finished, and its latency counts from its scheduled start, so queueing anywhere, the generators'
  included, shows as latency). Steps of ${ml.stepMs / 1000} s, the rate x1.5 each step, after an unrecorded
  warm-up step; a step whose p99 crosses ${ml.p99LimitMs} ms or that has errors runs once more at the same rate
  (one stall of this shared machine is not a knee), and the run stops when the second crosses too. The
  per-federation quota is raised out of the way, as for throughput. **What bounds it**: ${bound}
  Seven processes (hub, generator, receiver, MCP consumer and provider, fixture server, this one)
  share ${r.machine.cores} cores; each tool call costs milliseconds of CPU in four of them (MCP rows above),
  each handshake milliseconds in three. Stopped at ${num(ml.stoppedAt.offeredPerSec)}/s: ${ml.stoppedAt.reason}.`);
  }
  out.push(`- **Sustained traffic** (not part of this run, minutes long): \`npx tsx bench/soak.ts [seconds]\`
  keeps the one-hub throughput traffic going (256 in flight) and prints, every 10 s, messages per
  second, failures and the RSS of hub, sender and receiver. What fills with time shows there and
  not in a 10 s run: the receiver's replay cache refused every message once full (100,000 ids in a
  Map: ~8 s of ~12,000 msg/s; a first ReplayWindow of 1,000,000 ids: after ~80 s); it now holds
  4,000,000 ids (docs/link-protocol.md), about 5 minutes of that rate.`);
  let text = out.length > 0 ? `\n${out.join('\n')}\n` : '\n';
  if (ml && !('skipped' in ml) && ml.steps.length > 0) {
    const kinds = ['critical', 'high', 'normal', 'low', 'handshake', 'tool'].filter((k) =>
      ml.steps.some((s) => s.byKind[k]),
    );
    const head = [
      'offered /s',
      'achieved /s',
      'p50 / p99 ms',
      ...kinds.map((k) => `${k} p99 ms`),
      'errors',
      'hub CPU',
      'machine CPU',
    ];
    const lines = ml.steps.map((s) =>
      [
        `${num(s.offeredPerSec)}${s.repeat ? ' (again)' : ''}`,
        num(s.achievedPerSec),
        `${ms(s.p50Ms)} / ${ms(s.p99Ms)}`,
        ...kinds.map((k) => (s.byKind[k] ? ms(s.byKind[k].p99Ms) : '-')),
        s.errors === 0
          ? '0'
          : `${s.errors} (${Object.entries(s.errorCodes)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')})`,
        `${s.cpuPct.hub ?? '-'}%`,
        `${s.machineCpuPct}%`,
      ].join(' | '),
    );
    text += `
## Mixed load, step by step

Knee: ${ml.kneeOpsPerSec === null ? 'none (the first step crossed)' : `${num(ml.kneeOpsPerSec)} operations/s (${num(ml.kneeMsgsPerSec ?? 0)} messages/s)`}; p99 limit ${ml.p99LimitMs} ms; steps of ${ml.stepMs / 1000} s.
Hub CPU in % of one core; machine CPU in % of all ${r.machine.cores} cores (any process).

| ${head.join(' | ')} |
|${head.map(() => '---').join('|')}|
${lines.map((l) => `| ${l} |`).join('\n')}
`;
  }
  return `${text}\n`;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

function mcpParagraph(m: McpCallResult | McpSkipped, r: Results): string {
  const what = `- **Federated MCP tools/call** (issue #4): an MCP client of the official SDK (in the bench process)
  calls \`<partner>__add\` at the consumer node's \`/mcp\` (Streamable HTTP, a 2025-era session), one
  call at a time after 3,000 warm-up rounds (a few hundred left much of every process's code
  unoptimized: the hubs spent ~0.3 ms more CPU per call), each with different arguments; every answer's sum is checked
  (a wrong one fails the run; tool errors are counted and left out of the percentiles). The call
  travels as a sealed, signed \`agent.task.request\` from the consumer node (on hub 1) over the peer
  link and hub 2 to the provider node, which checks its access rules, the federation's capabilities
  and the partner's trust, and calls the fixture MCP server (test/fixtures/mcp-server.ts) over stdio;
  the answer comes back the same way as \`agent.task.response\`. Every node, hub and MCP server is a
  process of its own on loopback. **Both nodes run as \`fmp node start\` runs them** (bench/worker-mcp.ts:
  startNodeProcess from a config, key file and credential): compliance on, so every message is
  checked by the adapters and its decision written to the audit trail (SQLite) before it is sent or
  delivered, and every call leaves an explanation record; runs before this one measured nodes
  without compliance. A second loop makes the same calls with the client on the consumer's stdio
  framing (as \`fmp node mcp\` serves it, here on a socket pair), rotating with direct calls and
  raw chain trips of its own: the client then reaches the consumer as it reaches the direct server,
  so that row's added latency is the federation's, not Streamable HTTP's over stdio's. The baseline is a second SDK client in the bench process calling
  \`add\` on its own copy of the same server over stdio (same command); the calls rotate between
  the two clients and the raw chain below, so all see the same load. Added latency = federated percentile - direct
  percentile (p50 and p95 each); latencies are rounded up here, the direct baseline down. The
  provider's per-partner call quota (default 20 calls/s) and the hubs' per-federation quota are
  raised out of the way, as for throughput: they are policy, not cost. "The consumer's /mcp alone"
  is \`tools/list\` from the same client to the same endpoint, answered from the catalogs the
  consumer holds (no message crosses the mesh): what the HTTP endpoint and the MCP SDK cost by
  themselves. **The floor** of the added latency on this machine: the call adds four processes
  (consumer, two hubs, provider) and eight one-way hops; the same run times a 1 KB message through a
  chain of four raw WebSocket processes that only forward bytes (bench/worker-ws.ts \`hop\`, the last
  one echoing) and back, paced like the calls (rotated with them). Whatever the federation does, its
  added latency cannot go below that chain's; the CPU row compares each hub's CPU per call with one
  chain process's per round trip (the ratio is the hubs' mean over it). Back-to-back runs of the same
  code moved by 2x here within minutes: to compare two versions, \`npx tsx bench/ab.ts <other
  checkout> [n]\` runs this benchmark in both at once, taking turns call by call.`;
  if ('skipped' in m) return `${what} Not measured in this run: ${m.skipped}.`;
  const c = m.cpuMsPerCall;
  const total = c.consumer + c.hub1 + c.hub2 + c.provider;
  return `${what} **What bounds it**: CPU, not the wire (a raw WebSocket round trip is
  ${ms(r.baseline.wsRttP50Ms)} ms back to back, the raw chain ${msDown(m.rawChain.p50Ms)} ms at the calls' pace: a process
  woken from idle on this machine costs far more than one kept busy). The consumer, both hubs and the provider spend ${msUp(total)} ms of CPU per
  call together, against ${msUp(m.addedP50Ms)} ms added at p50: with one call at a time most of that work is
  sequential, so the added latency is of the order of what they spend (some of it, such as the
  request's delivery receipts while the provider works, is off the critical path). The consumer spends most
  (${msUp(c.consumer)} ms): besides sealing the request and opening the answer it runs the MCP SDK's
  Streamable HTTP server (the Node adapter, web streams, schema validation of each JSON-RPC
  message), which alone takes ${msUp(m.endpointOnly.p50Ms)} ms at p50 (row above). On the critical path
  of each call are four audit entries, each written before its message goes on: the consumer's
  decision to send the request and to accept the answer, the provider's to accept the request and to
  send the answer (nothing is sent or delivered unaudited). Written means committed to the audit file
  on the node's own thread (tens of µs; a crash of the node keeps it); the fsync that makes it
  durable (0.12-0.35 ms on this machine's disk) runs off the path, and what acknowledges a message
  waits for it: the provider's answer for the request's entry (synced while the tool runs), receipts
  for theirs (docs/compliance.md). Until 2026-11-27 each message waited for its entry's fsync and a
  round trip to the audit writer thread, and answers carried no complianceContext, so only two of
  the four decisions were made and audited. Each hub spends about
  ${msUp((c.hub1 + c.hub2) / 2)} ms per call for two messages (request and answer, each with its Ack and
  Delivered receipt across the peer link): at one message in flight a hub wakes up for every frame,
  so per-wakeup costs dominate, as in the throughput rows. With ${r.machine.cores} cores for seven processes, each
  hop may also wait for a core.`;
}

/** The ledger paragraph (issue #7): the Merkle log in memory, durable appends, the governance tally. */
function ledgerParagraph(r: Results): string {
  const memory = `- **Ledger**: appends to the in-memory Merkle log, 1,000 in flight, then inclusion proofs of random
  leaves verified against the full tree's root.`;
  const lg = r.ledger;
  const d = lg?.durable;
  const g = lg?.governance;
  const out = [memory];
  if (d) {
    const commitMs = 1000 / d.sequentialAppendsPerSec;
    const batchedMs = (1000 * d.appends) / d.appendsPerSec / Math.max(1, d.batches.count);
    out.push(`  Durable appends: a TransparencyLog over the SQLite store (a file in a temp dir; WAL, and a commit's
  writers are answered once an fdatasync of the WAL begun after it has completed), entries of ${num(d.entryBytes)} bytes (about a did:mesh
  operation), ${num(d.concurrency)} appenders each awaiting its index before its next append, so the appends in
  flight share a storage write (the log's group commit): ${num(d.appends)} timed appends after 2,000 unrecorded
  ones, in ${num(d.batches.count)} commits of ${d.batches.mean} leaves on average (at most ${num(d.batches.max)}); then one
  appender alone, every append its own commit; the log reopened from the file
  ${d.reopenedSameRoot ? 'rebuilt the same size and root' : 'did NOT rebuild the same root'}. The baseline inserts
  200-byte rows in 1,000-row transactions with synchronous=NORMAL (no fsync per commit): the storage's
  own ceiling. **What bounds it**: alone, an append waits for its own commit and sync (${ms(commitMs)} ms
  each here). Batched, a commit went out every ${ms(batchedMs)} ms with ${d.batches.mean} leaves, ${ms(batchedMs / d.batches.mean)} ms
  per leaf: the fsync is shared, and what remains is per leaf (encoding and hashing it, its row insert,
  settling its append's promise) and the appenders' turns of the event loop.`);
  }
  if (g) {
    const perLeafMs = g.tallyMs / g.replayedLeaves;
    const verifyMs = 1000 / r.baseline.ed25519VerifyPerSec;
    out.push(`- **Governance tally** (issue #7; \`benchGovernance\` in @fmp/ledger): a ledger (in memory, on an
  injected clock) whose genesis funds one account; ${num(g.voters)} voters are funded by signed transfers
  from it (1,000 submitted at a time), one parameter-change proposal passes Draft and Review to its vote,
  and every voter signs one ballot. Entries per second: the transfers and ballots the sequencer took
  (signature verified, state applied, leaf appended) over that time. The tally: \`tallyFromLog\` over every
  leaf of the log alone (${num(g.replayedLeaves)}: decode, signature check and state replay, so that each
  ballot weighs the voter's tokens at the vote's snapshot), timed alone, then compared with the live
  tally (a difference fails the run).${
    g.voters === 100_000 ? '' : ` The goal is for 100,000 ballots; this run tallies ${num(g.voters)}.`
  } **What bounds it**: one Ed25519 verification per leaf; a leaf costs ${ms(perLeafMs)} ms
  against ${ms(verifyMs)} ms for a raw verify (${ratio(perLeafMs, verifyMs)}), the rest being decoding, the
  canonical-form check and the state replay.`);
  }
  return out.join('\n');
}
