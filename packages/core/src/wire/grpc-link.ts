/**
 * The node-to-hub link over gRPC (the spec's transport layer names WebSocket, gRPC and HTTP/3).
 *
 * One bidirectional streaming method, `/fmp.v1.Link/Connect`. Each gRPC message carries what one
 * WebSocket text message carries on `/v1/mesh`: a frame or a batch, as UTF-8 JSON text, so the link
 * protocol, its limits and its errors are the same on both transports. The messages are raw bytes
 * (no protobuf schema: the frames are JSON and are checked by the same parsers). Messages whose
 * first byte is 0x00 are the transport's own control messages, which a JSON text never starts with:
 * ping (00 01), pong (00 02) and close (00 03 + UTF-8 JSON `{"code","reason"}`), the counterparts
 * of WebSocket's control frames.
 *
 * GrpcLinkSocket gives either end of such a stream the part of `ws`'s WebSocket API the hub and
 * the node use (send with a callback, bufferedAmount, ping/pong, close with a code and reason,
 * terminate, the message/pong/close/error events), so one code path serves both transports.
 */
import { EventEmitter } from 'node:events';
import type * as Grpc from '@grpc/grpc-js';
import type {
  ChannelOptions,
  ClientDuplexStream,
  ServerDuplexStream,
  ServiceDefinition,
} from '@grpc/grpc-js';

/** gRPC status codes (grpc/doc/statuscodes.md) this transport reads or sends. */
const status = { OK: 0, RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14 } as const;

let grpc: typeof Grpc | undefined;

/**
 * Loads the gRPC library (~60 ms), once: only processes that use a gRPC link pay for it, bundled or
 * not (a dynamic import stays lazy in a bundle, a static one would not).
 */
export async function loadGrpc(): Promise<void> {
  grpc ??= await import('@grpc/grpc-js');
}

function lib(): typeof Grpc {
  if (!grpc) throw new Error('the gRPC library is not loaded: await loadGrpc() first');
  return grpc;
}

/** The mesh link method's full path (a node to its hub, as WebSocket `/v1/mesh`). */
export const GRPC_LINK_PATH = '/fmp.v1.Link/Connect';
/** The hub link method's full path (a hub to a peer hub, as WebSocket `/v1/hub`). */
export const GRPC_HUB_LINK_PATH = '/fmp.v1.HubLink/Connect';

const identity = (b: Buffer): Buffer => b;

const streamOf = (path: string) => ({
  path,
  requestStream: true,
  responseStream: true,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

/** The services, for `Server.addService`: each one bidirectional stream of raw messages. */
export const GRPC_LINK_SERVICE: ServiceDefinition = { connect: streamOf(GRPC_LINK_PATH) };
export const GRPC_HUB_LINK_SERVICE: ServiceDefinition = { connect: streamOf(GRPC_HUB_LINK_PATH) };

const PING = Buffer.from([0, 1]);
const PONG = Buffer.from([0, 2]);
const CLOSE = 3;

/** WebSocket close codes used when the stream ends without a close message. */
const CLOSE_NORMAL = 1000;
const CLOSE_ABNORMAL = 1006;
const CLOSE_TOO_BIG = 1009;
const CLOSE_TRY_AGAIN = 1013;
const CLOSE_POLICY = 1008;

type Call = ClientDuplexStream<Buffer, Buffer> | ServerDuplexStream<Buffer, Buffer>;

/**
 * One end of a gRPC link stream with WebSocket's shape (see the module comment). Events: `message`
 * (data: Buffer, isBinary: false), `ping` (answered already), `pong`, `close` (code: number, reason:
 * Buffer), `error` (Error).
 */
export class GrpcLinkSocket extends EventEmitter {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  #state = 1;
  #buffered = 0;
  #closeCode: number | undefined;
  #closeReason = '';
  readonly #call: Call;
  readonly #server: boolean;
  readonly #onClosed: (() => void) | undefined;

  /**
   * `role`: which end of the call this is. `onClosed`: runs once the stream is over (a client
   * closes its channel there). A client's socket emits `open` in the next turn, as a WebSocket does
   * once connected: writes are queued until the connection is up, and a peer that cannot be reached
   * closes it with 1006.
   */
  constructor(call: Call, role: 'client' | 'server', onClosed?: () => void) {
    super();
    this.#call = call;
    this.#server = role === 'server';
    this.#onClosed = onClosed;
    if (!this.#server) process.nextTick(() => this.#state === 1 && this.emit('open'));
    call.on('data', (chunk: Buffer) => this.#receive(chunk));
    // A client's call ends with its status; a server's when the client has gone or both ends closed.
    call.on('status', (s: { code: number; details: string }) => {
      if (s.code === status.RESOURCE_EXHAUSTED) this.#finish(CLOSE_TOO_BIG, s.details);
      else this.#finish(s.code === status.OK ? CLOSE_NORMAL : CLOSE_ABNORMAL, s.details);
    });
    call.on('error', (err: Error & { code?: number }) => {
      // grpc-js reports a non-OK status as an error too; the status event decides the code.
      // Reported while the link is open (ws reports its errors too); a cancellation this end asked
      // for, or one nobody listens for, is not an exception.
      if (this.#state === 1 && this.listenerCount('error') > 0) this.emit('error', err);
      if (this.#server) {
        this.#finish(
          err.code === status.RESOURCE_EXHAUSTED ? CLOSE_TOO_BIG : CLOSE_ABNORMAL,
          String(err.message ?? ''),
        );
      }
    });
    // A server's stream: a cancelled call (the client cut it, or its connection went) also ends its
    // readable side first, so only 'cancelled' or the end of both sides ('close') decide.
    call.on('cancelled', () => this.#finish(CLOSE_ABNORMAL, 'cancelled'));
    call.on('end', () => {
      // The peer closed its side: answer a close as WebSocket does, by closing ours.
      if (this.#state === 1) this.#state = 2;
      if (!call.writableEnded) call.end();
    });
    call.on('close', () => this.#finish(this.#server ? CLOSE_NORMAL : CLOSE_ABNORMAL, this.#closeReason));
  }

  get readyState(): number {
    return this.#state;
  }

  /** Bytes written and not yet handed to the transport. */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  /** Sends one text message (a frame or a batch); `done` runs once it is handed to HTTP/2. */
  send(data: string, done?: (err?: Error) => void): void {
    if (this.#state !== 1) {
      done?.(new Error('link not open'));
      return;
    }
    const bytes = Buffer.from(data, 'utf8');
    this.#write(bytes, done);
  }

  ping(): void {
    if (this.#state === 1) this.#write(PING);
  }

  /** Closes the link: the peer gets `code` and `reason`, then both ends of the stream close. */
  close(code = CLOSE_NORMAL, reason = ''): void {
    if (this.#state !== 1) return;
    this.#state = 2;
    this.#closeCode = code;
    this.#closeReason = reason;
    const text = Buffer.from(JSON.stringify({ code, reason: reason.slice(0, 123) }), 'utf8');
    this.#write(Buffer.concat([Buffer.from([0, CLOSE]), text]));
    this.#call.end();
    // A peer that never answers: the stream is cut as ws cuts an unanswered close.
    setTimeout(() => this.terminate(), 30_000).unref();
  }

  /** Cuts the stream at once. */
  terminate(): void {
    if (this.#state === 3) return;
    // Closing: the error the call reports for this is not the link's error.
    this.#state = 2;
    const call = this.#call;
    if (!this.#server) (call as ClientDuplexStream<Buffer, Buffer>).cancel();
    else if (!call.writableEnded)
      call.emit(
        'error',
        Object.assign(new Error('terminated'), { code: status.UNAVAILABLE, details: 'terminated' }),
      );
    this.#finish(this.#closeCode ?? CLOSE_ABNORMAL, this.#closeReason);
  }

  #write(bytes: Buffer, done?: (err?: Error) => void): void {
    this.#buffered += bytes.length;
    this.#call.write(bytes, (err?: Error | null) => {
      this.#buffered -= bytes.length;
      done?.(err ?? undefined);
    });
  }

  #receive(chunk: Buffer): void {
    if (this.#state === 3) return;
    if (chunk.length > 0 && chunk[0] !== 0) {
      this.emit('message', chunk, false);
      return;
    }
    if (chunk.length === 2 && chunk[1] === 1) {
      if (this.#state === 1) this.#write(PONG);
      this.emit('ping', Buffer.alloc(0));
      return;
    }
    if (chunk.length === 2 && chunk[1] === 2) {
      this.emit('pong', Buffer.alloc(0));
      return;
    }
    if (chunk.length >= 2 && chunk[1] === CLOSE) {
      try {
        const { code, reason } = JSON.parse(chunk.subarray(2).toString('utf8')) as {
          code?: unknown;
          reason?: unknown;
        };
        if (typeof code === 'number' && Number.isInteger(code)) this.#closeCode ??= code;
        if (typeof reason === 'string') this.#closeReason ||= reason;
      } catch {
        this.#closeCode ??= CLOSE_ABNORMAL;
      }
      if (this.#state === 1) this.#state = 2;
      return;
    }
    // Not a frame and not a control message this end knows: a protocol error, as ws treats one.
    this.#closeCode ??= 1002;
    this.terminate();
  }

  #finish(code: number, reason: string): void {
    if (this.#state === 3) return;
    this.#state = 3;
    const finalCode = this.#closeCode ?? code;
    const finalReason = this.#closeReason || (this.#closeCode === undefined ? reason : '');
    this.#onClosed?.();
    this.emit('close', finalCode, Buffer.from(finalReason, 'utf8'));
  }
}

/** `grpc://host:port` (plaintext) or `grpcs://host:port` (TLS with the system's roots). */
export function isGrpcUrl(url: string): boolean {
  return /^grpcs?:\/\//.test(url);
}

/**
 * Opens a link to a hub's gRPC listener (`grpc://host:port`, `grpcs://host:port`), after
 * loadGrpc(). The socket is open at once (the hub speaks first: its Hello); a hub that cannot be
 * reached closes it with 1006.
 */
export function connectGrpcLink(
  url: string,
  options: {
    maxMessageBytes: number;
    /** Default `mesh`: a node's link; `hub`: a peer hub's. */
    kind?: 'mesh' | 'hub';
  },
): GrpcLinkSocket {
  const parsed = new URL(url);
  if (parsed.protocol !== 'grpc:' && parsed.protocol !== 'grpcs:') {
    throw new TypeError(`not a gRPC link URL: ${url}`);
  }
  const channelOptions: ChannelOptions = {
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
  };
  const { Client, credentials } = lib();
  const client = new Client(
    parsed.host,
    parsed.protocol === 'grpcs:' ? credentials.createSsl() : credentials.createInsecure(),
    channelOptions,
  );
  const path = options.kind === 'hub' ? GRPC_HUB_LINK_PATH : GRPC_LINK_PATH;
  const call = client.makeBidiStreamRequest(path, identity, identity);
  return new GrpcLinkSocket(call, 'client', () => client.close());
}

/** A gRPC server offering the link service: each new stream is handed to `onLink`. */
export interface GrpcLinkServer {
  readonly port: number;
  /** Stops accepting and cuts the streams still open. */
  close(): Promise<void>;
}

export async function listenGrpcLink(options: {
  host: string;
  port: number;
  maxMessageBytes: number;
  onLink: (socket: GrpcLinkSocket) => void;
  /** Links from peer hubs (`/fmp.v1.HubLink/Connect`); without it they are closed with 1008. */
  onHubLink?: (socket: GrpcLinkSocket) => void;
  /** False: the new stream is closed at once with 1013 (try again later), before any frame. */
  accept?: () => boolean;
}): Promise<GrpcLinkServer> {
  await loadGrpc();
  const { Server, ServerCredentials } = lib();
  const server = new Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
    // Links multiplexed on one HTTP/2 connection (clients in one process share it); each one is
    // also a session the hub counts against its limit.
    'grpc.max_concurrent_streams': 1024,
  });
  server.addService(GRPC_LINK_SERVICE, {
    connect: (call: ServerDuplexStream<Buffer, Buffer>) => {
      if (options.accept && !options.accept()) {
        // As WebSocket's "try again later": the client sees 1013 and the reason.
        new GrpcLinkSocket(call, 'server').close(CLOSE_TRY_AGAIN, 'not accepting links now');
        return;
      }
      options.onLink(new GrpcLinkSocket(call, 'server'));
    },
  });
  server.addService(GRPC_HUB_LINK_SERVICE, {
    connect: (call: ServerDuplexStream<Buffer, Buffer>) => {
      const socket = new GrpcLinkSocket(call, 'server');
      if (options.onHubLink) options.onHubLink(socket);
      else socket.close(CLOSE_POLICY, 'not accepting hub links');
    },
  });
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    async close() {
      server.forceShutdown();
    },
  };
}
