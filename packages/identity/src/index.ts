/**
 * @fmp/identity: DID methods (mesh, key, web, ethr, ion) behind one caching resolver, and
 * verifiable credentials (issue, verify, revoke) with every JSON-LD context bundled.
 */
export * from './did/index.js';
export * from './federation.js';
export * from './vc/index.js';
