/**
 * Why the did:mesh registry refused an operation. One class per condition; `code` is stable.
 * `index` (when set) is the position of the offending operation in a replayed log.
 */
import { FmpError } from '@fmp/core';

export class MeshRegistryError extends FmpError {}

/** The operation does not match the schema (fields, types, sizes, encodings). */
export class MeshOperationInvalidError extends MeshRegistryError {
  readonly issues: readonly { path: string; message: string }[];
  constructor(
    message: string,
    issues: readonly { path: string; message: string }[] = [],
    options?: { cause?: unknown },
  ) {
    super('mesh_operation_invalid', message, options);
    this.issues = issues;
  }
}

/** The proof does not verify under the operation's signing key. */
export class MeshSignatureError extends MeshRegistryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('mesh_bad_signature', message, options);
  }
}

/** `prev` is not the hash of the DID's latest operation, or `seq` is not the next number. */
export class MeshChainError extends MeshRegistryError {
  readonly reason: 'prev' | 'seq';
  constructor(reason: 'prev' | 'seq', message: string) {
    super('mesh_broken_chain', message);
    this.reason = reason;
  }
}

/** Signed with a key that was already used (the current key or one rotated away): pre-rotation forbids it. */
export class MeshRotatedKeyError extends MeshRegistryError {
  constructor(message: string) {
    super('mesh_key_rotated', message);
  }
}

/** Signed with a key whose hash is not the committed next key. */
export class MeshKeyCommitmentError extends MeshRegistryError {
  constructor(message: string) {
    super('mesh_key_commitment_mismatch', message);
  }
}

/** The DID is deactivated; nothing may follow. */
export class MeshDeactivatedError extends MeshRegistryError {
  constructor(message: string) {
    super('mesh_deactivated', message);
  }
}

/** A create for a DID that already exists (names are first come, first served). */
export class MeshDuplicateCreateError extends MeshRegistryError {
  constructor(message: string) {
    super('mesh_duplicate_create', message);
  }
}

/** An update or deactivate for a DID that was never created. */
export class MeshUnknownDidError extends MeshRegistryError {
  constructor(message: string) {
    super('mesh_unknown_did', message);
  }
}

/** A timestamp earlier than the previous operation's, or too far in the future. */
export class MeshTimestampError extends MeshRegistryError {
  constructor(message: string) {
    super('mesh_bad_timestamp', message);
  }
}

/** Import met a different operation at a sequence number the registry already holds (equivocation). */
export class MeshForkError extends MeshRegistryError {
  constructor(message: string) {
    super('mesh_fork', message);
  }
}

/** A configured bound (DIDs, operations per DID) would be exceeded. */
export class MeshLimitError extends MeshRegistryError {
  constructor(message: string) {
    super('mesh_limit', message);
  }
}

/** A stored log did not parse or did not verify on replay. `line` is 1-based for JSON Lines files. */
export class MeshLogCorruptError extends MeshRegistryError {
  readonly line: number | undefined;
  constructor(message: string, line?: number, options?: { cause?: unknown }) {
    super('mesh_log_corrupt', message, options);
    this.line = line;
  }
}

/** The storage backend failed to read or write (I/O error). */
export class MeshStoreError extends MeshRegistryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('mesh_store_failed', message, options);
  }
}

/** The registry was closed. */
export class MeshRegistryClosedError extends MeshRegistryError {
  constructor() {
    super('mesh_registry_closed', 'the did:mesh registry is closed');
  }
}
