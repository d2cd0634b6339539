/** The did:mesh method driver: reads the state a MeshRegistry already verified and built. */
import { DidNotFoundError } from '../errors.js';
import type { DidMethod, DidMethodResult } from '../method.js';
import type { ParsedDid } from '../parse.js';
import type { MeshRegistryReader } from './registry.js';
import { parseMeshDid } from './syntax.js';

export interface DidMeshOptions {
  readonly registry: MeshRegistryReader;
}

export function didMesh(options: DidMeshOptions): DidMethod {
  return {
    method: 'mesh',
    async resolve(did: ParsedDid): Promise<DidMethodResult> {
      parseMeshDid(did);
      const state = options.registry.state(did.did);
      if (!state) throw new DidNotFoundError(`${did.did} is not registered`);
      return { didDocument: state.document, didDocumentMetadata: state.documentMetadata };
    },
  };
}
