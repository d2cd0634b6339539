/**
 * Adapts a `ws` WebSocket to LinkScheduler's `send` / `bufferedAmount` / `waitDrain`. ws has no
 * public 'drain' event, so drain is detected from the per-message write callbacks: each one
 * re-checks `bufferedAmount` and wakes the scheduler once it is at or under `lowWaterMark`.
 *
 * Writes are coalesced per socket per event-loop turn (`corkForTurn`): ws issues one write
 * syscall per frame, which was a fifth of a hub's CPU under load. The first frame of a turn corks
 * the TCP socket and a single setImmediate uncorks every socket corked in that turn, so all frames
 * produced while handling one batch of reads leave in one writev. Each frame is still its own
 * WebSocket message (one JSON frame per message stays the wire format).
 */
import WebSocket from 'ws';

export interface WsSinkOptions<F> {
  serialize: (frame: F) => string | Uint8Array;
  /** Resume writing once bufferedAmount is at or under this. Default 256 KiB. */
  lowWaterMark?: number;
}

export interface WsSink<F> {
  send: (frame: F) => boolean;
  bufferedAmount: () => number;
  waitDrain: (resume: () => void) => void;
  /** Removes the sink's listeners from the socket (a sink dropped while the socket lives on). */
  dispose: () => void;
}

interface Corkable {
  cork(): void;
  uncork(): void;
}

/** Sockets corked in this turn; each appears once, so the set is bounded by the open sockets. */
const corked = new Set<Corkable>();
let uncorkScheduled = false;

function uncorkAll(): void {
  uncorkScheduled = false;
  // Copy first: an uncork can run write callbacks that send (and cork) again; those wait a turn.
  const sockets = [...corked];
  corked.clear();
  for (const socket of sockets) socket.uncork();
}

/**
 * Corks the TCP socket under `ws` until the end of this event-loop turn (setImmediate), so the
 * frames sent on it meanwhile go out in one write. A no-op for sockets without cork (test fakes).
 */
export function corkForTurn(ws: WebSocket): void {
  // ws keeps the net.Socket in `_socket` (stable across ws 8); absent on fakes and before open.
  const socket = (ws as unknown as { _socket?: Partial<Corkable> | null })._socket;
  if (!socket || typeof socket.cork !== 'function' || typeof socket.uncork !== 'function') return;
  const s = socket as Corkable;
  if (corked.has(s)) return;
  s.cork();
  corked.add(s);
  if (!uncorkScheduled) {
    uncorkScheduled = true;
    setImmediate(uncorkAll);
  }
}

function socketOf(
  ws: WebSocket,
): { once(e: string, f: () => void): void; off(e: string, f: () => void): void } | undefined {
  const socket = (ws as unknown as { _socket?: { once?: unknown; off?: unknown } | null })._socket;
  return socket && typeof socket.once === 'function' && typeof socket.off === 'function'
    ? (socket as { once(e: string, f: () => void): void; off(e: string, f: () => void): void })
    : undefined;
}

/**
 * Writes out now what is corked on the socket under `ws` (a frame whose latency matters, such as
 * a handshake step, must not wait for the end of the turn).
 */
export function flushNow(ws: WebSocket): void {
  const socket = (ws as unknown as { _socket?: Corkable | null })._socket;
  if (!socket || !corked.delete(socket)) return;
  socket.uncork();
}

export function wsSink<F>(ws: WebSocket, options: WsSinkOptions<F>): WsSink<F> {
  const lowWaterMark = options.lowWaterMark ?? 256 * 1024;
  let waiter: (() => void) | undefined;
  /** Writes of this sink whose callback has not run yet. */
  let inFlight = 0;
  const written = () => {
    inFlight--;
    wake();
  };
  const wake = () => {
    if (waiter && (ws.bufferedAmount <= lowWaterMark || ws.readyState !== WebSocket.OPEN)) {
      const resume = waiter;
      waiter = undefined;
      resume();
    }
  };
  // After close the scheduler must run once more to see send() fail and stop.
  ws.once('close', wake);
  return {
    send(frame) {
      if (ws.readyState !== WebSocket.OPEN) return false;
      corkForTurn(ws);
      inFlight++;
      ws.send(options.serialize(frame), written);
      return true;
    },
    bufferedAmount: () => ws.bufferedAmount,
    waitDrain(resume) {
      waiter = resume;
      // Already drained (the last write callback ran before we started waiting): resume soon.
      if (ws.bufferedAmount <= lowWaterMark || ws.readyState !== WebSocket.OPEN) queueMicrotask(wake);
      // The bytes in the way were written by someone else (a sink made for a link that was
      // already over its mark): no callback of ours will come, the socket's 'drain' will.
      else if (inFlight === 0) socketOf(ws)?.once('drain', wake);
    },
    dispose() {
      ws.off('close', wake);
      socketOf(ws)?.off('drain', wake);
      waiter = undefined;
    },
  };
}
