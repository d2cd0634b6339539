/**
 * The did:mesh operation log behind @fmp/identity's MeshOperationStore. Rows keep insertion order;
 * the registry re-verifies everything `load` returns, so this only keeps bytes in order and durable.
 * Errors follow the interface's contract: MeshStoreError (I/O) and MeshLogCorruptError (bad row).
 */
import {
  MeshLogCorruptError,
  type MeshOperation,
  type MeshOperationStore,
  MeshStoreError,
  parseMeshOperation,
} from '@fmp/identity';
import type { Context } from './context.js';

export function meshOperationStore(ctx: Context): MeshOperationStore {
  return {
    async load() {
      let rows: { body: string }[];
      try {
        rows = await ctx.read((db) =>
          db.selectFrom('mesh_operations').select('body').orderBy('id').execute(),
        );
      } catch (cause) {
        throw new MeshStoreError('cannot read the did:mesh operation log', { cause });
      }
      return rows.map((row, i) => {
        try {
          return JSON.parse(row.body) as unknown;
        } catch (cause) {
          throw new MeshLogCorruptError(`stored operation ${i + 1} is not JSON`, i + 1, { cause });
        }
      });
    },

    async append(input: MeshOperation) {
      // The registry validated it already; a direct caller gets the same typed check.
      const op = parseMeshOperation(input);
      try {
        // Resolves after the group commit: durable before the registry applies it.
        await ctx.write(async (db) => {
          await db
            .insertInto('mesh_operations')
            .values({ did: op.did, seq: op.seq, body: JSON.stringify(op) })
            .execute();
        });
      } catch (cause) {
        throw new MeshStoreError(`cannot append ${op.did} seq ${op.seq}`, { cause });
      }
    },

    async close() {
      // The Store owns the connection; closing the registry must not close the other aggregates.
    },
  };
}
