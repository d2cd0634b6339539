/**
 * Durable SQLite commits without stopping the event loop for their fsync.
 *
 * better-sqlite3 is synchronous: with synchronous=FULL each commit waits for the WAL's fsync on the
 * calling thread (0.14-0.34 ms on the benchmark machine's disk), and a hub's event loop stopped for
 * every group commit (a federation's row after each handshake, a mesh's row after each
 * authentication). Instead the main connection commits with synchronous=NORMAL (the WAL frames are
 * written, not synced) and the write queue resolves its callers only after an fdatasync of the WAL
 * file, run on libuv's thread pool, has completed. fsync works on the file, not the descriptor, so
 * it makes every frame written before it durable: a write acknowledged to its caller survives a
 * power loss, as with FULL. (What NORMAL alone syncs, at checkpoints, it still syncs.) One sync
 * covers every commit made before it started; commits made meanwhile share the next one.
 *
 * The difference from FULL: a commit is visible to readers (this process's reads, other processes)
 * before it is durable, for the duration of one fsync. Its writer has not been told it succeeded.
 */
import { closeSync, fdatasync, openSync } from 'node:fs';
import { StoreClosedError, StoreError } from './errors.js';

export interface WalSync {
  /** Resolves once every commit made before the call is on disk. */
  sync(): Promise<void>;
  /** Waits for the syncs under way, then closes the file. */
  close(): Promise<void>;
  /** fdatasync calls made. */
  readonly syncs: number;
}

export interface WalSyncOptions {
  /** For tests: the call that flushes the file (node:fs fdatasync). */
  readonly fdatasync?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
}

/**
 * Syncs `${databasePath}-wal`, opened on first use (a WAL database has one once it has committed).
 *
 * A failed sync is final: every later one fails with the same error. After an fsync error Linux
 * may have dropped the dirty pages and a later fsync can succeed without them, so a commit could
 * be acknowledged that is not on disk (PostgreSQL's "fsyncgate"). The store then stops
 * acknowledging writes; a restart reads back what the file really holds.
 */
export function walSync(databasePath: string, options: WalSyncOptions = {}): WalSync {
  const walPath = `${databasePath}-wal`;
  const flush = options.fdatasync ?? fdatasync;
  let fd: number | undefined;
  let inFlight: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  let failed: StoreError | undefined;
  let syncs = 0;
  let closed = false;

  const start = (): Promise<void> => {
    const p = new Promise<void>((resolve, reject) => {
      if (failed) {
        reject(failed);
        return;
      }
      try {
        // Opened for writing because some platforms refuse to flush a read-only handle; nothing
        // here writes to it. Never created: a WAL database's connection has made it already.
        fd ??= openSync(walPath, 'r+');
      } catch (cause) {
        reject(new StoreError(`cannot open ${walPath} to make commits durable`, { cause }));
        return;
      }
      syncs++;
      flush(fd, (err) => {
        if (err) {
          failed ??= new StoreError(
            `${walPath} could not be synced: no write is acknowledged any more (restart once the disk is checked)`,
            { cause: err },
          );
          reject(failed);
        } else resolve();
      });
    });
    inFlight = p;
    const clear = () => {
      if (inFlight === p) inFlight = undefined;
    };
    p.then(clear, clear);
    return p;
  };

  return {
    sync() {
      if (closed) return Promise.reject(new StoreClosedError());
      if (!inFlight) return start();
      // The sync under way may have started before this commit: the one after it covers it.
      const after = () => {
        next = undefined;
        return start();
      };
      next ??= inFlight.then(after, after);
      return next;
    },
    async close() {
      closed = true;
      while (inFlight || next) await (next ?? inFlight)?.catch(() => {});
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
    get syncs() {
      return syncs;
    },
  };
}
