import type { TrustEngine } from '@fmp/trust';
import { describe, expect, it } from 'vitest';
import { HubTrustFeed } from './trust-feed.js';

const A = 'did:mesh:enterprise:acme-001';
const B = 'did:mesh:academic:mit-001';
const C = 'did:mesh:ngo:relief-001';

/** The feed's only use of the engine here is record(): keep what it hands over. */
function feedWithLog() {
  const events: Record<string, unknown>[] = [];
  const engine = { record: (e: Record<string, unknown>) => events.push(e) } as unknown as TrustEngine;
  return { feed: new HubTrustFeed(engine, () => 1_000), events };
}

describe('HubTrustFeed', () => {
  it('aggregates receipts per source and target pair until flushed', () => {
    const { feed, events } = feedWithLog();
    for (let i = 0; i < 3; i++) feed.receipt(A, B, undefined);
    feed.receipt(B, A, undefined);
    feed.receipt(A, C, 'decryption_failed');
    feed.unreachable(A, C);
    expect(events).toEqual([]);
    feed.flush();
    const interactions = events.filter((e) => e.kind === 'interaction');
    expect(interactions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ subject: B, counterpart: A, outcome: 'delivered', count: 3 }),
        expect.objectContaining({ subject: A, counterpart: B, outcome: 'delivered', count: 3 }),
        expect.objectContaining({ subject: A, counterpart: B, outcome: 'delivered', count: 1 }),
        expect.objectContaining({ subject: A, counterpart: C, outcome: 'delivery_failed', count: 1 }),
        expect.objectContaining({ subject: C, counterpart: A, outcome: 'delivery_failed', count: 1 }),
      ]),
    );
    expect(interactions).toHaveLength(6);
    events.length = 0;
    feed.flush();
    expect(events).toEqual([]);
  });

  it('records established federations with the next flush, a good interaction for each end', () => {
    const { feed, events } = feedWithLog();
    feed.handshakeOk(A, B);
    feed.handshakeOk(A, B);
    feed.handshakeOk(C, A);
    expect(events).toEqual([]);
    feed.flush();
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ subject: A, counterpart: B, outcome: 'handshake_ok', count: 2 }),
        expect.objectContaining({ subject: B, counterpart: A, outcome: 'handshake_ok', count: 2 }),
        expect.objectContaining({ subject: C, counterpart: A, outcome: 'handshake_ok', count: 1 }),
        expect.objectContaining({ subject: A, counterpart: C, outcome: 'handshake_ok', count: 1 }),
      ]),
    );
    expect(events).toHaveLength(4);
  });

  it('records a refused signature or replay at once, as a violation of the source', () => {
    const { feed, events } = feedWithLog();
    feed.receipt(A, B, 'invalid_signature');
    expect(events).toEqual([
      expect.objectContaining({
        kind: 'violation',
        subject: A,
        counterpart: B,
        violation: 'invalid_signature',
      }),
    ]);
  });
});
