/**
 * QoS building blocks of the hub: per-link priority scheduling and per-federation rate limits.
 *
 * @example
 * ```ts
 * import { LinkScheduler, RateLimiter, rateLimitedError, wsSink } from './qos/index.js';
 *
 * const limiter = new RateLimiter({ defaultQuota: { ratePerSec: 500, burst: 1000 }, maxKeys: 100_000, now: Date.now });
 * const link = new LinkScheduler({
 *   ...wsSink(ws, { serialize: (f: Envelope) => JSON.stringify(f) }),
 *   queue: { maxItems: 10_000, maxBytes: 64 << 20, ttlMs: 30_000 },
 *   now: Date.now,
 *   onSent: (_f, e) => queueLatency.labels(e.priority).observe(e.waitedMs / 1000),
 *   onDropped: (f, reason) => replyUndeliverable(f, reason),
 * });
 * const r = limiter.check(envelope.federationId);
 * if (!r.ok) reply(encodeErrorFrame(rateLimitedError(r.retryAfterMs), { inReplyTo: envelope.messageId }));
 * else if (!link.enqueue(envelope, envelope.priority, bytes)) replyUndeliverable(envelope, 'queue_full');
 * ```
 */
export * from './link-scheduler.js';
export * from './priority-queue.js';
export * from './rate-limit.js';
export * from './ws-sink.js';
