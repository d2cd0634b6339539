/**
 * Runs the CLI with this process's arguments and exits with its code: what `bin/fmp.js` imports
 * after registering tsx, and the entry the demo bundles for its child processes (bundle.ts).
 */
import { main } from './main.js';

const code = await main(process.argv.slice(2));
process.exitCode = code;
// main() resolves once its work is done (long-running commands after SIGINT/SIGTERM). A socket or
// timer left open by a failed start must not keep the process alive: exit after output drains.
setTimeout(() => process.exit(code), 2000).unref();
