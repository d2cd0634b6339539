/** JSON paths for findings. */
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
// A payload's keys are untrusted: a path stays readable and bounded however long they are.
const MAX_KEY = 64;

/** A JSON path from `$` and the keys / indices below it (`$.a.b[0]["x y"]`). */
export function jsonPath(segments: readonly (string | number)[]): string {
  let p = '$';
  for (const s of segments) {
    if (typeof s === 'number') p += `[${s}]`;
    else if (IDENTIFIER.test(s) && s.length <= MAX_KEY) p += `.${s}`;
    else p += `[${JSON.stringify(s.length > MAX_KEY ? `${s.slice(0, MAX_KEY)}…` : s)}]`;
  }
  return p;
}
