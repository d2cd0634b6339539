/** Shared commander helpers. */

/** Collects a repeatable option (`--capability a --capability b`) into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
