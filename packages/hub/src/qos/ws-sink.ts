/**
 * Adapts a `ws` WebSocket to LinkScheduler's `send` / `bufferedAmount` / `waitDrain`. ws has no
 * public 'drain' event, so drain is detected from the per-message write callbacks: each one
 * re-checks `bufferedAmount` and wakes the scheduler once it is at or under `lowWaterMark`.
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
