/** Where the CLI keeps local state: `--data-dir`, else $FMP_DATA_DIR, else ./.fmp */
import { join, resolve } from 'node:path';
import {
  createDidResolver,
  type DidResolver,
  didEthr,
  didIon,
  didKey,
  didMesh,
  didWeb,
  jsonlMeshStore,
  MeshRegistry,
} from '@fmp/identity';

export function dataDir(option?: string): string {
  return resolve(option ?? process.env.FMP_DATA_DIR ?? '.fmp');
}

export function meshRegistryPath(dir: string): string {
  return join(dir, 'did-mesh.jsonl');
}

export async function openMeshRegistry(dir: string): Promise<MeshRegistry> {
  return MeshRegistry.open({ store: jsonlMeshStore({ path: meshRegistryPath(dir) }) });
}

/** Every DID method; did:mesh reads the local registry, the network methods use their defaults. */
export function localResolver(registry: MeshRegistry): DidResolver {
  const resolver = createDidResolver({
    methods: [didMesh({ registry }), didKey(), didWeb(), didEthr(), didIon()],
  });
  registry.onAppend((did) => resolver.invalidate(did));
  return resolver;
}
