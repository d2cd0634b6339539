/**
 * Local errors: thrown inside a process, never sent as-is on the wire. Each condition has its own
 * class and a stable string `code`, so callers branch on the class or code, never on message text.
 * Wire errors (error frames) live in `wire/errors.ts` and carry the protocol's error codes.
 */
export class FmpError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Input failed a schema or a structural check. `issues` lists what was wrong, path by path. */
export class ValidationError extends FmpError {
  readonly issues: readonly { path: string; message: string }[];
  constructor(
    message: string,
    issues: readonly { path: string; message: string }[] = [],
    options?: { cause?: unknown },
  ) {
    super('validation_failed', message, options);
    this.issues = issues;
  }
}

/** Bytes could not be decoded (multibase, multicodec, base64, JSON). */
export class DecodeError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('decode_failed', message, options);
  }
}

/** A signature did not verify. */
export class InvalidSignatureError extends FmpError {
  constructor(message = 'signature verification failed', options?: { cause?: unknown }) {
    super('invalid_signature', message, options);
  }
}

/** Authenticated decryption failed, a key had the wrong size, or a key agreement was degenerate. */
export class CryptoError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('crypto_failed', message, options);
  }
}

/** A feature the specification names but this implementation does not provide yet. */
export class NotImplementedError extends FmpError {
  constructor(what: string) {
    super('not_implemented', `not implemented: ${what}`);
  }
}
