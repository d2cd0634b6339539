/**
 * Faster start-up for the benchmark's child processes. Under tsx a worker spends about two seconds
 * of CPU loading its modules (the ESM loader hooks, one round trip per module), and a run starts
 * about twenty of them: on 2 cores that was most of a quick run. Here the worker scripts are bundled
 * once per run with esbuild, the transformer tsx itself runs on (same TypeScript transform, names
 * kept), into one directory of ES modules under node_modules/.cache: the fmp packages and the
 * bench's own files are compiled in, every npm dependency stays an import resolved by Node as usual
 * (native addons included), and `import.meta.url` keeps meaning each source file's own location
 * (the identity package's JSON-LD contexts, the compliance policies, the MCP fixture's path). The
 * code that runs is the same; what changes is how it is loaded, which no figure includes.
 *
 * Optional: with FMP_BENCH_TSX=1, or when esbuild cannot be loaded (a devDependency, the version tsx
 * itself uses), workers run under tsx as before.
 */
import { mkdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every script the bench spawns: the workers and the MCP fixture server. */
export const BUNDLED = {
  'worker-hub.ts': 'bench/worker-hub.ts',
  'worker-node.ts': 'bench/worker-node.ts',
  'worker-mcp.ts': 'bench/worker-mcp.ts',
  'worker-raw-link.ts': 'bench/worker-raw-link.ts',
  'worker-sessions.ts': 'bench/worker-sessions.ts',
  'worker-ws.ts': 'bench/worker-ws.ts',
  'worker-federations.ts': 'bench/worker-federations.ts',
  'mcp-server.ts': 'test/fixtures/mcp-server.ts',
} as const;

export interface Bundles {
  /** The bundled module for a script of BUNDLED (by its file name), or undefined. */
  path(script: string): string | undefined;
  cleanup(): void;
}

/** Bundles the scripts, or answers why not (then the workers run under tsx). */
export async function bundleWorkers(): Promise<Bundles | string> {
  if (process.env.FMP_BENCH_TSX === '1') return 'FMP_BENCH_TSX=1';
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (err) {
    return `esbuild not available (${String((err as Error).message).slice(0, 80)})`;
  }
  // Under node_modules, so that Node resolves the bundles' npm imports from the repository's root.
  const dir = join(ROOT, 'node_modules', '.cache', 'fmp-bench', `${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const cleanup = () => {
    rmSync(dir, { recursive: true, force: true });
    try {
      rmdirSync(dirname(dir)); // when no other run's bundles are there
    } catch {}
  };
  try {
    await esbuild.build({
      entryPoints: Object.entries(BUNDLED).map(([name, src]) => ({
        in: join(ROOT, src),
        out: name.replace(/\.ts$/, ''),
      })),
      outdir: dir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node.split('.')[0]}`,
      keepNames: true,
      sourcemap: 'linked',
      logLevel: 'silent',
      plugins: [
        {
          name: 'fmp-bench',
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
    path: (script) => (script in BUNDLED ? join(dir, script.replace(/\.ts$/, '.mjs')) : undefined),
    cleanup,
  };
}
