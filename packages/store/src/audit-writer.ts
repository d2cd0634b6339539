/**
 * The audit trail's appends to a SQLite file, written by a thread of their own.
 *
 * better-sqlite3 is synchronous: a commit with synchronous=FULL waits for its fsync on the calling
 * thread. Every message a node receives and every tool call it serves leave audit entries, so on
 * the main thread each batch stopped the node's event loop for the fsync and SQLite's work (about
 * 1 ms per federated tool call on the provider, measured in bench/mcp.ts). Here a worker thread
 * holds a second connection to the same file (WAL: the main connection keeps reading and writing
 * the other tables) and runs each batch in one IMMEDIATE transaction: the stored head is checked
 * and the rows inserted, or nothing is written. Batches are applied one at a time, in the order
 * they were sent. An append resolves once its transaction has committed (with the store's
 * `synchronous`: fsynced by default).
 *
 * The thread runs a few lines of plain JavaScript given as source (`eval`), so it needs no loader
 * for TypeScript and no file of its own beside a bundle.
 *
 * Written, then durable. A small batch first tries a connection of the calling thread's own,
 * committing without waiting for the disk (synchronous=NORMAL, tens of µs, never waiting for a lock:
 * busy_timeout 0): once that commit returns, the rows are in the operating system's hands and a crash
 * of this process keeps them (the batch is *written*); an fdatasync of the WAL on libuv's pool then
 * makes them *durable* (wal-sync.ts), without two thread hops and the fsync on the caller's path.
 * When that connection finds the file locked (another connection is committing), the thread has a
 * batch in hand or the batch is large, it goes to the thread as before (written and durable at
 * once). Checkpoints are the thread's (PASSIVE, every CHECKPOINT_EVERY rows written here), so no
 * commit on the calling thread copies the WAL into the database.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { AUDIT_GENESIS_HASH, AUDIT_INSERT_ROW } from './audit.js';
import { StoreError, StoreOverloadedError } from './errors.js';
import type { WalSync } from './wal-sync.js';

/** The stored head, which a batch must continue (both threads' connections check it). */
const AUDIT_HEAD_ROW = 'SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1';
/** Rows written on the calling thread between two of the writer thread's checkpoints. */
const CHECKPOINT_EVERY = 512;
/**
 * Larger batches go to the thread: they come with load, when throughput matters more than one
 * append's wait, and their inserts would hold the calling thread (~5 µs a row).
 */
const DIRECT_MAX_ROWS = 16;

/** One audit row as the worker inserts it: seq, at, kind, actor, subject, federation_id, body, prev_hash, hash. */
export type AuditRowValues = readonly [
  number,
  number,
  string,
  string,
  string | null,
  string | null,
  string,
  string,
  string,
];

/** What an append found: nothing (written), or the stored head its first row does not continue. */
export interface AuditWriterResult {
  /** The stored head's seq (0: empty) when nothing was written. */
  readonly conflictAfter?: number;
}

export interface AuditWriter {
  /**
   * Inserts the rows in one transaction if the first continues the stored chain; resolves once
   * they are durable, after calling `onWritten` once they are written (see above). Neither when
   * the rows did not continue the chain (conflictAfter) or the commit failed.
   */
  append(rows: readonly AuditRowValues[], onWritten?: () => void): Promise<AuditWriterResult>;
  /** Waits for the appends sent, then ends the thread. */
  close(): Promise<void>;
  /** Transactions the thread ran (committed, or rolled back on a conflict), and appends written. */
  readonly transactions: number;
  readonly writes: number;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.path);
for (const pragma of workerData.pragmas) db.pragma(pragma);
const head = db.prepare(workerData.head);
const insert = db.prepare(workerData.insert);
const append = db.transaction((rows) => {
  const h = head.get();
  const seq = h ? Number(h.seq) : 0;
  if (rows[0][0] !== seq + 1 || rows[0][7] !== (h ? h.hash : workerData.genesis)) return { conflictAfter: seq };
  for (const row of rows) insert.run(row);
  return {};
});
parentPort.on('message', (m) => {
  if (m.close) {
    db.close();
    parentPort.close();
    return;
  }
  if (m.checkpoint) {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {}
    return;
  }
  try {
    parentPort.postMessage({ id: m.id, result: append.immediate(m.rows) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e), code: e && e.code });
  }
});
`;

interface Waiting {
  resolve(result: AuditWriterResult): void;
  reject(error: unknown): void;
  onWritten: (() => void) | undefined;
}

/** The calling thread's connection: commits that need no fsync and never wait for a lock. */
interface Direct {
  readonly db: Database.Database;
  append(rows: readonly AuditRowValues[]): AuditWriterResult;
}

function openDirect(path: string, pragmas: readonly string[]): Direct {
  // timeout 0 from the start: not even the pragmas may wait for another connection's lock.
  const db = new Database(path, { timeout: 0 });
  try {
    for (const pragma of pragmas) {
      if (/^(synchronous|busy_timeout)\b/.test(pragma)) continue;
      db.pragma(pragma);
    }
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 0');
    db.pragma('wal_autocheckpoint = 0');
  } catch (err) {
    db.close();
    throw err;
  }
  const head = db.prepare<[], { seq: number | bigint; hash: string }>(AUDIT_HEAD_ROW);
  const insert = db.prepare(AUDIT_INSERT_ROW);
  const append = db.transaction((rows: readonly AuditRowValues[]): AuditWriterResult => {
    const h = head.get();
    const seq = h ? Number(h.seq) : 0;
    if (rows[0]![0] !== seq + 1 || rows[0]![7] !== (h ? h.hash : AUDIT_GENESIS_HASH)) {
      return { conflictAfter: seq };
    }
    for (const row of rows) insert.run(row);
    return {};
  });
  return { db, append: (rows) => append.immediate(rows) };
}

const isBusy = (err: unknown) =>
  typeof (err as { code?: unknown })?.code === 'string' &&
  ((err as { code: string }).code.startsWith('SQLITE_BUSY') ||
    (err as { code: string }).code.startsWith('SQLITE_LOCKED'));

/**
 * Starts the writer thread on the SQLite file at `path` (whose audit table exists: migrations have
 * run), its connection set up with `pragmas` as the store's own. `maxPending`: batches sent and not
 * yet answered before StoreOverloadedError. `sync`: the store's WAL sync when its commits are
 * durable only once synced (synchronous=FULL); batches written on the calling thread are made
 * durable by it. Without it, written is all the store promises (synchronous=NORMAL).
 */
export function startAuditWriter(
  path: string,
  pragmas: readonly string[],
  maxPending: number,
  sync?: WalSync,
): AuditWriter {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      sqlite,
      path,
      pragmas,
      head: AUDIT_HEAD_ROW,
      insert: AUDIT_INSERT_ROW,
      genesis: AUDIT_GENESIS_HASH,
    },
  });
  // Referenced only while appends wait: an idle writer must not keep the process alive, and one
  // with work must (an awaited append alone would not).
  worker.unref();
  const waiting = new Map<number, Waiting>();
  let nextId = 1;
  let failed: Error | undefined;
  let transactions = 0;
  let writes = 0;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

  const settle = (id: number) => {
    const w = waiting.get(id);
    waiting.delete(id);
    if (waiting.size === 0) worker.unref();
    return w;
  };
  worker.on('message', (m: { id: number; result?: AuditWriterResult; error?: string; code?: string }) => {
    const w = settle(m.id);
    if (!w) return;
    if (m.error !== undefined) {
      w.reject(new StoreError(`the audit append failed: ${m.error}`, { cause: { code: m.code } }));
      return;
    }
    transactions++;
    if (m.result?.conflictAfter === undefined) {
      writes++;
      w.onWritten?.();
    }
    w.resolve(m.result ?? {});
  });
  let direct: Direct | undefined;
  /** When to try opening the direct connection (again, after a failure: the file may be busy). */
  let directAt = 0;
  let sinceCheckpoint = 0;
  const viaThread = (rows: readonly AuditRowValues[], onWritten?: () => void) => {
    if (waiting.size >= maxPending) return Promise.reject(new StoreOverloadedError(maxPending));
    const id = nextId++;
    return new Promise<AuditWriterResult>((resolve, reject) => {
      waiting.set(id, { resolve, reject, onWritten });
      if (waiting.size === 1) worker.ref();
      worker.postMessage({ id, rows });
    });
  };
  const fail = (error: Error) => {
    failed ??= error;
    for (const id of [...waiting.keys()])
      settle(id)?.reject(new StoreError('the audit writer thread stopped', { cause: error }));
  };
  worker.on('error', fail);
  worker.once('exit', (code) => fail(new Error(`the audit writer thread exited (code ${code})`)));

  return {
    append(rows, onWritten) {
      if (failed) return Promise.reject(new StoreError('the audit writer thread stopped', { cause: failed }));
      // The thread's batches first: rows go to the file in the order they were given.
      if (waiting.size > 0 || rows.length > DIRECT_MAX_ROWS) return viaThread(rows, onWritten);
      if (!direct && Date.now() >= directAt) {
        try {
          direct = openDirect(path, pragmas);
        } catch {
          direct = undefined; // the thread does the appends meanwhile
          directAt = Date.now() + 1000;
        }
      }
      if (!direct) return viaThread(rows, onWritten);
      let result: AuditWriterResult;
      try {
        result = direct.append(rows);
      } catch (err) {
        if (isBusy(err)) return viaThread(rows, onWritten);
        return Promise.reject(new StoreError(`the audit append failed: ${String(err)}`, { cause: err }));
      }
      transactions++;
      if (result.conflictAfter !== undefined) return Promise.resolve(result);
      writes++;
      onWritten?.();
      sinceCheckpoint += rows.length;
      if (sinceCheckpoint >= CHECKPOINT_EVERY) {
        sinceCheckpoint = 0;
        worker.postMessage({ checkpoint: true });
      }
      if (!sync) return Promise.resolve(result);
      const wal = sync;
      // The fsync starts after this turn: the caller, told the batch is written, goes on first.
      return new Promise<AuditWriterResult>((resolve, reject) => {
        setImmediate(() => wal.sync().then(() => resolve(result), reject));
      });
    },
    get transactions() {
      return transactions;
    },
    get writes() {
      return writes;
    },
    async close() {
      // Messages are handled in order: the close comes after every append sent before it.
      if (!failed) worker.postMessage({ close: true });
      worker.ref();
      await exited;
      direct?.db.close();
      direct = undefined;
    },
  };
}
