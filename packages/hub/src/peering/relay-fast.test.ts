/**
 * The Relay fast check against RelaySchema: whatever the fast check accepts, the schema accepts
 * with the same value (so parseFrame may skip the schema); the rest is left to the schema.
 */
import { parseFrame } from '@fmp/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRelayFrame, RelaySchema } from './frames.js';

const relay = (frame: unknown, extra: Record<string, unknown> = {}) => ({
  type: 'Relay',
  toMeshId: 'did:mesh:enterprise:acme',
  fromHub: 'did:mesh:hub:eu',
  ...extra,
  frame,
});

const innerFrame = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 130 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
  fc.record({
    type: fc.constantFrom('agent.task.request', 'Relay', 'HubHello', 'LinkPing', 'Delivered', ''),
  }),
  fc
    .tuple(fc.constantFrom('Delivered', 'Relay', 'x.y'), fc.jsonValue({ maxDepth: 3 }))
    .map(([type, data]) => ({ type, data })),
  fc.jsonValue({ maxDepth: 2 }),
);

describe('isRelayFrame', () => {
  it('accepts only what RelaySchema accepts, with the same value', () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        innerFrame,
        fc.option(
          fc.record(
            {
              route: fc.array(fc.constantFrom('did:mesh:hub:eu', 'did:mesh:hub:na', 'nope'), {
                maxLength: 6,
              }),
              toHub: fc.constantFrom('did:mesh:hub:na', 'did:x:', 'x'),
              toMeshId: fc.constantFrom('did:mesh:enterprise:b', 'did:x:', 'x', `did:x:${'a'.repeat(2043)}`),
              fromHub: fc.constantFrom(
                'did:mesh:hub:na',
                'did:mesh:hub:',
                'did:a:b:',
                `did:x:${'a'.repeat(251)}`,
              ),
              type: fc.constantFrom('Relay', 'relay'),
              extra: fc.jsonValue(),
            },
            { requiredKeys: [] },
          ),
          { nil: {}, freq: 2 },
        ),
        (frame, extra) => {
          // Through JSON, as a hub link delivers it.
          const value = JSON.parse(JSON.stringify(relay(frame, extra))) as unknown;
          const zod = RelaySchema.safeParse(value);
          if (isRelayFrame(value)) {
            accepted++;
            expect(zod.success).toBe(true);
            expect(value).toEqual(zod.data);
          } else if (zod.success) {
            // Only a "__proto__" key is left to the schema.
            expect(JSON.stringify(value)).toContain('__proto__');
          }
        },
      ),
      { numRuns: 2000 },
    );
    expect(accepted).toBeGreaterThan(20);
  });

  it('defers the edge cases to the schema, and parseFrame still decides as before', () => {
    const cases = [
      '{"type":"Relay","toMeshId":"did:mesh:enterprise:a","fromHub":"did:mesh:hub:eu","frame":{"type":"x.y","n":1e400}}',
      '{"type":"Relay","toMeshId":"did:mesh:enterprise:a","fromHub":"did:mesh:hub:eu","frame":{"type":"x.y","__proto__":{"a":1}}}',
      `{"type":"Relay","toMeshId":"did:mesh:enterprise:a","fromHub":"did:mesh:hub:eu","frame":{"type":"x.y","${'k'.repeat(129)}":1}}`,
      '{"type":"Relay","toMeshId":"did:mesh:enterprise:a","fromHub":"did:mesh:hub:eu","frame":{"type":"LinkPing"}}',
    ];
    for (const text of cases) {
      const value = JSON.parse(text) as unknown;
      expect(isRelayFrame(value)).toBe(false);
      let viaParse: boolean;
      try {
        parseFrame(text);
        viaParse = true;
      } catch {
        viaParse = false;
      }
      expect(viaParse).toBe(RelaySchema.safeParse(value).success);
    }
    // An inner frame nested past MAX_JSON_DEPTH: not taken by the fast check (no unbounded
    // recursion), and parseFrame refuses it for its depth.
    const deep = `{"type":"Relay","toMeshId":"did:mesh:enterprise:a","fromHub":"did:mesh:hub:eu","frame":{"type":"x.y","d":${'['.repeat(70)}${']'.repeat(70)}}}`;
    expect(isRelayFrame(JSON.parse(deep))).toBe(false);
    expect(() => parseFrame(deep)).toThrow(/deeper/);
  });
});
