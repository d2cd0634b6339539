/**
 * did:ion (Sidetree, https://identity.foundation/sidetree/spec/). Long-form DIDs
 * `did:ion:<suffix>:<base64url(JCS({suffixData, delta}))>` carry their initial state and resolve
 * offline: we check that the encoding is canonical, that suffix = base64url(multihash(SHA-256(
 * JCS(suffixData)))) and that suffixData.deltaHash is the same hash of JCS(delta), then apply the
 * patches. Short-form `did:ion:<suffix>` needs an ION node (`nodeUrl`); without one the result is
 * methodNotConfigured. With a node, long-form DIDs are asked of the node too (they may have been
 * published and updated since); offline results say `published` is unknown.
 */
import {
  base64urlDecode,
  base64urlEncode,
  canonicalJson,
  NotImplementedError,
  sha256,
  utf8,
} from '@fmp/core';
import { z } from 'zod';
import { DidMethodNotConfiguredError, InvalidDidDocumentError, InvalidDidError } from './errors.js';
import { fetchJson, type HttpOptions } from './http.js';
import type { DidMethod, DidMethodResolveOptions, DidMethodResult } from './method.js';
import type { ParsedDid } from './parse.js';
import {
  DID_CONTEXT_V1,
  type DidDocument,
  type DidDocumentMetadata,
  DidResolutionResultSchema,
  VERIFICATION_RELATIONSHIPS,
  type VerificationMethod,
  zodIssues,
} from './types.js';

export interface DidIonOptions extends HttpOptions {
  /** An ION node (e.g. `https://ion.example.com`); GET `<nodeUrl>/identifiers/<did>`. */
  readonly nodeUrl?: string;
}

/** base64url(multihash(SHA-256(bytes))): Sidetree's hash encoding. */
export function sidetreeMultihash(bytes: Uint8Array): string {
  const out = new Uint8Array(34);
  out[0] = 0x12; // sha2-256
  out[1] = 0x20; // 32-byte digest
  out.set(sha256(bytes), 2);
  return base64urlEncode(out);
}

/** Hash of a JSON value as Sidetree computes it: multihash of its JCS bytes. */
export function sidetreeHashJson(value: unknown): string {
  return sidetreeMultihash(utf8(canonicalJson(value)));
}

const b64url = z.string().regex(/^[A-Za-z0-9_-]+$/);
const keyId = z.string().regex(/^[A-Za-z0-9_-]{1,50}$/, 'Sidetree ids are 1-50 base64url characters');

const IonPublicKeySchema = z.strictObject({
  id: keyId,
  type: z.string().min(1).max(100),
  publicKeyJwk: z.record(z.string(), z.unknown()).optional(),
  publicKeyMultibase: z.string().max(4096).optional(),
  purposes: z.array(z.enum(VERIFICATION_RELATIONSHIPS)).max(5).optional(),
});
const IonServiceSchema = z.strictObject({
  id: keyId,
  type: z.string().min(1).max(30),
  serviceEndpoint: z.union([z.string().min(1).max(2048), z.record(z.string(), z.unknown())]),
});
const IonDocumentSchema = z.strictObject({
  publicKeys: z.array(IonPublicKeySchema).max(100).optional(),
  services: z.array(IonServiceSchema).max(100).optional(),
});
const PatchSchema = z.union([
  z.strictObject({ action: z.literal('replace'), document: IonDocumentSchema }),
  z.strictObject({ action: z.literal('add-public-keys'), publicKeys: z.array(IonPublicKeySchema).max(100) }),
  z.strictObject({ action: z.literal('add-services'), services: z.array(IonServiceSchema).max(100) }),
  // Other Sidetree actions parse so that resolution can say they are not implemented.
  z.looseObject({
    action: z
      .string()
      .max(64)
      .refine((a) => !['replace', 'add-public-keys', 'add-services'].includes(a)),
  }),
]);
export const IonLongFormSchema = z.strictObject({
  suffixData: z.looseObject({ deltaHash: b64url, recoveryCommitment: b64url }),
  delta: z.strictObject({ patches: z.array(PatchSchema).max(100), updateCommitment: b64url }),
});
export type IonInitialState = z.infer<typeof IonLongFormSchema>;

function isMultihashSuffix(text: string): boolean {
  try {
    const bytes = base64urlDecode(text);
    return bytes.length === 34 && bytes[0] === 0x12 && bytes[1] === 0x20;
  } catch {
    return false;
  }
}

interface IonParts {
  readonly shortForm: string;
  readonly suffix: string;
  readonly encoded: string | undefined;
}

function split(did: ParsedDid): IonParts {
  const parts = did.id.split(':');
  const network = parts[0] === 'test' ? 'test:' : '';
  if (network) parts.shift();
  const [suffix = '', encoded, ...extra] = parts;
  if (extra.length > 0)
    throw new InvalidDidError('did:ion has the form did:ion:[test:]<suffix>[:<long-form>]');
  if (!isMultihashSuffix(suffix))
    throw new InvalidDidError('did:ion suffix is not a base64url SHA-256 multihash');
  return { shortForm: `did:ion:${network}${suffix}`, suffix, encoded };
}

/** Decodes and verifies a long-form DID's initial state. Throws InvalidDidError. */
export function decodeIonLongForm(did: ParsedDid): { shortForm: string; state: IonInitialState } {
  const { shortForm, suffix, encoded } = split(did);
  if (encoded === undefined) throw new InvalidDidError('not a long-form did:ion');
  let json: unknown;
  let text: string;
  try {
    text = Buffer.from(base64urlDecode(encoded)).toString('utf8');
    json = JSON.parse(text);
  } catch (cause) {
    throw new InvalidDidError('did:ion long-form part is not base64url JSON', { cause });
  }
  const parsed = IonLongFormSchema.safeParse(json);
  if (!parsed.success) throw new InvalidDidError('did:ion long-form initial state is malformed');
  let canonical: string;
  try {
    canonical = canonicalJson(json);
  } catch (cause) {
    throw new InvalidDidError('did:ion long-form initial state cannot be canonicalized', { cause });
  }
  if (canonical !== text) throw new InvalidDidError('did:ion long-form initial state is not JCS-canonical');
  const state = parsed.data;
  if (sidetreeHashJson(state.suffixData) !== suffix) {
    throw new InvalidDidError('did:ion suffix does not match the hash of suffixData');
  }
  if (sidetreeHashJson(state.delta) !== state.suffixData.deltaHash) {
    throw new InvalidDidError('did:ion deltaHash does not match the hash of delta');
  }
  return { shortForm, state };
}

type IonPublicKey = z.infer<typeof IonPublicKeySchema>;
type IonService = z.infer<typeof IonServiceSchema>;

/** The DID document an unpublished long-form DID describes. */
export function ionDocumentFromState(did: string, state: IonInitialState): DidDocument {
  let keys: IonPublicKey[] = [];
  let services: IonService[] = [];
  for (const patch of state.delta.patches) {
    if (patch.action === 'replace') {
      const doc = (patch as { document: z.infer<typeof IonDocumentSchema> }).document;
      keys = [...(doc.publicKeys ?? [])];
      services = [...(doc.services ?? [])];
    } else if (patch.action === 'add-public-keys') {
      keys = [...keys, ...(patch as { publicKeys: IonPublicKey[] }).publicKeys];
    } else if (patch.action === 'add-services') {
      services = [...services, ...(patch as { services: IonService[] }).services];
    } else {
      throw new NotImplementedError(`did:ion "${patch.action}" patches in long-form DIDs`);
    }
  }
  if (
    new Set(keys.map((k) => k.id)).size !== keys.length ||
    new Set(services.map((s) => s.id)).size !== services.length
  ) {
    throw new InvalidDidError('did:ion initial state has duplicate key or service ids');
  }
  const document: DidDocument = { '@context': [DID_CONTEXT_V1], id: did };
  if (keys.length > 0) {
    document.verificationMethod = keys.map((k) => {
      const vm: VerificationMethod = { id: `${did}#${k.id}`, type: k.type, controller: did };
      if (k.publicKeyJwk) vm.publicKeyJwk = k.publicKeyJwk;
      if (k.publicKeyMultibase) vm.publicKeyMultibase = k.publicKeyMultibase;
      return vm;
    });
  }
  for (const purpose of VERIFICATION_RELATIONSHIPS) {
    const ids = keys.filter((k) => k.purposes?.includes(purpose)).map((k) => `${did}#${k.id}`);
    if (ids.length > 0) document[purpose] = ids;
  }
  if (services.length > 0) {
    document.service = services.map((s) => ({
      id: `${did}#${s.id}`,
      type: s.type,
      serviceEndpoint: s.serviceEndpoint,
    }));
  }
  return document;
}

export function didIon(options: DidIonOptions = {}): DidMethod {
  return {
    method: 'ion',
    async resolve(did: ParsedDid, resolveOptions?: DidMethodResolveOptions): Promise<DidMethodResult> {
      const parts = split(did);
      if (options.nodeUrl) {
        const url = `${options.nodeUrl.replace(/\/+$/, '')}/identifiers/${encodeURIComponent(did.did)}`;
        const body = await fetchJson(url, { ...options, signal: resolveOptions?.signal });
        const checked = DidResolutionResultSchema.safeParse(body);
        if (!checked.success || !checked.data.didDocument) {
          throw new InvalidDidDocumentError(
            `did:ion: ${url} did not return a DID resolution result`,
            checked.success ? [] : zodIssues(checked.error),
          );
        }
        const document = checked.data.didDocument as DidDocument;
        if (document.id !== did.did && document.id !== parts.shortForm) {
          throw new InvalidDidDocumentError(`did:ion: node returned a document for ${document.id}`);
        }
        return {
          didDocument: document,
          didDocumentMetadata: (checked.data.didDocumentMetadata ?? {}) as DidDocumentMetadata,
        };
      }
      if (parts.encoded === undefined) {
        throw new DidMethodNotConfiguredError('did:ion short-form DIDs need a configured ION node (nodeUrl)');
      }
      const { shortForm, state } = decodeIonLongForm(did);
      return {
        didDocument: ionDocumentFromState(did.did, state),
        didDocumentMetadata: {
          equivalentId: [shortForm],
          method: {
            published: 'unknown',
            recoveryCommitment: state.suffixData.recoveryCommitment,
            updateCommitment: state.delta.updateCommitment,
          },
        },
        didResolutionMetadata: {
          warning:
            'resolved offline from the long-form DID; whether it was published or updated was not checked',
        },
      };
    },
  };
}
