/**
 * Where the did:mesh registry keeps its operation log. The registry replays and re-verifies
 * whatever `load` returns, so a store only has to keep bytes in order and durable.
 */
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MeshLogCorruptError, MeshStoreError } from './errors.js';
import type { MeshOperation } from './operations.js';

export interface MeshOperationStore {
  /** Returns every stored operation, oldest first, as raw JSON values (the registry validates). */
  load(): Promise<unknown[]>;
  /** Durably appends one operation (already validated by the registry). */
  append(op: MeshOperation): Promise<void>;
  close(): Promise<void>;
}

/** Keeps the log in memory: for tests, demos and ephemeral hubs. */
export function memoryMeshStore(
  initial: readonly unknown[] = [],
): MeshOperationStore & { readonly ops: readonly unknown[] } {
  const ops: unknown[] = [...initial];
  return {
    ops,
    async load() {
      return structuredClone(ops);
    },
    async append(op) {
      ops.push(structuredClone(op));
    },
    async close() {},
  };
}

export interface JsonlMeshStoreOptions {
  /** The log file; created (with its directory) if missing. */
  readonly path: string;
  /** Refuse to load files larger than this. Default 1 GiB. */
  readonly maxBytes?: number;
}

/**
 * An append-only JSON Lines file, one operation per line. Each append is written and fsync'd
 * before it is acknowledged. A line that does not parse, including a torn last line, is
 * reported as MeshLogCorruptError naming the line: we do not guess which operations to keep.
 */
export function jsonlMeshStore(options: JsonlMeshStoreOptions): MeshOperationStore {
  let handle: FileHandle | undefined;
  const maxBytes = options.maxBytes ?? 1024 ** 3;
  return {
    async load() {
      try {
        await mkdir(dirname(options.path), { recursive: true });
        handle = await open(options.path, 'a+');
        const { size } = await handle.stat();
        if (size > maxBytes)
          throw new MeshLogCorruptError(`${options.path} is larger than ${maxBytes} bytes`);
        const text = size === 0 ? '' : (await handle.readFile()).toString('utf8');
        if (text.length > 0 && !text.endsWith('\n')) {
          throw new MeshLogCorruptError(
            `${options.path}: the last line is incomplete (torn write)`,
            text.split('\n').length,
          );
        }
        const lines = text.length === 0 ? [] : text.slice(0, -1).split('\n');
        return lines.map((line, i) => {
          try {
            return JSON.parse(line) as unknown;
          } catch (cause) {
            throw new MeshLogCorruptError(`${options.path}: line ${i + 1} is not JSON`, i + 1, { cause });
          }
        });
      } catch (cause) {
        await handle?.close().catch(() => {});
        handle = undefined;
        if (cause instanceof MeshLogCorruptError) throw cause;
        throw new MeshStoreError(`cannot read ${options.path}`, { cause });
      }
    },
    async append(op) {
      if (!handle) throw new MeshStoreError(`${options.path} is not open (call load first)`);
      try {
        await handle.appendFile(`${JSON.stringify(op)}\n`);
        await handle.sync();
      } catch (cause) {
        throw new MeshStoreError(`cannot append to ${options.path}`, { cause });
      }
    },
    async close() {
      const h = handle;
      handle = undefined;
      await h?.close();
    },
  };
}
