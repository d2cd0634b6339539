/**
 * Personal data where the complianceContext says there is none: walks a decrypted JSON payload
 * (bounded depth, node count, characters) and reports e-mail addresses, phone numbers in the
 * international `+` form (E.164-ish), IBANs (with the MOD 97 check), payment card numbers (Luhn and
 * a known card scheme prefix) and US Social Security numbers (the hyphenated AAA-GG-SSSS form),
 * when the data is classified `public` or `internal`.
 *
 * Strings are scanned; numbers are not (a 16-digit card number does not survive as a JSON number,
 * and bare 9-digit numbers are not told apart from SSNs). Findings name the kind and the JSON path,
 * never the value.
 */
import type { ComplianceContext } from '@fmp/core';
import type { ContentInspector, Finding } from './inspect.js';
import { jsonPath } from './path.js';
import { cardScheme, ibanValid, luhnValid } from './validators.js';

type DataClassification = ComplianceContext['dataClassification'];

export interface PersonalDataInspectorOptions {
  /** Classifications that claim no personal data; default public and internal. */
  readonly classifications?: readonly DataClassification[];
  /** Nesting deeper than this is not inspected (default 32). */
  readonly maxDepth?: number;
  /** Values visited at most (default 10,000). */
  readonly maxNodes?: number;
  /** Characters scanned per string (default 8,192) and in all (default 1,000,000). */
  readonly maxStringLength?: number;
  readonly maxChars?: number;
  /** Findings reported at most (default 64). */
  readonly maxFindings?: number;
}

const ID = 'personal-data';

// Bounded quantifiers everywhere: the text is untrusted and must not make a regex backtrack for long.
// An e-mail address is looked for at each `@` (a local-part character before it, a domain after
// it, matched sticky from there), so a long run of local-part characters costs nothing.
const EMAIL_DOMAIN = /(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])/y;
const LOCAL_PART = /[A-Za-z0-9._%+-]/;
const PHONE = /(?<![\w+])\+[1-9](?:[ .()-]{0,2}[0-9]){6,14}(?![0-9])/;
const SSN = /(?<![0-9-])(?!000|666|9[0-9]{2})[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}(?![0-9-])/;
const IBAN =
  /(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,3})?)(?![A-Za-z0-9])/g;
const CARD = /(?<![0-9])[0-9](?:[ -]?[0-9]){11,18}(?![0-9])/g;
const SEPARATORS = /[ -]/g;

function hasEmail(s: string): boolean {
  for (let at = s.indexOf('@'); at >= 0; at = s.indexOf('@', at + 1)) {
    if (at === 0 || !LOCAL_PART.test(s[at - 1]!)) continue;
    EMAIL_DOMAIN.lastIndex = at + 1;
    if (EMAIL_DOMAIN.test(s)) return true;
  }
  return false;
}

function firstValidIban(s: string): boolean {
  IBAN.lastIndex = 0;
  for (let m = IBAN.exec(s); m !== null; m = IBAN.exec(s)) if (ibanValid(m[0])) return true;
  return false;
}

function firstCard(s: string): string | undefined {
  CARD.lastIndex = 0;
  for (let m = CARD.exec(s); m !== null; m = CARD.exec(s)) {
    const digits = m[0].replace(SEPARATORS, '');
    const scheme = cardScheme(digits);
    if (scheme !== undefined && luhnValid(digits)) return scheme;
  }
  return undefined;
}

function hasDigitRun(s: string, min: number): boolean {
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++run >= min) return true;
    } else if (c !== 32 && c !== 45) run = 0;
  }
  return false;
}

export function createPersonalDataInspector(options: PersonalDataInspectorOptions = {}): ContentInspector {
  const flagged: ReadonlySet<string> = new Set(options.classifications ?? ['public', 'internal']);
  const maxDepth = options.maxDepth ?? 32;
  const maxNodes = options.maxNodes ?? 10_000;
  const maxStringLength = options.maxStringLength ?? 8192;
  const maxChars = options.maxChars ?? 1_000_000;
  const maxFindings = options.maxFindings ?? 64;

  return {
    id: ID,
    inspect(data: unknown, context: ComplianceContext): Finding[] {
      const findings: Finding[] = [];
      const classification = context.dataClassification;
      if (!flagged.has(classification)) return findings;
      const path: (string | number)[] = [];
      let nodes = 0;
      let chars = 0;
      let limited = false;
      // A decoded JSON payload is a tree; an in-memory object may share or loop back to a node.
      const seen = new Set<object>();

      const found = (kind: string, what: string): void => {
        if (findings.length >= maxFindings) return;
        findings.push({
          inspector: ID,
          kind,
          path: jsonPath(path),
          detail: `${what} in data classified ${classification}`,
        });
      };
      const limit = (why: string): void => {
        if (limited) return;
        limited = true;
        findings.push({ inspector: ID, kind: 'inspection-limit', path: jsonPath(path), detail: why });
      };

      const scan = (value: string): void => {
        let s = value;
        if (s.length > maxStringLength) {
          limit(`a string longer than ${maxStringLength} characters was inspected only in part`);
          s = s.slice(0, maxStringLength);
        }
        if (chars + s.length > maxChars) {
          limit(`payload text beyond ${maxChars} characters was not inspected`);
          s = s.slice(0, Math.max(0, maxChars - chars));
        }
        chars += s.length;
        if (s.length < 7) return;
        if (hasEmail(s)) found('email', 'an e-mail address');
        if (s.includes('+') && PHONE.test(s)) found('phone', 'a phone number');
        if (s.length >= 15 && firstValidIban(s)) found('iban', 'an IBAN');
        // SSNs and card numbers have at least 9 digits (spaces and hyphens between them allowed).
        if (!hasDigitRun(s, 9)) return;
        if (SSN.test(s)) found('us-ssn', 'a US Social Security number');
        const scheme = firstCard(s);
        if (scheme !== undefined) found('payment-card', `a payment card number (${scheme})`);
      };

      const walk = (v: unknown, depth: number): void => {
        if (findings.length >= maxFindings) return;
        if (++nodes > maxNodes) {
          limit(`more than ${maxNodes} values: the rest was not inspected`);
          return;
        }
        if (typeof v === 'string') {
          scan(v);
          return;
        }
        if (v === null || typeof v !== 'object') return;
        if (depth >= maxDepth) {
          limit(`nesting deeper than ${maxDepth} levels was not inspected`);
          return;
        }
        if (seen.has(v)) return;
        seen.add(v);
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length && nodes <= maxNodes; i++) {
            path.push(i);
            walk(v[i], depth + 1);
            path.pop();
          }
          return;
        }
        for (const key of Object.keys(v)) {
          if (nodes > maxNodes) break;
          path.push(key);
          walk((v as Record<string, unknown>)[key], depth + 1);
          path.pop();
        }
      };

      walk(data, 0);
      return findings;
    },
  };
}

/** Flags personal data in payloads classified public or internal, with the default bounds. */
export const personalDataInspector: ContentInspector = createPersonalDataInspector();
