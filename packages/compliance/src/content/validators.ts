/**
 * Check-digit validators the personal-data inspector uses to tell real identifiers from numbers
 * that merely look like them.
 */

/** Luhn (ISO/IEC 7812-1 Annex B) over a string of ASCII digits; false for anything else. */
export function luhnValid(digits: string): boolean {
  const n = digits.length;
  if (n < 2) return false;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = digits.charCodeAt(n - 1 - i) - 48;
    if (d < 0 || d > 9) return false;
    if (i % 2 === 1) sum += d > 4 ? d * 2 - 9 : d * 2;
    else sum += d;
  }
  return sum % 10 === 0;
}

/**
 * The IBAN check (ISO 13616, ISO/IEC 7064 MOD 97-10): spaces are ignored, letters may be lower
 * case; two letters, two check digits, then an 11-30 character BBAN (IBANs are 15-34 long).
 */
export function ibanValid(input: string): boolean {
  const s = input.replace(/ /g, '').toUpperCase();
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/.test(s)) return false;
  // The BBAN, then the country code and check digits; letters count as 10..35. Reduced mod 97
  // as we go, so no big integers are needed.
  let rem = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt((k + 4) % s.length);
    rem = c <= 57 ? (rem * 10 + (c - 48)) % 97 : (rem * 100 + (c - 55)) % 97;
  }
  return rem === 1;
}

/**
 * The card scheme a number's issuer prefix (IIN) and length belong to, or undefined: most 13-19
 * digit numbers that pass Luhn (order numbers, millisecond timestamps) belong to none.
 */
export function cardScheme(digits: string): string | undefined {
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p3 = Number(digits.slice(0, 3));
  const p4 = Number(digits.slice(0, 4));
  if (digits[0] === '4' && (n === 13 || n === 16 || n === 19)) return 'Visa';
  if (n === 16 && ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))) return 'Mastercard';
  if (n === 15 && (p2 === 34 || p2 === 37)) return 'American Express';
  if (n >= 16 && n <= 19 && (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65)) return 'Discover';
  if (n >= 16 && n <= 19 && p4 >= 3528 && p4 <= 3589) return 'JCB';
  if (n >= 14 && n <= 19 && (p2 === 36 || p2 === 38 || p2 === 39 || (p3 >= 300 && p3 <= 305))) {
    return 'Diners Club';
  }
  if (n >= 16 && n <= 19 && p2 === 62) return 'UnionPay';
  if (n >= 12 && n <= 19 && (p2 === 50 || (p2 >= 56 && p2 <= 69))) return 'Maestro';
  return undefined;
}
