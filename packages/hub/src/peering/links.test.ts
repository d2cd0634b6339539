import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Ed25519KeyPair, ed25519, ProtocolError } from '@fmp/core';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { RouteTable } from '../routing/path-vector.js';
import { recordWebSocketSends } from '../test-support.js';
import { PeerAuthenticationError, PeerNotAllowedError, PeerRefusedError } from './errors.js';
import type { Relay } from './frames.js';
import { type PeerDataFrame, PeerLinks, type PeerRefusal } from './links.js';

interface Hub {
  name: string;
  did: string;
  vm: string;
  keyPair: Ed25519KeyPair;
  server: Server;
  port: number;
  /** `from` tags whose (re)connections this hub's server refuses: a link that stays down. */
  blocked: Set<string>;
  sockets: Map<string, Set<WebSocket>>;
  links?: PeerLinks;
  table: RouteTable;
  ups: string[];
  downs: string[];
  refusals: PeerRefusal[];
  frames: { peer: string; frame: PeerDataFrame; innerKind?: string }[];
  latencySamples: number;
}

const hubs: Hub[] = [];

async function makeHub(name: string): Promise<Hub> {
  const did = `did:mesh:hub:${name}`;
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const hub: Hub = {
    name,
    did,
    vm: `${did}#key-1`,
    keyPair: ed25519.generateKeyPair(),
    server,
    port: 0,
    blocked: new Set(),
    sockets: new Map(),
    table: new RouteTable({ selfHubDid: did, now: Date.now }),
    ups: [],
    downs: [],
    refusals: [],
    frames: [],
    latencySamples: 0,
  };
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const from = url.searchParams.get('from') ?? '';
    if (url.pathname !== '/v1/hub' || hub.blocked.has(from) || !hub.links) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const set = hub.sockets.get(from) ?? new Set();
      hub.sockets.set(from, set);
      set.add(ws);
      ws.once('close', () => set.delete(ws));
      hub.links!.handleUpgrade(ws);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  hub.port = (server.address() as AddressInfo).port;
  hubs.push(hub);
  return hub;
}

const urlOf = (target: Hub, from: Hub) => `ws://127.0.0.1:${target.port}/v1/hub?from=${from.name}`;

/** Each hub resolves keys from its own view, so a test can give one hub a wrong key for another. */
function start(
  hub: Hub,
  opts: {
    dial?: Hub[];
    allow?: Hub[];
    keys?: Map<string, Uint8Array>;
    pingIntervalMs?: number;
    maxFrameBytes?: number;
  },
): PeerLinks {
  const keys = opts.keys ?? new Map(hubs.map((h) => [h.vm, h.keyPair.publicKey]));
  const links: PeerLinks = new PeerLinks({
    self: { did: hub.did, keyPair: hub.keyPair, verificationMethod: hub.vm },
    resolveKey: async (vm) => {
      const key = keys.get(vm);
      if (!key) throw new ProtocolError('did_resolution_failed', `unknown key ${vm}`);
      return key;
    },
    peers: (opts.dial ?? []).map((h) => ({ did: h.did, url: urlOf(h, hub) })),
    allowedPeers: (opts.allow ?? []).map((h) => h.did),
    onUp: (peer) => {
      hub.ups.push(peer);
      links.sendAnnouncement(peer, hub.table.exportFor(peer));
    },
    onDown: (peer) => {
      hub.downs.push(peer);
      hub.table.withdrawPeer(peer);
    },
    onLatency: (peer, ms) => {
      hub.latencySamples++;
      hub.table.updateLinkLatency(peer, ms);
    },
    onFrame: (peer, frame, inner) => {
      hub.frames.push({ peer, frame, innerKind: inner?.kind });
      if (frame.type === 'RouteAnnouncement')
        hub.table.applyAnnouncement(peer, frame, links.latency(peer) ?? 0);
    },
    onRefused: (r) => hub.refusals.push(r),
    ...(opts.maxFrameBytes === undefined ? {} : { maxFrameBytes: opts.maxFrameBytes }),
    reconnect: { baseMs: 20, maxMs: 200 },
    pingIntervalMs: opts.pingIntervalMs ?? 50,
    authTimeoutMs: 5000,
    now: Date.now,
  });
  hub.table.onChange((changed) => {
    for (const peer of links.connectedPeers())
      links.sendAnnouncement(peer, hub.table.exportFor(peer, changed));
  });
  hub.links = links;
  links.start();
  return links;
}

/** Drops the link `from` -> `hub` and keeps it down: the server refuses `from`'s re-dials. */
function cut(hub: Hub, from: Hub): void {
  hub.blocked.add(from.name);
  for (const ws of hub.sockets.get(from.name) ?? []) ws.terminate();
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

afterEach(async () => {
  for (const h of hubs.splice(0)) {
    await h.links?.stop();
    h.server.closeAllConnections();
    await new Promise((r) => h.server.close(r));
  }
});

describe('PeerLinks on loopback', () => {
  it('two hubs authenticate each other, measure latency and exchange frames', async () => {
    const a = await makeHub('a');
    const b = await makeHub('b');
    const la = start(a, { dial: [b] });
    const lb = start(b, { allow: [a] });
    await until(() => a.ups.includes(b.did) && b.ups.includes(a.did), 'both ends up');
    expect(la.connectedPeers()).toEqual([b.did]);
    expect(lb.connectedPeers()).toEqual([a.did]);
    await until(() => a.latencySamples >= 2 && b.latencySamples >= 2, 'ping samples');
    for (const l of [la.latency(b.did), lb.latency(a.did)]) {
      expect(Number.isFinite(l)).toBe(true);
      expect(l).toBeGreaterThanOrEqual(0);
    }

    const relay: Relay = {
      type: 'Relay',
      toMeshId: 'did:mesh:org:x',
      fromHub: a.did,
      frame: { type: 'error', code: 'unreachable', message: 'no route to did:mesh:org:x' },
    };
    expect(la.send(b.did, relay, 'high')).toBe(true);
    await until(() => b.frames.some((f) => f.frame.type === 'Relay'), 'relay at b');
    expect(b.frames.find((f) => f.frame.type === 'Relay')).toMatchObject({ peer: a.did, innerKind: 'error' });
    // The inner frame handed in as text (an envelope forwarded as it came): spliced, the same Relay at b.
    const other = { ...relay, toMeshId: 'did:mesh:org:y' };
    expect(la.send(b.did, other, 'high', JSON.stringify(relay.frame, null, 1))).toBe(true);
    const atB = () => b.frames.find((f) => f.frame.type === 'Relay' && f.frame.toMeshId === other.toMeshId);
    await until(() => atB() !== undefined, 'relay sent with its inner text at b');
    expect(atB()).toMatchObject({ peer: a.did, innerKind: 'error' });
    expect(atB()?.frame).toEqual(other);

    // An inner frame that fails its schema is answered with an error frame, the link stays up.
    expect(la.send(b.did, { ...relay, frame: { type: 'agent.task.request', messageId: 'x' } })).toBe(true);
    await until(() => a.frames.some((f) => f.frame.type === 'error'), 'error frame back at a');
    expect(a.frames.find((f) => f.frame.type === 'error')?.frame).toMatchObject({ code: 'malformed_frame' });
    expect(la.isUp(b.did)).toBe(true);
    expect(la.send('did:mesh:hub:nobody', relay)).toBe(false);
  });

  it('batches the frames of one turn to a peer that announced it, and takes batches frame by frame', async () => {
    const a = await makeHub('a');
    const b = await makeHub('b');
    const la = start(a, { dial: [b] });
    start(b, { allow: [a] });
    await until(() => a.ups.includes(b.did) && b.ups.includes(a.did), 'both ends up');
    const relay = (i: number): Relay => ({
      type: 'Relay',
      toMeshId: 'did:mesh:org:x',
      fromHub: a.did,
      frame: { type: 'error', code: 'unreachable', message: `probe ${i}` },
    });
    const { sent, restore } = recordWebSocketSends();
    try {
      for (let i = 0; i < 10; i++) expect(la.send(b.did, relay(i))).toBe(true);
      await until(() => b.frames.filter((f) => f.frame.type === 'Relay').length === 10, 'ten relays at b');
    } finally {
      restore();
    }
    // Both hubs announced `batch` in HubHello: the ten left in one message, and arrived in order.
    expect(sent.filter((m) => m.includes('probe'))).toHaveLength(1);
    const messages = b.frames.flatMap((f) =>
      f.frame.type === 'Relay' && f.frame.frame.type === 'error' ? [f.frame.frame.message] : [],
    );
    expect(messages).toEqual(Array.from({ length: 10 }, (_, i) => `probe ${i}`));

    // A batch on the up link from b's side: its good frame is handled, its bad one answered (back to
    // b), and a batch past MAX_BATCH_FRAMES is refused whole; the link stays up.
    const [ws] = [...(b.sockets.get('a') ?? [])];
    const good = JSON.stringify({ ...relay(99), fromHub: b.did });
    const errorsAtB = () => b.frames.filter((f) => f.frame.type === 'error');
    ws!.send(`[${good},{"type":"Relay"}]`);
    await until(() => errorsAtB().length === 1, 'error for the bad element');
    await until(() => a.frames.some((f) => f.frame.type === 'Relay'), 'the good element handled');
    ws!.send(`[${Array.from({ length: 257 }, () => good).join(',')}]`);
    await until(() => errorsAtB().length === 2, 'long batch refused');
    expect(errorsAtB().map((f) => (f.frame as { code: string }).code)).toEqual([
      'malformed_frame',
      'malformed_frame',
    ]);
    expect(a.frames.filter((f) => f.frame.type === 'Relay')).toHaveLength(1);
    expect(la.isUp(b.did)).toBe(true);
  });

  it("keeps batches under the peer's maxFrameBytes (announced in HubHello)", async () => {
    const a = await makeHub('a');
    const b = await makeHub('b');
    const la = start(a, { dial: [b] });
    start(b, { allow: [a], maxFrameBytes: 8192 });
    await until(() => a.ups.includes(b.did) && b.ups.includes(a.did), 'both ends up');
    const { sent, restore } = recordWebSocketSends();
    try {
      for (let i = 0; i < 20; i++) {
        const relay: Relay = {
          type: 'Relay',
          toMeshId: 'did:mesh:org:x',
          fromHub: a.did,
          frame: { type: 'error', code: 'unreachable', message: `big ${i} ${'x'.repeat(900)}` },
        };
        expect(la.send(b.did, relay)).toBe(true);
      }
      await until(() => b.frames.filter((f) => f.frame.type === 'Relay').length === 20, 'twenty relays at b');
    } finally {
      restore();
    }
    const toB = sent.filter((m) => m.includes('big '));
    expect(toB.length).toBeGreaterThan(1); // batched, in several messages
    for (const m of toB) expect(Buffer.byteLength(m)).toBeLessThanOrEqual(8192);
    expect(b.frames.filter((f) => f.frame.type === 'error')).toEqual([]);
    expect(la.isUp(b.did)).toBe(true);
  });

  it('keeps exactly one link when both hubs dial each other', async () => {
    const a = await makeHub('a');
    const b = await makeHub('b');
    const la = start(a, { dial: [b] });
    const lb = start(b, { dial: [a] });
    await until(() => la.isUp(b.did) && lb.isUp(a.did), 'both ends up');
    // Frames flow both ways over the surviving link.
    const probe = (from: Hub): Relay => ({
      type: 'Relay',
      toMeshId: 'did:mesh:org:x',
      fromHub: from.did,
      frame: { type: 'error', code: 'unreachable', message: `from ${from.name}` },
    });
    await until(() => {
      la.send(b.did, probe(a));
      lb.send(a.did, probe(b));
      return b.frames.some((f) => f.frame.type === 'Relay') && a.frames.some((f) => f.frame.type === 'Relay');
    }, 'relays both ways');
    expect(la.connectedPeers()).toEqual([b.did]);
    expect(lb.connectedPeers()).toEqual([a.did]);
    // Every up was matched by a down except the last one: one live link per side.
    expect(a.ups.length - a.downs.length).toBe(1);
    expect(b.ups.length - b.downs.length).toBe(1);
  });

  it('refuses a hub whose signature does not verify under the key it is known by', async () => {
    const a = await makeHub('a');
    const b = await makeHub('b');
    const wrongKeys = new Map([
      [a.vm, ed25519.generateKeyPair().publicKey],
      [b.vm, b.keyPair.publicKey],
    ]);
    start(a, { dial: [b] });
    start(b, { allow: [a], keys: wrongKeys });
    await until(() => b.refusals.length > 0 && a.refusals.length > 0, 'refusals on both ends');
    const atB = b.refusals[0]!;
    expect(atB.direction).toBe('inbound');
    expect(atB.error).toBeInstanceOf(PeerAuthenticationError);
    expect(atB.error.wireCode).toBe('invalid_signature');
    const atA = a.refusals[0]!;
    expect(atA).toMatchObject({ peerDid: b.did, direction: 'outbound' });
    expect(atA.error).toBeInstanceOf(PeerRefusedError);
    expect(atA.error.wireCode).toBe('invalid_signature');
    // Neither side ever considered the link up, and a keeps re-dialing (and being refused).
    await until(() => a.refusals.length >= 2, 'a re-dials after backoff');
    expect(a.ups).toEqual([]);
    expect(b.ups).toEqual([]);
  });

  it('refuses a hub that is not an allowed peer', async () => {
    const a = await makeHub('a');
    const b = await makeHub('b');
    const c = await makeHub('c');
    start(b, { allow: [a] });
    start(c, { dial: [b] });
    await until(() => b.refusals.length > 0 && c.refusals.length > 0, 'refusals');
    expect(b.refusals[0]!.error).toBeInstanceOf(PeerNotAllowedError);
    expect(b.refusals[0]!.peerDid).toBe(c.did);
    expect(c.refusals[0]!.error).toBeInstanceOf(PeerRefusedError);
    expect(c.refusals[0]!.error.wireCode).toBe('unauthorized');
    expect(b.ups).toEqual([]);
    expect(c.ups).toEqual([]);
  });

  it('refuses a hub answering for another DID than the one dialed', async () => {
    const a = await makeHub('a');
    const b = await makeHub('b');
    const impostor = await makeHub('c');
    // a believes b lives at the impostor's address.
    const la = new PeerLinks({
      self: { did: a.did, keyPair: a.keyPair, verificationMethod: a.vm },
      resolveKey: async () => b.keyPair.publicKey,
      peers: [{ did: b.did, url: urlOf(impostor, a) }],
      onUp: (p) => a.ups.push(p),
      onDown: () => {},
      onFrame: () => {},
      onRefused: (r) => a.refusals.push(r),
      reconnect: { baseMs: 1000, maxMs: 1000 },
      pingIntervalMs: 1000,
      now: Date.now,
    });
    a.links = la;
    la.start();
    start(impostor, { allow: [a] });
    await until(() => a.refusals.length > 0, 'refusal at a');
    expect(a.refusals[0]!.error).toBeInstanceOf(PeerNotAllowedError);
    expect(a.ups).toEqual([]);
  });

  it('answers malformed, out-of-order and stale handshakes with an error frame and closes', async () => {
    const a = await makeHub('a');
    const b = await makeHub('b');
    start(b, { allow: [a] });
    const attempt = async (first: string) => {
      const ws = new WebSocket(urlOf(b, a));
      const frames: { code?: string; type?: string }[] = [];
      ws.on('message', (d) => frames.push(JSON.parse(String(d))));
      await once(ws, 'open');
      ws.send(first);
      const [code] = (await once(ws, 'close')) as [number];
      return { code, error: frames.find((f) => f.type === 'error')?.code };
    };
    expect(await attempt('{not json')).toEqual({ code: 1008, error: 'malformed_frame' });
    expect(await attempt(JSON.stringify({ type: 'LinkPing', sentAt: 1 }))).toEqual({
      code: 1008,
      error: 'out_of_order',
    });
    const nonce = Buffer.alloc(32, 7).toString('base64url');
    expect(
      await attempt(
        JSON.stringify({ type: 'HubHello', hubDid: a.did, nonce, timestamp: Date.now() - 3_600_000 }),
      ),
    ).toEqual({ code: 1008, error: 'clock_skew' });
    expect(b.refusals.map((r) => r.error.wireCode)).toEqual([
      'malformed_frame',
      'out_of_order',
      'clock_skew',
    ]);
    expect(b.ups).toEqual([]);
  });

  it('re-dials a dropped link by itself', async () => {
    const a = await makeHub('a');
    const b = await makeHub('b');
    const la = start(a, { dial: [b] });
    start(b, { allow: [a] });
    await until(() => a.ups.length === 1 && b.ups.length === 1, 'first up');
    for (const ws of b.sockets.get('a') ?? []) ws.terminate();
    await until(() => a.downs.length === 1, 'down noticed');
    await until(() => a.ups.length === 2 && la.isUp(b.did), 'up again');
    // b is up once a's first LinkPing reaches it, which may be just after a is up.
    await until(() => b.ups.length === 2, 'up again at b');
    expect(b.ups).toEqual([a.did, a.did]);
  });
});

describe('path-vector routing over PeerLinks', () => {
  const MA = 'did:mesh:org:at-a';
  const MC = 'did:mesh:org:at-c';

  it('three hubs in a line: routes across the middle hub, withdrawn when the middle link drops', async () => {
    const a = await makeHub('a');
    const b = await makeHub('b');
    const c = await makeHub('c');
    a.table.attach(MA);
    c.table.attach(MC);
    start(a, { dial: [b] });
    start(b, { dial: [c], allow: [a] });
    start(c, { allow: [b] });
    await until(() => a.table.nextHop(MC)?.kind === 'peer' && c.table.nextHop(MA)?.kind === 'peer', 'routes');
    expect(a.table.nextHop(MC)).toMatchObject({ kind: 'peer', peerDid: b.did, path: [b.did, c.did] });
    expect(c.table.nextHop(MA)).toMatchObject({ kind: 'peer', peerDid: b.did, path: [b.did, a.did] });
    expect(a.table.rows().find((r) => r.meshId === MC)?.path).toEqual([a.did, b.did, c.did]);

    cut(c, b);
    await until(() => a.table.nextHop(MC) === undefined, 'a withdraws the route to MC');
    await until(() => c.table.nextHop(MA) === undefined, 'c withdraws the route to MA');
    expect(b.table.nextHop(MC)).toBeUndefined();
    expect(b.table.nextHop(MA)).toMatchObject({ peerDid: a.did });
  });

  it('three hubs in a triangle: direct routes, re-routed through the third hub when a link drops', async () => {
    const a = await makeHub('a');
    const b = await makeHub('b');
    const c = await makeHub('c');
    a.table.attach(MA);
    c.table.attach(MC);
    start(a, { dial: [b, c] });
    start(b, { dial: [c], allow: [a] });
    start(c, { allow: [a, b] });
    await until(
      () =>
        a.table.nextHop(MC)?.kind === 'peer' &&
        c.table.nextHop(MA)?.kind === 'peer' &&
        b.table.nextHop(MA)?.kind === 'peer' &&
        b.table.nextHop(MC)?.kind === 'peer',
      'routes',
    );
    expect(a.table.nextHop(MC)).toMatchObject({ peerDid: c.did, path: [c.did] });
    expect(c.table.nextHop(MA)).toMatchObject({ peerDid: a.did, path: [a.did] });
    // a holds the longer path through b as an alternative.
    await until(() => a.table.rows().find((r) => r.meshId === MC)?.alternatives === 1, 'alternative at a');

    cut(c, a); // the a-c link drops and stays down
    await until(
      () =>
        a.table.nextHop(MC)?.kind === 'peer' &&
        (a.table.nextHop(MC) as { peerDid: string }).peerDid === b.did,
      'a re-routes',
    );
    expect(a.table.nextHop(MC)).toMatchObject({ path: [b.did, c.did] });
    await until(
      () =>
        c.table.nextHop(MA)?.kind === 'peer' &&
        (c.table.nextHop(MA) as { peerDid: string }).peerDid === b.did,
      'c re-routes',
    );
    expect(c.table.nextHop(MA)).toMatchObject({ path: [b.did, a.did] });
    expect(a.links!.isUp(c.did)).toBe(false);
  });
});
