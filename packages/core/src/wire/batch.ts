/**
 * Link batches: several frames in one WebSocket message (docs/protocol.md, "Batches").
 *
 * A batch is a JSON array of frames, `[{...},{...}]`, sent as one text message on a link whose
 * receiver announced the `batch` feature (Hello / Authenticate / HubHello `features`). It means
 * exactly what sending its frames one by one, in order, would mean: each element is parsed,
 * checked and answered on its own (a bad element gets its own error frame, the others go on).
 * Batching exists because the per-message cost of a WebSocket frame (framing, a read and a write
 * event, a syscall) was most of a hub's CPU per relayed envelope; envelopes stay individually
 * signed and sealed end to end, so batching changes nothing about authenticity.
 *
 * `splitBatch` cuts the array text into its elements without parsing them (a structural scan),
 * so a hub can forward an envelope's own bytes; `FrameBatcher` is the sending side.
 *
 * @example
 * ```ts
 * const out = new FrameBatcher((data, done) => ws.send(data, done), { batching: peerAcceptsBatches });
 * out.write(JSON.stringify(frame)); // leaves at the end of this event-loop turn, with its neighbours
 * ```
 */

import { ProtocolError } from './errors.js';
import { type HopSpans, isJsonWs, scanRootMembers, skipJsonValue } from './frame.js';
import { type AckText, matchFrameText, type SealedEnvelopeText } from './frame-text.js';
import { DEFAULT_MAX_FRAME_BYTES } from './messages.js';

/** The feature name announced by a receiver that accepts batches. */
export const BATCH_FEATURE = 'batch';
/** Most frames in one batch; a longer batch is refused whole (`malformed_frame`). */
export const MAX_BATCH_FRAMES = 256;
/**
 * What a FrameBatcher puts in one batch by default: 32 frames or 48 Ki UTF-16 units. Measured here
 * (1 KB envelopes, split + parse + forward + join): 10.5 us per frame up to 32 frames, 20 us at
 * 128 (a 250 KB message): strings that large go to V8's large-object space, and every fresh one
 * costs page faults.
 */
export const DEFAULT_BATCH_FRAMES = 32;
export const DEFAULT_BATCH_UNITS = 48 * 1024;

const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const OPEN_BRACE = 123;
const COMMA = 44;

/**
 * What a split learns of an element on its way: a sealed envelope or a plain Ack itself when it is
 * written in the senders' layout (matchFrameText), else where its hopCount and route are
 * (scanRootMembers).
 */
export type FrameScan = HopSpans | SealedEnvelopeText | AckText;

/** True when `text` is a batch (it starts with `[`), not a single frame (which starts with `{`). */
export function isBatchText(text: string): boolean {
  return text.charCodeAt(0) === OPEN_BRACKET;
}

function malformedBatch(message: string): ProtocolError {
  return new ProtocolError('malformed_frame', message);
}

/**
 * The element texts of a batch, in order. Throws ProtocolError(malformed_frame) when the text is
 * not an array of 1..maxFrames objects with nothing after it; an element's own validity is for
 * parseFrame to judge, element by element. With `spans`, what the split found of each element (or
 * undefined) is pushed to it: the split reads every element anyway, so a hub need not read it
 * again: a sealed envelope or an Ack in the senders' layout comes parsed and checked
 * (matchFrameText), any other element with the spans of its hopCount and route (hopForwardedText).
 */
export function splitBatch(
  text: string,
  maxFrames = MAX_BATCH_FRAMES,
  spans?: (FrameScan | undefined)[],
): string[] {
  const out: string[] = [];
  if (!isBatchText(text)) throw malformedBatch('a batch is a JSON array');
  let i = 1;
  for (;;) {
    while (isJsonWs(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== OPEN_BRACE) {
      if (out.length === 0 && text.charCodeAt(i) === CLOSE_BRACKET) throw malformedBatch('empty batch');
      throw malformedBatch('batch elements must be JSON objects');
    }
    const matched = spans ? matchFrameText(text, i) : undefined;
    const scanned = spans && !matched ? scanRootMembers(text, i) : undefined;
    const end = matched ? matched.end : scanned ? scanned.end : skipJsonValue(text, i);
    if (end < 0) throw malformedBatch('unterminated batch element');
    if (out.length === maxFrames) throw malformedBatch(`a batch holds at most ${maxFrames} frames`);
    out.push(text.slice(i, end));
    spans?.push(matched ?? scanned?.spans);
    i = end;
    while (isJsonWs(text.charCodeAt(i))) i++;
    const c = text.charCodeAt(i);
    if (c === COMMA) {
      i++;
      continue;
    }
    if (c !== CLOSE_BRACKET) throw malformedBatch('batch elements must be separated by commas');
    i++;
    break;
  }
  while (isJsonWs(text.charCodeAt(i))) i++;
  if (i !== text.length) throw malformedBatch('text after the end of the batch');
  return out;
}

/**
 * The frames of one text message: a batch's elements, or the message itself. Throws
 * ProtocolError(malformed_frame) for a malformed batch (see splitBatch).
 */
export function framesOf(text: string, spans?: (FrameScan | undefined)[]): string[] {
  if (isBatchText(text)) return splitBatch(text, MAX_BATCH_FRAMES, spans);
  if (spans) {
    const matched = matchFrameText(text, 0);
    spans.push(matched?.end === text.length ? matched : undefined);
  }
  return [text];
}

/** One message holding `frames` (each a JSON object text): the frame itself when there is one. */
export function joinBatch(frames: readonly string[]): string {
  return frames.length === 1 ? frames[0]! : `[${frames.join(',')}]`;
}

/** Where a FrameBatcher writes: one WebSocket message per call (`ws.send(data, done)`). */
export type BatchWrite = (data: string, done: (err?: Error) => void) => void;

export interface FrameBatcherOptions {
  /** Send batches (the receiver announced `batch`); false: the frames leave one message each. */
  batching?: boolean;
  /** Frames per batch. Default DEFAULT_BATCH_FRAMES, at most MAX_BATCH_FRAMES. */
  maxFrames?: number;
  /**
   * The receiver's largest message, UTF-8 bytes (its Hello's maxFrameBytes). Default
   * DEFAULT_MAX_FRAME_BYTES. A batch is closed before it could pass it, counting 3 bytes per
   * UTF-16 unit (the UTF-8 worst case) so no encoding pass is needed; a frame that alone could
   * pass it leaves alone. A batch is also closed at DEFAULT_BATCH_UNITS.
   */
  maxBytes?: number;
  /**
   * Called around a flush of several messages (cork/uncork of the TCP socket), so frames that
   * leave one message each still share one write.
   */
  cork?: () => (() => void) | undefined;
}

/** Batchers holding frames this turn; each appears once, so the set is bounded by the links. */
const pending = new Set<FrameBatcher>();
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  // Copy first: a write callback may write (and schedule) again; those wait a turn.
  const batchers = [...pending];
  pending.clear();
  for (const b of batchers) b.flush();
}

/**
 * Coalesces the frames written to one link during an event-loop turn into as few messages as
 * possible, and writes them at the end of the turn (setImmediate) or as soon as a batch is full.
 * Order is kept. Bounded: at most one open batch per link (maxFrames, maxBytes).
 *
 * A hub holds one per session, most of them idle: the open batch's lists exist only while it holds
 * frames, and batcherForSocket's subclass writes to its socket without closures.
 */
export class FrameBatcher {
  #frames: string[] | undefined;
  #callbacks: ((err?: Error) => void)[] | undefined;
  #bytes = 0;
  #batching: boolean;
  readonly #maxFrames: number;
  #maxBytes: number;
  readonly #write: BatchWrite | undefined;
  readonly #cork: FrameBatcherOptions['cork'];

  /** `write` may be left out by a subclass that overrides `send`. */
  constructor(write: BatchWrite | undefined, options: FrameBatcherOptions = {}) {
    this.#write = write;
    this.#cork = options.cork;
    this.#batching = options.batching ?? false;
    this.#maxFrames = Math.max(1, Math.min(options.maxFrames ?? DEFAULT_BATCH_FRAMES, MAX_BATCH_FRAMES));
    this.#maxBytes = FrameBatcher.unitsFor(options.maxBytes ?? DEFAULT_MAX_FRAME_BYTES);
  }

  /** One WebSocket message out (the constructor's `write`). */
  protected send(data: string, done: (err?: Error) => void): void {
    if (!this.#write) throw new Error('FrameBatcher has no write function');
    this.#write(data, done);
  }

  /** Corks the transport around a flush of several messages; returns the uncork (options.cork). */
  protected cork(): (() => void) | undefined {
    return this.#cork?.();
  }

  /** The receiver's largest message, UTF-8 bytes, once it is known (see FrameBatcherOptions). */
  set maxBytes(limit: number) {
    this.#maxBytes = FrameBatcher.unitsFor(limit);
  }

  /** Batch bound in UTF-16 units for a receiver limit in bytes. */
  private static unitsFor(maxBytes: number): number {
    // A third of the byte limit (3 bytes per unit at worst), less a full batch's brackets and commas.
    const units = Math.floor(maxBytes / 3) - MAX_BATCH_FRAMES - 2;
    return Math.max(1, Math.min(units, DEFAULT_BATCH_UNITS));
  }

  /** Whether several frames may share a message (set once the receiver announced `batch`). */
  get batching(): boolean {
    return this.#batching;
  }
  set batching(on: boolean) {
    this.#batching = on;
  }

  /** UTF-16 length of the frames not yet handed to the socket (a backpressure measure). */
  get pendingBytes(): number {
    return this.#bytes;
  }

  /** Queues one frame (a JSON object text); `done` runs once the message holding it is written. */
  write(frame: string, done?: (err?: Error) => void): void {
    // The open batch could not take it: close that one first (order holds).
    if (this.#frames !== undefined && this.#bytes + frame.length > this.#maxBytes) this.flush();
    let frames = this.#frames;
    if (frames === undefined) {
      frames = [];
      this.#frames = frames;
    }
    frames.push(frame);
    if (done) {
      if (this.#callbacks === undefined) this.#callbacks = [done];
      else this.#callbacks.push(done);
    }
    this.#bytes += frame.length;
    if (frames.length >= this.#maxFrames || this.#bytes >= this.#maxBytes) {
      this.flush();
      return;
    }
    if (frames.length === 1) {
      pending.add(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAll);
      }
    }
  }

  /** Writes out now whatever is queued (a handshake step that must not wait for the turn's end). */
  flush(): void {
    const frames = this.#frames;
    if (frames === undefined) return;
    const callbacks = this.#callbacks;
    this.#frames = undefined;
    this.#callbacks = undefined;
    this.#bytes = 0;
    pending.delete(this);
    const done =
      callbacks === undefined
        ? noop
        : callbacks.length === 1
          ? callbacks[0]!
          : (err?: Error) => {
              for (const cb of callbacks) cb(err);
            };
    // A sink that throws fails these frames' callbacks; it must not take other links' flush (or the
    // process, from setImmediate) down with it.
    try {
      if (this.#batching || frames.length === 1) {
        this.send(joinBatch(frames), done);
        return;
      }
      const uncork = this.cork();
      try {
        for (let i = 0; i < frames.length - 1; i++) this.send(frames[i]!, noop);
        this.send(frames[frames.length - 1]!, done);
      } finally {
        uncork?.();
      }
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

function noop(): void {}

/** What batcherForSocket needs of a WebSocket (`ws`'s API; `_socket` is its net.Socket). */
export interface BatchSocket {
  readonly readyState: number;
  send(data: string, cb?: (err?: Error) => void): void;
}

const OPEN = 1; // WebSocket.OPEN

/**
 * A FrameBatcher writing to a `ws` WebSocket: a message to a socket that is no longer open fails
 * its callbacks instead of throwing, and several separate messages share one corked TCP write.
 */
class SocketBatcher extends FrameBatcher {
  readonly #ws: BatchSocket;

  constructor(ws: BatchSocket, options: Omit<FrameBatcherOptions, 'cork'>) {
    super(undefined, options);
    this.#ws = ws;
  }

  protected override send(data: string, done: (err?: Error) => void): void {
    if (this.#ws.readyState === OPEN) this.#ws.send(data, done);
    else done(new Error('socket closed'));
  }

  protected override cork(): (() => void) | undefined {
    // ws keeps the net.Socket in `_socket` (stable across ws 8); absent on fakes.
    const socket = (this.#ws as { _socket?: { cork?: unknown; uncork?: unknown } | null })._socket;
    if (!socket || typeof socket.cork !== 'function' || typeof socket.uncork !== 'function') return undefined;
    const s = socket as { cork(): void; uncork(): void };
    s.cork();
    return () => s.uncork();
  }
}

/** A FrameBatcher writing to a `ws` WebSocket (see SocketBatcher). */
export function batcherForSocket(
  ws: BatchSocket,
  options: Omit<FrameBatcherOptions, 'cork'> = {},
): FrameBatcher {
  return new SocketBatcher(ws, options);
}
