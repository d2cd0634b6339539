/** Options, error output and the sign-and-submit step shared by the ledger commands. */
import { ValidationError } from '@fmp/core';
import { type EntryBody, NoteError, type SignedEntryType, signEntry } from '@fmp/ledger';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { CommandContext } from '../../main.js';
import {
  type IdentityOptions,
  identityOf,
  LedgerClient,
  LedgerClientError,
  LedgerHubError,
} from './client.js';
import { LedgerMismatchError } from './verify.js';

export interface ReadOptions {
  hub?: string;
  config?: string;
  key?: string;
  json?: boolean;
}

export interface SignOptions extends IdentityOptions {
  json?: boolean;
}

/** `--hub` / `--config` for commands that only read. */
export function readOptions(c: Command): Command {
  return c
    .option('--hub <url>', "the hub's URL (http or ws)")
    .option('--config <file>', 'or the config of a node whose home hub to ask (default ./node.yaml)')
    .option('--json', 'print JSON');
}

/** Who signs and where it goes. */
export function signOptions(c: Command): Command {
  return c
    .option('--config <file>', "the signer's node config: did, keyFile, hubUrl (default ./node.yaml)")
    .option('--key-file <file>', 'or a key file (mode 0600) ...')
    .option('--did <did>', "... and the DID it signs for (default: the key file's)")
    .option('--hub <url>', "... and the hub's URL (http or ws)")
    .option('--json', 'print JSON');
}

/**
 * Wraps a command: what the hub refused, or a log that does not check out, is printed as
 * `code: message` with exit status 1; other errors go to main's handler.
 */
export function guarded<A extends unknown[]>(
  ctx: CommandContext,
  run: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (err) {
      if (
        err instanceof LedgerHubError ||
        err instanceof LedgerClientError ||
        err instanceof LedgerMismatchError ||
        err instanceof NoteError
      ) {
        ctx.io.err(`${err.code}: ${err.message}`);
        ctx.exitCode = 1;
        return;
      }
      throw err;
    }
  };
}

export function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

/** Signs the identity's next entry (its `nextSeq` read from the hub), submits it, prints the result. */
export async function submitEntry<T extends SignedEntryType>(
  ctx: CommandContext,
  opts: SignOptions,
  type: T,
  body: EntryBody<T>,
): Promise<{ index: number; time: number; created?: string }> {
  const id = identityOf(opts);
  const client = new LedgerClient(id.hub);
  const { nextSeq } = await client.account(id.did);
  let entry: ReturnType<typeof signEntry<T>>;
  try {
    entry = signEntry({ type, actor: id.did, seq: nextSeq, body }, id.key.keyPair);
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(err.message);
    throw err;
  }
  const res = await client.submit(entry);
  if (opts.json) {
    ctx.io.out(JSON.stringify({ type, actor: id.did, seq: nextSeq, ...res }));
  } else {
    ctx.io.out(
      `${type} accepted: entry ${res.index} at ${iso(res.time)}${res.created ? `, created ${res.created}` : ''}`,
    );
  }
  return res;
}
