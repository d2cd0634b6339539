/**
 * Adapts a `ws` WebSocket to LinkScheduler's `send` / `bufferedAmount` / `waitDrain`. ws has no
 * public 'drain' event, so drain is detected from the per-message write callbacks: each one
 * re-checks `bufferedAmount` and wakes the scheduler once it is at or under `lowWaterMark`.
 *
 * Every frame a hub writes on a socket goes through that socket's FrameBatcher (`linkWriter`):
 * frames produced during one event-loop turn leave together at its end, as one batch message when
 * the peer announced the `batch` feature (@fmp/core wire/batch.ts), else as separate messages in
 * one corked write. Per-message costs (framing, a syscall, the peer's read event) were most of a
 * hub's CPU per relayed envelope; batching is what brings them down.
 */
import { batcherForSocket, type FrameBatcher } from '@fmp/core';
import WebSocket from 'ws';

export interface WsSinkOptions<F> {
  serialize: (frame: F) => string;
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

const writers = new WeakMap<WebSocket, FrameBatcher>();

/**
 * The socket's writer: every frame sent on `ws` goes through it, so order holds across callers
 * (node-link pushes, the scheduler, control frames). Batches only once `enableBatching(ws)`.
 */
export function linkWriter(ws: WebSocket): FrameBatcher {
  let writer = writers.get(ws);
  if (!writer) {
    writer = batcherForSocket(ws);
    writers.set(ws, writer);
  }
  return writer;
}

/**
 * The peer announced `batch`: frames written in the same turn may share one message, kept under
 * `maxBytes` (the peer's largest message) when it said.
 */
export function enableBatching(ws: WebSocket, maxBytes?: number): void {
  const writer = linkWriter(ws);
  writer.batching = true;
  if (maxBytes !== undefined) writer.maxBytes = maxBytes;
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
 * Writes out now what is queued for `ws` (a frame whose latency matters, such as a handshake
 * step, must not wait for the end of the turn).
 */
export function flushNow(ws: WebSocket): void {
  writers.get(ws)?.flush();
}

export function wsSink<F>(ws: WebSocket, options: WsSinkOptions<F>): WsSink<F> {
  const lowWaterMark = options.lowWaterMark ?? 256 * 1024;
  const writer = linkWriter(ws);
  let waiter: (() => void) | undefined;
  /** Writes of this sink whose callback has not run yet. */
  let inFlight = 0;
  const written = () => {
    inFlight--;
    wake();
  };
  const wake = () => {
    if (
      waiter &&
      (ws.bufferedAmount + writer.pendingBytes <= lowWaterMark || ws.readyState !== WebSocket.OPEN)
    ) {
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
      inFlight++;
      writer.write(options.serialize(frame), written);
      return true;
    },
    bufferedAmount: () => ws.bufferedAmount + writer.pendingBytes,
    waitDrain(resume) {
      waiter = resume;
      // Already drained (the last write callback ran before we started waiting): resume soon.
      if (ws.bufferedAmount + writer.pendingBytes <= lowWaterMark || ws.readyState !== WebSocket.OPEN)
        queueMicrotask(wake);
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
