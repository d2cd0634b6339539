/**
 * The static JSON-LD document loader: every context a credential may use is bundled (from the
 * context packages, or from ../../contexts for ours), DID URLs go to the injected resolver, and
 * anything else is an `UnknownContextError`. Nothing here can reach the network, so a credential
 * cannot make a verifier fetch (and be tracked, or be fed a changed context) by naming a URL.
 */
import { readFileSync } from 'node:fs';
import { contexts as credentialsContexts } from '@digitalbazaar/credentials-context';
import { contexts as dataIntegrityContexts } from '@digitalbazaar/data-integrity-context';
import { contexts as multikeyContexts } from '@digitalbazaar/multikey-context';
import { contexts as statusListContexts } from '@digitalbazaar/vc-bitstring-status-list-context';
import { contexts as didContexts } from 'did-context';
import { contexts as ed25519Contexts } from 'ed25519-signature-2020-context';
import { z } from 'zod';
import { DidResolutionError, UnknownContextError, VerificationMethodNotFoundError } from './errors.js';

export const VC_V1_CONTEXT_URL = 'https://www.w3.org/2018/credentials/v1';
export const VC_V2_CONTEXT_URL = 'https://www.w3.org/ns/credentials/v2';
export const ED25519_2020_CONTEXT_URL = 'https://w3id.org/security/suites/ed25519-2020/v1';
export const DATA_INTEGRITY_V1_CONTEXT_URL = 'https://w3id.org/security/data-integrity/v1';
export const DATA_INTEGRITY_V2_CONTEXT_URL = 'https://w3id.org/security/data-integrity/v2';
export const MULTIKEY_V1_CONTEXT_URL = 'https://w3id.org/security/multikey/v1';
export const STATUS_LIST_V1_CONTEXT_URL = 'https://www.w3.org/ns/credentials/status/v1';
export const DID_V1_CONTEXT_URL = 'https://www.w3.org/ns/did/v1';
/** Our context (spec 4.3 claims). Versioned: a change of meaning gets a new URL and file. */
export const FMP_CONTEXT_V1_URL = 'https://mesh.global/contexts/fmp/v1';

/** jsonld.js RemoteDocument. */
export interface LoadedDocument {
  contextUrl: null;
  documentUrl: string;
  document: Record<string, unknown>;
}
export type DocumentLoader = (url: string) => Promise<LoadedDocument>;

/** Resolves a DID to its DID document, or null when it does not exist. Injected: see ../did. */
export type ResolveDid = (did: string) => Promise<Record<string, unknown> | null>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function readBundled(file: string): Record<string, unknown> {
  const text = readFileSync(new URL(`../../contexts/${file}`, import.meta.url), 'utf8');
  return JSON.parse(text) as Record<string, unknown>;
}

function need(
  map: ReadonlyMap<string, Record<string, unknown>>,
  url: string,
): [string, Record<string, unknown>] {
  const doc = map.get(url);
  // A context package that stops shipping a URL we rely on must fail loudly at load, not at verify.
  if (!doc) throw new UnknownContextError(url);
  return [url, doc];
}

/** Every bundled context by URL, frozen so no caller or library can alter a shared copy. */
export const BUNDLED_CONTEXTS: ReadonlyMap<string, Readonly<Record<string, unknown>>> = deepFreeze(
  new Map([
    need(credentialsContexts, VC_V1_CONTEXT_URL),
    need(credentialsContexts, VC_V2_CONTEXT_URL),
    need(ed25519Contexts, ED25519_2020_CONTEXT_URL),
    need(dataIntegrityContexts, DATA_INTEGRITY_V1_CONTEXT_URL),
    need(dataIntegrityContexts, DATA_INTEGRITY_V2_CONTEXT_URL),
    need(multikeyContexts, MULTIKEY_V1_CONTEXT_URL),
    need(statusListContexts, STATUS_LIST_V1_CONTEXT_URL),
    need(didContexts, DID_V1_CONTEXT_URL),
    [FMP_CONTEXT_V1_URL, readBundled('fmp-v1.jsonld')],
  ]),
);

const VERIFICATION_RELATIONSHIPS = [
  'authentication',
  'assertionMethod',
  'keyAgreement',
  'capabilityInvocation',
  'capabilityDelegation',
] as const;

const verificationMethodSchema = z.looseObject({
  id: z.string().min(1),
  type: z.string().min(1),
  controller: z.string().min(1),
});
const didDocumentSchema = z.looseObject({
  id: z.string().min(1),
  verificationMethod: z.array(z.unknown()).optional(),
});

/** `#key-1` in a DID document means `<did>#key-1`: the suites compare absolute ids. */
function absolute(did: string, id: string): string {
  return id.startsWith('#') ? `${did}${id}` : id;
}

function normalizeMethod(did: string, value: unknown): unknown {
  if (typeof value === 'string') return absolute(did, value);
  const parsed = verificationMethodSchema.safeParse(value);
  if (!parsed.success) return value;
  return {
    ...parsed.data,
    id: absolute(did, parsed.data.id),
    controller: absolute(did, parsed.data.controller),
  };
}

/** Makes ids absolute and puts the DID context first, which the suites' DID fast path expects. */
function normalizeDidDocument(did: string, raw: Record<string, unknown>): Record<string, unknown> {
  const doc: Record<string, unknown> = { ...raw };
  const context = raw['@context'];
  const contexts = context === undefined ? [] : Array.isArray(context) ? context : [context];
  doc['@context'] = contexts[0] === DID_V1_CONTEXT_URL ? contexts : [DID_V1_CONTEXT_URL, ...contexts];
  if (Array.isArray(raw.verificationMethod)) {
    doc.verificationMethod = raw.verificationMethod.map((m) => normalizeMethod(did, m));
  }
  for (const rel of VERIFICATION_RELATIONSHIPS) {
    const v = raw[rel];
    if (Array.isArray(v)) doc[rel] = v.map((m) => normalizeMethod(did, m));
  }
  return doc;
}

function findMethod(
  doc: Record<string, unknown>,
  id: string,
): z.infer<typeof verificationMethodSchema> | null {
  const candidates: unknown[] = [];
  if (Array.isArray(doc.verificationMethod)) candidates.push(...doc.verificationMethod);
  for (const rel of VERIFICATION_RELATIONSHIPS) {
    const v = doc[rel];
    if (Array.isArray(v)) candidates.push(...v);
  }
  for (const c of candidates) {
    const parsed = verificationMethodSchema.safeParse(c);
    if (parsed.success && parsed.data.id === id) return parsed.data;
  }
  return null;
}

/** The context a key description needs, so the suites can read it as JSON-LD. */
function contextForMethod(type: string): string[] {
  if (type === 'Ed25519VerificationKey2020') return [ED25519_2020_CONTEXT_URL];
  if (type === 'Multikey') return [MULTIKEY_V1_CONTEXT_URL];
  return [DID_V1_CONTEXT_URL];
}

export interface DocumentLoaderOptions {
  /** Resolves DIDs; without it every DID URL fails with DidResolutionError. */
  readonly resolveDid?: ResolveDid;
  /**
   * Further contexts this deployment vouches for (by URL). They are served as given, so only add
   * documents you ship yourself; the bundled ones cannot be overridden.
   */
  readonly extraContexts?: ReadonlyMap<string, Record<string, unknown>>;
  /** How many resolved DID documents one loader keeps (it lives for one issue/verify call). */
  readonly maxCachedDids?: number;
}

/**
 * A document loader for the Digital Bazaar libraries. Contexts come from `BUNDLED_CONTEXTS` (then
 * `extraContexts`); `did:...#fragment` returns that verification method with its `@context`,
 * a bare DID returns the (normalised) DID document; any other URL throws `UnknownContextError`.
 */
export function createDocumentLoader(options: DocumentLoaderOptions = {}): DocumentLoader {
  const { resolveDid, extraContexts, maxCachedDids = 16 } = options;
  // Proof verification asks for the same DID twice (key, then controller): resolve it once.
  const resolved = new Map<string, Promise<Record<string, unknown>>>();

  async function resolve(did: string): Promise<Record<string, unknown>> {
    if (!resolveDid) throw new DidResolutionError(did, `no DID resolver configured to resolve "${did}"`);
    let raw: Record<string, unknown> | null;
    try {
      raw = await resolveDid(did);
    } catch (cause) {
      throw new DidResolutionError(did, `resolving "${did}" failed`, { cause });
    }
    const parsed = didDocumentSchema.safeParse(raw);
    if (!parsed.success) throw new DidResolutionError(did, `"${did}" did not resolve to a DID document`);
    if (parsed.data.id !== did) {
      throw new DidResolutionError(did, `resolver returned the document of "${parsed.data.id}" for "${did}"`);
    }
    return normalizeDidDocument(did, parsed.data);
  }

  function resolveOnce(did: string): Promise<Record<string, unknown>> {
    let pending = resolved.get(did);
    if (!pending) {
      if (resolved.size >= maxCachedDids) resolved.clear();
      pending = resolve(did);
      resolved.set(did, pending);
    }
    return pending;
  }

  return async (url: string): Promise<LoadedDocument> => {
    if (typeof url !== 'string') throw new UnknownContextError(String(url));
    const bundled = BUNDLED_CONTEXTS.get(url) ?? extraContexts?.get(url);
    if (bundled) return { contextUrl: null, documentUrl: url, document: bundled as Record<string, unknown> };
    if (!url.startsWith('did:')) throw new UnknownContextError(url);

    const hash = url.indexOf('#');
    const did = hash === -1 ? url : url.slice(0, hash);
    const doc = await resolveOnce(did);
    if (hash === -1) return { contextUrl: null, documentUrl: url, document: doc };
    const method = findMethod(doc, url);
    if (!method) throw new VerificationMethodNotFoundError(url);
    return {
      contextUrl: null,
      documentUrl: url,
      document: { ...method, '@context': contextForMethod(method.type) },
    };
  };
}
