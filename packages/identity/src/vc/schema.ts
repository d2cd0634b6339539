/**
 * zod schemas for what crosses the boundary: credentials to verify, status list credentials, the
 * spec 4.3 MeshAgentCredential claims. Checked before any JSON-LD or crypto work, so junk input is
 * cheap to reject and never reaches the libraries.
 */
import { z } from 'zod';
import { VC_V1_CONTEXT_URL, VC_V2_CONTEXT_URL } from './contexts.js';

/** Upper bound on a credential's JSON text: JSON-LD canonicalization is costly, keep it bounded. */
export const MAX_CREDENTIAL_BYTES = 256 * 1024;

/** XML Schema dateTimeStamp (a time zone is required), as VC 1.1 and 2.0 use. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
export const dateTimeSchema = z
  .string()
  .regex(DATE_TIME, 'must be an XML Schema dateTimeStamp')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'not a valid date');

const url = z.string().min(1).max(2048);
const base58btcMultibase = z
  .string()
  .max(256)
  .regex(/^z[1-9A-HJ-NP-Za-km-z]+$/, 'must be base58btc multibase');

const contextEntry = z.union([url, z.record(z.string(), z.unknown())]);

const proofCommon = {
  created: dateTimeSchema.optional(),
  verificationMethod: url.refine((s) => s.startsWith('did:') && s.includes('#'), 'must be a DID URL'),
  proofPurpose: z.literal('assertionMethod'),
  proofValue: base58btcMultibase,
  '@context': z.union([url, z.array(contextEntry).max(16)]).optional(),
};

export const proofSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('Ed25519Signature2020'), ...proofCommon }),
  z.looseObject({
    type: z.literal('DataIntegrityProof'),
    cryptosuite: z.enum(['eddsa-rdfc-2022', 'eddsa-jcs-2022']),
    ...proofCommon,
  }),
]);

export const STATUS_PURPOSES = ['revocation', 'suspension'] as const;
export type StatusPurpose = (typeof STATUS_PURPOSES)[number];

export const statusEntrySchema = z.looseObject({
  id: url.optional(),
  type: z.literal('BitstringStatusListEntry'),
  statusPurpose: z.enum(STATUS_PURPOSES),
  // The spec writes the index as a decimal string; accept a number too.
  statusListIndex: z.union([
    z.string().regex(/^(0|[1-9]\d{0,9})$/),
    z
      .number()
      .int()
      .min(0)
      .max(2 ** 32),
  ]),
  statusListCredential: url,
});
export type StatusEntry = z.infer<typeof statusEntrySchema>;

const issuerSchema = z.union([url, z.looseObject({ id: url })]);
const subjectSchema = z.looseObject({ id: url.optional() });

export const credentialSchema = z
  .looseObject({
    '@context': z.array(contextEntry).min(1).max(16),
    id: url.optional(),
    type: z
      .array(z.string().min(1).max(256))
      .min(1)
      .max(16)
      .refine((t) => t.includes('VerifiableCredential'), 'must include "VerifiableCredential"'),
    issuer: issuerSchema,
    issuanceDate: dateTimeSchema.optional(),
    expirationDate: dateTimeSchema.optional(),
    validFrom: dateTimeSchema.optional(),
    validUntil: dateTimeSchema.optional(),
    credentialSubject: z.union([subjectSchema, z.array(subjectSchema).min(1).max(16)]),
    credentialStatus: z.union([statusEntrySchema, z.array(statusEntrySchema).min(1).max(4)]).optional(),
    proof: proofSchema,
  })
  .superRefine((vc, ctx) => {
    const base = vc['@context'][0];
    if (base !== VC_V1_CONTEXT_URL && base !== VC_V2_CONTEXT_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['@context', 0],
        message: `first context must be ${VC_V1_CONTEXT_URL} or ${VC_V2_CONTEXT_URL}`,
      });
    }
    if (base === VC_V1_CONTEXT_URL && vc.issuanceDate === undefined) {
      ctx.addIssue({ code: 'custom', path: ['issuanceDate'], message: 'VC 1.1 requires issuanceDate' });
    }
  });
export type ParsedCredential = z.infer<typeof credentialSchema>;

/** The claims of a spec 4.3 MeshAgentCredential subject. */
export const meshAgentClaimsSchema = z.object({
  id: url,
  meshCapabilities: z.array(z.string().min(1).max(128)).max(64),
  complianceCertifications: z.array(z.string().min(1).max(64)).max(64),
  trustLevel: z.number().int().min(0).max(100),
});
export type MeshAgentClaims = z.infer<typeof meshAgentClaimsSchema>;

/** Largest encoded status list we decode (base64url text), and its inflated size. */
export const MAX_ENCODED_LIST_CHARS = 1024 * 1024;
export const MAX_STATUS_LIST_BYTES = 2 * 1024 * 1024;

export const statusListSubjectSchema = z.looseObject({
  id: url.optional(),
  type: z.literal('BitstringStatusList'),
  statusPurpose: z.union([z.enum(STATUS_PURPOSES), z.array(z.enum(STATUS_PURPOSES)).min(1).max(2)]),
  encodedList: z
    .string()
    .max(MAX_ENCODED_LIST_CHARS)
    .regex(/^u[A-Za-z0-9_-]+$/, 'must be multibase base64url (prefix "u")'),
});

export function issuerId(vc: ParsedCredential): string {
  return typeof vc.issuer === 'string' ? vc.issuer : vc.issuer.id;
}

export function firstSubject(vc: ParsedCredential): z.infer<typeof subjectSchema> {
  return Array.isArray(vc.credentialSubject) ? vc.credentialSubject[0]! : vc.credentialSubject;
}

/** Formats a date as VC libraries expect: whole seconds, UTC. */
export function toDateTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function zodMessage(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
