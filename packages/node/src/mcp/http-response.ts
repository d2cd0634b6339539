/**
 * Writes a web-standard Response (what the MCP endpoint returns) to Node's ServerResponse in as few
 * socket writes as the body allows. @hono/node-server flushes the headers of a streamed body before
 * its first chunk and writes the end on its own: an MCP tool call answered over SSE (one event, then
 * the end) left in three writes, each waking the client, the first while the call was still on its
 * way to the partner. Here the status line and headers leave with the first chunk, and what the stream
 * already holds when that chunk is read (the end, for such an answer) leaves with it: one write. A
 * stream that stays open (progress notifications) has each chunk written at the end of the event-loop
 * turn it came in.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';

/** The response's headers as Node takes them (several Set-Cookie stay several). */
function nodeHeaders(response: Response): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    if (key !== 'set-cookie') headers[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  return headers;
}

/**
 * Sends `response` on `out` and resolves once it is written, or once the client went away (the
 * body's stream is then cancelled, so its producer stops). Never rejects: a body that fails midway
 * ends the connection, as a broken stream must.
 */
export async function writeResponse(response: Response, out: ServerResponse): Promise<void> {
  const headers = nodeHeaders(response);
  const body = response.body;
  if (!body) {
    out.writeHead(response.status, headers);
    out.end();
    return;
  }
  if (!(headers['content-type'] ?? '').toString().startsWith('text/event-stream')) {
    // A whole body (JSON-RPC answers and errors): one write with its length.
    let bytes: Buffer;
    try {
      bytes = Buffer.from(await response.arrayBuffer());
    } catch {
      out.destroy();
      return;
    }
    headers['content-length'] = String(bytes.length);
    out.writeHead(response.status, headers);
    out.end(bytes);
    return;
  }
  const reader = body.getReader();
  const gone = () => {
    if (!out.writableFinished) reader.cancel().catch(() => {});
  };
  out.once('close', gone);
  out.writeHead(response.status, headers);
  // Held until the turn's end: the chunks and the end the stream has by then share one write.
  out.cork();
  let corked = true;
  const uncork = () => {
    if (corked) {
      corked = false;
      out.uncork();
    }
  };
  const turnEnd = setImmediate(uncork);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (out.destroyed) return;
      if (!out.write(value) && !corked) await Promise.race([once(out, 'drain'), once(out, 'close')]);
    }
    out.end();
  } catch {
    out.destroy();
  } finally {
    clearImmediate(turnEnd);
    uncork();
    out.off('close', gone);
  }
}
