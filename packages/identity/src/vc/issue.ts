/**
 * Issuing credentials: a plain W3C credential (standard contexts only, so any conforming verifier
 * can check it) or a spec 4.3 MeshAgentCredential (adds the fmp context), in VC data model 1.1 or
 * 2.0, signed with Ed25519Signature2020 (default, as the spec shows), eddsa-rdfc-2022 or
 * eddsa-jcs-2022.
 */

import * as vc from '@digitalbazaar/vc';
import { ValidationError } from '@fmp/core';
import { z } from 'zod';
import {
  BUNDLED_CONTEXTS,
  createDocumentLoader,
  DATA_INTEGRITY_V2_CONTEXT_URL,
  ED25519_2020_CONTEXT_URL,
  FMP_CONTEXT_V1_URL,
  STATUS_LIST_V1_CONTEXT_URL,
  VC_V1_CONTEXT_URL,
  VC_V2_CONTEXT_URL,
} from './contexts.js';
import { CredentialIssuanceError, findError, UnknownContextError } from './errors.js';
import {
  dateTimeSchema,
  type MeshAgentClaims,
  meshAgentClaimsSchema,
  toDateTime,
  zodMessage,
} from './schema.js';
import { type CredentialSigner, PROOF_SUITES, type ProofSuiteName, signingSuite } from './suites.js';

export type DataModel = '1.1' | '2.0';

/** A credentialStatus entry to embed; `StatusListRegistry.allocate()` returns one. */
export interface CredentialStatusInput {
  readonly statusListCredential: string;
  readonly statusListIndex: number;
  readonly statusPurpose: 'revocation' | 'suspension';
}

/** A signed credential as JSON. */
export type VerifiableCredential = Record<string, unknown> & {
  '@context': (string | Record<string, unknown>)[];
  type: string[];
  proof: Record<string, unknown>;
};

export interface IssueCredentialOptions {
  readonly signer: CredentialSigner;
  /** The claims. Under VC 1.1 every claim must be defined by a context (safe mode); 2.0 has a fallback vocab. */
  readonly subject: { readonly id?: string; readonly [claim: string]: unknown };
  /** Types besides `VerifiableCredential`. */
  readonly types?: readonly string[];
  /** Context URLs besides the VC base and suite contexts; each must be bundled (or in `extraContexts`). */
  readonly contexts?: readonly string[];
  readonly id?: string;
  /** Default '1.1', the shape spec 4.3 shows (issuanceDate / expirationDate). */
  readonly dataModel?: DataModel;
  /** Start of validity (issuanceDate in 1.1, validFrom in 2.0). Default: `now`. */
  readonly validFrom?: Date;
  /** End of validity (expirationDate in 1.1, validUntil in 2.0). Default: none. */
  readonly validUntil?: Date;
  /** Default 'Ed25519Signature2020'. */
  readonly suite?: ProofSuiteName;
  /** The proof's `created` time. Default: `now`. Pass it for deterministic output. */
  readonly created?: Date | string;
  readonly now?: Date;
  readonly status?: CredentialStatusInput | readonly CredentialStatusInput[];
  /** Extra contexts the document loader may serve (see createDocumentLoader). */
  readonly extraContexts?: ReadonlyMap<string, Record<string, unknown>>;
}

const statusInputSchema = z.object({
  statusListCredential: z.string().min(1),
  statusListIndex: z.number().int().min(0),
  statusPurpose: z.enum(['revocation', 'suspension']),
});

const optionsSchema = z
  .object({
    signer: z.object({
      issuer: z.string().min(1),
      verificationMethod: z.string().min(1),
      keyPair: z.object({ publicKey: z.instanceof(Uint8Array), secretKey: z.instanceof(Uint8Array) }).loose(),
    }),
    subject: z.looseObject({ id: z.string().min(1).optional() }),
    types: z.array(z.string().min(1)).max(8).optional(),
    contexts: z.array(z.string().min(1)).max(8).optional(),
    id: z.string().min(1).optional(),
    dataModel: z.enum(['1.1', '2.0']).optional(),
    suite: z.enum(PROOF_SUITES).optional(),
    validFrom: z.date().optional(),
    validUntil: z.date().optional(),
    created: z.union([z.date(), dateTimeSchema]).optional(),
    now: z.date().optional(),
    status: z.union([statusInputSchema, z.array(statusInputSchema).max(4)]).optional(),
  })
  .refine(
    (o) => !o.validUntil || o.validUntil.getTime() > (o.validFrom ?? o.now ?? new Date()).getTime(),
    'validUntil must be after validFrom',
  );

function suiteContexts(suite: ProofSuiteName, dataModel: DataModel): string[] {
  if (suite === 'Ed25519Signature2020') return [ED25519_2020_CONTEXT_URL];
  // VC 2.0's context already defines DataIntegrityProof; 1.1 needs the Data Integrity context.
  return dataModel === '1.1' ? [DATA_INTEGRITY_V2_CONTEXT_URL] : [];
}

/** Signs a credential. Throws ValidationError for bad options, CredentialIssuanceError if signing fails. */
export async function issueCredential(options: IssueCredentialOptions): Promise<VerifiableCredential> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError(`invalid issue options: ${zodMessage(parsed.error)}`);
  const dataModel = options.dataModel ?? '1.1';
  const suite = options.suite ?? 'Ed25519Signature2020';
  const now = options.now ?? new Date();
  const validFrom = options.validFrom ?? now;
  const created = options.created ?? now;
  const statuses = options.status === undefined ? [] : [options.status].flat();

  const extra = options.contexts ?? [];
  for (const url of extra) {
    if (!BUNDLED_CONTEXTS.has(url) && !options.extraContexts?.has(url)) throw new UnknownContextError(url);
  }
  const context = [
    dataModel === '1.1' ? VC_V1_CONTEXT_URL : VC_V2_CONTEXT_URL,
    // VC 2.0 includes the Bitstring Status List terms; 1.1 needs their context.
    ...(dataModel === '1.1' && statuses.length > 0 ? [STATUS_LIST_V1_CONTEXT_URL] : []),
    ...extra,
    ...suiteContexts(suite, dataModel),
  ];

  const credential: Record<string, unknown> = {
    '@context': [...new Set(context)],
    ...(options.id === undefined ? {} : { id: options.id }),
    type: ['VerifiableCredential', ...(options.types ?? []).filter((t) => t !== 'VerifiableCredential')],
    issuer: options.signer.issuer,
  };
  if (dataModel === '1.1') {
    credential.issuanceDate = toDateTime(validFrom);
    if (options.validUntil) credential.expirationDate = toDateTime(options.validUntil);
  } else {
    credential.validFrom = toDateTime(validFrom);
    if (options.validUntil) credential.validUntil = toDateTime(options.validUntil);
  }
  credential.credentialSubject = structuredClone(options.subject);
  if (statuses.length > 0) {
    const entries = statuses.map((s) => ({
      id: `${s.statusListCredential}#${s.statusListIndex}`,
      type: 'BitstringStatusListEntry',
      statusPurpose: s.statusPurpose,
      statusListIndex: String(s.statusListIndex),
      statusListCredential: s.statusListCredential,
    }));
    credential.credentialStatus = entries.length === 1 ? entries[0] : entries;
  }

  return signCredential(credential, {
    signer: options.signer,
    suite,
    created,
    now,
    ...(options.extraContexts ? { extraContexts: options.extraContexts } : {}),
  });
}

export interface SignCredentialOptions {
  readonly signer: CredentialSigner;
  /** Default 'Ed25519Signature2020'. */
  readonly suite?: ProofSuiteName;
  /** The proof's `created` time. Default: `now`. */
  readonly created?: Date | string;
  readonly now?: Date;
  readonly extraContexts?: ReadonlyMap<string, Record<string, unknown>>;
}

/**
 * Adds a proof to a credential you built yourself (its contexts must already include the suite's,
 * as `issueCredential` arranges). The credential's issuer must be the signer's.
 */
export async function signCredential(
  credential: Record<string, unknown>,
  options: SignCredentialOptions,
): Promise<VerifiableCredential> {
  const issuer = credential.issuer;
  const id = typeof issuer === 'object' && issuer !== null ? (issuer as { id?: unknown }).id : issuer;
  if (id !== options.signer.issuer) {
    throw new ValidationError(
      `credential issuer ${String(id)} is not the signer's issuer ${options.signer.issuer}`,
    );
  }
  const now = options.now ?? new Date();
  const created = options.created ?? now;
  const createdText = typeof created === 'string' ? created : toDateTime(created);
  try {
    const signed = await vc.issue({
      credential: structuredClone(credential),
      suite: signingSuite(options.suite ?? 'Ed25519Signature2020', options.signer, createdText),
      documentLoader: createDocumentLoader(
        options.extraContexts ? { extraContexts: options.extraContexts } : {},
      ),
      now,
    });
    return signed as VerifiableCredential;
  } catch (cause) {
    const unknown = findError(cause, UnknownContextError);
    if (unknown) throw unknown;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new CredentialIssuanceError(`could not sign the credential: ${reason}`, { cause });
  }
}

/** Issues the spec 4.3 MeshAgentCredential: claims checked, fmp context and type added. */
export async function issueMeshAgentCredential(
  options: Omit<IssueCredentialOptions, 'subject' | 'types' | 'contexts'> & {
    readonly subject: MeshAgentClaims;
  },
): Promise<VerifiableCredential> {
  const claims = meshAgentClaimsSchema.safeParse(options.subject);
  if (!claims.success)
    throw new ValidationError(`invalid MeshAgentCredential claims: ${zodMessage(claims.error)}`);
  return issueCredential({
    ...options,
    subject: claims.data,
    types: ['MeshAgentCredential'],
    contexts: [FMP_CONTEXT_V1_URL],
  });
}
