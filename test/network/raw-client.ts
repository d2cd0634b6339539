/** A bare WebSocket client speaking the link protocol by hand, to send what a real node never would. */
import { authenticateDigest, BATCH_FEATURE, ed25519, type Hello, multibaseEncode } from '@fmp/core';
import WebSocket from 'ws';
import type { Member } from './fixtures.js';

export interface RawClient {
  readonly ws: WebSocket;
  readonly hello: Hello;
  /** Every frame received, a batch's elements one by one. */
  readonly frames: Record<string, unknown>[];
  /** WebSocket messages received, and how many of them were batches (JSON arrays). */
  readonly received: { messages: number; batches: number };
  send(frame: unknown): void;
  sendRaw(text: string): void;
  /** The next frame (after those already consumed) matching `match`. */
  next(match?: (f: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export async function rawConnect(url: string): Promise<RawClient> {
  const ws = new WebSocket(`${url}/v1/mesh`);
  const frames: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  const received = { messages: 0, batches: 0 };
  ws.on('message', (data) => {
    const value = JSON.parse(data.toString()) as Record<string, unknown> | Record<string, unknown>[];
    received.messages++;
    if (Array.isArray(value)) {
      received.batches++;
      frames.push(...value);
    } else frames.push(value);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of waiters.splice(0)) w();
    }),
  );
  let cursor = 0;
  const next = async (match: (f: Record<string, unknown>) => boolean = () => true, ms = 5000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      while (cursor < frames.length) {
        const f = frames[cursor++]!;
        if (match(f)) return f;
      }
      if (Date.now() > deadline || ws.readyState === WebSocket.CLOSED) {
        throw new Error(`no matching frame; got ${JSON.stringify(frames).slice(0, 400)}`);
      }
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  const client: Omit<RawClient, 'hello'> & { hello?: Hello } = {
    ws,
    frames,
    received,
    send: (frame) => ws.send(JSON.stringify(frame)),
    sendRaw: (text) => ws.send(text),
    next,
    closed,
    close: () => ws.close(),
  };
  const hello = (await next((f) => f.type === 'Hello')) as unknown as Hello;
  return { ...client, hello } as RawClient;
}

export function authenticateFrame(
  client: RawClient,
  member: Member,
  overrides: {
    timestamp?: number;
    keyPair?: Member['keyPair'];
    capabilities?: string[];
    /** Announce the `batch` feature (the hub may then send this client batches). */
    batch?: boolean;
  } = {},
) {
  const binding = {
    hubDid: client.hello.hubDid,
    nonce: client.hello.nonce,
    meshId: member.did,
    verificationMethod: member.vm,
    capabilities: overrides.capabilities ?? ['ml.inference'],
    region: 'eu',
    credential: member.credential as never,
    timestamp: overrides.timestamp ?? Date.now(),
  };
  const signature = multibaseEncode(
    ed25519.sign(authenticateDigest(binding), overrides.keyPair ?? member.keyPair),
  );
  const features = overrides.batch ? { features: [BATCH_FEATURE] } : {};
  return { type: 'Authenticate', ...binding, meshLog: [member.op], ...features, signature };
}

export async function rawAuthenticated(
  url: string,
  member: Member,
  options: { batch?: boolean } = {},
): Promise<RawClient> {
  const client = await rawConnect(url);
  client.send(authenticateFrame(client, member, options));
  const answer = await client.next((f) => f.type === 'Authenticated' || f.type === 'error');
  if (answer.type !== 'Authenticated') throw new Error(`authentication failed: ${JSON.stringify(answer)}`);
  return client;
}
