/**
 * For checkpointer.test.ts: a process whose only work is a store that has started its checkpoint
 * thread, then closes it. It must print "closed" and exit 0, not stop with the close unsettled.
 */
import { CHECKPOINT_AFTER_WRITES } from './checkpointer.js';
import { federationFixture } from './conformance.js';
import { sqliteStore } from './sqlite.js';

const store = sqliteStore({ path: process.argv[2]! });
await store.open();
for (let i = 0; i < CHECKPOINT_AFTER_WRITES; i++) await store.federations.put(federationFixture());
await store.close();
process.stdout.write(`closed ${store.stats().checkpoints}\n`);
