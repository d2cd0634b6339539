/** The did:mesh method driver: reads the state a MeshRegistry already verified and built. */
import { DidNotFoundError, InvalidResolutionOptionsError } from '../errors.js';
import type { DidMethod, DidMethodResolveOptions, DidMethodResult } from '../method.js';
import type { ParsedDid } from '../parse.js';
import type { MeshRegistryReader, MeshVersion } from './registry.js';
import { parseMeshDid } from './syntax.js';

export interface DidMeshOptions {
  readonly registry: MeshRegistryReader;
}

const VERSION_ID = /^(0|[1-9][0-9]{0,8})$/;
// RFC 3339 date-time, as DID Core's versionTime (seconds, optional fraction, Z or an offset).
const VERSION_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The version resolution options ask for (DID Core `versionId`: an operation's seq, as did:mesh
 * metadata gives it; `versionTime`: an RFC 3339 date-time), or undefined for the current document.
 * Throws InvalidResolutionOptionsError for a malformed one, or for both at once.
 */
export function parseMeshVersion(options: DidMethodResolveOptions | undefined): MeshVersion | undefined {
  const { versionId, versionTime } = options ?? {};
  if (versionId === undefined && versionTime === undefined) return undefined;
  if (versionId !== undefined && versionTime !== undefined) {
    throw new InvalidResolutionOptionsError('give versionId or versionTime, not both');
  }
  if (versionId !== undefined) {
    if (!VERSION_ID.test(versionId)) {
      throw new InvalidResolutionOptionsError(
        `versionId ${JSON.stringify(versionId.slice(0, 40))} is not an operation number`,
      );
    }
    return { seq: Number(versionId) };
  }
  const time = Date.parse(versionTime!);
  if (!VERSION_TIME.test(versionTime!) || Number.isNaN(time)) {
    throw new InvalidResolutionOptionsError(
      `versionTime ${JSON.stringify(versionTime!.slice(0, 40))} is not an RFC 3339 date-time`,
    );
  }
  return { time };
}

/**
 * How many of a DID's operations (in seq order) make up `version`: through `seq`, or through the
 * last one stamped at or before `time`. 0: no such version (past the head, before the create).
 */
export function operationsThrough(
  ops: readonly { readonly timestamp: string }[],
  version: MeshVersion,
): number {
  if (version.seq !== undefined) return version.seq < ops.length ? version.seq + 1 : 0;
  let n = 0;
  // A log from elsewhere is not verified yet: an operation without a timestamp ends the prefix.
  const at = (i: number) => Date.parse(String((ops[i] as { timestamp?: unknown } | null)?.timestamp));
  while (n < ops.length && at(n) <= version.time!) n++;
  return n;
}

/** "did has no version 3" / "did did not exist at <time>". */
export function missingVersion(did: string, version: MeshVersion): DidNotFoundError {
  return new DidNotFoundError(
    version.seq !== undefined
      ? `${did} has no version ${version.seq}`
      : `${did} did not exist at ${new Date(version.time!).toISOString()}`,
  );
}

export function didMesh(options: DidMeshOptions): DidMethod {
  return {
    method: 'mesh',
    versions: true,
    async resolve(did: ParsedDid, resolveOptions?: DidMethodResolveOptions): Promise<DidMethodResult> {
      parseMeshDid(did);
      const version = parseMeshVersion(resolveOptions);
      const current = options.registry.state(did.did);
      if (!current) throw new DidNotFoundError(`${did.did} is not registered`);
      if (!version) return { didDocument: current.document, didDocumentMetadata: current.documentMetadata };
      if (!options.registry.stateAt) {
        throw new InvalidResolutionOptionsError('this registry does not resolve earlier versions');
      }
      const state = options.registry.stateAt(did.did, version);
      if (!state) throw missingVersion(did.did, version);
      return { didDocument: state.document, didDocumentMetadata: state.documentMetadata };
    },
  };
}
