/** The contract between the resolver and a DID method driver. */
import type { ParsedDid } from './parse.js';
import type { DidDocument, DidDocumentMetadata, DidResolutionMetadata } from './types.js';

export interface DidMethodResolveOptions {
  /** Aborted when the caller gives up; network methods pass it to fetch. */
  readonly signal?: AbortSignal;
  /** A historic document (DID Core `versionId` / `versionTime`); only methods with `versions`. */
  readonly versionId?: string;
  readonly versionTime?: string;
}

export interface DidMethodResult {
  readonly didDocument: DidDocument;
  readonly didDocumentMetadata?: DidDocumentMetadata;
  /** Extra resolution metadata (e.g. did:ethr's `onChainChangesChecked`); contentType is added by the resolver. */
  readonly didResolutionMetadata?: DidResolutionMetadata;
}

/**
 * A DID method driver. `resolve` throws a DidMethodError subclass (or NotImplementedError) for
 * every failure; the resolver turns it into a result carrying the error.
 */
export interface DidMethod {
  /** The method name, e.g. `mesh` for `did:mesh:...`. */
  readonly method: string;
  /** The method resolves `versionId` / `versionTime`; the resolver refuses them for the others. */
  readonly versions?: boolean;
  resolve(did: ParsedDid, options?: DidMethodResolveOptions): Promise<DidMethodResult>;
}
