import { FmpError } from '@fmp/core';

/** Wrong arguments or unreadable input: the CLI exits with status 2. */
export class UsageError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('usage', message, options);
  }
}

/** A key file is missing, malformed or readable by others. */
export class KeyFileError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('key_file', message, options);
  }
}
