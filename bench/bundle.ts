/**
 * Faster start-up for the benchmark's child processes: a run starts about twenty, and under tsx each
 * spends about two seconds of CPU loading its modules. The worker scripts are bundled once per run
 * (packages/cli/src/bundle.ts); the code that runs is the same, only how it is loaded changes,
 * which no figure includes.
 *
 * Optional: with FMP_BENCH_TSX=1, or when esbuild cannot be loaded, workers run under tsx as before.
 */
import { type Bundles, bundleScripts } from '../packages/cli/src/bundle.js';

export type { Bundles };

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

/** Bundles the scripts, or answers why not (then the workers run under tsx). */
export async function bundleWorkers(): Promise<Bundles | string> {
  if (process.env.FMP_BENCH_TSX === '1') return 'FMP_BENCH_TSX=1';
  return bundleScripts(BUNDLED, 'fmp-bench');
}
