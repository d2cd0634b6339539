/**
 * The ledger a hub runs as its sequencer: signed entries are checked against the state, stamped with
 * the sequencer's clock, applied, and appended to the transparency log; the submitter's promise
 * resolves once the leaf is durable. Reopening replays every stored leaf, so the state is always
 * what the log says (docs/ledger.md).
 */
import { type Ed25519KeyPair, encodeMultikey, FmpError, ValidationError } from '@fmp/core';
import { type LogStorage, TransparencyLog } from '../log.js';
import {
  type EntryBody,
  encodeLeaf,
  type LedgerEntry,
  type LedgerLeaf,
  MAX_LEAF_BYTES,
  parseEntry,
  type SignedEntry,
  type SignedEntryType,
  signEntry,
} from './entries.js';
import { type Applied, LedgerRejectedError, LedgerState } from './state.js';

export type GenesisConfig = Omit<EntryBody<'genesis'>, 'ledger' | 'operatorKey'>;

export interface LedgerOptions {
  /** The log's origin line; also the ledger's name in the genesis. */
  readonly origin: string;
  /** The sequencer: signs checkpoints, the genesis and ticks. */
  readonly operator: { readonly did: string; readonly keyPair: Ed25519KeyPair };
  readonly storage?: LogStorage;
  /** Written as the first entry when the log is empty. */
  readonly genesis?: GenesisConfig;
  /** The sequencer's clock (ms). Default Date.now; tests and the demo inject one. */
  readonly now?: () => number;
}

/** The ledger stopped after a storage failure; reopen it. */
export class LedgerUnavailableError extends FmpError {
  constructor(options?: { cause?: unknown }) {
    super('ledger_unavailable', 'the ledger is unavailable after a storage failure; reopen it', options);
  }
}

export interface Submitted {
  readonly index: number;
  readonly time: number;
  /** The id of what the entry created (a proposal, a dispute, a patch). */
  readonly created?: string;
}

type Listener = (applied: Applied) => void;

export class Ledger {
  readonly log: TransparencyLog;
  readonly state: LedgerState;
  readonly operator: string;
  readonly #keyPair: Ed25519KeyPair;
  readonly #now: () => number;
  readonly #listeners = new Set<Listener>();
  #failed: LedgerUnavailableError | undefined;

  private constructor(log: TransparencyLog, state: LedgerState, options: LedgerOptions) {
    this.log = log;
    this.state = state;
    this.operator = options.operator.did;
    this.#keyPair = options.operator.keyPair;
    this.#now = options.now ?? Date.now;
  }

  static async open(options: LedgerOptions): Promise<Ledger> {
    const log = await TransparencyLog.open({
      origin: options.origin,
      keyPair: options.operator.keyPair,
      maxEntryBytes: MAX_LEAF_BYTES,
      ...(options.storage ? { storage: options.storage } : {}),
    });
    const state = new LedgerState({
      ledger: options.origin,
      operatorKey: options.operator.keyPair.publicKey,
    });
    // Replays the stored leaves: a leaf that no longer applies means the storage was tampered with.
    for (let start = 0; start < log.size; start += 1000) {
      const leaves = await log.entries(start, Math.min(log.size, start + 1000));
      for (const bytes of leaves) state.applyLeaf(bytes);
    }
    const ledger = new Ledger(log, state, options);
    if (log.size === 0) {
      const g = options.genesis ?? {
        treasury: '0',
        accounts: [],
        coreMaintainers: [],
        auditors: [],
        keys: [],
      };
      await ledger.#append(
        signEntry(
          {
            type: 'genesis',
            actor: options.operator.did,
            seq: 0,
            body: {
              ledger: options.origin,
              operatorKey: encodeMultikey('ed25519-pub', options.operator.keyPair.publicKey),
              ...g,
            },
          },
          options.operator.keyPair,
        ),
      );
    }
    return ledger;
  }

  /** Called after each applied leaf (in log order, before it is durable). */
  onApplied(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Submits a signed entry (or a did:mesh operation); resolves once it is durable. */
  submit(input: unknown): Promise<Submitted> {
    let entry: LedgerEntry;
    try {
      entry = parseEntry(input);
    } catch (err) {
      return Promise.reject(err);
    }
    if (entry.type === 'genesis') {
      return Promise.reject(
        new LedgerRejectedError('ledger_duplicate_genesis', 'the ledger has its genesis'),
      );
    }
    return this.#append(entry);
  }

  /** Checks an entry as `submit` would, without appending it. */
  check(input: unknown): void {
    this.state.check({ time: this.#time(), entry: parseEntry(input) });
  }

  /**
   * An operator entry that only moves the ledger clock forward, so deadlines (stage ends,
   * rollouts, rollbacks) take effect without waiting for someone's entry.
   */
  tick(): Promise<Submitted> {
    return this.#append(this.signAsOperator('tick', {}));
  }

  /** Ticks if something fell due (the hub calls this on a timer). */
  async tickIfDue(): Promise<Submitted | undefined> {
    const due = this.state.nextDeadline();
    if (due === undefined || due > this.#time()) return undefined;
    return this.tick();
  }

  signAsOperator<T extends SignedEntryType>(type: T, body: EntryBody<T>): SignedEntry<T> {
    const seq = this.state.account(this.operator).nextSeq;
    return signEntry({ type, actor: this.operator, seq, body }, this.#keyPair);
  }

  #time(): number {
    return Math.max(this.#now(), this.state.time);
  }

  async #append(entry: LedgerEntry): Promise<Submitted> {
    if (this.#failed) throw this.#failed;
    // The entry was checked against its schema by parseEntry (or built by signEntry): what is left
    // to check of the leaf is its size.
    const leaf: LedgerLeaf = { time: this.#time(), entry };
    const bytes = encodeLeaf(leaf);
    if (bytes.length > MAX_LEAF_BYTES) throw new ValidationError(`a leaf is at most ${MAX_LEAF_BYTES} bytes`);
    const applied = this.state.apply(leaf, bytes);
    const pending = this.log.append(bytes);
    for (const l of this.#listeners) {
      try {
        l(applied);
      } catch {
        // A listener's failure is its own; the ledger goes on.
      }
    }
    try {
      const index = await pending;
      if (index !== applied.index)
        throw new Error(`log index ${index} differs from state index ${applied.index}`);
    } catch (cause) {
      // The state holds an entry the log may not: stop until reopened (which replays the log).
      this.#failed ??= new LedgerUnavailableError({ cause });
      throw this.#failed;
    }
    return {
      index: applied.index,
      time: applied.time,
      ...(applied.created ? { created: applied.created } : {}),
    };
  }

  async flush(): Promise<void> {
    await this.log.flush();
  }
}

/**
 * Rebuilds a ledger state from its leaves (what `fmp ledger verify` and mirrors do): every leaf is
 * checked as the sequencer checked it. Throws at the first leaf that does not apply.
 */
export function replayLedger(
  leaves: Iterable<Uint8Array>,
  options: { ledger?: string; operatorKey?: Uint8Array } = {},
): LedgerState {
  const state = new LedgerState(options);
  let i = 0;
  for (const bytes of leaves) {
    try {
      state.applyLeaf(bytes);
    } catch (err) {
      throw new LedgerReplayError(i, err);
    }
    i++;
  }
  return state;
}

/** A leaf of a log does not apply on replay: the log is not a valid ledger. */
export class LedgerReplayError extends FmpError {
  readonly index: number;
  constructor(index: number, cause: unknown) {
    super('ledger_replay_failed', `leaf ${index} does not apply: ${(cause as Error)?.message ?? cause}`, {
      cause,
    });
    this.index = index;
  }
}
