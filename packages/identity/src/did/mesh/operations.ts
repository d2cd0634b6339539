/**
 * did:mesh operations: their schemas, hashing, key commitments, signing, and the client-side
 * builders a CLI uses to create, rotate and deactivate a DID. See docs/did-mesh.md.
 *
 *   hash(op)        = multibase(base58btc, SHA-256(JCS(op)))            (proof included)
 *   commitment(pk)  = multibase(base58btc, SHA-256(raw 32-byte Ed25519 public key))
 *   proof.proofValue = multibase(base58btc, Ed25519-sign(JCS(op without proof)))
 */
import {
  canonicalBytes,
  decodeMultikey,
  type Ed25519KeyPair,
  ed25519,
  encodeMultikey,
  multibaseDecode,
  multibaseEncode,
  sha256,
  x25519,
} from '@fmp/core';
import { z } from 'zod';
import { isDid } from '../parse.js';
import { zodIssues } from '../types.js';
import { MeshOperationInvalidError } from './errors.js';
import { MESH_DID_PATTERN } from './syntax.js';

const BASE58 = /^z[1-9A-HJ-NP-Za-km-z]+$/;

function decodesTo(length: number) {
  return (text: string) => {
    try {
      return multibaseDecode(text).length === length;
    } catch {
      return false;
    }
  };
}

function multikeyOf(codec: 'ed25519-pub' | 'x25519-pub') {
  return (text: string) => {
    try {
      return decodeMultikey(text).codec === codec;
    } catch {
      return false;
    }
  };
}

function isAbsoluteUrl(text: string): boolean {
  try {
    new URL(text);
    return /^[a-z][a-z0-9+.-]*:/i.test(text);
  } catch {
    return false;
  }
}

const meshDidString = z.string().max(100).regex(MESH_DID_PATTERN, 'not a did:mesh DID');
const ed25519Key = z
  .string()
  .max(64)
  .regex(BASE58)
  .refine(multikeyOf('ed25519-pub'), 'not an Ed25519 multikey');
const x25519Key = z.string().max(64).regex(BASE58).refine(multikeyOf('x25519-pub'), 'not an X25519 multikey');
/** A 32-byte SHA-256 digest, multibase base58btc. */
const digest = z.string().max(64).regex(BASE58).refine(decodesTo(32), 'not a 32-byte multibase digest');
const timestamp = z.iso.datetime().max(40);
const seq = z.number().int().min(1).max(1_000_000_000);

export const MeshServiceSchema = z.strictObject({
  /** Relative to the DID, e.g. `#federation`. */
  id: z.string().regex(/^#[A-Za-z0-9._~-]{1,64}$/, 'service id must be #fragment'),
  type: z.string().regex(/^[A-Za-z][A-Za-z0-9._-]{0,63}$/, 'service type must be a short name'),
  serviceEndpoint: z
    .string()
    .min(1)
    .max(2048)
    .refine(isAbsoluteUrl, 'serviceEndpoint must be an absolute URL'),
});
export type MeshService = z.infer<typeof MeshServiceSchema>;

const services = z
  .array(MeshServiceSchema)
  .max(32)
  .refine((list) => new Set(list.map((s) => s.id)).size === list.length, 'service ids must be unique');
const controller = z
  .array(z.string().max(2048).refine(isDid, 'controller must be a DID'))
  .max(8)
  .refine((list) => new Set(list).size === list.length, 'controllers must be unique');

export const MeshProofSchema = z.strictObject({
  type: z.literal('Ed25519Signature'),
  proofValue: z.string().max(100).regex(BASE58).refine(decodesTo(64), 'not a 64-byte signature'),
});
export type MeshProof = z.infer<typeof MeshProofSchema>;

export const MeshCreateSchema = z.strictObject({
  type: z.literal('create'),
  did: meshDidString,
  seq: z.literal(0),
  prev: z.null(),
  timestamp,
  signingKey: ed25519Key,
  keyAgreementKey: x25519Key,
  nextKeyCommitment: digest,
  services,
  controller: controller.optional(),
  proof: MeshProofSchema,
});

export const MeshUpdateSchema = z.strictObject({
  type: z.literal('update'),
  did: meshDidString,
  seq,
  prev: digest,
  timestamp,
  /** The key committed by the previous operation, revealed now; it becomes the current key. */
  signingKey: ed25519Key,
  nextKeyCommitment: digest,
  /** Absent: unchanged. */
  keyAgreementKey: x25519Key.optional(),
  /** Absent: unchanged; present: replaces the whole list. */
  services: services.optional(),
  /** Absent: unchanged; present (possibly empty): replaces. */
  controller: controller.optional(),
  proof: MeshProofSchema,
});

export const MeshDeactivateSchema = z.strictObject({
  type: z.literal('deactivate'),
  did: meshDidString,
  seq,
  prev: digest,
  timestamp,
  /** The key committed by the previous operation. */
  signingKey: ed25519Key,
  proof: MeshProofSchema,
});

export const MeshOperationSchema = z.discriminatedUnion('type', [
  MeshCreateSchema,
  MeshUpdateSchema,
  MeshDeactivateSchema,
]);

export type MeshCreateOperation = z.infer<typeof MeshCreateSchema>;
export type MeshUpdateOperation = z.infer<typeof MeshUpdateSchema>;
export type MeshDeactivateOperation = z.infer<typeof MeshDeactivateSchema>;
export type MeshOperation = z.infer<typeof MeshOperationSchema>;
export type UnsignedMeshOperation<T extends MeshOperation = MeshOperation> = Omit<T, 'proof'>;

/** Validates an operation from outside. Throws MeshOperationInvalidError. */
export function parseMeshOperation(input: unknown): MeshOperation {
  const result = MeshOperationSchema.safeParse(input);
  if (!result.success) {
    throw new MeshOperationInvalidError('not a valid did:mesh operation', zodIssues(result.error));
  }
  return result.data;
}

/** multibase(SHA-256(JCS(op))): what the next operation's `prev` must be. */
export function hashMeshOperation(op: MeshOperation): string {
  return multibaseEncode(sha256(canonicalBytes(op)));
}

/** multibase(SHA-256(Ed25519 public key)): commits to the next key without revealing it. */
export function meshKeyCommitment(publicKey: Uint8Array): string {
  return multibaseEncode(sha256(publicKey));
}

/** The bytes the proof signs: JCS of the operation without `proof`. */
export function meshSigningBytes(op: UnsignedMeshOperation | MeshOperation): Uint8Array {
  const { proof: _proof, ...unsigned } = op as MeshOperation;
  return canonicalBytes(unsigned);
}

/** True when the proof verifies under `op.signingKey` (who may sign is the registry's concern). */
export function verifyMeshProof(op: MeshOperation): boolean {
  const { key } = decodeMultikey(op.signingKey);
  return ed25519.verify(multibaseDecode(op.proof.proofValue), meshSigningBytes(op), key);
}

export function signMeshOperation<T extends MeshOperation>(
  unsigned: UnsignedMeshOperation<T>,
  key: Ed25519KeyPair,
): T {
  const proofValue = multibaseEncode(ed25519.sign(meshSigningBytes(unsigned), key));
  const op = { ...unsigned, proof: { type: 'Ed25519Signature', proofValue } };
  return parseMeshOperation(op) as T;
}

function isoTimestamp(value: Date | string | undefined): string {
  if (typeof value === 'string') return value;
  return (value ?? new Date()).toISOString();
}

export interface MeshCreateInput {
  readonly did: string;
  /** The initial (current) key; it signs the create. */
  readonly key: Ed25519KeyPair;
  /** The key the next update or deactivate must be signed with (keep it offline). */
  readonly nextPublicKey: Uint8Array;
  /** Defaults to the X25519 key derived from `key`. */
  readonly keyAgreementPublicKey?: Uint8Array;
  readonly services?: readonly MeshService[];
  readonly controller?: readonly string[];
  readonly timestamp?: Date | string;
}

export function buildMeshCreate(input: MeshCreateInput): MeshCreateOperation {
  const unsigned: UnsignedMeshOperation<MeshCreateOperation> = {
    type: 'create',
    did: input.did,
    seq: 0,
    prev: null,
    timestamp: isoTimestamp(input.timestamp),
    signingKey: encodeMultikey('ed25519-pub', input.key.publicKey),
    keyAgreementKey: encodeMultikey(
      'x25519-pub',
      input.keyAgreementPublicKey ?? x25519.publicKeyFromEd25519(input.key.publicKey),
    ),
    nextKeyCommitment: meshKeyCommitment(input.nextPublicKey),
    services: [...(input.services ?? [])],
    ...(input.controller ? { controller: [...input.controller] } : {}),
  };
  return signMeshOperation(unsigned, input.key);
}

/** Where the chain stands: the latest operation's seq and hash (MeshRegistry.state(did).head). */
export interface MeshHead {
  readonly seq: number;
  readonly hash: string;
}

export interface MeshUpdateInput {
  readonly did: string;
  readonly previous: MeshHead;
  /** The key committed by the previous operation; it signs this update and becomes current. */
  readonly key: Ed25519KeyPair;
  /** The key committed for the following operation. */
  readonly nextPublicKey: Uint8Array;
  /** Defaults to the X25519 key derived from `key` (rotating it along); pass null to keep the old one. */
  readonly keyAgreementPublicKey?: Uint8Array | null;
  /** Replaces the service list when given. */
  readonly services?: readonly MeshService[];
  /** Replaces the controller list when given. */
  readonly controller?: readonly string[];
  readonly timestamp?: Date | string;
}

export function buildMeshUpdate(input: MeshUpdateInput): MeshUpdateOperation {
  const ka =
    input.keyAgreementPublicKey === null
      ? undefined
      : (input.keyAgreementPublicKey ?? x25519.publicKeyFromEd25519(input.key.publicKey));
  const unsigned: UnsignedMeshOperation<MeshUpdateOperation> = {
    type: 'update',
    did: input.did,
    seq: input.previous.seq + 1,
    prev: input.previous.hash,
    timestamp: isoTimestamp(input.timestamp),
    signingKey: encodeMultikey('ed25519-pub', input.key.publicKey),
    nextKeyCommitment: meshKeyCommitment(input.nextPublicKey),
    ...(ka ? { keyAgreementKey: encodeMultikey('x25519-pub', ka) } : {}),
    ...(input.services ? { services: [...input.services] } : {}),
    ...(input.controller ? { controller: [...input.controller] } : {}),
  };
  return signMeshOperation(unsigned, input.key);
}

export interface MeshDeactivateInput {
  readonly did: string;
  readonly previous: MeshHead;
  /** The key committed by the previous operation. */
  readonly key: Ed25519KeyPair;
  readonly timestamp?: Date | string;
}

export function buildMeshDeactivate(input: MeshDeactivateInput): MeshDeactivateOperation {
  const unsigned: UnsignedMeshOperation<MeshDeactivateOperation> = {
    type: 'deactivate',
    did: input.did,
    seq: input.previous.seq + 1,
    prev: input.previous.hash,
    timestamp: isoTimestamp(input.timestamp),
    signingKey: encodeMultikey('ed25519-pub', input.key.publicKey),
  };
  return signMeshOperation(unsigned, input.key);
}
