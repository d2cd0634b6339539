/**
 * Raw WebSocket baselines (ws + bufferutil, no crypto, no JSON), each role its own process:
 *   echo   : a server echoing every message                 -> prints {"url"}
 *   relay  : a server pairing its 1st and 2nd connection, forwarding bytes both ways -> {"url"}
 *   hop    : a server that opens a connection to the next server of a chain for each connection it
 *            accepts and forwards bytes both ways (a process hop with no work) -> {"url"}; the next
 *            server's URL as an argument, or `-` and then from the first stdin line ({"url"})
 *   grpc-echo : fmp's gRPC link listener (packages/core/src/wire/grpc-link.ts) echoing every message
 *            -> {"url": "grpc://..."}
 *   hold   : a server that only holds its connections open (the idle-session memory baseline; its
 *            stats answer RSS after a GC when run with --expose-gc) -> {"url"}
 *   sink   : connects to the relay, answers each message with a 16-byte ack
 *   source : connects to the relay; {"cmd":"run","durationMs","window","bytes"} keeps `window`
 *            messages in flight, counting acks -> {acked, elapsedMs}
 * Servers answer {"cmd":"stats"} with their CPU time, as the hub does. Sink and source take the
 * relay's URL as an argument, or `-` and then from their first stdin line ({"url"}).
 */
import { WebSocket, WebSocketServer } from 'ws';
import { argOrConfig, print, serve, settledGc } from './worker-lines.js';

const [role, urlArg] = process.argv.slice(2);
const url =
  role === 'sink' || role === 'source' || role === 'hop' ? await argOrConfig(urlArg, 'url') : urlArg;
const stats = async (settle: boolean) => {
  await settledGc(settle);
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return { cpuUs: cpu.user + cpu.system, rss: mem.rss, heapUsed: mem.heapUsed };
};

function server(onConnection: (ws: WebSocket) => void): void {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('connection', onConnection);
  wss.on('listening', () => {
    const address = wss.address() as { port: number };
    print({ url: `ws://127.0.0.1:${address.port}` });
  });
  serve(
    async (cmd) => {
      if (cmd.cmd === 'stats') return stats(cmd.settle === true);
      throw new Error('unknown command');
    },
    () => new Promise<void>((r) => wss.close(() => r())),
  );
}

const connect = () =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url!, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });

if (role === 'echo') {
  server((ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
} else if (role === 'grpc-echo') {
  const { listenGrpcLink } = await import('@fmp/core/grpc');
  const listener = await listenGrpcLink({
    host: '127.0.0.1',
    port: 0,
    maxMessageBytes: 4 * 1024 * 1024,
    onLink: (link) => link.on('message', (data: Buffer) => link.send(data.toString('utf8'))),
  });
  print({ url: `grpc://127.0.0.1:${listener.port}` });
  serve(
    async (cmd) => {
      if (cmd.cmd === 'stats') return stats(cmd.settle === true);
      throw new Error('unknown command');
    },
    () => listener.close(),
  );
} else if (role === 'hold') {
  server((ws) => ws.on('error', () => ws.terminate()));
} else if (role === 'relay') {
  let first: WebSocket | undefined;
  server((ws) => {
    if (!first) {
      first = ws;
      return;
    }
    const a = first;
    a.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('message', (data, isBinary) => a.send(data, { binary: isBinary }));
  });
} else if (role === 'hop') {
  server((ws) => {
    const next = new WebSocket(url!, { perMessageDeflate: false });
    const early: { data: unknown; isBinary: boolean }[] = [];
    ws.on('message', (data, isBinary) => {
      if (next.readyState === WebSocket.OPEN) next.send(data, { binary: isBinary });
      else early.push({ data, isBinary });
    });
    next.once('open', () => {
      for (const m of early.splice(0)) next.send(m.data as Buffer, { binary: m.isBinary });
    });
    next.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    next.on('close', () => ws.close());
    next.on('error', () => ws.close());
    ws.on('close', () => next.close());
  });
} else if (role === 'sink') {
  const ws = await connect();
  const ack = Buffer.alloc(16, 97);
  ws.on('message', () => ws.send(ack));
  serve(async () => ({}));
  print({ ready: true });
} else if (role === 'source') {
  const ws = await connect();
  serve(async (cmd) => {
    if (cmd.cmd !== 'run') throw new Error('unknown command');
    const payload = Buffer.alloc(Number(cmd.bytes ?? 1024), 120);
    const window = Number(cmd.window ?? 256);
    const durationMs = Number(cmd.durationMs ?? 1000);
    let sent = 0;
    let acked = 0;
    const start = performance.now();
    let stopAt = start + durationMs;
    return new Promise((resolve) => {
      ws.on('message', () => {
        acked++;
        if (performance.now() < stopAt) {
          sent++;
          ws.send(payload);
        } else if (acked === sent) {
          stopAt = 0;
          resolve({ acked, elapsedMs: performance.now() - start });
        }
      });
      for (; sent < window; sent++) ws.send(payload);
    });
  });
  print({ ready: true });
}
