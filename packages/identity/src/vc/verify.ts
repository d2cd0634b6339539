/**
 * Verifying a credential. Order: shape (zod) and contexts, then the cheap checks (validity window
 * against the injected clock, trusted issuers), then the proof (any of the three suites), the
 * binding of issuer to verification method, and last the status list. Never throws: every failure
 * is a `VerificationIssue` with a stable code.
 */
import { intern, internAll, internList } from '@fmp/core';
import jsigs from 'jsonld-signatures';
import type { VerificationCache } from './cache.js';
import {
  BUNDLED_CONTEXTS,
  createDocumentLoader,
  DATA_INTEGRITY_V1_CONTEXT_URL,
  DATA_INTEGRITY_V2_CONTEXT_URL,
  ED25519_2020_CONTEXT_URL,
  FMP_CONTEXT_V1_URL,
  type ResolveDid,
  VC_V1_CONTEXT_URL,
} from './contexts.js';
import {
  DidResolutionError,
  findError,
  UnknownContextError,
  type VerificationIssue,
  VerificationMethodNotFoundError,
} from './errors.js';
import {
  credentialSchema,
  firstSubject,
  issuerId,
  MAX_CREDENTIAL_BYTES,
  type MeshAgentClaims,
  meshAgentClaimsSchema,
  type ParsedCredential,
  zodMessage,
} from './schema.js';
import { checkCredentialStatus, type StatusListLoader } from './status.js';
import { type ProofSuiteName, suiteOfProof, verificationSuites } from './suites.js';

export interface VerifyCredentialOptions {
  /** Resolves the DIDs named by the proof (see ../did). */
  readonly resolveDid: ResolveDid;
  /** The clock to judge validity against. Default: the current time. */
  readonly now?: Date;
  /** When given, only these issuers are accepted. */
  readonly trustedIssuers?: Iterable<string>;
  /** Needed for credentials with a credentialStatus; without it they fail closed. */
  readonly statusListLoader?: StatusListLoader;
  /** Reuse successful verifications (see VerificationCache). */
  readonly cache?: VerificationCache;
  /**
   * The credential's cache key when the caller has it already (`cache.keyOfCanonical` of the
   * credential's canonical JSON, which it keeps, say): the credential is then not canonicalized and
   * hashed a second time, and the cache holds the caller's copy of the key. It must be that key.
   */
  readonly cacheKey?: string;
  /** Extra contexts the document loader may serve (see createDocumentLoader). */
  readonly extraContexts?: ReadonlyMap<string, Record<string, unknown>>;
}

export interface VerificationResult {
  readonly verified: boolean;
  /** Empty exactly when `verified` is true. */
  readonly errors: readonly VerificationIssue[];
  readonly issuer?: string;
  /** The (first) credentialSubject's id. */
  readonly subject?: string;
  readonly id?: string;
  readonly types?: readonly string[];
  readonly validFrom?: Date;
  readonly expiresAt?: Date;
  readonly proofSuite?: ProofSuiteName;
  readonly verificationMethod?: string;
  /** The spec 4.3 claims, for a MeshAgentCredential. */
  readonly meshAgent?: MeshAgentClaims;
  /** True when the result came from the cache. */
  readonly cached: boolean;
}

interface Details {
  issuer: string;
  subject?: string;
  id?: string;
  types: string[];
  validFrom?: Date;
  expiresAt?: Date;
  proofSuite?: ProofSuiteName;
  verificationMethod: string;
  meshAgent?: MeshAgentClaims;
}

function failed(errors: VerificationIssue[], details?: Partial<Details>): VerificationResult {
  return { ...details, verified: false, errors, cached: false };
}

function message(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error)) return error.map(message).join('; ');
  return String(error);
}

function contextUrls(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.filter((c): c is string => typeof c === 'string');
}

/**
 * Every context URL anywhere in the document (embedded `@context`, `@import`), found with an
 * explicit stack so deep nesting cannot overflow. JCS proofs never run JSON-LD, so without this
 * scan a nested unknown context would go unnoticed there.
 */
function allContextUrls(root: unknown): string[] {
  const urls: string[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      stack.push(...node);
    } else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === '@context' || k === '@import') urls.push(...contextUrls(v));
        if (v && typeof v === 'object') stack.push(v);
      }
    }
  }
  return urls;
}

function timeWindow(vc: ParsedCredential): { from?: Date; until?: Date } {
  const from = vc.validFrom ?? vc.issuanceDate;
  const until = vc.validUntil ?? vc.expirationDate;
  return {
    ...(from === undefined ? {} : { from: new Date(from) }),
    ...(until === undefined ? {} : { until: new Date(until) }),
  };
}

function windowIssues(now: Date, from?: Date, until?: Date): VerificationIssue[] {
  const issues: VerificationIssue[] = [];
  if (from && now.getTime() < from.getTime()) {
    issues.push({
      code: 'not_yet_valid',
      message: `valid from ${from.toISOString()}, now ${now.toISOString()}`,
    });
  }
  if (until && now.getTime() > until.getTime()) {
    issues.push({ code: 'expired', message: `expired at ${until.toISOString()}, now ${now.toISOString()}` });
  }
  return issues;
}

function trustIssue(issuer: string, trusted?: Iterable<string>): VerificationIssue[] {
  if (trusted === undefined) return [];
  const set = trusted instanceof Set ? (trusted as ReadonlySet<string>) : new Set(trusted);
  return set.has(issuer) ? [] : [{ code: 'untrusted_issuer', message: `issuer ${issuer} is not trusted` }];
}

function fromCache(
  cache: VerificationCache,
  key: string,
  options: VerifyCredentialOptions,
  now: Date,
): VerificationResult | undefined {
  const hit = cache.get(key, now.getTime());
  if (!hit) return undefined;
  // Trust is the caller's choice per call, so it is checked on every hit.
  const errors = trustIssue(hit.issuer, options.trustedIssuers);
  const details = copyDetails(hit.details as unknown as Record<string, unknown>);
  return { ...details, verified: errors.length === 0, errors, cached: true };
}

/**
 * A copy of cached details, so a caller editing its result cannot change what later hits return:
 * lists and the mesh-agent claims copied, the dates made again (they are kept as milliseconds,
 * cachedDetails), strings shared (they are immutable, and the recurring ones stay single copies).
 * By hand: structuredClone was most of a cache hit (a hub and a target make one per handshake).
 */
function copyDetails(cached: Record<string, unknown>): Details {
  const out: Record<string, unknown> = {};
  for (const key in cached) {
    const value = cached[key];
    if (key === 'validFrom' || key === 'expiresAt') {
      out[key] = typeof value === 'number' ? new Date(value) : value;
    } else if (key === 'meshAgent' && value !== undefined) {
      const claims = value as MeshAgentClaims;
      out[key] = {
        ...claims,
        meshCapabilities: [...claims.meshCapabilities],
        complianceCertifications: [...claims.complianceCertifications],
      };
    } else if (Array.isArray(value)) {
      out[key] = [...(value as unknown[])];
    } else {
      // Anything else structured that Details may grow gets a deep copy.
      out[key] = typeof value === 'object' && value !== null ? structuredClone(value) : value;
    }
  }
  return out as unknown as Details;
}

const NO_STATUS_LISTS: readonly string[] = Object.freeze([]);

/**
 * What the cache keeps of a result (a hub holds one per session): dates as milliseconds (a Date is
 * ~0.1 KB), recurring names and lists as one shared copy. fromCache gives back what verify gave.
 */
function cachedDetails(d: Details): Record<string, unknown> {
  return {
    ...d,
    types: internList(d.types),
    ...(d.validFrom ? { validFrom: d.validFrom.getTime() } : {}),
    ...(d.expiresAt ? { expiresAt: d.expiresAt.getTime() } : {}),
    ...(d.proofSuite ? { proofSuite: intern(d.proofSuite) } : {}),
    ...(d.meshAgent
      ? {
          meshAgent: {
            ...d.meshAgent,
            meshCapabilities: internList(d.meshAgent.meshCapabilities),
            complianceCertifications: internList(d.meshAgent.complianceCertifications),
          },
        }
      : {}),
  };
}

/** Mesh-agent claims with their capability and certification names as single copies (intern). */
function sharedClaims(claims: MeshAgentClaims): MeshAgentClaims {
  return {
    ...claims,
    meshCapabilities: internAll(claims.meshCapabilities),
    complianceCertifications: internAll(claims.complianceCertifications),
  };
}

/**
 * The result verifyCredential would give from `options.cache` for the credential whose cache key
 * (VerificationCache.keyOf / keyOfCanonical) is `key`, or undefined when the cache has no fresh entry
 * for it: a caller holding a credential it already verified (a hub re-checking its sessions) learns
 * that nothing changed without parsing and canonicalizing the credential again.
 */
export function verifyCachedCredential(
  key: string,
  options: VerifyCredentialOptions & { readonly cache: VerificationCache },
): VerificationResult | undefined {
  return fromCache(options.cache, key, options, options.now ?? new Date());
}

/**
 * Verifies a credential (any JSON value). Resolves to `{ verified, errors, ... }`; never rejects.
 */
export async function verifyCredential(
  credential: unknown,
  options: VerifyCredentialOptions,
): Promise<VerificationResult> {
  const now = options.now ?? new Date();
  try {
    return await verify(credential, options, now);
  } catch (error) {
    // The steps below catch what they expect; this is the backstop for anything a library throws.
    return failed([{ code: 'malformed', message: `verification failed: ${message(error)}` }]);
  }
}

async function verify(
  input: unknown,
  options: VerifyCredentialOptions,
  now: Date,
): Promise<VerificationResult> {
  const { cache } = options;
  const key = cache ? (options.cacheKey ?? cache.keyOf(input)) : null;
  if (cache && key) {
    const hit = fromCache(cache, key, options, now);
    if (hit) return hit;
  }

  // A plain JSON copy: strips getters and prototypes, and bounds the size before any parsing work.
  let text: string | undefined;
  try {
    text = JSON.stringify(input);
  } catch (error) {
    return failed([{ code: 'malformed', message: `not JSON: ${message(error)}` }]);
  }
  if (text === undefined) return failed([{ code: 'malformed', message: 'not a JSON value' }]);
  if (text.length > MAX_CREDENTIAL_BYTES) {
    return failed([{ code: 'malformed', message: `credential larger than ${MAX_CREDENTIAL_BYTES} bytes` }]);
  }
  const json: unknown = JSON.parse(text);
  const parsed = credentialSchema.safeParse(json);
  if (!parsed.success) return failed([{ code: 'malformed', message: zodMessage(parsed.error) }]);
  const vc = parsed.data;

  const { from, until } = timeWindow(vc);
  const subject = firstSubject(vc);
  // Issuers and their keys recur across every credential they issued (and caches hold results):
  // one copy each.
  const details: Details = {
    issuer: intern(issuerId(vc)),
    types: vc.type,
    verificationMethod: intern(vc.proof.verificationMethod),
    ...(subject.id === undefined ? {} : { subject: subject.id }),
    ...(vc.id === undefined ? {} : { id: vc.id }),
    ...(from ? { validFrom: from } : {}),
    ...(until ? { expiresAt: until } : {}),
  };
  const suite = suiteOfProof(vc.proof);
  if (suite) details.proofSuite = suite;

  // Every context must be bundled: checked here so even JCS proofs (no JSON-LD processing) obey it.
  for (const url of allContextUrls(json)) {
    if (!BUNDLED_CONTEXTS.has(url) && !options.extraContexts?.has(url)) {
      return failed([{ code: 'unknown_context', message: new UnknownContextError(url).message }], details);
    }
  }
  // The document must name its proof's context itself: the libraries would quietly add it while
  // verifying, so a copy with the context stripped would still verify.
  const topContexts = contextUrls(vc['@context']);
  const needed =
    vc.proof.type === 'Ed25519Signature2020'
      ? [ED25519_2020_CONTEXT_URL]
      : topContexts[0] === VC_V1_CONTEXT_URL
        ? [DATA_INTEGRITY_V2_CONTEXT_URL, DATA_INTEGRITY_V1_CONTEXT_URL]
        : [];
  if (needed.length > 0 && !needed.some((url) => topContexts.includes(url))) {
    return failed(
      [{ code: 'malformed', message: `a ${vc.proof.type} proof needs the ${needed[0]} context` }],
      details,
    );
  }
  if (vc.type.includes('MeshAgentCredential')) {
    // Without our context the type would mean something else (VC 2.0's issuer-dependent vocab).
    if (!topContexts.includes(FMP_CONTEXT_V1_URL)) {
      return failed(
        [{ code: 'malformed', message: `MeshAgentCredential requires ${FMP_CONTEXT_V1_URL}` }],
        details,
      );
    }
    const claims = meshAgentClaimsSchema.safeParse(subject);
    if (!claims.success) {
      return failed(
        [{ code: 'malformed', message: `MeshAgentCredential: ${zodMessage(claims.error)}` }],
        details,
      );
    }
    details.meshAgent = sharedClaims(claims.data);
  }

  // Cheap checks first: a credential that fails them is not worth a DID resolution and a signature.
  const cheap = [...windowIssues(now, from, until), ...trustIssue(details.issuer, options.trustedIssuers)];
  if (cheap.length > 0) return failed(cheap, details);

  const proofIssues = await verifyProof(json as Record<string, unknown>, details, options);
  if (proofIssues.length > 0) return failed(proofIssues, details);

  const entries = vc.credentialStatus === undefined ? [] : [vc.credentialStatus].flat();
  if (entries.length > 0) {
    const statusIssues = await checkCredentialStatus(entries, {
      issuer: details.issuer,
      statusListLoader: options.statusListLoader,
      // The list must be signed by the credential's own issuer and valid now; a list has no status itself.
      verifyList: (list) =>
        verifyCredential(list, {
          resolveDid: options.resolveDid,
          now,
          trustedIssuers: [details.issuer],
          ...(options.cache ? { cache: options.cache } : {}),
          ...(options.extraContexts ? { extraContexts: options.extraContexts } : {}),
        }),
    });
    if (statusIssues.length > 0) return failed(statusIssues, details);
  }

  if (cache && key) {
    cache.set(
      key,
      {
        issuer: details.issuer,
        subject: details.subject,
        notBefore: from?.getTime(),
        notAfter: until?.getTime(),
        statusLists: entries.length === 0 ? NO_STATUS_LISTS : entries.map((e) => e.statusListCredential),
        details: cachedDetails(details),
      },
      now.getTime(),
    );
  }
  return { ...details, verified: true, errors: [], cached: false };
}

/** Signature, key resolution, and the issuer / verification method binding. */
async function verifyProof(
  credential: Record<string, unknown>,
  details: Details,
  options: VerifyCredentialOptions,
): Promise<VerificationIssue[]> {
  const loaderErrors: unknown[] = [];
  const loader = createDocumentLoader({
    resolveDid: options.resolveDid,
    ...(options.extraContexts ? { extraContexts: options.extraContexts } : {}),
  });
  // Remember what the loader refused: the libraries wrap or swallow these errors.
  const documentLoader = async (url: string) => {
    try {
      return await loader(url);
    } catch (error) {
      if (loaderErrors.length < 8) loaderErrors.push(error);
      throw error;
    }
  };

  const result = await jsigs.verify(credential, {
    suite: verificationSuites(),
    purpose: new jsigs.purposes.AssertionProofPurpose(),
    documentLoader,
  });

  const unknownContext =
    findError(loaderErrors, UnknownContextError) ?? findError(result.error, UnknownContextError);
  if (unknownContext) return [{ code: 'unknown_context', message: unknownContext.message }];
  const unresolved =
    findError(loaderErrors, DidResolutionError) ?? findError(loaderErrors, VerificationMethodNotFoundError);
  if (unresolved) return [{ code: 'unresolvable_verification_method', message: unresolved.message }];

  const proofResult = result.results?.[0];
  if (!result.verified) {
    if (proofResult?.purposeResult && !proofResult.purposeResult.valid) {
      return [
        {
          code: 'verification_method_mismatch',
          message: `${details.verificationMethod} is not an assertion method of its controller: ${message(proofResult.purposeResult.error)}`,
        },
      ];
    }
    return [
      {
        code: 'invalid_proof',
        message: `proof did not verify: ${message(proofResult?.error ?? result.error)}`,
      },
    ];
  }

  // jsonld-signatures checked the key is an assertionMethod of its controller; the credential's
  // issuer must be that controller, or anyone could sign in someone else's name.
  const controller = proofResult?.purposeResult?.controller?.id;
  if (controller !== details.issuer) {
    return [
      {
        code: 'verification_method_mismatch',
        message: `issuer ${details.issuer} is not the controller (${String(controller)}) of ${details.verificationMethod}`,
      },
    ];
  }
  return [];
}
