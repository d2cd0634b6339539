/**
 * DID documents and resolution results (W3C DID Core 1.0, DID Resolution), as zod schemas for
 * everything that arrives from outside (did:web, ION nodes) and as the TypeScript types the
 * methods produce. Unknown properties are kept (DID documents are extensible), sizes are bounded.
 */
import { z } from 'zod';
import type { DidResolutionErrorCode } from './errors.js';

export const DID_CONTEXT_V1 = 'https://www.w3.org/ns/did/v1';
export const ED25519_2020_CONTEXT = 'https://w3id.org/security/suites/ed25519-2020/v1';
export const X25519_2020_CONTEXT = 'https://w3id.org/security/suites/x25519-2020/v1';

export const VERIFICATION_METHOD_TYPES = [
  'Ed25519VerificationKey2020',
  'X25519KeyAgreementKey2020',
  'Multikey',
  'EcdsaSecp256k1RecoveryMethod2020',
  'JsonWebKey2020',
] as const;
export type KnownVerificationMethodType = (typeof VERIFICATION_METHOD_TYPES)[number];

export const VERIFICATION_RELATIONSHIPS = [
  'authentication',
  'assertionMethod',
  'keyAgreement',
  'capabilityInvocation',
  'capabilityDelegation',
] as const;
export type VerificationRelationship = (typeof VERIFICATION_RELATIONSHIPS)[number];

const MAX_ID = 16_384;
const MAX_ENTRIES = 256;
const id = z.string().min(1).max(MAX_ID);

/** Key material each known type must carry; other types pass through unchecked (documents are open). */
const REQUIRED_MATERIAL: Record<KnownVerificationMethodType, readonly string[]> = {
  Ed25519VerificationKey2020: ['publicKeyMultibase'],
  X25519KeyAgreementKey2020: ['publicKeyMultibase'],
  Multikey: ['publicKeyMultibase'],
  EcdsaSecp256k1RecoveryMethod2020: ['blockchainAccountId', 'publicKeyJwk', 'publicKeyHex'],
  JsonWebKey2020: ['publicKeyJwk'],
};

export const VerificationMethodSchema = z
  .looseObject({
    id,
    type: z.string().min(1).max(256),
    controller: id,
    publicKeyMultibase: z.string().min(2).max(4096).optional(),
    blockchainAccountId: z.string().min(1).max(256).optional(),
    publicKeyJwk: z.record(z.string(), z.unknown()).optional(),
    publicKeyHex: z.string().max(4096).optional(),
    publicKeyBase58: z.string().max(4096).optional(),
  })
  .superRefine((vm, ctx) => {
    const need = REQUIRED_MATERIAL[vm.type as KnownVerificationMethodType];
    if (need && !need.some((field) => vm[field] !== undefined)) {
      ctx.addIssue({ code: 'custom', message: `${vm.type} needs one of ${need.join(', ')}` });
    }
  });

export interface VerificationMethod {
  id: string;
  type: KnownVerificationMethodType | (string & {});
  controller: string;
  publicKeyMultibase?: string;
  blockchainAccountId?: string;
  publicKeyJwk?: Record<string, unknown>;
  publicKeyHex?: string;
  publicKeyBase58?: string;
  [extension: string]: unknown;
}

const relationship = z.array(z.union([id, VerificationMethodSchema])).max(MAX_ENTRIES);
export type VerificationRelationshipEntry = string | VerificationMethod;

const endpointMap = z.record(z.string(), z.unknown());
export const ServiceSchema = z.looseObject({
  id,
  type: z.union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).min(1).max(16)]),
  serviceEndpoint: z.union([
    z.string().min(1).max(4096),
    endpointMap,
    z.array(z.union([z.string().min(1).max(4096), endpointMap])).max(MAX_ENTRIES),
  ]),
});

export interface Service {
  id: string;
  /** e.g. 'FederationEndpoint' (spec 4.2). */
  type: string | string[];
  serviceEndpoint: string | Record<string, unknown> | (string | Record<string, unknown>)[];
  [extension: string]: unknown;
}

export const DidDocumentSchema = z.looseObject({
  '@context': z
    .union([z.string(), z.array(z.union([z.string(), z.record(z.string(), z.unknown())])).max(64)])
    .optional(),
  id: id.regex(/^did:[a-z0-9]+:/, 'document id must be a DID'),
  controller: z.union([id, z.array(id).max(MAX_ENTRIES)]).optional(),
  alsoKnownAs: z.array(id).max(MAX_ENTRIES).optional(),
  verificationMethod: z.array(VerificationMethodSchema).max(MAX_ENTRIES).optional(),
  authentication: relationship.optional(),
  assertionMethod: relationship.optional(),
  keyAgreement: relationship.optional(),
  capabilityInvocation: relationship.optional(),
  capabilityDelegation: relationship.optional(),
  service: z.array(ServiceSchema).max(MAX_ENTRIES).optional(),
});

export interface DidDocument {
  '@context'?: string | (string | Record<string, unknown>)[];
  id: string;
  controller?: string | string[];
  alsoKnownAs?: string[];
  verificationMethod?: VerificationMethod[];
  authentication?: VerificationRelationshipEntry[];
  assertionMethod?: VerificationRelationshipEntry[];
  keyAgreement?: VerificationRelationshipEntry[];
  capabilityInvocation?: VerificationRelationshipEntry[];
  capabilityDelegation?: VerificationRelationshipEntry[];
  service?: Service[];
  [extension: string]: unknown;
}

export interface DidResolutionMetadata {
  /** 'application/did+ld+json' when the document has an @context, else 'application/did+json'. */
  contentType?: string;
  error?: DidResolutionErrorCode;
  message?: string;
  [extension: string]: unknown;
}

export interface DidDocumentMetadata {
  created?: string;
  updated?: string;
  deactivated?: boolean;
  versionId?: string;
  nextUpdate?: string;
  nextVersionId?: string;
  equivalentId?: string[];
  canonicalId?: string;
  [extension: string]: unknown;
}

export interface DidResolutionResult {
  didDocument: DidDocument | null;
  didResolutionMetadata: DidResolutionMetadata;
  didDocumentMetadata: DidDocumentMetadata;
}

export const DidDocumentMetadataSchema = z.looseObject({
  created: z.string().max(64).optional(),
  updated: z.string().max(64).optional(),
  deactivated: z.boolean().optional(),
  versionId: z.string().max(1024).optional(),
  nextUpdate: z.string().max(64).optional(),
  nextVersionId: z.string().max(1024).optional(),
  equivalentId: z.array(id).max(MAX_ENTRIES).optional(),
  canonicalId: id.optional(),
});

/** A DID Resolution result as served by a remote resolver (ION node, Universal Resolver, a hub). */
export const DidResolutionResultSchema = z.looseObject({
  didDocument: DidDocumentSchema.nullable(),
  didResolutionMetadata: z.looseObject({}).optional(),
  didDocumentMetadata: DidDocumentMetadataSchema.optional(),
});

/** Flattens zod issues for ValidationError-style `issues` lists. */
export function zodIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}
