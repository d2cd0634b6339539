import { once } from 'node:events';
import { createServer } from 'node:net';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectGrpcLink,
  type GrpcLinkServer,
  type GrpcLinkSocket,
  listenGrpcLink,
  loadGrpc,
} from './grpc-link.js';

const MAX = 64 * 1024;

interface Pair {
  server: GrpcLinkServer;
  client: GrpcLinkSocket;
  /** The server's end of the client's stream. */
  accepted: Promise<GrpcLinkSocket>;
}

beforeAll(loadGrpc);

const servers: GrpcLinkServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function pair(accept?: () => boolean): Promise<Pair> {
  let onLink!: (s: GrpcLinkSocket) => void;
  const accepted = new Promise<GrpcLinkSocket>((r) => (onLink = r));
  const server = await listenGrpcLink({
    host: '127.0.0.1',
    port: 0,
    maxMessageBytes: MAX,
    onLink,
    ...(accept ? { accept } : {}),
  });
  servers.push(server);
  const client = connectGrpcLink(`grpc://127.0.0.1:${server.port}`, { maxMessageBytes: MAX });
  return { server, client, accepted };
}

const nextMessage = async (s: GrpcLinkSocket): Promise<string> => {
  const [data, isBinary] = (await once(s, 'message')) as [Buffer, boolean];
  expect(isBinary).toBe(false);
  return data.toString('utf8');
};

// Not events.once: it rejects on an 'error' event, which a link may report before it closes.
const closed = (s: GrpcLinkSocket): Promise<[number, string]> =>
  new Promise((resolve) =>
    s.once('close', (code: number, reason: Buffer) => resolve([code, reason.toString('utf8')])),
  );

describe('GrpcLinkSocket', () => {
  it('carries text messages both ways, in order, with write callbacks', async () => {
    const { client, accepted } = await pair();
    const sent = new Promise<Error | undefined>((r) => client.send('{"type":"Hello","n":1}', r));
    const server = await accepted;
    expect(await nextMessage(server)).toBe('{"type":"Hello","n":1}');
    expect(await sent).toBeUndefined();
    const got: string[] = [];
    client.on('message', (d: Buffer) => got.push(d.toString()));
    for (let i = 0; i < 20; i++) server.send(`[{"i":${i}},{"é":"ü"}]`);
    await until(() => got.length === 20);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `[{"i":${i}},{"é":"ü"}]`));
    expect(server.bufferedAmount).toBe(0);
    client.close();
  });

  it("a client's socket opens in the next turn, as a WebSocket does once connected", async () => {
    const { client, accepted } = await pair();
    let opened = false;
    client.once('open', () => (opened = true));
    expect(opened).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(opened).toBe(true);
    client.send('{}');
    await accepted;
    client.close();
  });

  it('a ping is answered with a pong by the other end', async () => {
    const { client, accepted } = await pair();
    client.send('{}');
    const server = await accepted;
    const pong = once(server, 'pong');
    server.ping();
    await pong;
    const clientPong = once(client, 'pong');
    client.ping();
    await clientPong;
    client.close();
  });

  it('close() gives the peer its code and reason, and both ends close', async () => {
    const { client, accepted } = await pair();
    client.send('{}');
    const server = await accepted;
    const atClient = closed(client);
    const atServer = closed(server);
    server.close(4401, 'authentication failed');
    expect(await atClient).toEqual([4401, 'authentication failed']);
    expect(await atServer).toEqual([4401, 'authentication failed']);
    expect(client.readyState).toBe(client.CLOSED);
    // A closed link refuses to send, through the callback.
    const err = await new Promise<Error | undefined>((r) => client.send('{}', r));
    expect(err?.message).toMatch(/not open/);
  });

  it('a client closing is seen by the server with its code', async () => {
    const { client, accepted } = await pair();
    client.send('{}');
    const server = await accepted;
    const atServer = closed(server);
    client.close(1000, 'node stopping');
    expect(await atServer).toEqual([1000, 'node stopping']);
  });

  it('terminate() cuts the stream: the peer closes abnormally (1006)', async () => {
    const { client, accepted } = await pair();
    client.send('{}');
    const server = await accepted;
    const atServer = closed(server);
    client.terminate();
    expect((await atServer)[0]).toBe(1006);

    const second = await pair();
    second.client.send('{}');
    const s2 = await second.accepted;
    const atClient = closed(second.client);
    s2.terminate();
    expect((await atClient)[0]).toBe(1006);
  });

  it('a server that goes away mid-stream closes the client abnormally', async () => {
    const { server: listener, client, accepted } = await pair();
    client.send('{}');
    await accepted;
    const atClient = closed(client);
    await listener.close();
    expect((await atClient)[0]).toBe(1006);
  });

  it('nothing listening: the client closes with 1006, never hangs', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const client = connectGrpcLink(`grpc://127.0.0.1:${port}`, { maxMessageBytes: MAX });
    client.on('error', () => {});
    client.send('{}');
    expect((await closed(client))[0]).toBe(1006);
  });

  it('a message over the limit ends the stream with 1009 (message too big)', async () => {
    const { client, accepted } = await pair();
    client.on('error', () => {});
    client.send('{}');
    const server = await accepted;
    server.on('error', () => {});
    const atClient = closed(client);
    client.send(`{"pad":"${'x'.repeat(MAX + 10)}"}`);
    expect((await atClient)[0]).toBe(1009);
  });

  it('an unknown control message is a protocol error (1002) and ends the link', async () => {
    const { client, accepted } = await pair();
    client.send('{}');
    const server = await accepted;
    const atServer = closed(server);
    // A control message this transport does not define (00 09).
    client.send('\u0000\u0009');
    expect((await atServer)[0]).toBe(1002);
  });

  it('a listener that refuses closes the new link with 1013 and its reason', async () => {
    const { client } = await pair(() => false);
    client.send('{}');
    expect(await closed(client)).toEqual([1013, 'not accepting links now']);
  });

  it('any text that is not a control message arrives unchanged (property)', async () => {
    const { client, accepted } = await pair();
    client.send('{}');
    const server = await accepted;
    await nextMessage(server);
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 300, unit: 'binary' }).filter((s) => s.charCodeAt(0) !== 0),
        async (text) => {
          const got = nextMessage(server);
          client.send(text);
          expect(await got).toBe(Buffer.from(text, 'utf8').toString('utf8'));
        },
      ),
      { numRuns: 60 },
    );
    client.close();
  });
});

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
