/**
 * Ledger entries (docs/ledger.md). Every entry but a did:mesh operation is signed by its acting DID:
 * Ed25519 over a domain tag and the RFC 8785 JSON of the entry without `sig`. Each actor numbers its
 * entries (`seq`, from 0), so a signed entry applies once: a replay, or the same ballot aimed at
 * another proposal (the proposal id is under the signature), is rejected.
 *
 * A leaf of the log is the RFC 8785 JSON of `{ time, entry }`: the sequencer's clock (ms) when it
 * accepted the entry, which every replay uses for stages, unbonding and rewards.
 */
import {
  base64urlDecode,
  base64urlEncode,
  canonicalBytes,
  canonicalJson,
  didSchema,
  type Ed25519KeyPair,
  ed25519,
  utf8,
  ValidationError,
} from '@fmp/core';
import { z } from 'zod';
import { AmountOrZeroSchema, AmountSchema } from './amount.js';
import { ParamChangesSchema } from './params.js';

export const ENTRY_SIGNATURE_DOMAIN = 'fmp-ledger-entry-v1\n';
export const EMERGENCY_APPROVAL_DOMAIN = 'fmp-ledger-emergency-v1\n';
/** Largest leaf (bytes of `{ time, entry }`). */
export const MAX_LEAF_BYTES = 64 * 1024;

const did = didSchema;
const text = (max: number) => z.string().max(max);
const sig = z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'a base64url Ed25519 signature');
const id = z.string().regex(/^[A-Z]-\d{1,15}$/, 'an id like "P-12" or "D-40"');
const time = z.number().int().min(0).max(8.64e15);

export const GenesisBodySchema = z.strictObject({
  /** The ledger's name; a signed entry of one ledger is not valid on another. */
  ledger: z.string().min(1).max(200),
  /** The operator's Ed25519 key (multikey): it signs this entry and the log's checkpoints. */
  operatorKey: z.string().min(1).max(100),
  treasury: AmountOrZeroSchema,
  accounts: z
    .array(z.strictObject({ did, balance: AmountOrZeroSchema, stake: AmountOrZeroSchema.optional() }))
    .max(10_000),
  params: ParamChangesSchema.optional(),
  coreMaintainers: z.array(did).max(100),
  auditors: z.array(did).max(100),
  /** Keys of actors whose DID method does not carry one the ledger can read (did:web, ...). */
  keys: z.array(z.strictObject({ did, key: z.string().min(1).max(100) })).max(1_000),
});

const EquivocationEvidenceSchema = z.strictObject({
  kind: z.enum(['fork', 'inconsistent']),
  origin: z.string().min(1).max(256),
  first: z.string().min(1).max(16_384),
  second: z.string().min(1).max(16_384),
  consistencyProof: z.array(z.string().max(64)).max(128),
});

const ProposalActionSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('parameters'),
    changes: ParamChangesSchema,
    rolloutMs: time.optional(),
  }),
  z.strictObject({ kind: z.literal('grant'), to: did, amount: AmountSchema, rolloutMs: time.optional() }),
  z.strictObject({
    kind: z.literal('election'),
    role: z.literal('coreMaintainer'),
    members: z.array(did).min(1).max(50),
    rolloutMs: time.optional(),
  }),
  z.strictObject({
    kind: z.literal('appointment'),
    role: z.literal('auditor'),
    add: z.array(did).max(50),
    remove: z.array(did).max(50),
    rolloutMs: time.optional(),
  }),
  z.strictObject({ kind: z.literal('text') }),
]);
export type ProposalAction = z.infer<typeof ProposalActionSchema>;

export const BODY_SCHEMAS = {
  genesis: GenesisBodySchema,
  tick: z.strictObject({}),
  transfer: z.strictObject({ to: did, amount: AmountSchema, memo: text(200).optional() }),
  'stake.bond': z.strictObject({ amount: AmountSchema }),
  'stake.unbond': z.strictObject({ amount: AmountSchema }),
  'slash.equivocation': z.strictObject({ offender: did, evidence: EquivocationEvidenceSchema }),
  attestation: z.strictObject({
    subject: did,
    claim: z.string().min(1).max(200),
    score: z.number().int().min(0).max(100).optional(),
  }),
  'compute.payment': z.strictObject({
    provider: did,
    computeMs: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400_000),
    route: z.array(did).max(5),
    calls: z.number().int().min(1).max(1_000_000_000).optional(),
    federationId: text(200).optional(),
  }),
  'uptime.report': z.strictObject({
    subject: did,
    from: time,
    to: time,
    availabilityPpm: z.number().int().min(0).max(1_000_000),
  }),
  'gov.propose': z.strictObject({
    title: z.string().min(1).max(200),
    description: text(10_000),
    action: ProposalActionSchema,
  }),
  'gov.review': z.strictObject({ proposal: id, verdict: z.enum(['approve', 'reject']) }),
  'gov.vote': z.strictObject({ proposal: id, choice: z.enum(['for', 'against', 'abstain']) }),
  'gov.emergency': z.strictObject({
    nonce: z.string().min(8).max(64),
    reason: z.string().min(1).max(2_000),
    changes: ParamChangesSchema,
    approvals: z.array(z.strictObject({ did, sig })).max(100),
  }),
  'dispute.open': z.strictObject({
    respondent: did,
    claim: z.string().min(1).max(2_000),
    evidence: z.array(text(4_096)).max(16),
    slashBps: z.number().int().min(0).max(10_000),
  }),
  'dispute.rule': z.strictObject({
    dispute: id,
    decision: z.enum(['uphold', 'dismiss']),
    slashBps: z.number().int().min(0).max(10_000).optional(),
  }),
  'cert.issue': z.strictObject({
    subject: did,
    standard: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$/, 'a standard name like "SOC2"'),
    expires: time,
  }),
  'cert.revoke': z.strictObject({ subject: did, standard: z.string().min(1).max(40) }),
} as const;

export type SignedEntryType = keyof typeof BODY_SCHEMAS;
export const SIGNED_ENTRY_TYPES = Object.keys(BODY_SCHEMAS) as SignedEntryType[];
export type EntryBody<T extends SignedEntryType> = z.infer<(typeof BODY_SCHEMAS)[T]>;

const SignedEntryBaseSchema = z.strictObject({
  v: z.literal(1),
  type: z.enum(SIGNED_ENTRY_TYPES as [SignedEntryType, ...SignedEntryType[]]),
  actor: did,
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  body: z.record(z.string(), z.unknown()),
  sig,
});

export interface SignedEntry<T extends SignedEntryType = SignedEntryType> {
  readonly v: 1;
  readonly type: T;
  readonly actor: string;
  readonly seq: number;
  readonly body: EntryBody<T>;
  readonly sig: string;
}

/** A did:mesh operation (self-signed by its DID; docs/did-mesh.md). */
export interface MeshOperationEntry {
  readonly type: 'did:mesh-operation';
  readonly op: Record<string, unknown>;
}

export type LedgerEntry = SignedEntry | MeshOperationEntry;

export interface LedgerLeaf {
  readonly time: number;
  readonly entry: LedgerEntry;
  /** The bytes the actor signed, when `decodeLeaf` already built them. */
  readonly signing?: Uint8Array;
}

const MeshOpEntrySchema = z.strictObject({
  type: z.literal('did:mesh-operation'),
  op: z.record(z.string(), z.unknown()),
});

/** Checks an entry's shape and its body against its type's schema (not its signature). */
export function parseEntry(input: unknown): LedgerEntry {
  if (input && typeof input === 'object' && (input as { type?: unknown }).type === 'did:mesh-operation') {
    const r = MeshOpEntrySchema.safeParse(input);
    if (!r.success) throw invalid('entry', r.error);
    return r.data as MeshOperationEntry;
  }
  const base = SignedEntryBaseSchema.safeParse(input);
  if (!base.success) throw invalid('entry', base.error);
  const body = BODY_SCHEMAS[base.data.type].safeParse(base.data.body);
  if (!body.success) throw invalid(`${base.data.type} body`, body.error);
  return { ...base.data, body: body.data } as SignedEntry;
}

export const LeafSchema = z.strictObject({ time, entry: z.unknown() });

/** Decodes and checks a leaf's bytes: JSON `{ time, entry }`, canonical (RFC 8785) and bounded. */
export function decodeLeaf(bytes: Uint8Array): LedgerLeaf {
  if (bytes.length > MAX_LEAF_BYTES) throw new ValidationError(`a leaf is at most ${MAX_LEAF_BYTES} bytes`);
  let text: string;
  let json: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    json = JSON.parse(text);
  } catch (cause) {
    throw new ValidationError('a leaf is not UTF-8 JSON', [], { cause });
  }
  const leaf = LeafSchema.safeParse(json);
  if (!leaf.success) throw invalid('leaf', leaf.error);
  const entry = parseEntry(leaf.data.entry);
  // Canonical bytes only: one entry has exactly one leaf, so its hash is a stable identifier.
  let expected: string;
  let signing: Uint8Array | undefined;
  if (entry.type === 'did:mesh-operation') {
    expected = canonicalJson({ entry: leaf.data.entry, time: leaf.data.time });
  } else {
    // One canonical encoding serves both checks: the signed text is the entry's without `sig`, and
    // RFC 8785 puts "sig" right before the top-level "type" (the last key but "v").
    const { sig, ...unsigned } = leaf.data.entry as Record<string, unknown>;
    const unsignedText = canonicalJson(unsigned);
    const at = unsignedText.lastIndexOf(',"type":');
    expected = `{"entry":${unsignedText.slice(0, at)},"sig":${JSON.stringify(sig)}${unsignedText.slice(at)},"time":${leaf.data.time}}`;
    signing = utf8(ENTRY_SIGNATURE_DOMAIN + unsignedText);
  }
  if (expected !== text) throw new ValidationError('a leaf must be RFC 8785 canonical JSON');
  return signing ? { time: leaf.data.time, entry, signing } : { time: leaf.data.time, entry };
}

export function encodeLeaf(leaf: LedgerLeaf): Uint8Array {
  return canonicalBytes({ time: leaf.time, entry: leaf.entry });
}

/** The bytes an actor signs: the domain tag and the entry without `sig`. */
export function entrySigningBytes(entry: Omit<SignedEntry, 'sig'> | SignedEntry): Uint8Array {
  const { sig: _sig, ...unsigned } = entry as SignedEntry;
  return concat(utf8(ENTRY_SIGNATURE_DOMAIN), canonicalBytes(unsigned));
}

/** Signs an entry with the actor's key. `body` is checked against the type's schema first. */
export function signEntry<T extends SignedEntryType>(
  unsigned: { type: T; actor: string; seq: number; body: EntryBody<T> },
  keyPair: Ed25519KeyPair,
): SignedEntry<T> {
  const entry = {
    v: 1 as const,
    type: unsigned.type,
    actor: unsigned.actor,
    seq: unsigned.seq,
    body: unsigned.body,
  };
  parseEntry({ ...entry, sig: 'A'.repeat(86) });
  const signature = ed25519.sign(entrySigningBytes(entry), keyPair);
  return { ...entry, sig: base64urlEncode(signature) };
}

export function verifyEntrySignature(
  entry: SignedEntry,
  publicKey: Uint8Array,
  signing: Uint8Array = entrySigningBytes(entry),
): boolean {
  let signature: Uint8Array;
  try {
    signature = base64urlDecode(entry.sig);
  } catch {
    return false;
  }
  return ed25519.verify(signature, signing, publicKey);
}

/** What each core maintainer signs to approve an emergency patch (bound to the ledger and nonce). */
export function emergencyApprovalBytes(
  ledger: string,
  patch: { nonce: string; reason: string; changes: Record<string, unknown> },
): Uint8Array {
  return concat(
    utf8(EMERGENCY_APPROVAL_DOMAIN),
    canonicalBytes({ ledger, nonce: patch.nonce, reason: patch.reason, changes: patch.changes }),
  );
}

export function signEmergencyApproval(
  ledger: string,
  patch: { nonce: string; reason: string; changes: Record<string, unknown> },
  signer: { did: string; keyPair: Ed25519KeyPair },
): { did: string; sig: string } {
  return {
    did: signer.did,
    sig: base64urlEncode(ed25519.sign(emergencyApprovalBytes(ledger, patch), signer.keyPair)),
  };
}

function invalid(what: string, error: z.ZodError): ValidationError {
  const issues = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = issues[0];
  return new ValidationError(
    `invalid ${what}${first ? `: ${first.path ? `${first.path}: ` : ''}${first.message}` : ''}`,
    issues,
  );
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
