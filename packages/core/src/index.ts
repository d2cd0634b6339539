/**
 * @fmp/core: wire schemas, canonical bytes, crypto primitives, errors and the handshake state
 * machine. Pure: no sockets, no files; clocks and randomness are injected where they matter.
 *
 * @example
 * ```ts
 * import { ed25519, canonicalBytes, encodeMultikey } from '@fmp/core';
 * const keys = ed25519.generateKeyPair();
 * const sig = ed25519.sign(canonicalBytes({ hello: 'mesh' }), keys);
 * ed25519.verify(sig, canonicalBytes({ hello: 'mesh' }), keys.publicKey); // true
 * encodeMultikey('ed25519-pub', keys.publicKey); // 'z6Mk...'
 * ```
 */
export * from './audit-fields.js';
export * from './crypto.js';
export * from './encoding.js';
export * from './envelope.js';
export * from './errors.js';
export * from './handshake/index.js';
export * from './intern.js';
export * from './rate-limit.js';
export * from './replay-window.js';
export * from './wire/batch.js';
export * from './wire/errors.js';
export * from './wire/frame.js';
export * from './wire/frame-text.js';
export * from './wire/handshake.js';
export * from './wire/link.js';
export * from './wire/messages.js';
export * from './wire/trust.js';
