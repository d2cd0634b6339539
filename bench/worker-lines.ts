/**
 * The line protocol of the benchmark's child processes, on its own (no fmp import, so the raw
 * WebSocket baselines start in a fraction of the time a worker importing the packages takes):
 * JSON-line commands on stdin, JSON-line answers on stdout. A child exits when its stdin closes,
 * so a parent that dies never leaves load generators behind.
 *
 * A worker started with `-` in place of an argument it cannot know yet (a hub's URL, a hub's
 * peers) reads it from its first stdin line (`config()`): every process of a run can then start
 * at once, loading its modules (most of its start-up) while the processes it depends on do the
 * same, and get the missing values when they exist.
 */
import { Session } from 'node:inspector/promises';
import { createInterface, type Interface } from 'node:readline';

export const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

// One reader for stdin, buffering lines until config() or serve() takes them.
let input: Interface | undefined;
const pending: string[] = [];
let take: ((line: string) => void) | undefined;
let closed = false;
let onClose: (() => void) | undefined;

function reader(): void {
  if (input) return;
  input = createInterface({ input: process.stdin });
  input.on('line', (line) => {
    if (take) take(line);
    else pending.push(line);
  });
  input.on('close', () => {
    closed = true;
    // Before serve() (still waiting for its config, say): the parent is gone, so is this process.
    if (onClose) onClose();
    else process.exit(0);
  });
}

/**
 * A full GC before a memory reading (the process runs with --expose-gc). `settle`: then V8's
 * memory-reducing collection (the inspector's HeapProfiler.collectGarbage, in process: it compacts
 * and gives freed pages back to the system), as V8's memory reducer runs by itself once a process
 * has gone quiet; after a plain full GC, free space and pages it left still count in RSS. (Node
 * 20's `gc()` takes no options: `gc({ type: 'major', ... })` is read as `gc(true)`, a young-generation
 * collection only.)
 */
export async function settledGc(settle: boolean): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  if (!settle) return;
  const session = new Session();
  session.connect();
  try {
    for (let i = 0; i < 2; i++) {
      await session.post('HeapProfiler.collectGarbage');
      // Freed pages are given back by V8's background threads.
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    session.disconnect();
  }
}

/** The first stdin line, a JSON object: the values the parent could not pass as arguments. */
export function config(): Promise<Record<string, unknown>> {
  reader();
  return new Promise((resolve, reject) => {
    const parse = (line: string) => {
      take = undefined;
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch (err) {
        reject(err);
      }
    };
    const first = pending.shift();
    if (first !== undefined) parse(first);
    else take = parse;
  });
}

/** `arg` itself, or when it is `-` the string `key` of the config line. */
export async function argOrConfig(arg: string | undefined, key: string): Promise<string> {
  if (arg !== '-') return arg ?? '';
  const value = (await config())[key];
  if (typeof value !== 'string') throw new Error(`the config line has no string ${key}`);
  return value;
}

/** Runs `handle` for each command line; answers `{ok:false,error}` when it throws. */
export function serve(
  handle: (cmd: Record<string, unknown>) => Promise<unknown>,
  onEnd: () => Promise<void> | void = () => undefined,
): void {
  reader();
  const run = (line: string) => {
    let cmd: Record<string, unknown>;
    try {
      cmd = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    handle(cmd).then(
      (result) => print({ id: cmd.id, ok: true, ...(result as object) }),
      (err: unknown) => print({ id: cmd.id, ok: false, error: String((err as Error)?.message ?? err) }),
    );
  };
  const end = () => {
    void Promise.resolve(onEnd()).finally(() => process.exit(0));
  };
  take = run;
  onClose = end;
  for (const line of pending.splice(0)) run(line);
  if (closed) end();
  process.on('SIGTERM', end);
}
