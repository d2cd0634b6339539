/**
 * Test support (not exported from the package): strings at the edges of the envelope's field
 * rules, shared by the equivalence tests that hold hand-written checks to their schemas
 * (fast-path.test.ts, frame-text.test.ts, handshake/fast-check.test.ts).
 */

/** UUIDs: valid (v4, lowercase), uppercase, version 9, variant 7, short, a non-hex digit, nil and max. */
export const UUID_EDGES: readonly string[] = [
  '3b241101-e2bb-4255-8caf-4136c566a962',
  '3B241101-E2BB-4255-8CAF-4136C566A962',
  '3b241101-e2bb-9255-8caf-4136c566a962',
  '3b241101-e2bb-4255-7caf-4136c566a962',
  '3b241101-e2bb-4255-8caf-4136c566a96',
  '3b241101-e2bb-4255-8caf-4136c566a96g',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
];

/** Every field of an envelope near the edges of its rules, and a few of the wrong kind. */
export const ENVELOPE_EDGE_STRINGS: readonly string[] = [
  '',
  'fmp/1',
  'fmp/2',
  'agent.task.request',
  'Agent.task',
  'agent',
  `a.${'b'.repeat(126)}`,
  `a.${'b'.repeat(127)}`,
  ...UUID_EDGES,
  'did:mesh:hub:eu',
  'did:mesh:hub:na',
  'did:mesh:hub:',
  'did:Mesh:x',
  'did:web:a%2Fb',
  'did:web:a%2',
  `did:x:${'a'.repeat(2042)}`,
  `did:x:${'a'.repeat(2043)}`,
  'critical',
  'low',
  'urgent',
  'z58DAdFfa9SkqZMsuN1ob',
  'z0OIl',
  `z${'2'.repeat(127)}`,
  `z${'2'.repeat(128)}`,
  '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
  '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
  '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
  'ChaCha20-Poly1305',
  'chacha20-poly1305',
  'AAAAAAAAAAAAAAAA',
  'AAAAAAAAAAAAAAA=',
  'AAAAAAAAAAAAAAAAAAAAAA',
  'AAAAAAAAAAAAAAAAAAAAA',
  'AAAAAAAAAAA+AAAAAAAAAAAA',
  '__proto__',
];

/** A string at each length limit and one past it. */
export function lengthEdges(...limits: number[]): string[] {
  return limits.flatMap((n) => ['x'.repeat(n), 'x'.repeat(n + 1)]);
}

/** Six distinct hub DIDs: a route or path one hub longer than MAX_HOPS allows. */
export const SIX_HUBS: readonly string[] = ['a', 'b', 'c', 'd', 'e', 'f'].map((h) => `did:mesh:hub:${h}`);
