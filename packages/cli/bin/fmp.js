#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx's loader, so `npx fmp` needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
// main() resolves once its work is done (long-running commands after SIGINT/SIGTERM). A socket or
// timer left open by a failed start must not keep the process alive: exit after output drains.
setTimeout(() => process.exit(code), 2000).unref();
