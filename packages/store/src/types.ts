/**
 * The store's public interfaces: one per aggregate, the same for every backend. Times are Unix
 * milliseconds (as on the wire); DIDs and ids are validated at the boundary (schemas.ts).
 */
import type { MeshOperationStore } from '@fmp/identity';

export type FederationStatus = 'active' | 'suspended' | 'expired' | 'terminated';

/** A federation as the hub keeps it (routing table entry plus lifecycle). */
export interface StoredFederation {
  readonly federationId: string;
  readonly handshakeId: string;
  readonly sourceMeshId: string;
  readonly targetMeshId: string;
  readonly status: FederationStatus;
  readonly capabilities: readonly string[];
  readonly purpose: string;
  readonly minTrustScore: number;
  readonly routingEndpoint: string;
  /** Hub DIDs from the source's hub to the target's hub. */
  readonly path: readonly string[];
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly updatedAt: number;
  readonly statusReason?: string;
}

export interface FederationListOptions {
  readonly status?: FederationStatus;
  /** Default 1,000; at most 100,000. */
  readonly limit?: number;
}

export interface FederationPageOptions {
  /** Default: every status. */
  readonly statuses?: readonly FederationStatus[];
  /** The `next` of the previous page (a federationId); absent for the first page. */
  readonly after?: string;
  /** Default 1,000; at most 100,000. */
  readonly limit?: number;
}

export interface FederationPage {
  readonly federations: StoredFederation[];
  /** Where the next page starts (pass it as `after`); undefined on the last page. */
  readonly next: string | undefined;
}

export interface FederationStore {
  /** Inserts a new federation. An existing id is AlreadyExistsError (never overwritten). */
  put(federation: StoredFederation): Promise<void>;
  /** NotFoundError for an unknown id. */
  get(federationId: string): Promise<StoredFederation>;
  /**
   * Moves a federation to `status` (InvalidTransitionError when the state machine forbids it:
   * active <-> suspended; either -> expired | terminated; expired and terminated are final).
   */
  setStatus(
    federationId: string,
    status: FederationStatus,
    reason: string,
    at: number,
  ): Promise<StoredFederation>;
  /** Sets a new expiry on an active or suspended federation. */
  renew(federationId: string, expiresAt: number, at?: number): Promise<StoredFederation>;
  /** Federations where `meshDid` is the source or the target, oldest first. */
  listByMesh(meshDid: string, options?: FederationListOptions): Promise<StoredFederation[]>;
  /** Every federation (optionally of one status), oldest first. Default limit 100,000. */
  list(options?: FederationListOptions): Promise<StoredFederation[]>;
  /** Active federations not yet expired at `now`, soonest expiry first. Default limit 100,000. */
  listActive(now: number, options?: { readonly limit?: number }): Promise<StoredFederation[]>;
  /**
   * One page of federations (of `statuses`, default all) in federationId order, after `after`:
   * every row however many there are, a page at a time (what a hub restores after a restart).
   */
  listPage(options?: FederationPageOptions): Promise<FederationPage>;
  /** Marks active or suspended federations whose expiresAt <= now as expired; returns their ids. */
  expireDue(now: number, options?: { readonly limit?: number }): Promise<string[]>;
  count(options?: { readonly status?: FederationStatus }): Promise<number>;
}

/** A mesh attached to this hub, as discovery shows it. */
export interface StoredMesh {
  readonly meshId: string;
  readonly region: string;
  readonly capabilities: readonly string[];
  readonly homeHub: string;
  readonly credentialIssuer: string;
  readonly credentialExpiresAt: number;
  readonly trustScore: number;
  /** On upsert the earliest value held is kept. */
  readonly firstSeenAt: number;
  readonly lastSeenAt: number;
}

export interface MeshListOptions {
  readonly region?: string;
  /** The mesh must offer this capability ... */
  readonly capability?: string;
  /** ... and all of these (the discovery query's list). */
  readonly capabilities?: readonly string[];
  readonly minTrustScore?: number;
  /** Only meshes whose credential is still valid at this time. */
  readonly credentialValidAt?: number;
  /** At most 1,000. */
  readonly limit: number;
}

export interface UptimeReport {
  /** Time connected inside [since, now]; an open session counts up to `now`. */
  readonly connectedMs: number;
  /** now - since. */
  readonly totalMs: number;
  /** connectedMs / totalMs (0 when totalMs is 0). */
  readonly ratio: number;
  /** Sessions overlapping the window. */
  readonly sessions: number;
  /**
   * True when the window reaches into sessions already folded into the per-mesh aggregate and only
   * partly covers them: their share is then prorated.
   */
  readonly estimated: boolean;
}

export interface MeshStore {
  /**
   * Inserts or updates the mesh; with `credential` (the credential it authenticated with, canonical
   * JSON text, at most MAX_MESH_CREDENTIAL_CHARS) also replaces the one kept for it.
   */
  upsert(mesh: StoredMesh, options?: { readonly credential?: string }): Promise<void>;
  /** NotFoundError for an unknown mesh. */
  get(meshId: string): Promise<StoredMesh>;
  /** The credential text kept by the last upsert that gave one; undefined if none. NotFoundError for an unknown mesh. */
  credential(meshId: string): Promise<string | undefined>;
  /** Highest trust score first, then by meshId. */
  list(options: MeshListOptions): Promise<StoredMesh[]>;
  /**
   * Records a connection. If one is still open (a hub crash left it), it is closed at the mesh's
   * lastSeenAt (clamped to the session), the best evidence of when it was last alive.
   */
  sessionOpened(meshId: string, at: number): Promise<void>;
  /** Closes the open session; false when none was open. */
  sessionClosed(meshId: string, at: number): Promise<boolean>;
  uptime(meshId: string, window: { readonly since: number; readonly now: number }): Promise<UptimeReport>;
}

/**
 * The trust engine's state (issue 5). The store treats `state` and `body` as opaque JSON objects
 * (at most 64 KiB serialized each) and gives them back exactly as written; DIDs are validated.
 */
export interface TrustSubjectRow {
  did: string;
  state: Record<string, unknown>;
  updatedAt: number;
}

/** An edge of the trust graph, `from` trusting `to`. */
export interface TrustEdgeRow {
  from: string;
  to: string;
  state: Record<string, unknown>;
  updatedAt: number;
}

/** A peer attestation (spec 5): `attester` vouches for `subject` until `expiresAt`. */
export interface TrustAttestationRow {
  id: string;
  attester: string;
  subject: string;
  body: Record<string, unknown>;
  expiresAt: number;
}

export interface TrustStore {
  /**
   * Upserts (the row given replaces the stored one; a key repeated in one call keeps its last row).
   * Each call is validated as a whole (one bad row refuses the call with ValidationError) and
   * commits in one transaction: at most 100,000 rows per call, 10,000 being the expected batch.
   */
  putSubjects(rows: readonly TrustSubjectRow[]): Promise<void>;
  putEdges(rows: readonly TrustEdgeRow[]): Promise<void>;
  putAttestations(rows: readonly TrustAttestationRow[]): Promise<void>;
  /** Removes attestations with expiresAt <= now; returns how many. */
  deleteExpiredAttestations(now: number): Promise<number>;
  /**
   * Everything, for a restart, bounded: at most `limit` rows per table (default 100,000, at most
   * 1,000,000), most recently updated first (attestations: latest expiry first).
   */
  load(options?: { limit?: number }): Promise<{
    subjects: TrustSubjectRow[];
    edges: TrustEdgeRow[];
    attestations: TrustAttestationRow[];
  }>;
  count(): Promise<{ subjects: number; edges: number; attestations: number }>;
}

/**
 * An entry of the audit chain (issue 6), as @fmp/compliance's AuditLog writes it. The store keeps
 * each entry exactly (the indexed fields in columns, the rest as JSON text) and enforces the
 * chain's order: a batch must continue the stored head. Hashes are checked by the log's verify.
 */
export interface AuditEntryRow {
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
  readonly at: number;
  readonly kind: string;
  readonly actor: string;
  readonly subject?: string;
  readonly federationId?: string;
  readonly actionId?: string;
  readonly decision?: 'allow' | 'deny';
  readonly reasons?: readonly string[];
  readonly policyIds?: readonly string[];
  readonly adapters?: readonly string[];
  readonly obligations?: readonly {
    readonly kind: string;
    readonly detail: string;
    readonly adapter: string;
  }[];
  readonly context?: Record<string, unknown>;
  readonly data?: Record<string, unknown>;
}

export interface AuditQueryOptions {
  readonly federationId?: string;
  /** Entries where this DID is the actor or the subject. */
  readonly mesh?: string;
  /** at >= since. */
  readonly since?: number;
  /** at < until. */
  readonly until?: number;
  readonly kind?: string;
  /** Only entries with a larger seq (paging). */
  readonly afterSeq?: number;
  /** At most 10,000. */
  readonly limit: number;
}

export interface AuditStore {
  /**
   * Appends entries in one transaction through the write queue, all or none (at most 10,000). The
   * first must have the stored head's seq + 1 and its hash as prevHash, the others follow one by
   * one; anything else is AuditConflictError and nothing is written (an entry is never
   * overwritten: seq is the primary key).
   *
   * Resolves once the entries are durable. `onWritten` is called once they have committed (a crash
   * of this process keeps them; with synchronous=FULL a power loss may not until the promise
   * resolves), never for a batch that fails; PostgreSQL's commits are durable at once.
   */
  appendBatch(entries: readonly AuditEntryRow[], onWritten?: () => void): Promise<void>;
  /** The last entry's seq and hash; undefined while empty. */
  head(): Promise<{ seq: number; hash: string } | undefined>;
  /** Up to `limit` (at most 10,000) entries with seq >= fromSeq, in seq order. */
  range(fromSeq: number, limit: number): Promise<AuditEntryRow[]>;
  /** Matching entries in seq order. */
  query(q: AuditQueryOptions): Promise<AuditEntryRow[]>;
  count(): Promise<number>;
}

/** A stored payload copy, sealed under its owner's key (@fmp/compliance's PayloadVault). */
export interface VaultPayloadRow {
  readonly actionId: string;
  /** The key owner: a data subject, or the record itself. */
  readonly subject: string;
  readonly retainUntil: number;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export interface VaultStore {
  /** The subject's key, created as `candidate` (32 bytes) when it has none; concurrent callers get the same key. */
  subjectKey(subject: string, candidate: Uint8Array): Promise<Uint8Array>;
  /**
   * Stores a payload if the subject's key is still `key` ('key_gone' otherwise) and the actionId is
   * free ('duplicate' otherwise), in one transaction.
   */
  putPayload(row: VaultPayloadRow, key: Uint8Array): Promise<'stored' | 'key_gone' | 'duplicate'>;
  /** The row and its owner's key (absent once shredded). */
  getPayload(actionId: string): Promise<{ row: VaultPayloadRow; key?: Uint8Array } | undefined>;
  /** Deletes the subject's key and payloads in one transaction; returns how many payloads. */
  eraseSubject(subject: string): Promise<number>;
  /**
   * Deletes up to `limit` payloads with retainUntil <= now and the keys of their owners left
   * without payloads, in one transaction; returns how many payloads.
   */
  deleteExpired(now: number, limit: number): Promise<number>;
  count(): Promise<{ keys: number; payloads: number }>;
}

/**
 * The leaves of one named verifiable log: @fmp/ledger's LogStorage, implemented structurally (the
 * store does not import @fmp/ledger), so `TransparencyLog.open({ storage: store.ledgerLogs.open(name) })`.
 *
 * A handle is one writer. Its first size() or appendBatch() fixes where it takes the log to end;
 * every appendBatch must then find the stored log ending exactly there, else LedgerConflictError and
 * nothing is written: another writer's leaves never interleave with this one's. The handle stays
 * refused; open a new one (and reload the log) to resume. A batch whose transaction failed leaves
 * the handle where that batch started.
 */
export interface LedgerLogStorage {
  /**
   * Appends leaves (each at most 1 MiB, at most 10,000 per call) at the end of the log in one
   * transaction through the write queue: all or none, durable once it resolves. An empty batch is a
   * no-op. Bad input is ValidationError, before anything is written.
   */
  appendBatch(leaves: readonly Uint8Array[]): Promise<void>;
  /** The leaves [start, end) exactly as appended (at most 10,000); ValidationError past the end. */
  leafRange(start: number, end: number): Promise<Uint8Array[]>;
  /** The number of leaves stored. */
  size(): Promise<number>;
}

/** Named verifiable logs: a hub's own ledger and the logs it mirrors. */
export interface LedgerLogStore {
  /**
   * A new handle (a new writer) on the log `name` (1..200 characters, no control characters), which
   * exists once it has a leaf. ValidationError for a bad name.
   */
  open(name: string): LedgerLogStorage;
}

export interface StoreStats {
  /** Write transactions committed or attempted since open. */
  readonly transactions: number;
  /** Writes that ran inside them. */
  readonly writes: number;
  /** Writes waiting for their transaction, or committed and waiting for it to be durable. */
  readonly pending: number;
  /** fdatasync calls that made the main connection's commits durable (a SQLite file), else 0. */
  readonly syncs: number;
  /** WAL checkpoints run off the event loop for the main connection (a SQLite file), else 0. */
  readonly checkpoints: number;
}

/** Persistence for a hub. `open()` runs migrations; `close()` finishes queued writes first. */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  open(): Promise<void>;
  close(): Promise<void>;
  /**
   * The did:mesh operation log for MeshRegistry.open({ store: store.meshOperations }). Its
   * close() is a no-op: the Store owns the connection.
   */
  readonly meshOperations: MeshOperationStore;
  readonly federations: FederationStore;
  readonly meshes: MeshStore;
  /** The trust engine's subjects, graph edges and attestations. */
  readonly trust: TrustStore;
  /** The hash-chained audit trail (AuditStorage of @fmp/compliance). */
  readonly audit: AuditStore;
  /** Encrypted payload copies and their keys (VaultStorage of @fmp/compliance). */
  readonly vault: VaultStore;
  /** Leaves of named verifiable logs (LogStorage of @fmp/ledger). */
  readonly ledgerLogs: LedgerLogStore;
  stats(): StoreStats;
}

/** Tuning shared by both backends. */
export interface StoreOptions {
  /** Writes waiting beyond this are refused with StoreOverloadedError. Default 10,000. */
  readonly maxPendingWrites?: number;
  /** Writes per transaction. Default 256; 1 means one transaction per write. */
  readonly maxBatchSize?: number;
  /** Closed sessions kept per mesh before the oldest are folded into an aggregate. Default 256. */
  readonly maxSessionsPerMesh?: number;
}
