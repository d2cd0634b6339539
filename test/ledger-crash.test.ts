/**
 * A ledger writer killed mid-stream (SIGKILL) loses no acknowledged entry: a TransparencyLog over
 * a SQLite store in its own process (test/fixtures/ledger-writer.ts) prints each index once its
 * append resolved; after the kill, every printed index is in the reopened store with its exact
 * bytes, and the log rebuilds its tree from what is stored.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { leafHash, MerkleTree, TransparencyLog, verifyInclusion } from '@fmp/ledger';
import { sqliteStore } from '@fmp/store';
import { afterAll, describe, expect, it } from 'vitest';
import { CRASH_LOG_ORIGIN, crashLogEntry, crashLogKeyPair } from './fixtures/ledger-entries.js';

const WRITER = join(process.cwd(), 'test/fixtures/ledger-writer.ts');
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('ledger on SQLite, writer killed mid-stream', () => {
  it('keeps every acknowledged entry byte for byte, and the tree rebuilds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fmp-ledger-crash-'));
    dirs.push(dir);
    const path = join(dir, 'hub.db');
    // node --import tsx: the child is the script itself (the tsx CLI would add a wrapper process).
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const acked = new Map<number, number>();
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [word, index, i] = line.split(' ');
      if (word !== 'ack') return;
      acked.set(Number(index), Number(i));
      // Killed while it keeps appending: with 256 in flight a batch is being written.
      if (acked.size === 5000) child.kill('SIGKILL');
    });
    const signal = await exited;
    expect(signal, `the writer exited by itself: ${stderr}`).toBe('SIGKILL');
    expect(acked.size).toBeGreaterThanOrEqual(5000);

    const store = sqliteStore({ path });
    await store.open();
    try {
      const storage = store.ledgerLogs.open(CRASH_LOG_ORIGIN);
      const size = await storage.size();
      const highest = Math.max(...acked.keys());
      expect(size).toBeGreaterThan(highest);
      // Entries were appended in order, so entry i is at index i: every acknowledged one, and
      // every stored one (acknowledged or caught by the kill after its commit), exactly.
      for (const [index, i] of acked) expect(index).toBe(i);
      const tree = new MerkleTree();
      for (let start = 0; start < size; start += 10_000) {
        const leaves = await storage.leafRange(start, Math.min(size, start + 10_000));
        leaves.forEach((leaf, k) => {
          const expected = crashLogEntry(start + k);
          if (!Buffer.from(leaf).equals(Buffer.from(expected))) {
            expect.fail(`leaf ${start + k} differs from what was appended`);
          }
          tree.appendEntry(leaf);
        });
      }

      const log = await TransparencyLog.open({
        origin: CRASH_LOG_ORIGIN,
        keyPair: crashLogKeyPair(),
        storage,
      });
      expect(log.size).toBe(size);
      expect(log.rootHash()).toEqual(tree.rootHash());
      const root = log.rootHash();
      for (const index of [0, Math.floor(highest / 2), highest]) {
        const proof = log.inclusionProof(index);
        expect(verifyInclusion(leafHash(crashLogEntry(index)), index, size, proof, root)).toBe(true);
      }
      expect(await log.append(crashLogEntry(size))).toBe(size);
    } finally {
      await store.close();
    }
  }, 60_000);
});
