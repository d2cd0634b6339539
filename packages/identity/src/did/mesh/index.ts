export * from './errors.js';
export * from './ledger.js';
export * from './method.js';
export * from './operations.js';
export * from './registry.js';
export * from './store.js';
export * from './syntax.js';
