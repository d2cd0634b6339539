/**
 * A hub's part in the mesh ledger (docs/ledger.md): the sequencer hub runs the ledger (it orders,
 * stamps and logs the signed entries); every other hub mirrors it, witnesses its checkpoints, serves
 * reads from its replica and forwards submissions. Either way the hub feeds the ledger the did:mesh
 * operations its registry accepts, and applies governance parameters as they take effect.
 */

import type { Ed25519KeyPair } from '@fmp/core';
import { constantTimeEqual, decodeMultikey, FmpError, ValidationError } from '@fmp/core';
import type { MeshRegistry } from '@fmp/identity';
import {
  type Applied,
  cosignatureVerifier,
  formatNote,
  type GenesisConfig,
  Ledger,
  LedgerMirrorError,
  LedgerReplica,
  type LedgerSource,
  type LedgerState,
  type LogStorage,
  type NoteSignature,
  type Params,
  parseNote,
  type Submitted,
  signEntry,
  verifyCheckpoint,
  verifyNote,
} from '@fmp/ledger';
import type { HubLogger } from './hub.js';

export interface HubLedgerOptions {
  /** `sequencer` (default): this hub runs the ledger. `mirror`: it follows `sequencer`. */
  readonly role?: 'sequencer' | 'mirror';
  /** The sequencer's genesis (written when its log is empty). */
  readonly genesis?: GenesisConfig;
  /** For a mirror: the sequencer hub's HTTP base URL and DID (its key comes from the registry or `publicKey`). */
  readonly sequencer?: { readonly url: string; readonly did: string; readonly publicKey?: string };
  /** Where the leaves live (default: memory). */
  readonly storage?: LogStorage;
  /** A mirror's poll period (default 2 s); a sequencer's deadline check period (default 1 s). */
  readonly syncMs?: number;
  /**
   * `manual`: the ledger clock runs at wall-clock speed plus an offset an admin advances
   * (`POST /v1/admin/ledger/clock`), so tests and the demo can take a proposal through weeks of
   * stages. Sequencer only. Default `system`.
   */
  readonly clock?: 'system' | 'manual';
  /** How often the hub reports its staked meshes' availability (default 24 h; 0: never). */
  readonly uptimeReportMs?: number;
  /** Meshes need the entry stake bonded on the ledger to open a session (spec 5.3; default false). */
  readonly requireEntryStake?: boolean;
}

export class LedgerRoleError extends FmpError {
  constructor(message: string) {
    super('ledger_role', message);
  }
}

export class LedgerForwardError extends FmpError {
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, message);
    this.status = status;
  }
}

interface Context {
  /** A DID's current Ed25519 key, for witness cosignatures (undefined when unknown). */
  readonly resolveKey: (did: string) => Promise<Uint8Array | undefined>;
  readonly did: string;
  readonly keyPair: Ed25519KeyPair;
  readonly now: () => number;
  readonly registry: MeshRegistry;
  readonly log: HubLogger;
  readonly fetch?: typeof fetch;
}

/** The key name a hub witnesses under. */
export const WITNESS_PREFIX = 'fmp.witness/';
/** Witnesses whose cosignatures a sequencer keeps. */
export const MAX_WITNESSES = 64;

export function ledgerOrigin(hubDid: string): string {
  return `fmp.ledger/${hubDid}`;
}

export class HubLedger {
  readonly role: 'sequencer' | 'mirror';
  readonly origin: string;
  readonly #ledger: Ledger | undefined;
  readonly #replica: LedgerReplica | undefined;
  readonly #ctx: Context;
  readonly #options: HubLedgerOptions;
  readonly #paramListeners = new Set<(p: Params) => void>();
  #clock = { offsetMs: 0 };
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #lastError: string | undefined;
  /** Witness cosignatures of this sequencer's checkpoints, by witness DID (the latest each). */
  readonly #cosignatures = new Map<string, { size: number; signature: NoteSignature }>();
  #lastPushed = -1;

  private constructor(ctx: Context, options: HubLedgerOptions, ledger?: Ledger, replica?: LedgerReplica) {
    this.#ctx = ctx;
    this.#options = options;
    this.role = options.role ?? 'sequencer';
    this.origin = ledger?.log.origin ?? replica!.origin;
    this.#ledger = ledger;
    this.#replica = replica;
  }

  static async open(ctx: Context, options: HubLedgerOptions = {}): Promise<HubLedger> {
    const role = options.role ?? 'sequencer';
    if (role === 'mirror') {
      const seq = options.sequencer;
      if (!seq) throw new ValidationError('a ledger mirror needs ledger.sequencer (url and did)');
      const key = options.sequencer?.publicKey
        ? decodeMultikey(options.sequencer.publicKey).key
        : sequencerKey(ctx.registry, seq.did);
      const replica = await LedgerReplica.open({
        origin: ledgerOrigin(seq.did),
        operatorKey: key,
        ...(options.storage ? { storage: options.storage } : {}),
        witness: { name: `${WITNESS_PREFIX}${ctx.did}`, keyPair: ctx.keyPair, now: ctx.now },
      });
      const hl = new HubLedger(ctx, options, undefined, replica);
      replica.onApplied((a) => hl.#applied(a));
      // Parameters already in the replica's history apply from the start.
      hl.#emitParams(replica.state.params);
      hl.#startSync();
      // Operations this hub's registry accepts reach the ledger from here too (not only by gossip
      // between hubs), once the replica has caught up and can tell which ones are new.
      hl.#unsubscribe = ctx.registry.onAppend((did) => {
        const op = ctx.registry.history(did).at(-1);
        if (op) void hl.#submitOperation(op as unknown as Record<string, unknown>);
      });
      return hl;
    }
    if (options.clock === 'manual') ctx.log.warn({}, 'ledger clock is manual (tests and demos only)');
    const clock = { offsetMs: 0 };
    const ledger = await Ledger.open({
      origin: ledgerOrigin(ctx.did),
      operator: { did: ctx.did, keyPair: ctx.keyPair },
      ...(options.storage ? { storage: options.storage } : {}),
      ...(options.genesis ? { genesis: options.genesis } : {}),
      now: () => ctx.now() + clock.offsetMs,
    });
    const hl = new HubLedger(ctx, options, ledger);
    hl.#clock = clock;
    ledger.onApplied((a) => hl.#applied(a));
    hl.#emitParams(ledger.state.params);
    // The registry's operations join the ledger: what is already there is skipped.
    for (const op of ctx.registry.exportLog())
      await hl.#submitOperation(op as unknown as Record<string, unknown>);
    hl.#unsubscribe = ctx.registry.onAppend((did) => {
      const op = ctx.registry.history(did).at(-1);
      if (op) void hl.#submitOperation(op as unknown as Record<string, unknown>);
    });
    hl.#timer = setInterval(() => {
      ledger.tickIfDue().catch((err: unknown) => ctx.log.error({ err: String(err) }, 'ledger tick failed'));
    }, options.syncMs ?? 1000);
    hl.#timer.unref();
    return hl;
  }

  get state(): LedgerState {
    return (this.#ledger?.state ?? this.#replica?.state)!;
  }
  get size(): number {
    return this.#ledger ? this.#ledger.log.size : this.#replica!.size;
  }
  /** The sequencer's latest signed checkpoint (a mirror's carries its witness cosignature). */
  checkpoint(): string {
    if (this.#ledger) {
      const note = this.#ledger.log.checkpoint();
      const size = this.#ledger.log.size;
      const extra = [...this.#cosignatures.values()].filter((c) => c.size === size).map((c) => c.signature);
      if (extra.length === 0) return note;
      const parsed = parseNote(note);
      return formatNote({ text: parsed.text, signatures: [...parsed.signatures, ...extra] });
    }
    const cp = this.#replica!.checkpoint;
    if (!cp) throw new LedgerRoleError(`this mirror has not verified a checkpoint of ${this.origin} yet`);
    return cp;
  }
  entries(start: number, end: number): Promise<Uint8Array[]> {
    return this.#ledger ? this.#ledger.log.entries(start, end) : this.#replica!.entries(start, end);
  }
  inclusionProof(index: number, size: number): Uint8Array[] {
    return this.#ledger
      ? this.#ledger.log.inclusionProof(index, size)
      : this.#replica!.inclusionProof(index, size);
  }
  consistencyProof(from: number, to: number): Uint8Array[] {
    return this.#ledger
      ? this.#ledger.log.consistencyProof(from, to)
      : this.#replica!.consistencyProof(from, to);
  }
  rootHash(): Uint8Array {
    return this.#ledger ? this.#ledger.log.rootHash() : this.#replica!.rootHash();
  }
  /** The last mirror failure (the sequencer unreachable, or caught equivocating). */
  get lastError(): string | undefined {
    return this.#lastError;
  }
  get evidence() {
    return this.#replica?.evidence;
  }
  /** Where submissions go (a mirror forwards them there). */
  get sequencerUrl(): string | undefined {
    return this.#options.sequencer?.url;
  }

  onParams(listener: (p: Params) => void): () => void {
    this.#paramListeners.add(listener);
    return () => this.#paramListeners.delete(listener);
  }

  /**
   * A witness's cosigned checkpoint of this sequencer's log (`POST /v1/ledger/cosignatures`): the
   * checkpoint must be one this log signed and still agrees with, each `fmp.witness/<did>` line must
   * verify with that DID's key; the latest per witness is served with the checkpoint of its size.
   */
  async addCosignatures(note: string): Promise<{ witnesses: string[]; size: number }> {
    if (!this.#ledger) throw new LedgerRoleError('cosignatures go to the sequencer hub');
    const log = this.#ledger.log;
    const { checkpoint } = verifyCheckpoint(note, log.verifier);
    if (
      checkpoint.size > log.size ||
      !constantTimeEqual(checkpoint.rootHash, log.rootHash(checkpoint.size))
    ) {
      throw new ValidationError('the checkpoint does not match this log');
    }
    const witnesses: string[] = [];
    for (const sig of parseNote(note).signatures) {
      if (!sig.name.startsWith(WITNESS_PREFIX)) continue;
      const did = sig.name.slice(WITNESS_PREFIX.length);
      const key = await this.#ctx.resolveKey(did);
      if (!key) throw new ValidationError(`unknown witness ${did}`);
      verifyNote(note, [cosignatureVerifier(sig.name, key)]);
      const known = this.#cosignatures.get(did);
      if (known && known.size > checkpoint.size) continue;
      if (!known && this.#cosignatures.size >= MAX_WITNESSES) {
        throw new ValidationError(`this ledger keeps the cosignatures of at most ${MAX_WITNESSES} witnesses`);
      }
      this.#cosignatures.set(did, { size: checkpoint.size, signature: sig });
      witnesses.push(did);
    }
    if (witnesses.length === 0) throw new ValidationError('the note carries no witness cosignature');
    return { witnesses, size: checkpoint.size };
  }

  /** Submits a signed entry: appended here by a sequencer, forwarded by a mirror. */
  async submit(input: unknown): Promise<Submitted> {
    if (this.#ledger) return this.#ledger.submit(input);
    const res = await this.#fetch()(new URL('/v1/ledger/entries', this.#options.sequencer!.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
      signal: AbortSignal.timeout(10_000),
    }).catch((err: unknown) => {
      throw new LedgerForwardError(
        502,
        'ledger_sequencer_unreachable',
        `the ledger's sequencer at ${this.#options.sequencer!.url} did not answer: ${(err as Error).message}`,
      );
    });
    const body = (await res.json().catch(() => ({}))) as {
      error?: { code?: string; message?: string };
    } & Partial<Submitted>;
    if (!res.ok) {
      throw new LedgerForwardError(
        res.status,
        body.error?.code ?? 'ledger_forward_failed',
        body.error?.message ?? `the sequencer answered ${res.status}`,
      );
    }
    // Read-your-writes: the mirror catches up before answering.
    await this.syncNow().catch(() => undefined);
    return body as Submitted;
  }

  /**
   * Signs and submits this hub's uptime reports (the ledger pays 1% APY on the subject's stake for
   * availability above the threshold, from the treasury). Returns how many the ledger took.
   */
  async reportUptime(
    reports: readonly { subject: string; from: number; to: number; availabilityPpm: number }[],
  ): Promise<number> {
    let accepted = 0;
    for (const r of reports) {
      await this.syncNow().catch(() => undefined);
      const seq = this.state.account(this.#ctx.did).nextSeq;
      const entry = signEntry(
        { type: 'uptime.report', actor: this.#ctx.did, seq, body: r },
        this.#ctx.keyPair,
      );
      try {
        await this.submit(entry);
        accepted++;
      } catch (err) {
        this.#ctx.log.warn(
          { subject: r.subject, err: String((err as Error).message ?? err) },
          'uptime report refused',
        );
      }
    }
    return accepted;
  }

  /** Manual clock only: moves the ledger clock forward and lets what fell due take effect. */
  async advanceClock(ms: number): Promise<{ time: number; size: number }> {
    if (!this.#ledger) throw new LedgerRoleError('only the sequencer hub has a ledger clock');
    if (this.#options.clock !== 'manual') {
      throw new LedgerRoleError(
        'the ledger clock is the system clock (set ledger.clock: manual to advance it)',
      );
    }
    if (!Number.isSafeInteger(ms) || ms < 0 || ms > 400 * 86_400_000) {
      throw new ValidationError('advanceMs must be an integer between 0 and 400 days');
    }
    this.#clock.offsetMs += ms;
    const r = await this.#ledger.tick();
    return { time: r.time, size: this.size };
  }

  /** A mirror: catch up with the sequencer now. */
  async syncNow(): Promise<number> {
    if (!this.#replica) return this.size;
    const size = await this.#replica.sync(this.#source());
    await this.#pushCosignature(size);
    return size;
  }

  /** Hands this mirror's cosignature to the sequencer, which serves it with its checkpoint. */
  async #pushCosignature(size: number): Promise<void> {
    const note = this.#replica?.checkpoint;
    if (!note || size === this.#lastPushed) return;
    const res = await this.#fetch()(new URL('/v1/ledger/cosignatures', this.#options.sequencer!.url), {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: note,
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    if (res?.ok) this.#lastPushed = size;
    else await res?.body?.cancel();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    await this.#ledger?.flush();
  }

  #applied(a: Applied): void {
    if (a.params) this.#emitParams(a.params);
  }

  #emitParams(p: Params): void {
    for (const l of this.#paramListeners) {
      try {
        l(p);
      } catch (err) {
        this.#ctx.log.error({ err: String(err) }, 'applying ledger parameters failed');
      }
    }
  }

  async #submitOperation(op: Record<string, unknown>): Promise<void> {
    const entry = { type: 'did:mesh-operation' as const, op };
    try {
      // Already on the ledger (a restart, or the same operation gossiped twice): skip it.
      this.state.check({ time: Math.max(this.#ctx.now(), this.state.time), entry });
    } catch {
      return;
    }
    await this.submit(entry).catch((err: unknown) => {
      // A mirror may lose the race with the same operation arriving by gossip: that is fine.
      const code = (err as { code?: string }).code;
      if (code !== 'ledger_invalid_did_operation') {
        this.#ctx.log.warn(
          { err: String((err as Error).message ?? err) },
          'did:mesh operation not on the ledger',
        );
      }
    });
  }

  #startSync(): void {
    const run = () => {
      this.syncNow().then(
        () => {
          this.#lastError = undefined;
        },
        (err: unknown) => {
          const message = String((err as Error).message ?? err);
          if (message !== this.#lastError) {
            if (err instanceof LedgerMirrorError)
              this.#ctx.log.error({ err: message }, 'ledger mirror sync failed');
            else this.#ctx.log.warn({ err: message }, 'ledger mirror sync failed');
          }
          this.#lastError = message;
        },
      );
    };
    run();
    this.#timer = setInterval(run, this.#options.syncMs ?? 2000);
    this.#timer.unref();
  }

  #fetch(): typeof fetch {
    return this.#ctx.fetch ?? fetch;
  }

  #source(): LedgerSource {
    const base = this.#options.sequencer!.url;
    const get = async (path: string) => {
      const res = await this.#fetch()(new URL(path, base), { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new LedgerMirrorError(`GET ${path} answered ${res.status}`);
      return res;
    };
    const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
    return {
      checkpoint: async () => (await get('/v1/ledger/checkpoint')).text(),
      leaves: async (start, end) => {
        const body = (await (await get(`/v1/ledger/entries?start=${start}&end=${end}`)).json()) as {
          entries?: { index: number; leaf: string }[];
        };
        const entries = body.entries ?? [];
        entries.forEach((e, i) => {
          if (e.index !== start + i) throw new LedgerMirrorError('the ledger served entries out of order');
        });
        return entries.map((e) => b64(e.leaf));
      },
      consistencyProof: async (from, to) => {
        const body = (await (await get(`/v1/ledger/proof/consistency?from=${from}&to=${to}`)).json()) as {
          hashes?: string[];
        };
        return (body.hashes ?? []).map(b64);
      },
    };
  }
}

function sequencerKey(registry: MeshRegistry, did: string): Uint8Array {
  const state = registry.state(did);
  if (!state) {
    throw new ValidationError(
      `the sequencer ${did} is not in this hub's registry yet; give ledger.sequencer.publicKey or peer with it first`,
    );
  }
  return decodeMultikey(state.signingKey).key;
}
