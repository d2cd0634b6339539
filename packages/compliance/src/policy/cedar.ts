/**
 * Loads @cedar-policy/cedar-wasm on first use. Its `nodejs` build is the one that works in Node 20
 * ESM (tsx, vitest): the default ESM build imports the .wasm file directly, which Node 20 refuses
 * (`Unknown file extension ".wasm"`). The `nodejs` build compiles its 4.3 MB module synchronously
 * when it is first required (about 35 ms), so it is required lazily: importing @fmp/compliance costs
 * nothing until a PolicyEngine is built.
 */
import { createRequire } from 'node:module';
import type * as CedarWasm from '@cedar-policy/cedar-wasm/nodejs';

export type Cedar = typeof CedarWasm;

let cedar: Cedar | undefined;

export function loadCedar(): Cedar {
  cedar ??= createRequire(import.meta.url)('@cedar-policy/cedar-wasm/nodejs') as Cedar;
  return cedar;
}
