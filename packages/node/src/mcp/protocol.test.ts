import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exposedToolName, partnerAliases } from './names.js';
import {
  catalogSchema,
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
