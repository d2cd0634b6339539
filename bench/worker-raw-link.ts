/**
 * A raw link-protocol client for the hub-path benchmark (no node SDK): it authenticates as a
 * world member (Hello -> Authenticate -> Authenticated), then
 *   sink   : answers every envelope with an Ack, as a node does after verifying it;
 *   source : {"cmd":"run","durationMs","window","federations"} keeps `window` pre-signed envelopes
 *            in flight (a pool signed and sealed once, so the load generator stays cheap), counting
 *            the hub's Delivered receipts -> {delivered, sent, elapsedMs, errors}.
 *   node --import tsx bench/worker-raw-link.ts <world.json> <member> <hubUrl> <sink|source> [targetMember]
 * (with `-` for <hubUrl>, the hub's URL comes as the first stdin line, {"hubUrl"});
 * prints {"ready":true} once authenticated.
 */
import { readFileSync } from 'node:fs';
import {
  authenticateDigest,
  BATCH_FEATURE,
  batcherForSocket,
  createEnvelope,
  type Envelope,
  ed25519,
  framesOf,
  multibaseEncode,
  randomBytes,
  sealPayload,
  signEnvelope,
} from '@fmp/core';
import WebSocket from 'ws';
import { argOrConfig, keysOf, print, type SavedWorld, serve } from './worker-io.js';

const [file, member, hubArg, role, targetMember] = process.argv.slice(2);
const world = JSON.parse(readFileSync(file!, 'utf8')) as SavedWorld;
const me = world.members[member!]!;
const keyPair = keysOf(me);
const hubUrl = await argOrConfig(hubArg, 'hubUrl');

// FMP_BENCH_NO_BATCH=1: one frame per WebSocket message both ways (the wire format before batches).
const batching = process.env.FMP_BENCH_NO_BATCH !== '1';
const ws = new WebSocket(`${hubUrl}/v1/mesh`, { perMessageDeflate: false });
/** Frames of one turn leave together: as one batch once the hub's Hello allows it. */
let out = batcherForSocket(ws);

await new Promise<void>((resolve, reject) => {
  ws.once('error', reject);
  ws.on('message', function onAuth(data) {
    const frame = JSON.parse(data.toString()) as Record<string, unknown>;
    if (frame.type === 'Hello') {
      const offered = (frame.features as string[] | undefined) ?? [];
      out = batcherForSocket(ws, { batching: batching && offered.includes(BATCH_FEATURE) });
      const binding = {
        hubDid: frame.hubDid as string,
        nonce: frame.nonce as string,
        meshId: me.did,
        verificationMethod: `${me.did}#key-1`,
        capabilities: ['ml.inference'],
        region: 'eu',
        credential: me.credential as never,
        timestamp: Date.now(),
      };
      const signature = multibaseEncode(ed25519.sign(authenticateDigest(binding), keyPair));
      const features = batching ? { features: [BATCH_FEATURE] } : {};
      ws.send(JSON.stringify({ type: 'Authenticate', ...binding, meshLog: [me.op], ...features, signature }));
    } else if (frame.type === 'Authenticated') {
      ws.off('message', onAuth);
      resolve();
    } else if (frame.type === 'error') {
      reject(new Error(`authentication refused: ${String(frame.code)}`));
    }
  });
});

if (role === 'sink') {
  // The sink reads only what it needs to answer; its cost is not the hub's.
  ws.on('message', (data) => {
    for (const text of framesOf(data.toString())) {
      const id = /"messageId":"([^"]+)"/.exec(text)?.[1];
      const fed = /"federationId":"([^"]+)"/.exec(text)?.[1];
      if (id && fed) out.write(`{"type":"Ack","messageId":"${id}","federationId":"${fed}"}`);
    }
  });
  serve(async () => ({}));
} else {
  const target = world.members[targetMember!]!.did;
  const sessionKey = randomBytes(32);
  const data = { task: 'x'.repeat(1024 - 12) };
  const pool = (federations: string[], size: number): string[] =>
    Array.from({ length: size }, (_, i) => {
      const body = { type: 'agent.task.request', data };
      const draft = createEnvelope(
        {
          type: body.type,
          federationId: federations[i % federations.length]!,
          sourceMeshId: me.did,
          targetMeshId: target,
          payload: body,
        },
        { now: Date.now },
      );
      const env: Envelope = signEnvelope(
        { ...draft, payload: sealPayload(sessionKey, draft, body) },
        keyPair,
      );
      return JSON.stringify(env);
    });
  serve(async (cmd) => {
    if (cmd.cmd !== 'run') throw new Error('unknown command');
    const frames = pool(cmd.federations as string[], 1024);
    const window = Number(cmd.window ?? 256);
    const durationMs = Number(cmd.durationMs ?? 1000);
    let sent = 0;
    let delivered = 0;
    const errors: Record<string, number> = {};
    const start = performance.now();
    return new Promise((resolve) => {
      let stopped = false;
      let failed = 0;
      const onMessage = (raw: WebSocket.RawData) => {
        for (const text of framesOf(raw.toString())) {
          if (text.startsWith('{"type":"Delivered"')) delivered++;
          else {
            const code = /"code":"([^"]+)"/.exec(text)?.[1] ?? 'other';
            errors[code] = (errors[code] ?? 0) + 1;
            failed++;
          }
          if (!stopped && performance.now() < start + durationMs) {
            out.write(frames[sent++ % frames.length]!);
          } else {
            stopped = true;
            if (delivered + failed === sent) {
              ws.off('message', onMessage);
              resolve({ delivered, sent, elapsedMs: performance.now() - start, errors });
            }
          }
        }
      };
      ws.on('message', onMessage);
      for (; sent < window; ) out.write(frames[sent++ % frames.length]!);
    });
  });
}
print({ ready: true });
