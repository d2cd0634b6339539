/**
 * Test fixture (store.test.ts): appends audit records to a SQLite store as fast as it can and
 * prints every acknowledged (durable) head as `ack <seq> <hash>` and every written one (committed,
 * not yet synced) as `written <seq> <hash>`, until the test kills it with SIGKILL.
 * Run as `node --import tsx crash-writer.fixture.ts <db path>`.
 */
import { sqliteStore } from '@fmp/store';
import { AuditLog } from './log.js';

const path = process.argv[2];
if (!path) throw new Error('usage: crash-writer.fixture.ts <db path>');
const store = sqliteStore({ path });
await store.open();
const log = await AuditLog.open(store.audit);
let i = 0;
for (let w = 0; ; w++) {
  // Waves of concurrent appends: each wave is group-committed, then acknowledged on stdout. Small
  // waves are written on this thread and synced after; large ones go to the writer thread.
  const size = w % 2 === 0 ? 8 : 500;
  const wave = Array.from({ length: size }, (_, k) =>
    log.append(
      {
        at: 1_750_000_000_000 + i++,
        kind: 'message',
        actor: 'did:mesh:enterprise:acme-001',
        subject: 'did:mesh:academic:mit-001',
        actionId: `crash-${i}`,
      },
      k === size - 1 ? (e) => process.stdout.write(`written ${e.seq} ${e.hash}\n`) : undefined,
    ),
  );
  const entries = await Promise.all(wave);
  const last = entries[entries.length - 1]!;
  process.stdout.write(`ack ${last.seq} ${last.hash}\n`);
}
