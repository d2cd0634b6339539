/**
 * Faster start-up for processes this repository spawns by the dozen (the demo's hubs, nodes and MCP
 * servers; the benchmark's workers). Under tsx a process spends one to two seconds of CPU loading its
 * modules (the ESM loader hooks, one round trip per module); the demo starts eleven at once on two
 * cores. Here the entry scripts are bundled once with esbuild, the transformer tsx itself runs on
 * (same TypeScript transform, names kept), into one directory of ES modules under
 * node_modules/.cache: the fmp packages are compiled in, every npm dependency stays an import
 * resolved by Node as usual (native addons included), and `import.meta.url` keeps meaning each source
 * file's own location (the identity package's JSON-LD contexts, the compliance policies, the bins'
 * paths). The code that runs is the same; only how it is loaded changes.
 *
 * Optional: when esbuild cannot be loaded (it comes with tsx, a dependency) or bundling fails, the
 * caller runs its scripts under tsx as before, and this says why.
 */
import { mkdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (bundles live under its node_modules, so their npm imports resolve). */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface Bundles {
  /** The bundled module for an entry name, or undefined. */
  path(name: string): string | undefined;
  /** Removes the bundle directory. */
  cleanup(): void;
}

/**
 * Bundles `entries` (name -> source path, relative to the repository root) into a fresh directory
 * under node_modules/.cache/<cacheName>, or answers why not.
 */
export async function bundleScripts(
  entries: Readonly<Record<string, string>>,
  cacheName: string,
): Promise<Bundles | string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (err) {
    return `esbuild not available (${String((err as Error).message).slice(0, 80)})`;
  }
  const dir = join(REPO_ROOT, 'node_modules', '.cache', cacheName, `${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const cleanup = () => {
    rmSync(dir, { recursive: true, force: true });
    try {
      rmdirSync(dirname(dir)); // when no other run's bundles are there
    } catch {}
  };
  const outName = (name: string) => name.replace(/\.ts$/, '');
  try {
    await esbuild.build({
      entryPoints: Object.entries(entries).map(([name, src]) => ({
        in: join(REPO_ROOT, src),
        out: outName(name),
      })),
      outdir: dir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      // Real ES modules per chunk: top-level await (the BLAKE3 instance) keeps its meaning.
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node.split('.')[0]}`,
      keepNames: true,
      sourcemap: 'linked',
      logLevel: 'silent',
      plugins: [
        {
          name: 'fmp',
          setup(build) {
            // npm packages stay imports (resolved by Node at run time); the workspace's are compiled in.
            build.onResolve({ filter: /^[^./]/ }, (args) =>
              args.path.startsWith('@fmp/') ? undefined : { path: args.path, external: true },
            );
            // Each file keeps its own import.meta.url (files it reads sit beside its source).
            build.onLoad({ filter: /\.ts$/ }, (args) => ({
              contents: readFileSync(args.path, 'utf8').replaceAll(
                'import.meta.url',
                JSON.stringify(pathToFileURL(args.path).href),
              ),
              loader: 'ts',
            }));
          },
        },
      ],
    });
  } catch (err) {
    cleanup();
    return `bundling failed (${String((err as Error).message).slice(0, 200)})`;
  }
  return {
    path: (name) => (name in entries ? join(dir, `${outName(name)}.mjs`) : undefined),
    cleanup,
  };
}
