/**
 * Region codes to jurisdictions, geographic restrictions, and the GDPR adequacy list.
 *
 * Region codes (`regionCodeSchema` in @fmp/core: `eu`, `eu-west`, `us-ca`, `apac`) are a mesh's
 * own labels; the part before the `-` names the area, the part after a sub-region of it:
 *
 * | region code                                        | jurisdiction |
 * |----------------------------------------------------|--------------|
 * | `eu`, `eu-*`                                       | EU           |
 * | `eea`, `eea-*` (Norway, Iceland, Liechtenstein)    | EEA          |
 * | `uk`, `uk-*`                                       | UK           |
 * | `ch`, `ch-*`                                       | CH           |
 * | `us-ca`                                            | US-CA        |
 * | `us`, `us-*` (other), `na`, `na-*`                 | US           |
 * | `ca`, `ca-*`                                       | CA           |
 * | `jp` `kr` `nz` `il` `ar` `uy` `br` `in` `cn` `sg` `au` (and `-*`) | the same code, upper case |
 * | anything else (`apac`, `latam`, `mena`, ...)       | OTHER        |
 *
 * `na` (North America) counts as US: a mesh in Canada says `ca`. Multi-country labels such as
 * `apac` are OTHER, so no adapter assumes a law that may not hold there.
 */
import { regionAllowed as coreRegionAllowed } from '@fmp/core';
import type { Jurisdiction } from './types.js';

const BY_AREA: ReadonlyMap<string, Jurisdiction> = new Map<string, Jurisdiction>([
  ['eu', 'EU'],
  ['eea', 'EEA'],
  ['uk', 'UK'],
  ['ch', 'CH'],
  ['us', 'US'],
  ['na', 'US'],
  ['ca', 'CA'],
  ['jp', 'JP'],
  ['kr', 'KR'],
  ['nz', 'NZ'],
  ['il', 'IL'],
  ['ar', 'AR'],
  ['uy', 'UY'],
  ['br', 'BR'],
  ['in', 'IN'],
  ['cn', 'CN'],
  ['sg', 'SG'],
  ['au', 'AU'],
]);

// Memo for full region codes: a mesh network uses a handful of them, so the per-message cost is one
// map lookup. Bounded: past the cap, lookups still work, they just are not remembered.
const MEMO_MAX = 1024;
const memo = new Map<string, Jurisdiction>();

/** The jurisdiction of a region code (see the table above). Case-sensitive, as the schema is. */
export function jurisdictionOf(region: string): Jurisdiction {
  const hit = memo.get(region);
  if (hit !== undefined) return hit;
  let j: Jurisdiction;
  if (region === 'us-ca') j = 'US-CA';
  else {
    const dash = region.indexOf('-');
    j = BY_AREA.get(dash < 0 ? region : region.slice(0, dash)) ?? 'OTHER';
  }
  if (memo.size < MEMO_MAX) memo.set(region, j);
  return j;
}

/**
 * Whether `region` satisfies a geographicRestrictions list (`eu-west` satisfies `eu`; `eu` does not
 * satisfy `eea`: the hierarchy is by prefix only). The one definition is in @fmp/core, which hubs
 * use for routing; the schema refuses an empty list.
 */
export const regionAllowed: (region: string, restrictions: readonly string[]) => boolean = coreRegionAllowed;

/** The EU and the EEA: where the GDPR applies directly. */
export function inEea(j: Jurisdiction): boolean {
  return j === 'EU' || j === 'EEA';
}

/**
 * Destinations personal data may go to from the EU/EEA without a further safeguard (GDPR Art. 45):
 * the EEA itself plus the European Commission's adequacy decisions, per
 * https://commission.europa.eu/law/law-topic/data-protection/international-dimension-data-protection/adequacy-decisions_en
 * (Andorra, Argentina, Canada (commercial organisations, i.e. those under PIPEDA), Faroe Islands,
 * Guernsey, Israel, Isle of Man, Japan, Jersey, New Zealand, Republic of Korea, Switzerland, the
 * United Kingdom, Uruguay; the territories without a code of their own here map to OTHER).
 *
 * The United States is NOT in the set: its decision (2023/1795, the EU-US Data Privacy Framework)
 * covers only organisations self-certified under the DPF, which a region code cannot tell, so a
 * transfer to US or US-CA needs the declared safeguard `dpf` (or SCCs, BCRs, ...). Brazil (a draft
 * decision in 2025) is not listed; when a decision is adopted, pass an extended set to
 * `createGdprAdapter({ adequate })`.
 */
export const GDPR_ADEQUATE: ReadonlySet<Jurisdiction> = new Set<Jurisdiction>([
  'EU',
  'EEA',
  'UK',
  'CH',
  'JP',
  'KR',
  'NZ',
  'IL',
  'AR',
  'UY',
  'CA',
]);
