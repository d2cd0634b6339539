/** Checks of opaque JSON the store keeps as text (trust state, audit context and data). */
import { MAX_JSON_DEPTH } from '@fmp/core';

export const isWellFormed = (String.prototype as unknown as { isWellFormed: (this: string) => boolean })
  .isWellFormed;

/**
 * Why `value` is not a plain JSON object that survives JSON.stringify/parse unchanged (at most
 * `maxBytes` serialized), or undefined. Iterative and bounded (depth, node count), so hostile input
 * cannot exhaust the stack. With `unicode`, strings and keys must also be well-formed (PostgreSQL
 * text and RFC 8785 hashing refuse lone surrogates).
 */
export function jsonObjectProblem(value: unknown, maxBytes: number, unicode = false): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be a JSON object';
  const stack: [unknown, number][] = [[value, 1]];
  let nodes = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    // Every node costs at least one serialized byte: more nodes than bytes cannot fit.
    if (++nodes > maxBytes) return `must serialize to at most ${maxBytes} bytes`;
    if (v === null || typeof v === 'boolean') continue;
    if (typeof v === 'string') {
      if (unicode && !isWellFormed.call(v)) return 'strings must be well-formed unicode';
      continue;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return 'numbers must be finite (JSON has no NaN or Infinity)';
      continue;
    }
    if (typeof v !== 'object') return `a ${typeof v} is not JSON`;
    if (depth > MAX_JSON_DEPTH) return `must nest at most ${MAX_JSON_DEPTH} levels`;
    if (Array.isArray(v)) {
      // for...of reads holes as undefined, which is refused above (JSON would turn them into null).
      for (const item of v) stack.push([item, depth + 1]);
      continue;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    // A Date, Map or class instance would not come back as itself.
    if (proto !== Object.prototype && proto !== null) return 'must contain only plain objects and arrays';
    for (const [key, item] of Object.entries(v)) {
      if (unicode && !isWellFormed.call(key)) return 'keys must be well-formed unicode';
      stack.push([item, depth + 1]);
    }
  }
  return undefined;
}
