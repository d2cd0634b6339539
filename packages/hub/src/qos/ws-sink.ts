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

export function wsSink<F>(ws: WebSocket, options: WsSinkOptions<F>): WsSink<F> {
  const lowWaterMark = options.lowWaterMark ?? 256 * 1024;
  let waiter: (() => void) | undefined;
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
      ws.send(options.serialize(frame), wake);
      return true;
    },
    bufferedAmount: () => ws.bufferedAmount,
    waitDrain(resume) {
      waiter = resume;
      // Already drained (the last write callback ran before we started waiting): resume soon.
      if (ws.bufferedAmount <= lowWaterMark || ws.readyState !== WebSocket.OPEN) queueMicrotask(wake);
    },
  };
}
