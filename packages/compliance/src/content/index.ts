/** Content filtering (spec 6.3): payload inspectors and the personal-data inspector. */
export { type ContentInspector, DEFAULT_INSPECTORS, type Finding, inspectContent } from './inspect.js';
export { jsonPath } from './path.js';
export {
  createPersonalDataInspector,
  type PersonalDataInspectorOptions,
  personalDataInspector,
} from './personal-data.js';
export { cardScheme, ibanValid, luhnValid } from './validators.js';
