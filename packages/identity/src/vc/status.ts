/**
 * Revocation and suspension with Bitstring Status List v1.0: a registry that allocates indexes in
 * a signed BitstringStatusListCredential and re-signs it on every change, and the verifier-side
 * check. The check reads the bit itself: `@digitalbazaar/vc-bitstring-status-list` reports the bit
 * but leaves `verified: true`, so relying on it would accept revoked credentials.
 */
import { gunzipSync } from 'node:zlib';
import { BitstringStatusList, createList } from '@digitalbazaar/vc-bitstring-status-list';
import { base64urlDecode, randomBytes } from '@fmp/core';
import { STATUS_LIST_V1_CONTEXT_URL } from './contexts.js';
import { StatusIndexError, StatusListFullError, type VerificationIssue } from './errors.js';
import {
  type CredentialStatusInput,
  type DataModel,
  issueCredential,
  type VerifiableCredential,
} from './issue.js';
import {
  MAX_STATUS_LIST_BYTES,
  type StatusEntry,
  type StatusPurpose,
  statusListSubjectSchema,
} from './schema.js';
import type { CredentialSigner, ProofSuiteName } from './suites.js';

/** Returns the status list credential at a URL (JSON), or null if there is none. Injected: no fetch here. */
export type StatusListLoader = (url: string) => Promise<unknown>;

/** The spec's minimum list size (131,072 entries, 16 KB) gives holders herd privacy. */
export const DEFAULT_STATUS_LIST_LENGTH = 131_072;
const MAX_STATUS_LIST_LENGTH = MAX_STATUS_LIST_BYTES * 8;

export interface StatusListRegistryOptions {
  /** The URL the list credential is published at; it is also its `id`. */
  readonly id: string;
  readonly signer: CredentialSigner;
  /** Number of entries, a multiple of 8. Default 131,072. */
  readonly length?: number;
  readonly statusPurpose?: StatusPurpose;
  readonly suite?: ProofSuiteName;
  /** Default '2.0' (Bitstring Status List is a VC 2.0 specification). */
  readonly dataModel?: DataModel;
  /** Clock for the list's validFrom and proof created time. */
  readonly now?: () => Date;
}

/**
 * One status list owned by an issuer, in memory. Indexes are handed out at random positions (so
 * an index says nothing about issuance order) and never reused.
 */
export class StatusListRegistry {
  readonly id: string;
  readonly length: number;
  readonly statusPurpose: StatusPurpose;
  #options: StatusListRegistryOptions;
  #list: BitstringStatusList;
  #allocated: Uint8Array;
  #allocatedCount = 0;
  #credential: VerifiableCredential;
  #version = 0;
  #listeners = new Set<(url: string) => void>();
  /** Re-signing is serialized so concurrent revocations publish in order. */
  #signing: Promise<unknown> = Promise.resolve();

  private constructor(
    options: StatusListRegistryOptions,
    list: BitstringStatusList,
    credential: VerifiableCredential,
  ) {
    this.id = options.id;
    this.length = list.length;
    this.statusPurpose = options.statusPurpose ?? 'revocation';
    this.#options = options;
    this.#list = list;
    this.#allocated = new Uint8Array(Math.ceil(list.length / 8));
    this.#credential = credential;
  }

  static async create(options: StatusListRegistryOptions): Promise<StatusListRegistry> {
    const length = options.length ?? DEFAULT_STATUS_LIST_LENGTH;
    if (!Number.isInteger(length) || length < 8 || length % 8 !== 0 || length > MAX_STATUS_LIST_LENGTH) {
      throw new StatusIndexError(
        length,
        `status list length must be a multiple of 8 in [8, ${MAX_STATUS_LIST_LENGTH}]`,
      );
    }
    const list = await createList({ length });
    const credential = await signList(options, list);
    return new StatusListRegistry(options, list, credential);
  }

  /** The current signed BitstringStatusListCredential: publish it at `id`. */
  get credential(): VerifiableCredential {
    return this.#credential;
  }

  /** Bumped on every change of the list. */
  get version(): number {
    return this.#version;
  }

  get available(): number {
    return this.length - this.#allocatedCount;
  }

  /** Reserves a fresh index and returns the entry to pass as `issueCredential({ status })`. */
  allocate(): CredentialStatusInput {
    if (this.#allocatedCount >= this.length) throw new StatusListFullError(this.id);
    const r = randomBytes(4);
    const start = ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0;
    // Linear probe from a random start: bounded by `length` steps, and there is a free slot.
    for (let step = 0; step < this.length; step++) {
      const index = (start + step) % this.length;
      const byte = index >> 3;
      const bit = 1 << (index & 7);
      if ((this.#allocated[byte]! & bit) === 0) {
        this.#allocated[byte] = (this.#allocated[byte] ?? 0) | bit;
        this.#allocatedCount++;
        return { statusListCredential: this.id, statusListIndex: index, statusPurpose: this.statusPurpose };
      }
    }
    throw new StatusListFullError(this.id);
  }

  isSet(index: number): boolean {
    this.#checkIndex(index);
    return this.#list.getStatus(index);
  }

  /** Sets the bit (revoked or suspended) and re-signs the list. */
  revoke(index: number): Promise<VerifiableCredential> {
    return this.setStatus(index, true);
  }

  /** Clears the bit and re-signs the list. */
  unrevoke(index: number): Promise<VerifiableCredential> {
    return this.setStatus(index, false);
  }

  setStatus(index: number, value: boolean): Promise<VerifiableCredential> {
    this.#checkIndex(index);
    const byte = index >> 3;
    if ((this.#allocated[byte]! & (1 << (index & 7))) === 0) {
      throw new StatusIndexError(index, `index ${index} was never allocated from ${this.id}`);
    }
    const run = this.#signing.then(async () => {
      this.#list.setStatus(index, value);
      this.#credential = await signList(this.#options, this.#list);
      this.#version++;
      for (const listener of this.#listeners) listener(this.id);
      return this.#credential;
    });
    // Keep the chain alive after a failed signing; the caller still sees the failure.
    this.#signing = run.catch(() => undefined);
    return run;
  }

  /** Called after each change with the list URL (a VerificationCache uses it to drop entries). */
  onChange(listener: (statusListCredential: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A StatusListLoader serving this list (for a verifier in the same process, and tests). */
  readonly loader: StatusListLoader = async (url) => (url === this.id ? this.#credential : null);

  #checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new StatusIndexError(index, `index ${index} is outside the list [0, ${this.length})`);
    }
  }
}

async function signList(
  options: StatusListRegistryOptions,
  list: BitstringStatusList,
): Promise<VerifiableCredential> {
  const now = options.now?.() ?? new Date();
  return issueCredential({
    signer: options.signer,
    id: options.id,
    types: ['BitstringStatusListCredential'],
    // VC 2.0's context includes the status list terms; 1.1 needs their own context.
    contexts: options.dataModel === '1.1' ? [STATUS_LIST_V1_CONTEXT_URL] : [],
    dataModel: options.dataModel ?? '2.0',
    suite: options.suite ?? 'Ed25519Signature2020',
    now,
    subject: {
      id: `${options.id}#list`,
      type: 'BitstringStatusList',
      statusPurpose: options.statusPurpose ?? 'revocation',
      encodedList: await list.encode(),
    },
  });
}

/** What the status check needs from the caller: the loader and a verifier for the list credential. */
export interface StatusCheckContext {
  readonly issuer: string;
  readonly statusListLoader?: StatusListLoader | undefined;
  /** Verifies a list credential (proof, dates, issuer), without its own status. */
  readonly verifyList: (
    credential: unknown,
  ) => Promise<{ verified: boolean; errors: readonly VerificationIssue[] }>;
}

function fail(message: string): VerificationIssue {
  return { code: 'status_check_failed', message };
}

/** Inflates an encodedList with a hard output bound, so a small gzip bomb cannot exhaust memory. */
function decodeBits(encodedList: string): Uint8Array {
  const compressed = base64urlDecode(encodedList.slice(1));
  return new Uint8Array(gunzipSync(compressed, { maxOutputLength: MAX_STATUS_LIST_BYTES }));
}

/** Checks every status entry; returns the issues found (empty when none is set). Never throws. */
export async function checkCredentialStatus(
  entries: readonly StatusEntry[],
  ctx: StatusCheckContext,
): Promise<VerificationIssue[]> {
  const issues: VerificationIssue[] = [];
  for (const entry of entries) {
    const url = entry.statusListCredential;
    if (!ctx.statusListLoader) {
      issues.push(fail(`credential has a status entry (${url}) but no statusListLoader was given`));
      continue;
    }
    let listCredential: unknown;
    try {
      listCredential = await ctx.statusListLoader(url);
    } catch (cause) {
      issues.push(
        fail(`loading status list ${url} failed: ${cause instanceof Error ? cause.message : String(cause)}`),
      );
      continue;
    }
    if (listCredential === null || listCredential === undefined) {
      issues.push(fail(`status list ${url} not found`));
      continue;
    }
    const checked = await ctx.verifyList(listCredential);
    if (!checked.verified) {
      const why = checked.errors.map((e) => `${e.code}: ${e.message}`).join('; ');
      issues.push(fail(`status list ${url} did not verify (${why})`));
      continue;
    }
    const list = listCredential as { id?: unknown; type?: unknown; credentialSubject?: unknown };
    if (list.id !== url) {
      issues.push(fail(`status list credential id ${String(list.id)} is not ${url}`));
      continue;
    }
    if (!Array.isArray(list.type) || !list.type.includes('BitstringStatusListCredential')) {
      issues.push(fail(`${url} is not a BitstringStatusListCredential`));
      continue;
    }
    const subject = statusListSubjectSchema.safeParse(list.credentialSubject);
    if (!subject.success) {
      issues.push(fail(`${url} has no valid BitstringStatusList subject`));
      continue;
    }
    const purposes = [subject.data.statusPurpose].flat();
    if (!purposes.includes(entry.statusPurpose)) {
      issues.push(fail(`${url} is a ${purposes.join('/')} list, the entry asks for ${entry.statusPurpose}`));
      continue;
    }
    let bits: Uint8Array;
    try {
      bits = decodeBits(subject.data.encodedList);
    } catch {
      issues.push(
        fail(`${url} encodedList does not decode (or inflates past ${MAX_STATUS_LIST_BYTES} bytes)`),
      );
      continue;
    }
    const index = Number(entry.statusListIndex);
    if (index >= bits.length * 8) {
      issues.push(fail(`index ${index} is outside status list ${url} (${bits.length * 8} entries)`));
      continue;
    }
    const set = new BitstringStatusList({ buffer: bits }).getStatus(index);
    if (set) {
      issues.push(
        entry.statusPurpose === 'revocation'
          ? { code: 'revoked', message: `revoked by status list ${url} (index ${index})` }
          : { code: 'suspended', message: `suspended by status list ${url} (index ${index})` },
      );
    }
  }
  return issues;
}
