import { once } from 'node:events';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { writeResponse } from './http-response.js';

type Make = (res: ServerResponse) => Promise<void>;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A server answering every request with `make`, counting the socket writes of each connection. */
async function serve(make: Make): Promise<{ url: string; writes: () => number }> {
  let writes = 0;
  server = createServer((_req, res) => void make(res));
  server.on('connection', (socket: Socket) => {
    // Every socket write (write or writev) goes through _writeGeneric.
    const s = socket as unknown as { _writeGeneric: (...a: unknown[]) => unknown };
    const original = s._writeGeneric.bind(socket);
    s._writeGeneric = (...a: unknown[]) => {
      writes++;
      return original(...a);
    };
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, writes: () => writes };
}

const sse = (events: string[], keepOpen = false) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const e of events) c.enqueue(new TextEncoder().encode(e));
      if (!keepOpen) c.close();
    },
  });

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

describe('writeResponse', () => {
  it('sends an SSE answer that ends at once in one socket write', async () => {
    const { url, writes } = await serve((res) =>
      writeResponse(new Response(sse(['event: message\ndata: {"id":1}\n\n']), { headers: SSE_HEADERS }), res),
    );
    const r = await fetch(url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/event-stream');
    expect(await r.text()).toBe('event: message\ndata: {"id":1}\n\n');
    expect(writes()).toBe(1);
  });

  it('sends a whole body with its length in one write, and a body-less answer', async () => {
    const { url, writes } = await serve((res) =>
      writeResponse(
        res.req.url === '/empty'
          ? new Response(null, { status: 202 })
          : Response.json({ jsonrpc: '2.0', id: 1, result: {} }, { headers: { 'mcp-session-id': 's1' } }),
        res,
      ),
    );
    const r = await fetch(url);
    expect(r.headers.get('content-length')).toBe(String('{"jsonrpc":"2.0","id":1,"result":{}}'.length));
    expect(r.headers.get('mcp-session-id')).toBe('s1');
    expect(await r.json()).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
    expect(writes()).toBe(1);
    const empty = await fetch(new URL('/empty', url));
    expect(empty.status).toBe(202);
    expect(await empty.text()).toBe('');
  });

  it('streams a stream that stays open: the first event arrives before the end', async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
        c.enqueue(new TextEncoder().encode('data: progress\n\n'));
      },
    });
    const { url } = await serve((res) => writeResponse(new Response(body, { headers: SSE_HEADERS }), res));
    const r = await fetch(url);
    const reader = r.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('data: progress\n\n');
    controller.enqueue(new TextEncoder().encode('data: done\n\n'));
    controller.close();
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toBe('data: done\n\n');
  });

  it('cancels the body when the client goes away mid-stream', async () => {
    let cancelled: (reason: unknown) => void;
    const wasCancelled = new Promise((r) => {
      cancelled = r;
    });
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('data: first\n\n'));
      },
      cancel(reason) {
        cancelled(reason);
      },
    });
    let written: Promise<void> | undefined;
    const { url } = await serve((res) => {
      written = writeResponse(new Response(body, { headers: SSE_HEADERS }), res);
      return written;
    });
    const req = request(url);
    req.end();
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    await once(res, 'data');
    req.destroy();
    await wasCancelled;
    // The writer finished too (it does not wait on a stream nobody reads).
    await written;
  });
});
