export * from './amount.js';
export * from './entries.js';
export * from './ledger.js';
export * from './params.js';
export * from './replica.js';
export * from './state.js';
export * from './tally.js';
