/**
 * One outgoing link's scheduler: frames wait in a bounded PriorityQueue and are written to the
 * socket, critical first, only while the socket's `bufferedAmount` stays under a high-water mark.
 * A slow peer therefore fills this bounded queue (and then gets refusals the caller turns into
 * error frames) instead of growing ws's unbounded send buffer. Writing resumes when the socket
 * drains: through `waitDrain` when the transport can signal it (see ws-sink.ts), else by polling.
 *
 * @example
 * ```ts
 * const sink = wsSink(ws, { serialize: JSON.stringify });
 * const link = new LinkScheduler({ ...sink, now: Date.now, queue: { maxItems: 10_000, ttlMs: 30_000 },
 *   onSent: (_f, e) => latency.labels(e.priority).observe(e.waitedMs / 1000),
 *   onDropped: (f, reason) => answerSourceWithError(f, reason) });
 * if (!link.enqueue(envelope, envelope.priority, bytes)) answerSourceWithError(envelope, 'full');
 * ```
 */
import { ValidationError } from '@fmp/core';
import { PriorityQueue, type QosClass, type QueueEntry, type ShiftedEntry } from './priority-queue.js';

/** Why a queued frame was not sent. Every dropped frame is reported with one of these. */
export type LinkDropReason = 'expired' | 'evicted' | 'send_failed';

export interface LinkQueueOptions {
  maxItems: number;
  maxBytes?: number;
  ttlMs: number;
  agingMs?: number;
  evictLowerOnFull?: boolean;
}

export interface LinkSchedulerOptions<F> {
  /** Writes one frame; false when the socket can no longer take frames (closed). */
  send: (frame: F) => boolean;
  /** Bytes accepted by the socket but not yet written (ws `bufferedAmount`). */
  bufferedAmount: () => number;
  /** One-shot notification that the socket drained below the mark; polling is used without it. */
  waitDrain?: (resume: () => void) => void;
  /** Stop writing while bufferedAmount is at or above this. Default 1 MiB. */
  highWaterMark?: number;
  /** Poll interval while blocked and no `waitDrain` is given. Default 10 ms. */
  drainPollMs?: number;
  queue: LinkQueueOptions;
  now: () => number;
  /** A frame was written; `entry.waitedMs` is its queueing delay (per-class latency metric). */
  onSent?: (frame: F, entry: ShiftedEntry<F>) => void;
  /** A frame will never be sent; the caller must answer its source (no silent drop). */
  onDropped?: (frame: F, reason: LinkDropReason, entry: QueueEntry<F>) => void;
}

export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

export class LinkScheduler<F> {
  private readonly queue: PriorityQueue<F>;
  private readonly options: LinkSchedulerOptions<F>;
  private readonly highWaterMark: number;
  private pumping = false;
  private waiting = false;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(options: LinkSchedulerOptions<F>) {
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    if (!Number.isSafeInteger(this.highWaterMark) || this.highWaterMark < 1) {
      throw new ValidationError('highWaterMark must be a positive integer');
    }
    this.options = options;
    this.queue = new PriorityQueue<F>({
      ...options.queue,
      now: options.now,
      onExpired: (frame, entry) => options.onDropped?.(frame, 'expired', entry),
      onEvicted: (frame, entry) => options.onDropped?.(frame, 'evicted', entry),
    });
  }

  /** Frames waiting, in total and per class. */
  get size(): number {
    return this.queue.size;
  }
  get bytes(): number {
    return this.queue.bytes;
  }
  counts(): Record<QosClass, number> {
    return this.queue.counts();
  }
  /** True while the socket is over the high-water mark and frames wait for it to drain. */
  get blocked(): boolean {
    return this.waiting;
  }
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Queues a frame and writes what the socket can take now. False when the queue is full or the
   * link is closed: the frame was not taken and the caller answers its source.
   */
  enqueue(frame: F, priority: QosClass, sizeBytes = 0): boolean {
    if (this.closed) return false;
    if (!this.queue.push(frame, priority, sizeBytes)) return false;
    this.pump();
    return true;
  }

  /** Writes queued frames while the socket is under the mark; returns how many were written. */
  pump(): number {
    if (this.pumping || this.closed) return 0;
    this.pumping = true;
    let sent = 0;
    try {
      while (this.queue.size > 0) {
        if (this.options.bufferedAmount() >= this.highWaterMark) {
          this.waitForDrain();
          break;
        }
        const entry = this.queue.shiftEntry();
        if (!entry) break;
        if (!this.options.send(entry.item)) {
          // The socket is gone: report this frame and keep the rest for close() (re-route or fail).
          this.closed = true;
          this.options.onDropped?.(entry.item, 'send_failed', entry);
          break;
        }
        sent++;
        this.options.onSent?.(entry.item, entry);
      }
    } finally {
      this.pumping = false;
    }
    return sent;
  }

  /** Stops the link and returns the frames still queued, so the caller can re-route or fail them. */
  close(): QueueEntry<F>[] {
    this.closed = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.waiting = false;
    return this.queue.clear();
  }

  /** Drops expired frames (reported through onDropped); for a periodic sweep of idle links. */
  drainExpired(): number {
    return this.queue.drainExpired();
  }

  private waitForDrain(): void {
    if (this.waiting) return;
    this.waiting = true;
    const resume = () => {
      if (!this.waiting) return;
      this.waiting = false;
      this.pollTimer = undefined;
      this.pump();
    };
    if (this.options.waitDrain) {
      this.options.waitDrain(resume);
    } else {
      this.pollTimer = setTimeout(resume, this.options.drainPollMs ?? 10);
      this.pollTimer.unref?.();
    }
  }
}
