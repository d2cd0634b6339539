/**
 * Test helpers shared by the hub's unit tests and the multi-process tests under test/ (not exported
 * from the package).
 */
import WebSocket from 'ws';

/**
 * Records every message any `ws` WebSocket of this process sends, until `restore()`: what went on
 * the wire, batches included.
 */
export function recordWebSocketSends(): { readonly sent: string[]; restore(): void } {
  const sent: string[] = [];
  const original = WebSocket.prototype.send;
  WebSocket.prototype.send = function (this: WebSocket, data: unknown, ...rest: unknown[]) {
    sent.push(String(data));
    return (original as (...args: unknown[]) => void).call(this, data, ...rest);
  } as typeof original;
  return {
    sent,
    restore: () => {
      WebSocket.prototype.send = original;
    },
  };
}
