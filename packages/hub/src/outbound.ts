/**
 * The seam for per-link QoS: every frame a hub sends to a node goes through an OutboundQueue. The
 * placeholder here (`simpleOutboundQueue`) orders by priority class within a flush and bounds
 * the backlog; the QoS module (packages/hub/src/qos/, a 4-class queue with TTL) implements the same
 * interface and replaces it through `HubOptions.outboundQueue`.
 */
import type { Priority } from '@fmp/core';

export interface OutboundItem {
  /** The serialized frame. */
  readonly frame: string;
  readonly priority: Priority;
  /** ms since the epoch, for the per-class queue latency metric and TTLs. */
  readonly enqueuedAt: number;
  /** Set for envelopes: what to tell the source if the item is dropped. */
  readonly messageId?: string;
  readonly sourceMeshId?: string;
  readonly federationId?: string;
}

export interface OutboundQueue {
  /** Queues a frame; false when the queue is full (the caller reports the drop). */
  push(item: OutboundItem): boolean;
  readonly size: number;
  /** Stops sending and returns what was not sent. */
  close(): OutboundItem[];
}

export interface OutboundQueueContext {
  /** Writes one frame to the socket. */
  readonly write: (item: OutboundItem) => void;
  /** Whether the socket can take more now (backpressure). */
  readonly writable: () => boolean;
  /** Called once the socket drained, to resume a paused queue. */
  readonly onDrain: (resume: () => void) => void;
  readonly now: () => number;
  readonly maxQueued: number;
}

export type OutboundQueueFactory = (context: OutboundQueueContext) => OutboundQueue;

const ORDER: readonly Priority[] = ['critical', 'high', 'normal', 'low'];

/** Placeholder QoS: four FIFOs drained critical-first on the next microtask, bounded in total. */
export const simpleOutboundQueue: OutboundQueueFactory = (ctx) => {
  const lanes: Record<Priority, OutboundItem[]> = { critical: [], high: [], normal: [], low: [] };
  let size = 0;
  let scheduled = false;
  let closed = false;
  const flush = () => {
    scheduled = false;
    while (!closed && size > 0) {
      if (!ctx.writable()) {
        ctx.onDrain(schedule);
        return;
      }
      const lane = ORDER.find((p) => lanes[p].length > 0)!;
      const item = lanes[lane].shift()!;
      size--;
      ctx.write(item);
    }
  };
  const schedule = () => {
    if (scheduled || closed) return;
    scheduled = true;
    queueMicrotask(flush);
  };
  return {
    push(item) {
      if (closed || size >= ctx.maxQueued) return false;
      lanes[item.priority].push(item);
      size++;
      schedule();
      return true;
    },
    get size() {
      return size;
    },
    close() {
      closed = true;
      const rest = ORDER.flatMap((p) => lanes[p].splice(0));
      size = 0;
      return rest;
    },
  };
};
