/** Local policy in Cedar: the fmp schema, the engine and its benchmark. */
export * from './bench.js';
export * from './engine.js';
