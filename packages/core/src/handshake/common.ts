/**
 * What the three roles share: injected dependencies, the failure report, the session they end
 * with, the bounded pending table and the error plumbing that keeps every failure a ProtocolError.
 */
import { type Ed25519KeyPair, ed25519 } from '../crypto.js';
import { multibaseDecode } from '../encoding.js';
import { FmpError, ValidationError } from '../errors.js';
import { ProtocolError, type WireErrorCode } from '../wire/errors.js';
import {
  type HandshakeReject,
  HandshakeRejectSchema,
  parseHandshakeMessage,
  type VerifiableCredentialJson,
} from '../wire/handshake.js';

export type HandshakeRole = 'initiator' | 'coordinator' | 'responder';

/** One failed (or refused, or timed out) handshake, as reported to `onFailure`. */
export interface HandshakeFailure {
  readonly role: HandshakeRole;
  readonly handshakeId: string | undefined;
  /** The mesh the failure concerns (the sender of the failing message, or the one awaited). */
  readonly meshId: string | undefined;
  readonly code: WireErrorCode;
  readonly reason: string;
  /** Initiator only: which attempt failed (0 = first try) and when to retry, if at all. */
  readonly attempt?: number;
  readonly retryInMs?: number;
}

/** Dependencies every role needs. The machine owns no clock, timer or random source. */
export interface HandshakeDeps {
  /** Unix time in milliseconds. */
  now(): number;
  randomBytes(length: number): Uint8Array;
  /**
   * The Ed25519 public key of a verification method (`did...#key`) listed under the DID's
   * `authentication` relationship. Throw when it cannot be resolved or is not an authentication key.
   */
  resolveAuthenticationKey(verificationMethod: string): Uint8Array | Promise<Uint8Array>;
  /** Called once per failure. Exceptions thrown here are swallowed: reporting never changes the outcome. */
  onFailure?(failure: HandshakeFailure): void;
}

export interface CredentialVerification {
  readonly verified: boolean;
  /** credentialSubject.id of the verified credential. */
  readonly subject?: string | undefined;
}

/** What the handshake already computed of a credential it asks to have checked. */
export interface CredentialHints {
  /**
   * credentialsHash (transcript.ts) of this very credential: hex SHA-256 of its RFC 8785 form, the
   * key @fmp/identity's VerificationCache files it under (pass it as verifyCredential's cacheKey).
   */
  readonly canonicalHash: string;
}

/** The credential a mesh presented in the handshake under way, with its credentialsHash. */
export interface PresentedCredential extends CredentialHints {
  readonly credential: VerifiableCredentialJson;
}

/** Trust and credential checks, done by the hub and again by the target. */
export interface TrustDeps {
  /**
   * Trust score 0-100 (spec §5.1) of a mesh. `presented`: the credential it presented in this
   * handshake (the initiator's, at the target), for a score read from it; unverified until
   * verifyCredential has accepted it.
   */
  trustScore(meshDid: string, presented?: PresentedCredential): number | Promise<number>;
  verifyCredential(
    credential: VerifiableCredentialJson,
    hints?: CredentialHints,
  ): CredentialVerification | Promise<CredentialVerification>;
}

/** Signs with the mesh's DID authentication key; lets keys live in an HSM or a separate process. */
export interface HandshakeSigner {
  readonly verificationMethod: string;
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

export function ed25519Signer(verificationMethod: string, keyPair: Ed25519KeyPair): HandshakeSigner {
  return { verificationMethod, sign: (data) => ed25519.sign(data, keyPair) };
}

/** What a completed handshake leaves each end mesh with. Keys are secret: never log them. */
export interface Session {
  readonly federationId: string;
  readonly handshakeId: string;
  readonly role: 'initiator' | 'responder';
  readonly localMeshId: string;
  /** The other end mesh's DID. */
  readonly peer: string;
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
  readonly expiresAt: number;
  readonly routingEndpoint: string;
  readonly capabilities: readonly string[];
  /** Hex transcript hash: a stable, non-secret identifier of this key exchange. */
  readonly transcriptHash: string;
}

/** Overwrites a session's keys once it is no longer used. */
export function closeSession(session: Session): void {
  session.sendKey.fill(0);
  session.receiveKey.fill(0);
}

/** The reject frame to send for a failure. */
export function rejectFromError(handshakeId: string, error: unknown): HandshakeReject {
  const e = asProtocolError(error);
  return {
    type: 'HandshakeReject',
    handshakeId,
    code: e.wireCode,
    reason: e.message.slice(0, 256),
    ...(e.retryAfterMs === undefined
      ? {}
      : { retryAfterMs: Math.min(86_400_000, Math.max(0, e.retryAfterMs)) }),
  };
}

/** Anything thrown inside a role becomes a ProtocolError; unexpected ones are internal_error. */
export function asProtocolError(error: unknown, fallback: WireErrorCode = 'internal_error'): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const message = error instanceof FmpError ? error.message : 'handshake failed unexpectedly';
  return new ProtocolError(fallback, message, { cause: error });
}

export function didOf(verificationMethod: string): string {
  const hash = verificationMethod.indexOf('#');
  return hash < 0 ? verificationMethod : verificationMethod.slice(0, hash);
}

export function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new ValidationError(`${name} must be a positive integer`, [{ path: name, message: String(value) }]);
  }
  return value;
}

/** Calls an injected function; its failures become ProtocolError(code) unless already one. */
async function callDep<T>(code: WireErrorCode, what: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    if (cause instanceof ProtocolError) throw cause;
    throw new ProtocolError(code, `${what} failed`, { cause });
  }
}

/** Resolves the signer's key and checks the signature; any failure is a typed error. */
export async function verifySignature(
  deps: HandshakeDeps,
  verificationMethod: string,
  digest: Uint8Array,
  signatureMultibase: string,
): Promise<void> {
  const key = await callDep('did_resolution_failed', 'resolving the authentication key', () =>
    deps.resolveAuthenticationKey(verificationMethod),
  );
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new ProtocolError('did_resolution_failed', 'the resolved authentication key is not an Ed25519 key');
  }
  let signature: Uint8Array;
  try {
    signature = multibaseDecode(signatureMultibase);
  } catch (cause) {
    throw new ProtocolError('invalid_signature', 'signature is not base58btc', { cause });
  }
  if (!ed25519.verify(signature, digest, key)) {
    throw new ProtocolError('invalid_signature', `signature does not verify against ${verificationMethod}`);
  }
}

export async function sign(signer: HandshakeSigner, digest: Uint8Array): Promise<Uint8Array> {
  const signature = await callDep('internal_error', 'signing', () => signer.sign(digest));
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    throw new ProtocolError('internal_error', 'the signer did not return a 64-byte Ed25519 signature');
  }
  return signature;
}

export async function requireTrust(
  deps: TrustDeps,
  meshDid: string,
  minimum: number,
  who: string,
  presented?: PresentedCredential,
): Promise<number> {
  const score = await callDep('internal_error', 'the trust provider', () =>
    presented === undefined ? deps.trustScore(meshDid) : deps.trustScore(meshDid, presented),
  );
  if (typeof score !== 'number' || Number.isNaN(score)) {
    throw new ProtocolError('internal_error', 'the trust provider returned no number');
  }
  if (score < minimum) {
    throw new ProtocolError('trust_too_low', `${who} trust score ${score} is below the minimum ${minimum}`);
  }
  return score;
}

export async function requireCredential(
  deps: TrustDeps,
  credential: VerifiableCredentialJson,
  subject: string,
  /** credentialsHash(credential), computed by the caller from this same object. */
  canonicalHash?: string,
): Promise<void> {
  const result = await callDep('credential_invalid', 'credential verification', () =>
    canonicalHash === undefined
      ? deps.verifyCredential(credential)
      : deps.verifyCredential(credential, { canonicalHash }),
  );
  if (result?.verified !== true)
    throw new ProtocolError('credential_invalid', 'the credential did not verify');
  if (result.subject !== subject) {
    throw new ProtocolError('credential_invalid', 'the credential subject is not the initiating mesh');
  }
}

export function report(deps: HandshakeDeps, failure: HandshakeFailure): void {
  try {
    deps.onFailure?.(failure);
  } catch {
    // A failing listener must not turn a typed protocol failure into a crash.
  }
}

export interface PendingEntry {
  readonly handshakeId: string;
  /** The mesh the per-mesh bound counts this entry against. */
  readonly meshKey: string;
  /** Absolute time (ms) after which expireDue ends it. */
  deadline: number;
  /** Set once the entry left the table, so an await that resumes afterwards knows. */
  done: boolean;
}

/** Pending handshakes, bounded in total and per mesh. */
export class PendingTable<P extends PendingEntry> {
  private readonly byId = new Map<string, P>();
  private readonly perMesh = new Map<string, number>();

  constructor(
    readonly maxTotal: number,
    readonly maxPerMesh: number,
    private readonly retryAfterMs: number,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  get(handshakeId: string): P | undefined {
    return this.byId.get(handshakeId);
  }

  has(handshakeId: string): boolean {
    return this.byId.has(handshakeId);
  }

  /** Throws ProtocolError('too_many_handshakes') when either bound is reached. */
  add(entry: P): void {
    if (this.byId.size >= this.maxTotal) {
      throw new ProtocolError('too_many_handshakes', `${this.maxTotal} handshakes are already pending`, {
        retryAfterMs: this.retryAfterMs,
      });
    }
    const count = this.perMesh.get(entry.meshKey) ?? 0;
    if (count >= this.maxPerMesh) {
      throw new ProtocolError(
        'too_many_handshakes',
        `${this.maxPerMesh} handshakes are already pending for ${entry.meshKey}`,
        { retryAfterMs: this.retryAfterMs },
      );
    }
    this.byId.set(entry.handshakeId, entry);
    this.perMesh.set(entry.meshKey, count + 1);
  }

  /** Removes the entry if it is still the one stored under its id. */
  delete(entry: P): boolean {
    entry.done = true;
    if (this.byId.get(entry.handshakeId) !== entry) return false;
    this.byId.delete(entry.handshakeId);
    const count = (this.perMesh.get(entry.meshKey) ?? 1) - 1;
    if (count <= 0) this.perMesh.delete(entry.meshKey);
    else this.perMesh.set(entry.meshKey, count);
    return true;
  }

  /** Entries whose deadline has passed (not removed: the caller does that). */
  due(now: number): P[] {
    const out: P[] = [];
    for (const entry of this.byId.values()) if (entry.deadline <= now) out.push(entry);
    return out;
  }
}

/**
 * Per-call bookkeeping: which handshake and mesh a failure concerns, and whether the failure ends
 * the handshake (set once the message is tied to its pending entry).
 */
export interface CallContext<P> {
  handshakeId?: string;
  meshId?: string;
  /** Set once the message is bound to this entry: from then on any failure ends the handshake. */
  bound?: P;
}

/** Thrown after an await when the handshake ended meanwhile (timed out, aborted): already reported. */
export class AlreadyEndedError extends ProtocolError {
  constructor() {
    super('unknown_handshake', 'the handshake ended while this message was being checked');
  }
}

/**
 * The error plumbing of the three roles: every failure leaves as a ProtocolError, is reported
 * once, and ends the pending handshake when the failing message had been bound to it.
 */
export abstract class RoleBase<P extends PendingEntry> {
  protected abstract readonly role: HandshakeRole;

  protected constructor(
    protected readonly deps: HandshakeDeps,
    protected readonly pending: PendingTable<P>,
  ) {}

  /** Number of handshakes in progress. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Overwrites the secrets an entry holds. */
  protected abstract wipe(entry: P): void;

  protected end(entry: P): void {
    if (this.pending.delete(entry)) this.wipe(entry);
  }

  protected failure(ctx: CallContext<P>, error: ProtocolError): HandshakeFailure {
    return {
      role: this.role,
      handshakeId: ctx.handshakeId,
      meshId: ctx.meshId,
      code: error.wireCode,
      reason: error.message,
    };
  }

  protected fail(ctx: CallContext<P>, error: unknown): ProtocolError {
    const err = asProtocolError(error);
    if (err instanceof AlreadyEndedError) return err;
    if (ctx.bound) this.end(ctx.bound);
    report(this.deps, this.failure(ctx, err));
    return err;
  }

  protected async guard<T>(ctx: CallContext<P>, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.fail(ctx, error);
    }
  }

  protected guardSync<T>(ctx: CallContext<P>, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw this.fail(ctx, error);
    }
  }

  /** After an await: the entry may have timed out or been aborted meanwhile. */
  protected ensureLive(entry: P): void {
    if (entry.done) throw new AlreadyEndedError();
  }

  /** Ends the entry with `code` (timeouts, aborts, refusals), reports it and returns the report. */
  protected endWith(
    entry: P,
    ctx: CallContext<P>,
    code: WireErrorCode,
    reason: string,
    retryAfterMs?: number,
  ): { error: ProtocolError; failure: HandshakeFailure } {
    const error = new ProtocolError(code, reason, retryAfterMs === undefined ? {} : { retryAfterMs });
    this.end(entry);
    const failure = this.failure({ ...ctx, bound: entry }, error);
    report(this.deps, failure);
    return { error, failure };
  }
}

/** What the two end meshes (initiator and target) share: rejects and timeouts end their entries. */
export abstract class EndRoleBase<P extends PendingEntry & { state: string }> extends RoleBase<P> {
  /** The mesh at the other end of an entry, named in failure reports. */
  protected abstract peerOf(entry: P): string;

  /** What an entry that times out was still waiting for (e.g. "answer"). */
  protected abstract readonly awaiting: string;

  /** The hub or the other end ended the handshake. Returns the failure, with the retry decision. */
  onReject(input: unknown): HandshakeFailure {
    const ctx: CallContext<P> = {};
    return this.guardSync(ctx, () => {
      const msg = parseHandshakeMessage(input, HandshakeRejectSchema);
      ctx.handshakeId = msg.handshakeId;
      const entry = this.pending.get(msg.handshakeId);
      if (!entry) throw new ProtocolError('unknown_handshake', 'no pending handshake has this id');
      ctx.meshId = this.peerOf(entry);
      return this.endWith(entry, ctx, msg.code, msg.reason, msg.retryAfterMs).failure;
    });
  }

  /** Ends every handshake whose deadline has passed. Drive it from a timer. */
  expireDue(now: number = this.deps.now()): HandshakeFailure[] {
    return this.pending.due(now).map((entry) => {
      const ctx: CallContext<P> = { handshakeId: entry.handshakeId, meshId: this.peerOf(entry) };
      return this.endWith(entry, ctx, 'handshake_timeout', `no ${this.awaiting} in state ${entry.state}`)
        .failure;
    });
  }
}
