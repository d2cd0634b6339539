/**
 * What the hub sees, fed to the trust engine (@fmp/trust): credentials checked at authentication
 * and on each re-check, sessions and heartbeats (uptime), delivery receipts (who served whom well),
 * refused messages and handshakes (violations leave a permanent mark), partners' reports of tool
 * calls, attestations. Per-message observations are counted on the hot path and handed to the
 * engine once a second, aggregated per pair, so trust costs the router a map increment per message.
 */
import type { WireErrorCode } from '@fmp/core';
import type { TrustEngine, ViolationKind } from '@fmp/trust';
import type { TrustProvider } from './seams.js';

interface PairCounts {
  delivered: number;
  /** The target failed the source (unreachable, forgot the federation). */
  targetFailed: number;
  /** The target refused what the source sent (bad encryption, stale timestamp). */
  sourceFailed: number;
  /** Federations established between the two (the source initiated). */
  handshakes: number;
}

interface SourceCounts {
  messages: number;
  errors: number;
  latencySum: number;
  latencyCount: number;
}

/** Receipt errors that are the source's doing; the first two are violations. */
const SOURCE_VIOLATIONS: Partial<Record<WireErrorCode, ViolationKind>> = {
  invalid_signature: 'invalid_signature',
  replay_detected: 'replay',
};
const SOURCE_FAULTS = new Set<WireErrorCode>([
  'decryption_failed',
  'malformed_frame',
  'clock_skew',
  'message_too_large',
]);
const TARGET_FAULTS = new Set<WireErrorCode>(['unknown_federation', 'internal_error']);

/** Handshake errors the hub itself detected in what a mesh sent: a violation of that mesh. */
export const HANDSHAKE_VIOLATIONS = new Set<WireErrorCode>([
  'invalid_signature',
  'replay_detected',
  'key_confirmation_failed',
  'unauthorized',
]);

const MAX_KEYS = 100_000;

export class HubTrustFeed implements TrustProvider {
  readonly engine: TrustEngine;
  private readonly now: () => number;
  /** source -> target -> counts: nested so that a lookup makes no key string (one per message). */
  private pairs = new Map<string, Map<string, PairCounts>>();
  private pairCount = 0;
  private sources = new Map<string, SourceCounts>();

  constructor(engine: TrustEngine, now: () => number) {
    this.engine = engine;
    this.now = now;
  }

  score(meshDid: string): number {
    return this.engine.score(meshDid);
  }

  private pair(source: string, target: string): PairCounts {
    let bySource = this.pairs.get(source);
    let p = bySource?.get(target);
    if (!p) {
      if (this.pairCount >= MAX_KEYS) {
        this.flush();
        bySource = undefined;
      }
      if (!bySource) {
        bySource = new Map();
        this.pairs.set(source, bySource);
      }
      p = { delivered: 0, targetFailed: 0, sourceFailed: 0, handshakes: 0 };
      bySource.set(target, p);
      this.pairCount++;
    }
    return p;
  }

  private source(meshId: string): SourceCounts {
    let c = this.sources.get(meshId);
    if (!c) {
      if (this.sources.size >= MAX_KEYS) this.flush();
      c = { messages: 0, errors: 0, latencySum: 0, latencyCount: 0 };
      this.sources.set(meshId, c);
    }
    return c;
  }

  /**
   * A handshake between the two completed: a good interaction for each, recorded with the next
   * flush (once a second) rather than on the handshake's path.
   */
  handshakeOk(source: string, target: string): void {
    this.pair(source, target).handshakes++;
  }

  /** A mesh sent a message the hub accepted for routing. */
  messageRouted(source: string): void {
    this.source(source).messages++;
  }

  /** The hub refused a mesh's message (`unauthorized` is a spoofed source: a violation). */
  messageRejected(source: string, code: WireErrorCode): void {
    const c = this.source(source);
    c.messages++;
    c.errors++;
    if (code === 'unauthorized') {
      this.engine.record({
        kind: 'violation',
        subject: source,
        at: this.now(),
        violation: 'policy',
        detail: 'sent an envelope under another mesh id',
      });
    }
  }

  /** The target's receipt for a message of `source`. */
  receipt(source: string, target: string, error: WireErrorCode | undefined): void {
    if (!error) {
      this.pair(source, target).delivered++;
      return;
    }
    const violation = SOURCE_VIOLATIONS[error];
    if (violation) {
      this.engine.record({
        kind: 'violation',
        subject: source,
        counterpart: target,
        at: this.now(),
        violation,
        detail: `${target} refused a message: ${error}`,
      });
    } else if (SOURCE_FAULTS.has(error)) {
      this.pair(source, target).sourceFailed++;
    } else if (TARGET_FAULTS.has(error)) {
      this.pair(source, target).targetFailed++;
    }
  }

  /** A message for `target` expired in its queue: it did not come back in time. */
  unreachable(source: string, target: string): void {
    this.pair(source, target).targetFailed++;
  }

  heartbeat(meshId: string, ok: boolean, rttMs?: number): void {
    this.engine.record({ kind: 'heartbeat', subject: meshId, at: this.now(), ok });
    if (ok && rttMs !== undefined) {
      const c = this.source(meshId);
      c.latencySum += rttMs;
      c.latencyCount++;
    }
  }

  /** Hands the counts gathered since the last call to the engine (call about once a second). */
  flush(): void {
    const at = this.now();
    const pairs = this.pairs;
    const sources = this.sources;
    this.pairs = new Map();
    this.pairCount = 0;
    this.sources = new Map();
    for (const [source, targets] of pairs)
      for (const [target, p] of targets) this.recordPair(at, source, target, p);
    for (const [meshId, c] of sources) {
      this.engine.record({
        kind: 'message',
        subject: meshId,
        at,
        messages: c.messages,
        errors: c.errors,
        ...(c.latencyCount > 0 ? { latencyMsSum: c.latencySum, latencyCount: c.latencyCount } : {}),
      });
    }
  }

  private recordPair(at: number, source: string, target: string, p: PairCounts): void {
    if (p.delivered > 0) {
      // Both did well: the target received, the source sent something acceptable.
      this.engine.record({
        kind: 'interaction',
        subject: target,
        counterpart: source,
        at,
        outcome: 'delivered',
        count: p.delivered,
      });
      this.engine.record({
        kind: 'interaction',
        subject: source,
        counterpart: target,
        at,
        outcome: 'delivered',
        count: p.delivered,
      });
    }
    if (p.handshakes > 0) {
      for (const [subject, counterpart] of [
        [source, target],
        [target, source],
      ] as const) {
        this.engine.record({
          kind: 'interaction',
          subject,
          counterpart,
          at,
          outcome: 'handshake_ok',
          count: p.handshakes,
        });
      }
    }
    if (p.targetFailed > 0) {
      this.engine.record({
        kind: 'interaction',
        subject: target,
        counterpart: source,
        at,
        outcome: 'delivery_failed',
        count: p.targetFailed,
        detail: 'did not take delivery',
      });
    }
    if (p.sourceFailed > 0) {
      this.engine.record({
        kind: 'interaction',
        subject: source,
        counterpart: target,
        at,
        outcome: 'delivery_failed',
        count: p.sourceFailed,
        detail: 'sent messages the target could not accept',
      });
    }
  }
}
