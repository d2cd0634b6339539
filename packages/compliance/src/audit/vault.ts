/**
 * Stored payload copies, with retention and crypto-shredding. A node keeps copies only when asked
 * to; the audit log itself never holds payloads (only their hash, which put() returns).
 *
 * Each payload is sealed with ChaCha20-Poly1305 under its owner's key: the data subject's (one
 * random 32-byte key per subject) or, without a subject, a key of its own. erase(subject) deletes
 * the key and the ciphertexts together: any copy of a ciphertext left behind (a backup, a replica)
 * is unreadable from then on. The associated data binds a ciphertext to its action and owner, so
 * ciphertexts cannot be swapped between rows under the same key.
 */
import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  canonicalBytes,
  chacha20poly1305,
  FmpError,
  LIMITS,
  parseRetentionPeriod,
  randomBytes,
  sha256Hex,
  TimestampMsSchema,
  ValidationError,
  zodIssues,
} from '@fmp/core';
import { z } from 'zod';
import { auditIdSchema } from './chain.js';

/**
 * A payload row. `subject` is the key owner: `subject:<dataSubject>` or, for a payload without a
 * data subject, `record:<actionId>` (the prefixes keep the two namespaces apart).
 */
export interface VaultPayloadRow {
  readonly actionId: string;
  readonly subject: string;
  readonly retainUntil: number;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** Where the vault keeps keys and ciphertexts. @fmp/store implements it (`store.vault`). */
export interface VaultStorage {
  /**
   * The key of `subject`, created as `candidate` when it has none (atomically: concurrent callers
   * all get the same key).
   */
  subjectKey(subject: string, candidate: Uint8Array): Promise<Uint8Array>;
  /**
   * Stores a payload, in one transaction with a check that `subject`'s key is still `key` (an
   * erasure or purge may have deleted it since subjectKey). 'key_gone': it is not, nothing was
   * stored; 'duplicate': the actionId is taken, nothing was changed.
   */
  putPayload(row: VaultPayloadRow, key: Uint8Array): Promise<'stored' | 'key_gone' | 'duplicate'>;
  /** The row and its owner's key (undefined once shredded). */
  getPayload(actionId: string): Promise<{ row: VaultPayloadRow; key?: Uint8Array } | undefined>;
  /** Deletes `subject`'s key and payloads in one transaction; returns how many payloads. */
  eraseSubject(subject: string): Promise<number>;
  /**
   * Deletes up to `limit` payloads with retainUntil <= now, and the keys of their owners that are
   * left without payloads, in one transaction; returns how many payloads.
   */
  deleteExpired(now: number, limit: number): Promise<number>;
  count(): Promise<{ keys: number; payloads: number }>;
}

/** Largest payload the vault stores (the wire's ciphertext bound). */
export const MAX_VAULT_PAYLOAD_BYTES = LIMITS.ciphertextLength;

/** The action already has a stored payload. */
export class VaultDuplicateError extends FmpError {
  readonly actionId: string;
  constructor(actionId: string) {
    super('vault_duplicate', `a payload for action ${actionId} is stored already`);
    this.actionId = actionId;
  }
}

/** The owner's key kept disappearing between reading it and storing (erasures racing with put). */
export class VaultBusyError extends FmpError {
  constructor(message: string) {
    super('vault_busy', message);
  }
}

/** When a payload stored at `at` under `period` (`90-days`, spec 7.2 retentionPeriod) expires. */
export function retentionUntil(at: number, period: string): number {
  const t = parse(TimestampMsSchema, at, 'time');
  return t + parseRetentionPeriod(period).ms;
}

export interface VaultPayload {
  readonly actionId: string;
  readonly dataSubject?: string;
  readonly retainUntil: number;
  readonly payload: Uint8Array;
}

export interface PutPayloadInput {
  readonly actionId: string;
  /** The complianceContext's dataSubject; erase(dataSubject) shreds every payload stored with it. */
  readonly dataSubject?: string;
  readonly retainUntil: number;
  readonly payload: Uint8Array;
}

export interface PayloadVaultOptions {
  /** The clock (Unix ms) get() checks retention against. Default Date.now. */
  readonly now?: () => number;
}

const actionIdSchema = auditIdSchema(256);
const dataSubjectSchema = auditIdSchema(256);
const PutSchema = z.strictObject({
  actionId: actionIdSchema,
  dataSubject: dataSubjectSchema.optional(),
  retainUntil: TimestampMsSchema,
  payload: z
    .instanceof(Uint8Array)
    .refine((p) => p.length <= MAX_VAULT_PAYLOAD_BYTES, `must be at most ${MAX_VAULT_PAYLOAD_BYTES} bytes`),
});
const PurgeSchema = z.strictObject({
  now: TimestampMsSchema,
  limit: z.number().int().min(1).max(100_000),
});

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(`invalid ${what}`, zodIssues(result.error), { cause: result.error });
}

const SUBJECT_PREFIX = 'subject:';
const RECORD_PREFIX = 'record:';

function owner(actionId: string, dataSubject: string | undefined): string {
  return dataSubject === undefined ? `${RECORD_PREFIX}${actionId}` : `${SUBJECT_PREFIX}${dataSubject}`;
}

function aad(actionId: string, subject: string): Uint8Array {
  return canonicalBytes(['fmp-vault-v1', actionId, subject]);
}

/** A subject's key can vanish between subjectKey and putPayload; this many tries, then VaultBusyError. */
const PUT_ATTEMPTS = 3;

export class PayloadVault {
  readonly #storage: VaultStorage;
  readonly #now: () => number;

  constructor(storage: VaultStorage, options: PayloadVaultOptions = {}) {
    this.#storage = storage;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Encrypts and stores a payload copy. Returns the payload's SHA-256 (hex), which is what the
   * audit record may carry. VaultDuplicateError when the action has a stored payload already.
   */
  async put(input: PutPayloadInput): Promise<{ payloadHash: string }> {
    const { actionId, dataSubject, retainUntil, payload } = parse(PutSchema, input, 'vault payload');
    const subject = owner(actionId, dataSubject);
    const payloadHash = sha256Hex(payload);
    for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
      const key = await this.#storage.subjectKey(subject, randomBytes(AEAD_KEY_BYTES));
      const nonce = randomBytes(AEAD_NONCE_BYTES);
      const ciphertext = chacha20poly1305.seal(key, nonce, payload, aad(actionId, subject));
      const outcome = await this.#storage.putPayload(
        { actionId, subject, retainUntil, nonce, ciphertext },
        key,
      );
      if (outcome === 'stored') return { payloadHash };
      if (outcome === 'duplicate') throw new VaultDuplicateError(actionId);
    }
    throw new VaultBusyError(`the key for action ${actionId} was erased ${PUT_ATTEMPTS} times while storing`);
  }

  /**
   * The payload of `actionId`, decrypted; undefined when there is none, it is past its retention
   * (a purge will delete it) or its key was shredded.
   */
  async get(actionId: string): Promise<VaultPayload | undefined> {
    const id = parse(actionIdSchema, actionId, 'action id');
    const found = await this.#storage.getPayload(id);
    if (!found?.key) return undefined;
    const { row, key } = found;
    if (row.retainUntil <= this.#now()) return undefined;
    // A wrong key or altered bytes throw CryptoError: the store was tampered with.
    const payload = chacha20poly1305.open(key, row.nonce, row.ciphertext, aad(row.actionId, row.subject));
    return {
      actionId: row.actionId,
      ...(row.subject.startsWith(SUBJECT_PREFIX)
        ? { dataSubject: row.subject.slice(SUBJECT_PREFIX.length) }
        : {}),
      retainUntil: row.retainUntil,
      payload,
    };
  }

  /**
   * Erasure request (GDPR Art. 17): shreds the data subject's key and deletes the payloads stored
   * with it. The caller appends an `erasure` audit record. Returns how many payloads were deleted.
   */
  async erase(dataSubject: string): Promise<{ payloads: number }> {
    const subject = parse(dataSubjectSchema, dataSubject, 'data subject');
    return { payloads: await this.#storage.eraseSubject(`${SUBJECT_PREFIX}${subject}`) };
  }

  /**
   * Deletes payloads past their retention (retainUntil <= now), at most `limit` (default 10,000)
   * per call: call again while it returns `limit`. The caller appends a `retention_purge` record.
   */
  async purgeExpired(now: number = this.#now(), limit = 10_000): Promise<number> {
    const o = parse(PurgeSchema, { now, limit }, 'purge options');
    return this.#storage.deleteExpired(o.now, o.limit);
  }
}

export interface MemoryVaultStorage extends VaultStorage {
  /** The stored rows and keys themselves (tests look at what is left after an erasure). */
  readonly payloads: Map<string, VaultPayloadRow>;
  readonly keys: Map<string, Uint8Array>;
}

export interface MemoryVaultStorageOptions {
  /** Default 100,000. */
  readonly maxPayloads?: number;
}

/** The vault's storage in process memory (tests, storeless nodes). */
export function memoryVaultStorage(options: MemoryVaultStorageOptions = {}): MemoryVaultStorage {
  const maxPayloads = options.maxPayloads ?? 100_000;
  const payloads = new Map<string, VaultPayloadRow>();
  const keys = new Map<string, Uint8Array>();
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
  return {
    payloads,
    keys,
    async subjectKey(subject, candidate) {
      let key = keys.get(subject);
      if (!key) {
        if (candidate.length !== AEAD_KEY_BYTES) throw new ValidationError('a vault key must be 32 bytes');
        key = Uint8Array.from(candidate);
        keys.set(subject, key);
      }
      return Uint8Array.from(key);
    },
    async putPayload(row, key) {
      const held = keys.get(row.subject);
      if (!held || !same(held, key)) return 'key_gone';
      if (payloads.has(row.actionId)) return 'duplicate';
      if (payloads.size >= maxPayloads) {
        throw new FmpError('vault_full', `the in-memory vault holds its maximum of ${maxPayloads} payloads`);
      }
      payloads.set(row.actionId, {
        ...row,
        nonce: Uint8Array.from(row.nonce),
        ciphertext: Uint8Array.from(row.ciphertext),
      });
      return 'stored';
    },
    async getPayload(actionId) {
      const row = payloads.get(actionId);
      if (!row) return undefined;
      const key = keys.get(row.subject);
      return { row, ...(key ? { key: Uint8Array.from(key) } : {}) };
    },
    async eraseSubject(subject) {
      keys.delete(subject);
      let n = 0;
      for (const [id, row] of payloads) {
        if (row.subject === subject) {
          payloads.delete(id);
          n++;
        }
      }
      return n;
    },
    async deleteExpired(now, limit) {
      const owners = new Set<string>();
      let n = 0;
      for (const [id, row] of payloads) {
        if (n >= limit) break;
        if (row.retainUntil <= now) {
          payloads.delete(id);
          owners.add(row.subject);
          n++;
        }
      }
      for (const row of payloads.values()) owners.delete(row.subject);
      for (const o of owners) keys.delete(o);
      return n;
    },
    async count() {
      return { keys: keys.size, payloads: payloads.size };
    },
  };
}
