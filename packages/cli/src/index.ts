/**
 * @fmp/cli: the `fmp` command as a library, for scripts and tests that want it in-process.
 *
 * @example
 * ```ts
 * import { main, runDemo } from '@fmp/cli';
 * const code = await main(['did', 'resolve', 'did:key:z6Mk...', '--json']);
 * const { ok, steps } = await runDemo();
 * ```
 */
export { type DemoResult, type DemoStep, runDemo } from './demo.js';
export { KeyFileError, UsageError } from './errors.js';
export { type LoadedKey, readKeyFile, writeKeyFile } from './keyfile.js';
export { buildProgram, type Io, main } from './main.js';
