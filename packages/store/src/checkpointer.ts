/**
 * Checkpoints of a SQLite file's WAL, run by a thread of their own.
 *
 * SQLite copies the WAL back into the database (a checkpoint) from whichever connection commits
 * past `wal_autocheckpoint` pages (1,000 by default), inside that commit. On the store's main
 * connection that is the event loop: every few hundred small commits (a federation's row after
 * each handshake, a mesh's after each authentication) one of them stopped it for 2-6 ms while
 * pages were copied and the database file fsynced (measured on the benchmark machine: 25 stalls
 * over 2 ms in 5,000 commits; 3 with the checkpoints elsewhere). Here the main connection is told
 * to leave them (AUTOCHECKPOINT_FALLBACK_PAGES, a bound in case this thread cannot keep up or has
 * stopped) and a worker thread with a connection of its own runs a PASSIVE checkpoint once
 * CHECKPOINT_AFTER_WRITES writes have committed since the last one: PASSIVE never waits for a lock
 * and never blocks the writers, which go on appending to the WAL meanwhile.
 *
 * The thread starts with the first checkpoint (a store that writes little never starts one) and is
 * unreferenced: it never keeps a process alive.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Writes committed on the main connection between two checkpoints (a few pages each). */
export const CHECKPOINT_AFTER_WRITES = 256;
/** The main connection's own wal_autocheckpoint: only if the thread falls this far behind. */
export const AUTOCHECKPOINT_FALLBACK_PAGES = 10_000;

export interface Checkpointer {
  /** Counts `writes` committed on the main connection; starts a checkpoint when enough have. */
  committed(writes: number): void;
  /** Waits for the checkpoint under way, then ends the thread. */
  close(): Promise<void>;
  /** Checkpoints completed (some frames may remain when readers held them: PASSIVE). */
  readonly checkpoints: number;
  /** Why the thread stopped, if it did (the fallback autocheckpoint then bounds the WAL). */
  readonly failure: Error | undefined;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.path, { timeout: 0 });
for (const pragma of workerData.pragmas) db.pragma(pragma);
db.pragma('busy_timeout = 0');
db.pragma('wal_autocheckpoint = 0');
parentPort.on('message', (m) => {
  if (m.close) {
    db.close();
    parentPort.close();
    return;
  }
  let error;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (e) {
    // Busy: another connection's checkpoint is running, which does the same work.
    const code = e && e.code;
    if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY')) error = String((e && e.message) || e);
  }
  parentPort.postMessage({ error });
});
`;

/**
 * A checkpointer for the SQLite file at `path` (a WAL database), its connection set up with
 * `pragmas` (journal mode, synchronous: a checkpoint syncs as the store's commits do).
 */
export function startCheckpointer(path: string, pragmas: readonly string[]): Checkpointer {
  let worker: Worker | undefined;
  let exited: Promise<void> | undefined;
  let inFlight = false;
  let since = 0;
  let checkpoints = 0;
  let failure: Error | undefined;
  let closed = false;

  const stop = (error: Error) => {
    failure ??= error;
    inFlight = false;
  };
  const start = (): Worker => {
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { sqlite: createRequire(import.meta.url).resolve('better-sqlite3'), path, pragmas },
    });
    w.unref();
    exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.on('message', (m: { error?: string }) => {
      inFlight = false;
      if (m.error !== undefined) stop(new Error(`a WAL checkpoint of ${path} failed: ${m.error}`));
      else checkpoints++;
    });
    w.on('error', (err) => stop(err instanceof Error ? err : new Error(String(err))));
    w.once('exit', (code) => {
      if (!closed) stop(new Error(`the checkpoint thread exited (code ${code})`));
    });
    return w;
  };

  return {
    committed(writes) {
      since += writes;
      if (since < CHECKPOINT_AFTER_WRITES || inFlight || failure || closed) return;
      since = 0;
      inFlight = true;
      worker ??= start();
      worker.postMessage({});
    },
    async close() {
      if (closed) return;
      closed = true;
      if (!worker) return;
      // Messages are handled in order: the close comes after the checkpoint under way. Referenced
      // while it ends: an unreferenced thread alone would let the process exit under this await.
      worker.ref();
      if (!failure) worker.postMessage({ close: true });
      else void worker.terminate();
      await exited;
    },
    get checkpoints() {
      return checkpoints;
    },
    get failure() {
      return failure;
    },
  };
}
