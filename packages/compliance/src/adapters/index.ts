/** The built-in jurisdiction adapters (spec 7.1). */
export { createGdprAdapter, type GdprAdapterOptions, gdprAdapter } from './gdpr.js';
export { iso42001Adapter } from './iso42001.js';
export { pipedaAdapter } from './pipeda.js';
export { soc2CcpaAdapter } from './soc2-ccpa.js';
