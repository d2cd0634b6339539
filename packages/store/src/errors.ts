/**
 * Local errors of the store. One class per condition with a stable `code`; callers branch on the
 * class or the code. Bad input raises core's ValidationError (re-exported here for convenience).
 */
import { FmpError, ValidationError } from '@fmp/core';
import type { z } from 'zod';

export { ValidationError };

/** The database failed (SQL error, I/O, lost connection). `cause` is the driver's error. */
export class StoreError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_failed', message, options);
  }
}

/** A row read back from the database does not match its schema (edited by hand, or a newer version). */
export class StoreCorruptError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_corrupt', message, options);
  }
}

/** The store is not open (never opened, or closed). */
export class StoreClosedError extends FmpError {
  constructor(message = 'the store is not open') {
    super('store_closed', message);
  }
}

/** The write queue is full: the caller should back off and retry. */
export class StoreOverloadedError extends FmpError {
  readonly limit: number;
  constructor(limit: number) {
    super('store_overloaded', `more than ${limit} writes are waiting; retry later`);
    this.limit = limit;
  }
}

/** No record has this id. */
export class NotFoundError extends FmpError {
  readonly entity: 'federation' | 'mesh';
  readonly id: string;
  constructor(entity: 'federation' | 'mesh', id: string) {
    super('store_not_found', `no ${entity} ${id}`);
    this.entity = entity;
    this.id = id;
  }
}

/** A record with this id exists already (put never overwrites: status changes go through setStatus). */
export class AlreadyExistsError extends FmpError {
  readonly entity: 'federation';
  readonly id: string;
  constructor(entity: 'federation', id: string) {
    super('store_already_exists', `${entity} ${id} exists already`);
    this.entity = entity;
    this.id = id;
  }
}

/** The federation state machine forbids this change (terminated and expired are final). */
export class InvalidTransitionError extends FmpError {
  readonly from: string;
  readonly to: string;
  constructor(federationId: string, from: string, to: string) {
    super('federation_invalid_transition', `federation ${federationId}: cannot go from ${from} to ${to}`);
    this.from = from;
    this.to = to;
  }
}

/**
 * Another writer appended to this ledger log since this handle last saw its end (another process,
 * or another handle in this one). Nothing of the batch was written: open a new handle, and reload
 * whatever numbered its leaves from the stored log, to resume.
 */
export class LedgerConflictError extends FmpError {
  readonly log: string;
  /** Where this handle expected the log to end. */
  readonly expectedSize: number;
  /** Where the stored log ends. */
  readonly storedSize: number;
  constructor(log: string, expectedSize: number, storedSize: number) {
    super(
      'ledger_conflict',
      `ledger log ${JSON.stringify(log)} has ${storedSize} leaves where this writer expected ${expectedSize}: another writer appended`,
    );
    this.log = log;
    this.expectedSize = expectedSize;
    this.storedSize = storedSize;
  }
}

/**
 * Errors an operation raises before it writes anything (or after undoing its writes to a
 * savepoint): they fail that caller only, not its batch.
 */
export function isCallerError(error: unknown): boolean {
  return (
    error instanceof ValidationError ||
    error instanceof NotFoundError ||
    error instanceof AlreadyExistsError ||
    error instanceof InvalidTransitionError ||
    error instanceof LedgerConflictError
  );
}

/** Parses `input` or throws ValidationError listing every issue. */
export function validate<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    `invalid ${what}`,
    result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    { cause: result.error },
  );
}

/** Parses a row read from the database or throws StoreCorruptError. */
export function fromRow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new StoreCorruptError(`stored ${what} does not match its schema`, { cause: result.error });
}

/** Wraps anything that is not already one of ours in a StoreError. */
export function asStoreError(cause: unknown, message: string): FmpError {
  if (cause instanceof FmpError) return cause;
  return new StoreError(message, { cause });
}
