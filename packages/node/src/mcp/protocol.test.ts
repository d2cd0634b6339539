import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exposedToolName, partnerAliases } from './names.js';
import {
  catalogSchema,
  parseTaskRequest,
  parseTaskResponse,
  taskCancelSchema,
  taskProgressSchema,
  taskRequestSchema,
  taskResponseSchema,
} from './protocol.js';

const schemas = [catalogSchema, taskRequestSchema, taskProgressSchema, taskCancelSchema, taskResponseSchema];

describe('MCP federation messages', () => {
  it('never throw on arbitrary JSON: every input is accepted or refused with issues', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const schema of schemas) {
          const r = schema.safeParse(value);
          if (!r.success) expect(r.error.issues.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('accepts a well-formed request and keeps it unchanged', () => {
    fc.assert(
      fc.property(
        fc.record({
          tool: fc.stringMatching(/^[A-Za-z0-9_.-]{1,128}$/),
          // A `__proto__` key is not kept (see the test below): well-formed arguments have none.
          args: fc
            .dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }))
            .filter((a) => !JSON.stringify(a).includes('"__proto__"')),
          progress: fc.boolean(),
          deadline: fc.nat(),
        }),
        ({ tool, args, progress, deadline }) => {
          const req = {
            taskId: randomUUID(),
            tool,
            arguments: args,
            agent: { did: 'did:mesh:enterprise:acme-001#agent-x' },
            progress,
            deadline,
          };
          expect(JSON.stringify(taskRequestSchema.parse(req))).toBe(JSON.stringify(req));
        },
      ),
    );
  });

  it('drops a `__proto__` key from the arguments (own property after JSON.parse), never sets a prototype', () => {
    const req = {
      taskId: randomUUID(),
      tool: 'add',
      arguments: JSON.parse('{"a":{"__proto__":{"polluted":true},"b":1}}') as Record<string, unknown>,
      agent: { did: 'did:mesh:enterprise:acme-001#agent-x' },
      progress: false,
      deadline: 1,
    };
    const parsed = taskRequestSchema.parse(req);
    expect(JSON.stringify(parsed.arguments)).toBe('{"a":{"b":1}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((parsed.arguments.a as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses what a partner must not send', () => {
    const base = {
      taskId: randomUUID(),
      tool: 'add',
      arguments: {},
      agent: { did: 'did:mesh:enterprise:acme-001' },
      progress: false,
      deadline: 1,
    };
    expect(taskRequestSchema.safeParse({ ...base, tool: 'has space' }).success).toBe(false);
    expect(taskRequestSchema.safeParse({ ...base, tool: 'x'.repeat(129) }).success).toBe(false);
    expect(taskRequestSchema.safeParse({ ...base, taskId: 'not-a-uuid' }).success).toBe(false);
    expect(taskRequestSchema.safeParse({ ...base, agent: { did: 'mallory' } }).success).toBe(false);
    expect(taskRequestSchema.safeParse({ ...base, extra: 1 }).success).toBe(false);
    expect(
      taskResponseSchema.safeParse({ taskId: base.taskId, error: { code: 'made_up', message: 'x' } }).success,
    ).toBe(false);
    const tool = { name: 't', inputSchema: { type: 'object' }, capability: 'ml.inference' };
    const catalog = { revision: 0, tools: [tool], credential: {} };
    expect(catalogSchema.safeParse(catalog).success).toBe(true);
    expect(catalogSchema.safeParse({ ...catalog, tools: Array(513).fill(tool) }).success).toBe(false);
    expect(
      catalogSchema.safeParse({ ...catalog, tools: [{ ...tool, inputSchema: { type: 'string' } }] }).success,
    ).toBe(false);
    const huge = { type: 'object', description: 'x'.repeat(70 * 1024) };
    expect(catalogSchema.safeParse({ ...catalog, tools: [{ ...tool, inputSchema: huge }] }).success).toBe(
      false,
    );
  });
});

describe('the hand checks of task requests and responses', () => {
  // Values that sit on either side of a rule of the schemas.
  const EDGES: unknown[] = [
    null,
    true,
    0,
    -1,
    1.5,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    '',
    'x',
    'has space',
    'a'.repeat(128),
    'a'.repeat(129),
    'did:mesh',
    'did:mesh:a',
    `did:${'a'.repeat(508)}`,
    `did:${'a'.repeat(509)}`,
    'DID:mesh:enterprise:acme-001',
    'c'.repeat(1024),
    'c'.repeat(1025),
    '3b241101-e2bb-4255-8caf-4136c566a964',
    '3b241101-e2bb-4255-8caf-4136c566a96',
    'busy',
    'made_up',
    [],
    [1],
    {},
    { a: 1 },
    JSON.parse('{"__proto__":{"x":1}}'),
    { a: { b: [1, { c: null }] } },
    { did: 'did:mesh:enterprise:acme-001' },
    { did: 'did:mesh:enterprise:acme-001', client: 'c'.repeat(128) },
    { did: 'did:mesh:enterprise:acme-001', client: 'c'.repeat(129) },
    { did: 'did:mesh:enterprise:acme-001', client: 7 },
    { did: 'did:mesh:enterprise:acme-001', other: 1 },
    { did: 'DID:mesh:enterprise:acme-001' },
    { did: 'did:mes' },
    { did: 'did:mesh' },
    { did: `did:${'a'.repeat(508)}` },
    { did: `did:${'a'.repeat(509)}` },
    { client: 'c' },
    {},
    { code: 'busy', message: 'm' },
    { code: 'busy', message: 'm', retryAfterMs: 10 },
    { code: 'busy', message: 'm', retryAfterMs: -1 },
    { code: 'busy', message: 'm', retryAfterMs: 0.5 },
    { code: 'busy', message: 'c'.repeat(1025) },
    { code: 'nope', message: 'm' },
    { code: 'busy' },
    { code: 'busy', message: 'm', extra: 1 },
    { content: [{ type: 'text', text: 'ok' }] },
  ];
  const request = {
    taskId: randomUUID(),
    tool: 'add',
    arguments: { a: 1, b: [2, 3] },
    agent: { did: 'did:mesh:enterprise:acme-001#agent-x', client: 'bench' },
    progress: false,
    deadline: 1_700_000_000_000,
  };
  const responses = [
    { taskId: randomUUID(), result: { content: [{ type: 'text', text: '5' }] } },
    { taskId: randomUUID(), error: { code: 'busy', message: 'later', retryAfterMs: 20 } },
  ];
  /** One change to a valid message: a member replaced by an edge value, removed, or one added. */
  const edited = (base: Record<string, unknown>) =>
    fc.oneof(
      fc
        .tuple(fc.constantFrom(...Object.keys(base)), fc.constantFrom(...EDGES))
        .map(([k, v]) => ({ ...base, [k]: v })),
      fc.constantFrom(...Object.keys(base)).map((k) => {
        const { [k]: _gone, ...rest } = base;
        return rest;
      }),
      fc
        .tuple(fc.constantFrom('extra', 'result', 'error', '__proto__'), fc.constantFrom(...EDGES))
        .map(([k, v]) => JSON.parse(JSON.stringify({ ...base, [k]: v }))),
    );
  const same = (a: { success: boolean; data?: unknown }, b: { success: boolean; data?: unknown }) => {
    expect(a.success).toBe(b.success);
    if (a.success) expect(JSON.stringify(a.data)).toBe(JSON.stringify(b.data));
  };

  it('give the schema verdict and value for every one-member change and any JSON', () => {
    fc.assert(
      fc.property(fc.oneof(edited(request), fc.jsonValue()), (v) => {
        const plain = JSON.parse(JSON.stringify(v ?? null)) as unknown;
        same(parseTaskRequest(plain), taskRequestSchema.safeParse(plain));
      }),
      { numRuns: 4000 },
    );
    fc.assert(
      fc.property(fc.oneof(edited(responses[0]!), edited(responses[1]!), fc.jsonValue()), (v) => {
        const plain = JSON.parse(JSON.stringify(v ?? null)) as unknown;
        same(parseTaskResponse(plain), taskResponseSchema.safeParse(plain));
      }),
      { numRuns: 4000 },
    );
  });

  it('keep a valid message as it came (no copy) and leave the rest to the schema', () => {
    expect(parseTaskRequest(request)).toEqual({ success: true, data: request });
    expect(parseTaskRequest(request).data).toBe(request);
    for (const r of responses) expect(parseTaskResponse(r).data).toBe(r);
    const e = parseTaskRequest({ ...request, tool: 'has space' });
    expect(e.success).toBe(false);
    expect(e.error?.issues[0]?.path).toEqual(['tool']);
  });
});

describe('exposed tool names', () => {
  const did = fc.oneof(
    fc
      .tuple(fc.stringMatching(/^[a-z0-9-]{1,12}$/), fc.stringMatching(/^[A-Za-z0-9._-]{1,80}$/))
      .map(([c, n]) => `did:mesh:${c}:${n}`),
    fc.stringMatching(/^[A-Za-z0-9]{10,60}$/).map((k) => `did:key:z${k}`),
  );

  it('always follow the MCP tool-name rules, and aliases are unique', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(did, { maxLength: 12 }),
        fc.stringMatching(/^[A-Za-z0-9_.-]{1,128}$/),
        (dids, tool) => {
          const aliases = partnerAliases(dids);
          expect(new Set(aliases.values()).size).toBe(dids.length);
          for (const alias of aliases.values()) {
            const name = exposedToolName(alias, tool);
            expect(name).toMatch(/^[A-Za-z0-9_.-]{1,128}$/);
            expect(name.startsWith(`${alias}__`)).toBe(true);
          }
        },
      ),
    );
  });

  it('use the short did:mesh name unless two partners share it', () => {
    const one = partnerAliases(['did:mesh:academic:mit-001', 'did:mesh:government:opendata-001']);
    expect([...one.values()]).toEqual(['mit-001', 'opendata-001']);
    const clash = partnerAliases(['did:mesh:academic:lab-1', 'did:mesh:enterprise:lab-1']);
    expect([...clash.values()]).toEqual(['academic-lab-1', 'enterprise-lab-1']);
  });
});
