/**
 * Link batches: splitBatch held to JSON.parse (what it cuts out is exactly the array's elements,
 * and it never accepts what JSON would read differently), joinBatch's round trip, and FrameBatcher's
 * coalescing, order, bounds and callbacks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BATCH_FEATURE,
  batcherForSocket,
  DEFAULT_BATCH_FRAMES,
  FrameBatcher,
  isBatchText,
  joinBatch,
  MAX_BATCH_FRAMES,
  splitBatch,
} from './batch.js';
import { ProtocolError } from './errors.js';

const objects = fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { minLength: 1, maxLength: 40 });

/** What splitBatch must agree with: a JSON array of 1..MAX_BATCH_FRAMES objects. */
function jsonBatch(text: string): unknown[] | undefined {
  if (!isBatchText(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_BATCH_FRAMES) return undefined;
  return value.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v)) ? value : undefined;
}

function trySplit(text: string, spans?: unknown[]): string[] | ProtocolError {
  try {
    return splitBatch(text, MAX_BATCH_FRAMES, spans as Parameters<typeof splitBatch>[2]);
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
}

describe('splitBatch', () => {
  it('cuts out exactly the elements of a JSON array of objects, however it is spaced', () => {
    fc.assert(
      fc.property(objects, fc.constantFrom(undefined, 1, '\t', ' \r\n'), (frames, indent) => {
        const text = JSON.stringify(frames, null, indent);
        const parts = splitBatch(text);
        expect(parts.map((p) => JSON.parse(p))).toEqual(JSON.parse(text));
      }),
    );
  });

  it('never accepts a text JSON reads otherwise: success and valid parts mean the same array', () => {
    const near = objects.chain((frames) => {
      const text = JSON.stringify(frames);
      return fc
        .tuple(fc.nat(text.length), fc.nat(text.length), fc.string({ maxLength: 3 }))
        .map(
          ([at, cut, insert]) =>
            `[${text.slice(1, at)}${insert}${text.slice(Math.min(text.length, at + (cut % 4)))}`,
        );
    });
    fc.assert(
      fc.property(fc.oneof(near, fc.string()), (text) => {
        const parts = trySplit(text);
        // Reading members for the hop spans splits exactly as the plain structural scan does.
        const spans: unknown[] = [];
        const withSpans = trySplit(text, spans);
        if (parts instanceof ProtocolError) expect(withSpans).toBeInstanceOf(ProtocolError);
        else expect(withSpans).toEqual(parts);
        const json = jsonBatch(text);
        if (json) expect(parts).not.toBeInstanceOf(ProtocolError);
        if (parts instanceof ProtocolError) {
          expect(parts.wireCode).toBe('malformed_frame');
          return;
        }
        // The scan delimits; the elements are judged by JSON afterwards (parseFrame, element by element).
        let values: unknown[];
        try {
          values = parts.map((p) => JSON.parse(p));
        } catch {
          return;
        }
        expect(values).toEqual(json);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses what is not a batch of 1..MAX_BATCH_FRAMES objects', () => {
    const one = '{"type":"Ack"}';
    for (const text of [
      '',
      '{}',
      ' [{}]',
      '[]',
      '[ ]',
      '[1]',
      '[{},2]',
      '[{}',
      '[{}]]',
      '[{},]',
      '[{} {}]',
      '[{"a":"}]',
      `[${Array.from({ length: MAX_BATCH_FRAMES + 1 }, () => one).join(',')}]`,
    ]) {
      expect(trySplit(text), text.slice(0, 40)).toBeInstanceOf(ProtocolError);
    }
    expect(splitBatch(`[${Array.from({ length: MAX_BATCH_FRAMES }, () => one).join(',')}]`)).toHaveLength(
      MAX_BATCH_FRAMES,
    );
  });

  it('joinBatch: one frame goes alone, several make an array splitBatch gives back', () => {
    expect(joinBatch(['{"a":1}'])).toBe('{"a":1}');
    fc.assert(
      fc.property(objects, (frames) => {
        const texts = frames.map((f) => JSON.stringify(f));
        if (texts.length > 1) expect(splitBatch(joinBatch(texts))).toEqual(texts);
      }),
    );
    expect(BATCH_FEATURE).toBe('batch');
  });
});

/** A write sink recording messages; `done` runs on the next microtask, as a socket's would later. */
function recorder() {
  const messages: string[] = [];
  const write = (data: string, done: (err?: Error) => void) => {
    messages.push(data);
    queueMicrotask(() => done());
  };
  return { messages, write };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('FrameBatcher', () => {
  it('sends the frames of one turn as one batch when batching, in order, and runs every callback', async () => {
    const { messages, write } = recorder();
    const out = new FrameBatcher(write, { batching: true });
    const done: number[] = [];
    for (let i = 0; i < 5; i++) out.write(`{"i":${i}}`, () => done.push(i));
    expect(messages).toEqual([]); // nothing before the end of the turn
    expect(out.pendingBytes).toBeGreaterThan(0);
    await turn();
    expect(messages).toEqual(['[{"i":0},{"i":1},{"i":2},{"i":3},{"i":4}]']);
    expect(out.pendingBytes).toBe(0);
    await turn();
    expect(done).toEqual([0, 1, 2, 3, 4]);
  });

  it('without batching, sends each frame as its own message, corked together', async () => {
    const { messages, write } = recorder();
    let corks = 0;
    let uncorks = 0;
    const out = new FrameBatcher(write, {
      cork: () => {
        corks++;
        return () => uncorks++;
      },
    });
    out.write('{"a":1}');
    out.write('{"b":2}');
    await turn();
    expect(messages).toEqual(['{"a":1}', '{"b":2}']);
    expect([corks, uncorks]).toEqual([1, 1]);
  });

  it('closes a batch at maxFrames and before maxBytes, keeping order; flush() sends at once', async () => {
    const { messages, write } = recorder();
    const out = new FrameBatcher(write, { batching: true, maxFrames: 3 });
    for (let i = 0; i < 7; i++) out.write(`{"i":${i}}`);
    expect(messages).toHaveLength(2); // two full batches left at once
    out.flush();
    expect(messages.flatMap((m) => splitBatch(m.startsWith('[') ? m : `[${m}]`))).toEqual(
      Array.from({ length: 7 }, (_, i) => `{"i":${i}}`),
    );

    const small = recorder();
    // 3 bytes per UTF-16 unit: a 3,000-byte receiver takes about 1,000 units per batch.
    const bytes = new FrameBatcher(small.write, { batching: true, maxBytes: 3_000 });
    const frame = `{"x":"${'y'.repeat(300)}"}`;
    for (let i = 0; i < 6; i++) bytes.write(frame);
    await turn();
    for (const m of small.messages) expect(Buffer.byteLength(m)).toBeLessThanOrEqual(3_000);
    expect(small.messages.flatMap((m) => (m.startsWith('[') ? splitBatch(m) : [m]))).toHaveLength(6);
    expect(DEFAULT_BATCH_FRAMES).toBeLessThanOrEqual(MAX_BATCH_FRAMES);
  });

  it('a sink that throws fails its frames callbacks and leaves other links flushing', async () => {
    const errors: (Error | undefined)[] = [];
    const broken = new FrameBatcher(() => {
      throw new Error('socket gone');
    });
    const ok = recorder();
    const other = new FrameBatcher(ok.write);
    broken.write('{"a":1}', (err) => errors.push(err));
    other.write('{"b":2}');
    await turn();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe('socket gone');
    expect(ok.messages).toEqual(['{"b":2}']);
  });

  it('batcherForSocket fails the callbacks of a socket that is no longer open instead of throwing', async () => {
    const sent: string[] = [];
    const socket = { readyState: 3, send: (data: string) => sent.push(data) };
    const out = batcherForSocket(socket, { batching: true });
    const errors: (Error | undefined)[] = [];
    out.write('{"a":1}', (err) => errors.push(err));
    await turn();
    expect(sent).toEqual([]);
    expect(errors[0]).toBeInstanceOf(Error);
    const open = {
      readyState: 1,
      send: (data: string, cb?: (err?: Error) => void) => {
        sent.push(data);
        cb?.();
      },
    };
    const live = batcherForSocket(open, { batching: true });
    live.write('{"a":1}');
    live.write('{"b":2}');
    await turn();
    expect(sent).toEqual(['[{"a":1},{"b":2}]']);
  });
});
