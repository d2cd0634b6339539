/**
 * Holds many authenticated node sessions on one hub with raw link-protocol clients (Hello ->
 * Authenticate -> Authenticated, docs/link-protocol.md): far lighter than MeshNode objects, and
 * each session is a real mesh (own did:mesh log, own credential, own Ed25519 signature).
 *   node --import tsx bench/worker-sessions.ts <world.json> <hubUrl> <first> <count> <addr,addr,...> <concurrency>
 * prints {"prepared"} once identities are built, then serves:
 *   {"cmd":"open","hubUrl"?}       -> {opened, failed, errors, elapsedMs} (with `-` for <hubUrl>, the
 *                                     URL comes here: the identities are built while the hub starts)
 *   {"cmd":"ping","n","perSecond"} -> WebSocket pings on random open sessions: {samplesMs, open}
 *   {"cmd":"status"}               -> {open}
 *   {"cmd":"openRaw","url"}        -> as many plain WebSocket connections to `url` as there are
 *                                     sessions, same addresses and concurrency: {opened, failed}
 *   {"cmd":"closeRaw"}             -> closes them: {closed}
 */
import { readFileSync } from 'node:fs';
import {
  authenticateDigest,
  type Ed25519KeyPair,
  ed25519,
  multibaseEncode,
  type VerifiableCredentialJson,
} from '@fmp/core';
import { buildMeshCreate, issueMeshAgentCredential } from '@fmp/identity';
import WebSocket from 'ws';
import { keysOf, print, type SavedWorld, serve } from './worker-io.js';

const [file, hubArg, firstArg, countArg, addrArg, concurrencyArg] = process.argv.slice(2);
const world = JSON.parse(readFileSync(file!, 'utf8')) as SavedWorld;
const first = Number(firstArg);
const count = Number(countArg);
const addresses = addrArg!.split(',');
const concurrency = Number(concurrencyArg ?? 32);
let hubUrl = hubArg === '-' ? undefined : hubArg;

interface Session {
  did: string;
  keyPair: Ed25519KeyPair;
  op: Record<string, unknown>;
  credential: VerifiableCredentialJson;
  ws?: WebSocket;
}

const issuerKey = keysOf(world.issuer);
const signer = {
  keyPair: issuerKey,
  issuer: world.issuer.did,
  verificationMethod: `${world.issuer.did}#key-1`,
};
const sessions: Session[] = [];
for (let i = first; i < first + count; i++) {
  const did = `did:mesh:enterprise:sess-${i}`;
  const keyPair = ed25519.generateKeyPair();
  const op = buildMeshCreate({ did, key: keyPair, nextPublicKey: ed25519.generateKeyPair().publicKey });
  const credential = (await issueMeshAgentCredential({
    signer,
    suite: 'eddsa-jcs-2022',
    subject: { id: did, meshCapabilities: ['ml.inference'], complianceCertifications: [], trustLevel: 70 },
  })) as unknown as VerifiableCredentialJson;
  sessions.push({ did, keyPair, op: op as unknown as Record<string, unknown>, credential });
}

/** Opens one session; resolves with undefined or the reason it failed. */
function open(s: Session, localAddress: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${hubUrl}/v1/mesh`, { localAddress, perMessageDeflate: false });
    let settled = false;
    const settle = (reason: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (reason === undefined) s.ws = ws;
      else ws.terminate();
      resolve(reason);
    };
    const timer = setTimeout(() => settle('timeout'), 60_000);
    ws.on('error', (err) => settle(`socket: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    ws.on('close', (code) => {
      if (s.ws === ws) s.ws = undefined;
      settle(`closed ${code}`);
    });
    ws.on('message', (data) => {
      if (settled) return;
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      if (frame.type === 'Hello') {
        const binding = {
          hubDid: frame.hubDid as string,
          nonce: frame.nonce as string,
          meshId: s.did,
          verificationMethod: `${s.did}#key-1`,
          capabilities: ['ml.inference'],
          region: 'eu',
          credential: s.credential,
          timestamp: Date.now(),
        };
        const signature = multibaseEncode(ed25519.sign(authenticateDigest(binding), s.keyPair));
        ws.send(JSON.stringify({ type: 'Authenticate', ...binding, meshLog: [s.op], signature }));
      } else if (frame.type === 'Authenticated') {
        settle(undefined);
      } else if (frame.type === 'error') {
        settle(`error ${String(frame.code)}`);
      }
    });
  });
}

/**
 * Runs `attempt` for every session index, `concurrency` at a time: counts of successes (undefined)
 * and failures by reason.
 */
async function inLanes(attempt: (i: number) => Promise<string | undefined>) {
  const start = performance.now();
  const errors: Record<string, number> = {};
  let opened = 0;
  let failed = 0;
  let next = 0;
  const lane = async () => {
    while (next < sessions.length) {
      const reason = await attempt(next++);
      if (reason === undefined) opened++;
      else {
        failed++;
        errors[reason] = (errors[reason] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { opened, failed, errors, elapsedMs: performance.now() - start };
}

const openAll = () => inLanes((i) => open(sessions[i]!, addresses[i % addresses.length]!));

const live = () => sessions.filter((s) => s.ws?.readyState === WebSocket.OPEN);

/** Pings random open sessions at `perSecond`, n in all; the pong comes from the hub's event loop. */
async function ping(n: number, perSecond: number) {
  const samplesMs: number[] = [];
  let lost = 0;
  const gap = 1000 / perSecond;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const open = live();
    const s = open[Math.floor(Math.random() * open.length)];
    if (!s?.ws) break;
    const ws = s.ws;
    pending.push(
      new Promise<void>((resolve) => {
        const t = performance.now();
        const timer = setTimeout(() => {
          lost++;
          ws.off('pong', onPong);
          resolve();
        }, 10_000);
        const onPong = () => {
          clearTimeout(timer);
          samplesMs.push(performance.now() - t);
          resolve();
        };
        ws.once('pong', onPong);
        ws.ping();
      }),
    );
    await new Promise((r) => setTimeout(r, gap));
  }
  await Promise.all(pending);
  return { samplesMs, lost, open: live().length };
}

const raw: WebSocket[] = [];

/** The baseline's connections: plain WebSockets, nothing sent on them. */
const openRaw = (url: string) =>
  inLanes(
    (i) =>
      new Promise<string | undefined>((resolve) => {
        const ws = new WebSocket(url, {
          localAddress: addresses[i % addresses.length],
          perMessageDeflate: false,
        });
        ws.once('open', () => {
          raw.push(ws);
          resolve(undefined);
        });
        ws.once('error', (err) => resolve(`socket: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      }),
  );

serve(
  async (cmd) => {
    if (cmd.cmd === 'openRaw') return openRaw(String(cmd.url));
    if (cmd.cmd === 'closeRaw') {
      const closed = raw.length;
      for (const ws of raw.splice(0)) ws.terminate();
      return { closed };
    }
    if (cmd.cmd === 'open') {
      if (typeof cmd.hubUrl === 'string') hubUrl = cmd.hubUrl;
      if (!hubUrl) throw new Error('no hub URL to open sessions on');
      return openAll();
    }
    if (cmd.cmd === 'ping') return ping(Number(cmd.n), Number(cmd.perSecond));
    if (cmd.cmd === 'status') return { open: live().length };
    throw new Error(`unknown command ${String(cmd.cmd)}`);
  },
  () => {
    for (const s of sessions) s.ws?.terminate();
    for (const ws of raw) ws.terminate();
  },
);
print({ prepared: sessions.length });
