/**
 * Test helpers shared by the hub's unit tests and the multi-process tests under test/ (not exported
 * from the package).
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { FederationRow } from './persistence.js';

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

/** The clock the federation fixtures start at (2024-10-30). */
export const T0 = 1_730_246_400_000;

/** An active federation row (ACME -> MIT, one hour from T0), with `over` applied. */
export function federationRow(over: Partial<FederationRow> = {}): FederationRow {
  return {
    federationId: randomUUID(),
    handshakeId: randomUUID(),
    sourceMeshId: 'did:mesh:enterprise:acme-001',
    targetMeshId: 'did:mesh:academic:mit-001',
    status: 'active',
    capabilities: ['ml.inference'],
    purpose: 'research-collab',
    minTrustScore: undefined,
    routingEndpoint: 'ws://127.0.0.1:1/fed/x',
    path: ['did:mesh:hub:eu'],
    createdAt: T0,
    expiresAt: T0 + 3_600_000,
    updatedAt: T0,
    statusReason: undefined,
    ...over,
  };
}
