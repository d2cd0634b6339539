/**
 * The ledger commands' side of a hub's HTTP API (docs/ledger.md): which hub and which identity a
 * command uses, typed requests, and the hub's answers validated before anything reads them.
 */
import { existsSync } from 'node:fs';
import { FmpError } from '@fmp/core';
import { z } from 'zod';
import { httpBase, hubHttpBase, loadConfig, NodeConfigSchema, resolvePath } from '../../config.js';
import { UsageError } from '../../errors.js';
import { type LoadedKey, readKeyFile } from '../../keyfile.js';

/** The hub refused or failed a request; `code` is the hub's own (`ledger_insufficient_funds`, ...). */
export class LedgerHubError extends FmpError {
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, message);
    this.status = status;
  }
}

/** The hub could not be reached, or answered something that is not what its API promises. */
export class LedgerClientError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ledger_client', message, options);
  }
}

const REQUEST_TIMEOUT_MS = 30_000;
/** Entries the hub serves per request at most. */
export const ENTRIES_PAGE = 1000;

export interface HubOptions {
  hub?: string;
  config?: string;
}

export interface IdentityOptions extends HubOptions {
  keyFile?: string;
  did?: string;
}

export interface Identity {
  readonly did: string;
  readonly key: LoadedKey;
  readonly hub: string;
}

function configOf(opts: HubOptions) {
  const file = opts.config ?? (existsSync('node.yaml') ? 'node.yaml' : undefined);
  return file === undefined ? undefined : loadConfig(file, NodeConfigSchema);
}

/** The hub a read-only command asks: `--hub`, else the home hub of the node in `--config`. */
export function hubOf(opts: HubOptions): string {
  if (opts.hub) return httpBase(opts.hub);
  const config = configOf(opts);
  if (!config) throw new UsageError('name the hub with --hub <url> or a node config with --config <file>');
  return hubHttpBase(config);
}

/** Who signs: `--key-file` (+ `--did`, `--hub`), else the node in `--config` (default ./node.yaml). */
export function identityOf(opts: IdentityOptions): Identity {
  if (opts.keyFile) {
    const key = readKeyFile(opts.keyFile);
    const config = opts.hub ? undefined : configOf(opts);
    if (!opts.hub && !config) throw new UsageError('name the hub with --hub <url> (or --config <node.yaml>)');
    return { did: opts.did ?? key.did, key, hub: opts.hub ? httpBase(opts.hub) : hubHttpBase(config!) };
  }
  const config = configOf(opts);
  if (!config) {
    throw new UsageError(
      'name the signer with --config <node.yaml>, or with --key-file <file> [--did <did>] --hub <url>',
    );
  }
  const key = readKeyFile(resolvePath(config.configDir, config.keyFile));
  return { did: opts.did ?? config.did, key, hub: opts.hub ? httpBase(opts.hub) : hubHttpBase(config) };
}

/** A DID for a command that only reads: `--did`, the key file's, or the configured node's. */
export function didOf(opts: IdentityOptions): string | undefined {
  if (opts.did) return opts.did;
  if (opts.keyFile) return readKeyFile(opts.keyFile).did;
  return configOf(opts)?.did;
}

// ---------------------------------------------------------------------------------------------
// What the hub answers (packages/hub/src/http.ts).

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const amount = z.string().regex(/^-?\d+(\.\d+)?$/, 'a MESH amount');

export const AccountSchema = z.looseObject({
  did: z.string(),
  balance: amount,
  bonded: amount,
  unbonding: z.array(z.object({ amount, releaseAt: z.number() })),
  tier: z.string(),
  nextSeq: z.number().int().min(0),
  coreMaintainer: z.boolean().optional(),
  auditor: z.boolean().optional(),
});
export type Account = z.infer<typeof AccountSchema>;

export const SubmittedSchema = z.looseObject({
  index: z.number().int().min(0),
  time: z.number(),
  created: z.string().optional(),
});

export const EntriesPageSchema = z.object({
  size: z.number().int().min(0),
  entries: z
    .array(z.looseObject({ index: z.number().int().min(0), leaf: b64, time: z.number() }))
    .max(ENTRIES_PAGE),
});

export const ProofSchema = z.looseObject({ hashes: z.array(b64).max(128) });

export const StateSchema = z.looseObject({
  origin: z.string(),
  size: z.number().int().min(0),
  rootHash: b64,
  stateRoot: z.string(),
  time: z.number(),
  treasury: amount.optional(),
  params: z.looseObject({ maxHops: z.number().int() }).optional(),
});

export const ProposalSchema = z.looseObject({
  id: z.string(),
  kind: z.string(),
  title: z.string(),
  proposer: z.string(),
  status: z.string(),
  createdAt: z.number(),
  reviewStart: z.number(),
  voteStart: z.number(),
  voteEnd: z.number(),
  effectiveAt: z.number(),
  ballots: z.number().int().min(0),
  for: amount,
  against: amount,
  abstain: amount,
  eligible: amount.optional(),
  quorumReached: z.boolean().nullable(),
  reason: z.string().optional(),
});
export type ProposalView = z.infer<typeof ProposalSchema>;

export const DisputeSchema = z.looseObject({
  id: z.string(),
  claimant: z.string(),
  respondent: z.string(),
  claim: z.string(),
  evidence: z.array(z.string()),
  requestedBps: z.number(),
  openedAt: z.number(),
  deadline: z.number(),
  arbitrators: z.array(z.string()),
  rulings: z.record(z.string(), z.object({ decision: z.string(), slashBps: z.number() })),
  status: z.string(),
  slashed: amount,
});

const ResolutionSchema = z.looseObject({
  didDocument: z
    .looseObject({
      verificationMethod: z
        .array(z.looseObject({ id: z.string(), publicKeyMultibase: z.string().max(128).optional() }))
        .max(64)
        .optional(),
    })
    .nullable()
    .optional(),
});

const ErrorBodySchema = z.object({
  error: z.object({ code: z.string().max(200), message: z.string().max(4000) }),
});

export class LedgerClient {
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }

  async #request(path: string, init?: { method: 'POST'; body: unknown; token?: string }): Promise<Response> {
    const url = `${this.base}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: init?.method ?? 'GET',
        ...(init
          ? {
              headers: {
                'content-type': 'application/json',
                ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
              },
              body: JSON.stringify(init.body),
            }
          : {}),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (cause) {
      throw new LedgerClientError(`cannot reach ${url}: ${(cause as Error).message}`, { cause });
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let parsed: z.infer<typeof ErrorBodySchema> | undefined;
      try {
        parsed = ErrorBodySchema.parse(JSON.parse(text));
      } catch {
        parsed = undefined;
      }
      throw new LedgerHubError(
        res.status,
        parsed?.error.code ?? `http_${res.status}`,
        parsed?.error.message ?? `${init?.method ?? 'GET'} ${path} answered ${res.status}`,
      );
    }
    return res;
  }

  async #json<T>(
    schema: z.ZodType<T>,
    path: string,
    init?: { method: 'POST'; body: unknown; token?: string },
  ): Promise<T> {
    const res = await this.#request(path, init);
    let body: unknown;
    try {
      body = await res.json();
    } catch (cause) {
      throw new LedgerClientError(`${path}: the hub did not answer JSON`, { cause });
    }
    const r = schema.safeParse(body);
    if (!r.success) {
      const first = r.error.issues[0];
      throw new LedgerClientError(
        `${path}: unexpected answer${first ? ` (${first.path.join('.')}: ${first.message})` : ''}`,
      );
    }
    return r.data;
  }

  async checkpoint(): Promise<string> {
    return (await this.#request('/v1/ledger/checkpoint')).text();
  }
  entries(start: number, end: number) {
    return this.#json(EntriesPageSchema, `/v1/ledger/entries?start=${start}&end=${end}`);
  }
  inclusionProof(index: number, size: number) {
    return this.#json(ProofSchema, `/v1/ledger/proof/inclusion?index=${index}&size=${size}`);
  }
  state() {
    return this.#json(StateSchema, '/v1/ledger/state');
  }
  account(did: string) {
    return this.#json(AccountSchema, `/v1/ledger/accounts/${encodeURIComponent(did)}`);
  }
  proposals() {
    return this.#json(z.object({ proposals: z.array(ProposalSchema) }), '/v1/ledger/proposals');
  }
  proposal(id: string) {
    return this.#json(ProposalSchema, `/v1/ledger/proposals/${encodeURIComponent(id)}`);
  }
  dispute(id: string) {
    return this.#json(DisputeSchema, `/v1/ledger/disputes/${encodeURIComponent(id)}`);
  }
  resolve(did: string) {
    return this.#json(ResolutionSchema, `/1.0/identifiers/${encodeURIComponent(did)}`);
  }
  submit(entry: unknown) {
    return this.#json(SubmittedSchema, '/v1/ledger/entries', { method: 'POST', body: entry });
  }
  /** Manual ledger clock only (tests, demos): admin token. */
  advanceClock(advanceMs: number, adminToken: string) {
    return this.#json(z.looseObject({ time: z.number(), size: z.number() }), '/v1/admin/ledger/clock', {
      method: 'POST',
      body: { advanceMs },
      token: adminToken,
    });
  }
}
