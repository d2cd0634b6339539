import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import { type ComplianceContext, complianceContextSchema, parseRetentionPeriod } from '@fmp/core';
import * as fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { benchPolicyEngine } from './bench.js';
import { loadCedar } from './cedar.js';
import {
  EXAMPLE_POLICY_ORGS,
  examplePolicyFile,
  fmpCedarSchema,
  type MeshAttributes,
  PolicyEngine,
  PolicyError,
  type PolicyRequest,
  policyRequestSchema,
} from './engine.js';

const ACME = 'did:mesh:enterprise:acme-001';
const MIT = 'did:mesh:academic:mit-001';
const GOV = 'did:mesh:government:opendata-001';
const NGO = 'did:mesh:ngo:relief-001';
const PUB = 'did:mesh:public:library-001';
const MESHES: Record<string, MeshAttributes> = {
  [ACME]: { category: 'enterprise', region: 'na', trustLevel: 85 },
  [MIT]: { category: 'academic', region: 'na', trustLevel: 92 },
  [GOV]: { category: 'government', region: 'eu', trustLevel: 90 },
  [NGO]: { category: 'ngo', region: 'apac', trustLevel: 75 },
  [PUB]: { category: 'public', region: 'eu', trustLevel: 40 },
};

const tmp = mkdtempSync(join(tmpdir(), 'fmp-policy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const mesh = (did: string) => ({ type: 'Mesh' as const, id: did, attrs: MESHES[did]! });
const tool = (id: string, capability: string) => ({
  type: 'Tool' as const,
  id,
  attrs: { capability, server: 'fmp-demo' },
});
const INTERNAL: ComplianceContext = { dataClassification: 'internal', auditTrail: true };

function callTool(
  from: string,
  toolId: string,
  capability: string,
  trustScore: number,
  compliance: ComplianceContext = INTERNAL,
): PolicyRequest {
  return {
    principal: mesh(from),
    action: 'callTool',
    resource: tool(toolId, capability),
    context: { trustScore, capability, compliance },
  };
}
function between(
  action: 'federate' | 'send' | 'receive',
  principal: string,
  resource: string,
  trustScore: number,
  compliance?: ComplianceContext,
  purpose?: string,
): PolicyRequest {
  return {
    principal: mesh(principal),
    action,
    resource: mesh(resource),
    context: { trustScore, ...(compliance ? { compliance } : {}), ...(purpose ? { purpose } : {}) },
  };
}

const loadExample = (org: (typeof EXAMPLE_POLICY_ORGS)[number]) =>
  PolicyEngine.fromFiles([examplePolicyFile(org)]);

describe('PolicyEngine: Cedar semantics', () => {
  const engine = PolicyEngine.fromText(
    `
    @id("federate-trusted")
    permit (principal, action == Fmp::Action::"federate", resource) when { context.trustScore >= 50 };
    @id("no-rogue")
    forbid (principal == Fmp::Mesh::"did:mesh:enterprise:rogue-001", action, resource);
    @id("federate-academic")
    permit (principal, action == Fmp::Action::"federate", resource) when { principal.category == "academic" };
    `,
    { name: 'semantics.cedar' },
  );

  it('permits with the ids of every permit that applied', () => {
    expect(engine.authorize(between('federate', MIT, ACME, 80))).toEqual({
      allow: true,
      policyIds: ['federate-academic', 'federate-trusted'],
      errors: [],
    });
    expect(engine.authorize(between('federate', ACME, MIT, 50))).toEqual({
      allow: true,
      policyIds: ['federate-trusted'],
      errors: [],
    });
  });

  it('denies by default, with no policy ids', () => {
    expect(engine.authorize(between('federate', ACME, MIT, 49))).toEqual({
      allow: false,
      policyIds: [],
      errors: [],
    });
    // No policy speaks of send at all.
    expect(engine.authorize(between('send', ACME, MIT, 100))).toEqual({
      allow: false,
      policyIds: [],
      errors: [],
    });
  });

  it('lets a forbid win over permits, naming the forbid', () => {
    const rogue = {
      ...between('federate', ACME, MIT, 99),
      principal: {
        type: 'Mesh' as const,
        id: 'did:mesh:enterprise:rogue-001',
        attrs: { category: 'academic', region: 'na' },
      },
    };
    expect(engine.authorize(rogue)).toEqual({ allow: false, policyIds: ['no-rogue'], errors: [] });
  });

  it('rounds the trust score down, so >= thresholds are exact', () => {
    expect(engine.authorize(between('federate', ACME, MIT, 49.999)).allow).toBe(false);
    expect(engine.authorize(between('federate', ACME, MIT, 50)).allow).toBe(true);
  });

  it('reports a policy that errors and skips it', () => {
    // Without the principal's attributes `principal.category` cannot be read.
    const d = engine.authorize({
      principal: { type: 'Mesh', id: ACME },
      action: 'federate',
      resource: mesh(MIT),
      context: { trustScore: 10 },
    });
    expect(d.allow).toBe(false);
    expect(d.policyIds).toEqual([]);
    expect(d.errors).toHaveLength(1);
    expect(d.errors[0]).toMatch(/^federate-academic: /);
  });

  it('numbers policies without @id as file:index in file order, past ten', () => {
    const text = Array.from(
      { length: 12 },
      (_, i) =>
        `permit (principal, action == Fmp::Action::"federate", resource) when { context.trustScore == ${i} };`,
    ).join('\n');
    const e = PolicyEngine.fromText(text, { name: '/etc/fmp/numbered.cedar' });
    expect(e.policies.map((p) => p.id)).toEqual(Array.from({ length: 12 }, (_, i) => `numbered.cedar:${i}`));
    for (const i of [0, 1, 2, 9, 10, 11]) {
      expect(e.authorize(between('federate', ACME, MIT, i)).policyIds).toEqual([`numbered.cedar:${i}`]);
    }
  });

  it('sees an agent as in its mesh, and its mesh attributes through `mesh`', () => {
    const e = PolicyEngine.fromText(`
      @id("acme-agents")
      permit (principal in Fmp::Mesh::"${ACME}", action == Fmp::Action::"callTool", resource);
      @id("academic-agents")
      permit (principal is Fmp::Agent, action == Fmp::Action::"callTool", resource)
      when { principal.mesh.category == "academic" };
    `);
    const agent = (meshId: string) => ({
      principal: {
        type: 'Agent' as const,
        id: `${meshId}#agent-7`,
        attrs: { mesh: { id: meshId, attrs: MESHES[meshId]! } },
      },
      action: 'callTool' as const,
      resource: tool('sentiment', 'ml.inference'),
      context: { trustScore: 70 },
    });
    expect(e.authorize(agent(ACME)).policyIds).toEqual(['acme-agents']);
    expect(e.authorize(agent(MIT)).policyIds).toEqual(['academic-agents']);
    expect(e.authorize(agent(GOV)).allow).toBe(false);
  });

  it('remembers decisions in a bounded cache, and answers the same from it', () => {
    const e = PolicyEngine.fromText(
      'permit (principal, action == Fmp::Action::"federate", resource) when { context.trustScore >= 50 };',
      { cacheSize: 8 },
    );
    for (let round = 0; round < 2; round++) {
      for (let s = 0; s <= 100; s++)
        expect(e.authorize(between('federate', ACME, MIT, s)).allow).toBe(s >= 50);
    }
    expect(e.cachedDecisions).toBe(8);
    const off = PolicyEngine.fromText('permit (principal, action, resource);', { cacheSize: 0 });
    expect(off.authorize(between('send', ACME, MIT, 1)).allow).toBe(true);
    expect(off.cachedDecisions).toBe(0);
  });
});

describe('PolicyEngine: requests are validated', () => {
  const engine = PolicyEngine.fromText('permit (principal, action, resource);');

  it('refuses a wrong attribute type with a clear error instead of deciding', () => {
    const d = engine.authorize({
      ...between('federate', ACME, MIT, 80),
      principal: {
        type: 'Mesh',
        id: ACME,
        attrs: { category: 'enterprise', region: 'na', trustLevel: 'high' },
      },
    } as unknown as PolicyRequest);
    expect(d.allow).toBe(false);
    expect(d.errors.join('\n')).toMatch(/invalid request: principal\.attrs\.trustLevel: /);
  });

  it('refuses principal and resource types the action does not take', () => {
    const d = engine.authorize({ ...between('federate', ACME, MIT, 80), resource: tool('t', 'x') });
    expect(d).toEqual({
      allow: false,
      policyIds: [],
      errors: ['invalid request: federate takes a Mesh principal and a Mesh resource, not Mesh and Tool'],
    });
  });

  it('refuses a compliance context that breaks spec 7.2 (personal data without a basis)', () => {
    const d = engine.authorize(
      between('receive', ACME, MIT, 80, {
        dataClassification: 'personal-identifiable',
        auditTrail: true,
      } as ComplianceContext),
    );
    expect(d.allow).toBe(false);
    expect(d.errors.join('\n')).toMatch(/processingBasis is required/);
  });

  it('refuses one entity given twice with different attributes', () => {
    const d = engine.authorize({
      ...between('send', ACME, ACME, 80),
      resource: { type: 'Mesh', id: ACME, attrs: { category: 'academic', region: 'eu' } },
    });
    expect(d.allow).toBe(false);
    expect(d.errors).toEqual([
      `invalid request: Fmp::Mesh::"${ACME}" appears twice with different attributes`,
    ]);
  });

  it('never throws, whatever arrives (property)', () => {
    const loaded = PolicyEngine.fromFiles(EXAMPLE_POLICY_ORGS.map(examplePolicyFile));
    const id = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.constantFrom(ACME, MIT, 'did:mesh:x:y'),
      fc.anything(),
    );
    const value = fc.oneof(
      fc.anything({ maxDepth: 2 }),
      fc.double(),
      fc.integer(),
      fc.string({ maxLength: 200 }),
      fc.boolean(),
    );
    const attrs = fc.option(
      fc.record(
        { category: value, region: value, trustLevel: value, capability: value, server: value, mesh: value },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    );
    const request = fc.record(
      {
        principal: fc.record(
          { type: fc.constantFrom('Mesh', 'Agent', 'Tool', 7), id, attrs },
          { requiredKeys: [] },
        ),
        action: fc.oneof(fc.constantFrom('federate', 'callTool', 'send', 'receive'), value),
        resource: fc.record(
          { type: fc.constantFrom('Mesh', 'Tool', 'Agent'), id, attrs },
          { requiredKeys: [] },
        ),
        context: fc.oneof(
          value,
          fc.record(
            {
              trustScore: value,
              capability: value,
              purpose: value,
              compliance: fc.oneof(
                value,
                fc.record(
                  {
                    dataClassification: fc.oneof(fc.constantFrom('public', 'special-category'), value),
                    processingBasis: fc.oneof(fc.constant('consent'), value),
                    geographicRestrictions: fc.oneof(
                      fc.array(fc.string({ maxLength: 20 }), { maxLength: 40 }),
                      value,
                    ),
                    auditTrail: value,
                    retentionPeriod: fc.oneof(fc.constantFrom('90-days', '0-days', '99999-years'), value),
                    aiRiskLevel: value,
                  },
                  { requiredKeys: [] },
                ),
              ),
            },
            { requiredKeys: [] },
          ),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(request, value), (r) => {
        const d = loaded.authorize(r as PolicyRequest);
        expect(typeof d.allow).toBe('boolean');
        // Anything but a well-formed request is a deny that says why.
        if (!policyRequestOk(r)) {
          expect(d.allow).toBe(false);
          expect(d.errors.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('PolicyEngine: arbitrary strings', () => {
  it('decides well-shaped requests with any ids and text, and refuses invalid Unicode (property)', () => {
    const loaded = PolicyEngine.fromFiles(EXAMPLE_POLICY_ORGS.map(examplePolicyFile));
    // Quotes, backslashes, NUL, Cedar-looking text and any code point; with `bad`, lone surrogates too.
    const unitOf = (bad: boolean) =>
      fc.oneof(
        fc.constantFrom('"', '\\', '\u0000', '::', '*', 'Fmp::Mesh::"a"', '\u{1F600}'),
        fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
        ...(bad ? [fc.constantFrom('\uD800', '\uDFFF')] : []),
      );
    const requestOf = (bad: boolean): fc.Arbitrary<PolicyRequest> => {
      const unit = unitOf(bad);
      const text = (maxLength: number) => fc.string({ minLength: 1, maxLength, unit });
      return fc.record({
        principal: fc.record({
          type: fc.constant('Mesh' as const),
          id: text(40),
          attrs: fc.record({ category: text(20), region: text(20) }),
        }),
        action: fc.constant('callTool' as const),
        resource: fc.record({
          type: fc.constant('Tool' as const),
          id: text(40),
          attrs: fc.record({ capability: text(20), server: text(20) }),
        }),
        context: fc.record({
          trustScore: fc.double({ min: 0, max: 100, noNaN: true }),
          purpose: text(30),
          capability: text(30),
          compliance: fc.record({
            dataClassification: fc.constant('internal' as const),
            auditTrail: fc.boolean(),
            purpose: text(30),
          }),
        }),
      });
    };
    const request = fc.boolean().chain(requestOf);
    let decided = 0;
    fc.assert(
      fc.property(request, (r) => {
        const d = loaded.authorize(r);
        const strings = [r.principal.id, r.resource.id, r.context.purpose!, r.context.compliance!.purpose!];
        const invalid = [
          ...strings,
          ...Object.values(r.principal.attrs!),
          ...Object.values(r.resource.attrs!),
        ].some((s) => /\p{Cs}/u.test(String(s)));
        if (invalid) {
          expect(d.allow).toBe(false);
          expect(d.errors.join('\n')).toMatch(/invalid request: .*must be well-formed Unicode/);
        } else {
          expect(d.errors).toEqual([]);
          decided++;
        }
      }),
      { numRuns: 300 },
    );
    expect(decided).toBeGreaterThan(50);
  });
});

/** Whether the engine should accept the request: its zod schema, and types the action takes. */
function policyRequestOk(r: unknown): boolean {
  const parsed = policyRequestSchema.safeParse(r);
  if (!parsed.success) return false;
  const { action, principal, resource } = parsed.data;
  if (action === 'callTool') return resource.type === 'Tool';
  return principal.type === 'Mesh' && resource.type === 'Mesh';
}

describe('PolicyEngine: loading', () => {
  it('loads and validates each example file, with no warnings', () => {
    for (const org of EXAMPLE_POLICY_ORGS) {
      const e = loadExample(org);
      expect(e.policies.length).toBeGreaterThanOrEqual(6);
      expect(e.warnings).toEqual([]);
      // Every example policy is named, and the shared rule is in every file.
      for (const p of e.policies) expect(p.id.startsWith(`${org}-`)).toBe(true);
      expect(e.policies.map((p) => p.id)).toContain(`${org}-special-category-needs-consent`);
    }
  });

  it('loads all the examples together (ids are unique across files)', () => {
    const all = PolicyEngine.fromFiles(EXAMPLE_POLICY_ORGS.map(examplePolicyFile));
    expect(new Set(all.policies.map((p) => p.id)).size).toBe(all.policies.length);
  });

  it('names the file, the line and the Cedar message for a syntax error', () => {
    const file = join(tmp, 'broken.cedar');
    writeFileSync(
      file,
      '// fine so far\npermit (principal, action, resource)\nwhen { context.trustScore >= };\n',
    );
    expect(() => PolicyEngine.fromFiles([file])).toThrow(PolicyError);
    expect(() => PolicyEngine.fromFiles([file])).toThrow(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: unexpected token \`}\` at line 3:30`),
    );
    try {
      PolicyEngine.fromFiles([file]);
    } catch (err) {
      expect((err as PolicyError).source).toBe(file);
      expect((err as PolicyError).code).toBe('policy_invalid');
    }
  });

  it('reports a schema violation (wrong attribute type) with the file, policy and place', () => {
    const text = [
      '@id("ok") permit (principal, action == Fmp::Action::"federate", resource);',
      '',
      '@id("wrong-type")',
      'permit (principal is Fmp::Mesh, action == Fmp::Action::"federate", resource)',
      'when { principal has trustLevel && principal.trustLevel == "high" };',
    ].join('\n');
    expect(() => PolicyEngine.fromText(text, { name: 'mine.cedar' })).toThrow(
      /^policies do not validate against the fmp Cedar schema: mine\.cedar: policy wrong-type: the types Long and String are not compatible at line 5:36 \(`principal\.trustLevel == "high"`\)/,
    );
  });

  it('reports attributes the schema does not declare, and optional ones read without `has`', () => {
    expect(() =>
      PolicyEngine.fromText(
        'permit (principal, action == Fmp::Action::"callTool", resource) when { resource.owner == "x" };',
      ),
    ).toThrow(/attribute `owner` on entity type `Fmp::Tool` not found/);
    expect(() =>
      PolicyEngine.fromText(
        'permit (principal, action == Fmp::Action::"federate", resource) when { context.purpose == "x" };',
      ),
    ).toThrow(/policy policies:0: .*purpose/);
  });

  it('refuses unknown actions, templates, duplicate ids and unreadable files', () => {
    expect(() =>
      PolicyEngine.fromText('permit (principal, action == Fmp::Action::"delete", resource);'),
    ).toThrow(/unrecognized action `Fmp::Action::"delete"`/);
    expect(() => PolicyEngine.fromText('permit (principal == ?principal, action, resource);')).toThrow(
      /templates .* are not supported/,
    );
    expect(() =>
      PolicyEngine.fromSources([
        { name: 'a.cedar', text: '@id("x") permit (principal, action, resource);' },
        { name: 'b.cedar', text: '@id("x") forbid (principal, action, resource);' },
      ]),
    ).toThrow('b.cedar: duplicate policy id "x" (also in a.cedar)');
    const missing = join(tmp, 'missing.cedar');
    expect(() => PolicyEngine.fromFiles([missing])).toThrow(`${missing}: cannot read policy file`);
  });

  it('accepts an empty policy set and denies everything', () => {
    const e = PolicyEngine.fromText('// nothing yet\n');
    expect(e.policies).toEqual([]);
    expect(e.authorize(between('federate', MIT, ACME, 100))).toEqual({
      allow: false,
      policyIds: [],
      errors: [],
    });
  });

  it('ships a schema that parses', () => {
    expect(loadCedar().checkParseSchema(fmpCedarSchema())).toEqual({ type: 'success' });
  });
});

describe('example policies', () => {
  it('every organization refuses special-category data without consent', () => {
    const special = (processingBasis: 'consent' | 'contract'): ComplianceContext => ({
      dataClassification: 'special-category',
      processingBasis,
      auditTrail: true,
    });
    for (const org of EXAMPLE_POLICY_ORGS) {
      const e = loadExample(org);
      const d = e.authorize(between('receive', MIT, GOV, 95, special('contract')));
      expect(d.allow).toBe(false);
      expect(d.policyIds).toContain(`${org}-special-category-needs-consent`);
      if (org !== 'pub') {
        expect(e.authorize(between('receive', MIT, GOV, 95, special('consent')))).toMatchObject({
          allow: true,
          policyIds: [`${org}-receive-partners`],
        });
      }
    }
  });

  it('ENT: trusted partners federate; data processing from 70; regions and CCPA opt-outs hold', () => {
    const e = loadExample('ent');
    expect(e.authorize(between('federate', MIT, ACME, 50)).policyIds).toEqual(['ent-federate-trusted']);
    expect(e.authorize(between('federate', PUB, ACME, 40)).allow).toBe(false);
    expect(e.authorize(callTool(MIT, 'dedupe_records', 'data.processing', 70)).policyIds).toEqual([
      'ent-data-processing-trusted',
    ]);
    expect(e.authorize(callTool(MIT, 'dedupe_records', 'data.processing', 69.9)).allow).toBe(false);
    const euOnly: ComplianceContext = { ...INTERNAL, geographicRestrictions: ['eu'] };
    expect(e.authorize(between('send', ACME, GOV, 80, euOnly)).allow).toBe(true);
    expect(e.authorize(between('send', ACME, MIT, 80, euOnly))).toEqual({
      allow: false,
      policyIds: ['ent-send-within-restrictions'],
      errors: [],
    });
    const sale: ComplianceContext = {
      dataClassification: 'personal-identifiable',
      processingBasis: 'consent',
      auditTrail: true,
      saleOrShare: true,
    };
    expect(e.authorize(between('send', ACME, MIT, 80, sale)).allow).toBe(true);
    expect(e.authorize(between('send', ACME, MIT, 80, { ...sale, optOut: true })).policyIds).toEqual([
      'ent-ccpa-opt-out',
    ]);
  });

  it('EDU: ml.inference for academic and enterprise meshes, data.analysis for academic and government', () => {
    const e = loadExample('edu');
    expect(e.authorize(callTool(ACME, 'sentiment', 'ml.inference', 50)).policyIds).toEqual([
      'edu-ml-inference',
    ]);
    expect(e.authorize(callTool(ACME, 'sentiment', 'ml.inference', 49)).allow).toBe(false);
    expect(e.authorize(callTool(ACME, 'describe_numbers', 'data.analysis', 99)).allow).toBe(false);
    expect(e.authorize(callTool(GOV, 'describe_numbers', 'data.analysis', 60)).policyIds).toEqual([
      'edu-data-analysis',
    ]);
    expect(e.authorize(callTool(NGO, 'sentiment', 'ml.inference', 99)).allow).toBe(false);
    // Agents of academic meshes, through their mesh's category.
    const agentCall = (attrs?: MeshAttributes): PolicyRequest => ({
      principal: {
        type: 'Agent',
        id: 'did:mesh:academic:stanford-001#agent-1',
        attrs: { mesh: { id: 'did:mesh:academic:stanford-001', ...(attrs ? { attrs } : {}) } },
      },
      action: 'callTool',
      resource: tool('sentiment', 'ml.inference'),
      context: { trustScore: 70 },
    });
    expect(e.authorize(agentCall({ category: 'academic', region: 'na' })).policyIds).toEqual([
      'edu-agents-ml-inference',
    ]);
    // Without its mesh's attributes the policy cannot decide: it errors, and the default deny stands.
    const unknownMesh = e.authorize(agentCall());
    expect(unknownMesh.allow).toBe(false);
    expect(unknownMesh.errors.join('\n')).toMatch(/^edu-agents-ml-inference: /);
  });

  it('EDU: no prohibited AI, and high-risk AI only under human review', () => {
    const e = loadExample('edu');
    const ai = (aiRiskLevel: 'high' | 'unacceptable', humanReview?: boolean): ComplianceContext => ({
      ...INTERNAL,
      aiRiskLevel,
      ...(humanReview === undefined ? {} : { humanReview }),
    });
    expect(e.authorize(callTool(MIT, 'sentiment', 'ml.inference', 90, ai('high'))).policyIds).toEqual([
      'edu-high-risk-needs-human-review',
    ]);
    expect(e.authorize(callTool(MIT, 'sentiment', 'ml.inference', 90, ai('high', true))).allow).toBe(true);
    expect(
      e.authorize(callTool(MIT, 'sentiment', 'ml.inference', 90, ai('unacceptable', true))).policyIds,
    ).toEqual(['edu-no-unacceptable-ai']);
  });

  it('GOV: open data from 60, restricted data from 90, audited exchanges, personal data stays in the EU', () => {
    const e = loadExample('gov');
    expect(e.authorize(callTool(ACME, 'lookup_dataset', 'data.opendata', 60)).policyIds).toEqual([
      'gov-opendata',
    ]);
    expect(e.authorize(callTool(PUB, 'lookup_dataset', 'data.opendata', 40)).allow).toBe(false);
    expect(e.authorize(callTool(ACME, 'restricted_records', 'data.opendata.restricted', 89.9))).toEqual({
      allow: false,
      policyIds: ['gov-restricted-needs-high-trust'],
      errors: [],
    });
    expect(
      e.authorize(callTool(MIT, 'restricted_records', 'data.opendata.restricted', 90)).policyIds,
    ).toEqual(['gov-opendata']);
    expect(
      e.authorize(
        callTool(ACME, 'lookup_dataset', 'data.opendata', 80, {
          dataClassification: 'internal',
          auditTrail: false,
        }),
      ).policyIds,
    ).toEqual(['gov-audit-trail-required']);
    expect(
      e.authorize(
        callTool(ACME, 'lookup_dataset', 'data.opendata', 80, {
          dataClassification: 'public',
          auditTrail: false,
        }),
      ).allow,
    ).toBe(true);
    const personal: ComplianceContext = {
      dataClassification: 'personal-identifiable',
      processingBasis: 'public-task',
      auditTrail: true,
    };
    expect(e.authorize(between('send', GOV, PUB, 80, personal)).allow).toBe(true);
    expect(e.authorize(between('send', GOV, ACME, 80, personal)).policyIds).toEqual([
      'gov-personal-data-stays-in-eu',
    ]);
    expect(e.authorize(between('send', GOV, ACME, 80, { ...personal, safeguards: ['scc'] })).allow).toBe(
      true,
    );
  });

  it('NGO: translation for every partner, nothing for marketing, no sale of beneficiary data', () => {
    const e = loadExample('ngo');
    expect(e.authorize(callTool(PUB, 'translate_term', 'translation.glossary', 5)).policyIds).toEqual([
      'ngo-translation-for-all-partners',
    ]);
    expect(e.authorize(callTool(PUB, 'other', 'data.catalog', 99)).allow).toBe(false);
    const marketing = callTool(ACME, 'translate_term', 'translation.glossary', 80);
    expect(
      e.authorize({ ...marketing, context: { ...marketing.context, purpose: 'marketing' } }).policyIds,
    ).toEqual(['ngo-no-marketing']);
    expect(
      e.authorize(
        callTool(ACME, 'translate_term', 'translation.glossary', 80, { ...INTERNAL, purpose: 'marketing' }),
      ).policyIds,
    ).toEqual(['ngo-no-marketing']);
    expect(e.authorize(between('send', NGO, PUB, 80, { ...INTERNAL, saleOrShare: true })).policyIds).toEqual([
      'ngo-no-sale-of-beneficiary-data',
    ]);
    expect(e.authorize(between('federate', GOV, NGO, 50)).allow).toBe(true);
  });

  it('PUB: open to partners from 30, but only public and internal data comes in', () => {
    const e = loadExample('pub');
    expect(e.authorize(callTool(NGO, 'search_catalog', 'data.catalog', 0)).policyIds).toEqual([
      'pub-tools-open',
    ]);
    expect(e.authorize(between('federate', NGO, PUB, 30)).allow).toBe(true);
    expect(e.authorize(between('federate', NGO, PUB, 29)).allow).toBe(false);
    expect(e.authorize(between('receive', NGO, PUB, 80, INTERNAL)).allow).toBe(true);
    expect(
      e.authorize(between('receive', NGO, PUB, 80, { dataClassification: 'confidential', auditTrail: true }))
        .policyIds,
    ).toEqual(['pub-public-data-only']);
    expect(
      e.authorize(
        between('receive', NGO, PUB, 80, {
          dataClassification: 'special-category',
          processingBasis: 'contract',
          auditTrail: true,
        }),
      ).policyIds,
    ).toEqual(['pub-public-data-only', 'pub-special-category-needs-consent']);
  });
});

// ---------------------------------------------------------------------------------------------
// The engine's shortcuts against plain Cedar
// ---------------------------------------------------------------------------------------------

/** Policies that read whole records and entity attributes with `has`, to exercise the projection. */
const EXTRA = `
@id("x-whole-context") forbid (principal, action == Fmp::Action::"federate", resource)
when { context.trustScore == 7 && [context].contains(context) };
@id("x-whole-compliance") forbid (principal, action == Fmp::Action::"receive", resource)
when { context has compliance && context.compliance == context.compliance && context.compliance.auditTrail == false };
@id("x-low-level") forbid (principal, action == Fmp::Action::"federate", resource)
when { principal has trustLevel && principal.trustLevel < 20 };
@id("x-in-mesh") permit (principal in Fmp::Mesh::"${MIT}", action == Fmp::Action::"callTool", resource)
when { resource.server == "s1" };
@id("x-retention") forbid (principal, action == Fmp::Action::"send", resource)
when { context has compliance.retentionDays && context.compliance.retentionDays > 365 };
@id("x-errors") permit (principal, action == Fmp::Action::"send", resource)
when { resource.region == "eu" };
@id("x-region-set") permit (principal, action == Fmp::Action::"receive", resource)
when { context has compliance.dataSubjectRegion && ["eu", "na"].contains(context.compliance.dataSubjectRegion) };
`;

const REGIONS = ['eu', 'na', 'apac', 'us-ca'] as const;
const meshAttrsArb: fc.Arbitrary<MeshAttributes> = fc.record(
  {
    category: fc.constantFrom('enterprise', 'academic', 'government', 'ngo', 'public'),
    region: fc.constantFrom(...REGIONS),
    trustLevel: fc.integer({ min: 0, max: 100 }),
  },
  { requiredKeys: ['category', 'region'] },
);
const meshIdArb = fc.constantFrom(ACME, MIT, GOV, NGO, PUB);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const complianceArb: fc.Arbitrary<ComplianceContext> = fc
  .record(
    {
      dataClassification: fc.constantFrom(
        'public',
        'internal',
        'confidential',
        'personal-identifiable',
        'special-category',
      ),
      processingBasis: fc.constantFrom('consent', 'contract', 'public-task', 'legitimate-interest'),
      retentionPeriod: fc.constantFrom('90-days', '2-years', '12-hours', '13-months'),
      geographicRestrictions: fc.uniqueArray(fc.constantFrom(...REGIONS), { maxLength: 3 }),
      auditTrail: fc.boolean(),
      purpose: fc.constantFrom('marketing', 'research'),
      dataSubjectRegion: fc.constantFrom(...REGIONS),
      safeguards: fc.uniqueArray(fc.constantFrom('scc', 'bcr', 'dpf', 'explicit-consent'), { maxLength: 2 }),
      explicitConsent: fc.boolean(),
      aiRiskLevel: fc.constantFrom('minimal', 'limited', 'high', 'unacceptable'),
      humanReview: fc.boolean(),
      saleOrShare: fc.boolean(),
      optOut: fc.boolean(),
      crossBorderNotice: fc.boolean(),
      dataSubject: fc.constantFrom('subject-1', 'subject-2'),
    },
    { requiredKeys: ['dataClassification', 'auditTrail'] },
  )
  .filter((c) => complianceContextSchema.safeParse(c).success) as fc.Arbitrary<ComplianceContext>;

const contextArb = fc.record(
  {
    trustScore: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 100, noNaN: true })),
    capability: maybe(fc.constantFrom('ml.inference', 'translation.glossary')),
    purpose: maybe(fc.constantFrom('marketing', 'research')),
    compliance: maybe(complianceArb),
  },
  { requiredKeys: ['trustScore'] },
);

const toolArb = fc.record({
  type: fc.constant('Tool' as const),
  id: fc.constantFrom('sentiment', 'describe_numbers', 'restricted_records', 'translate_term'),
  attrs: maybe(
    fc.record({
      capability: fc.constantFrom(
        'ml.inference',
        'data.analysis',
        'data.opendata',
        'data.opendata.restricted',
        'translation.glossary',
        'data.processing',
      ),
      server: fc.constantFrom('s1', 's2'),
    }),
  ),
});
const meshArb = fc.record({ type: fc.constant('Mesh' as const), id: meshIdArb, attrs: maybe(meshAttrsArb) });
const agentArb = fc.record({
  type: fc.constant('Agent' as const),
  id: fc.constantFrom('agent-1', 'agent-2'),
  attrs: maybe(fc.record({ mesh: fc.record({ id: meshIdArb, attrs: maybe(meshAttrsArb) }) })),
});

const requestArb: fc.Arbitrary<PolicyRequest> = fc.oneof(
  fc.record({
    principal: fc.oneof(meshArb, agentArb),
    action: fc.constant('callTool' as const),
    resource: toolArb,
    context: contextArb,
  }),
  fc
    .record({
      principal: meshArb,
      action: fc.constantFrom('federate' as const, 'send' as const, 'receive' as const),
      resource: meshArb,
      context: contextArb,
    })
    // One mesh as both principal and resource must carry the same attributes (else it is refused).
    .map((r) => (r.principal.id === r.resource.id ? { ...r, resource: r.principal } : r)),
);

const strip = <T extends object>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Record<string, unknown>;

/** The request as a plain, schema-validated Cedar call would take it: every attribute, every entity. */
function reference(r: PolicyRequest, policies: Record<string, string>) {
  const entities: EntityJson[] = [];
  const seen = new Set<string>();
  const add = (
    type: string,
    id: string,
    attrs: Record<string, unknown>,
    parents: { type: string; id: string }[],
  ) => {
    if (seen.has(`${type}/${id}`)) return;
    seen.add(`${type}/${id}`);
    entities.push({ uid: { type: `Fmp::${type}`, id }, attrs: attrs as EntityJson['attrs'], parents });
  };
  const p = r.principal;
  if (p.type === 'Agent' && p.attrs) {
    const m = p.attrs.mesh;
    add('Agent', p.id, { mesh: { __entity: { type: 'Fmp::Mesh', id: m.id } } }, [
      { type: 'Fmp::Mesh', id: m.id },
    ]);
    if (m.attrs) add('Mesh', m.id, strip(m.attrs), []);
  } else if (p.type === 'Mesh' && p.attrs) add('Mesh', p.id, strip(p.attrs), []);
  if (r.resource.attrs) add(r.resource.type, r.resource.id, strip(r.resource.attrs), []);
  const c = r.context;
  const context: Record<string, unknown> = strip({
    trustScore: Math.floor(c.trustScore),
    capability: c.capability,
    purpose: c.purpose,
  });
  if (c.compliance) {
    const { dataSubject: _, ...rest } = c.compliance;
    context['compliance'] = strip({
      ...rest,
      retentionDays: rest.retentionPeriod
        ? Math.ceil(parseRetentionPeriod(rest.retentionPeriod).ms / 86_400_000)
        : undefined,
    });
  }
  return loadCedar().isAuthorized({
    principal: { type: `Fmp::${p.type}`, id: p.id },
    action: { type: 'Fmp::Action', id: r.action },
    resource: { type: `Fmp::${r.resource.type}`, id: r.resource.id },
    context: context as Record<string, never>,
    entities,
    schema: fmpCedarSchema(),
    validateRequest: true,
    policies: { staticPolicies: policies },
  });
}

describe('PolicyEngine: slicing, projection and the cache agree with plain Cedar', () => {
  const sources = [
    ...EXAMPLE_POLICY_ORGS.map((org) => ({ name: org, text: readFileSync(examplePolicyFile(org), 'utf8') })),
    { name: 'extra.cedar', text: EXTRA },
  ];
  // A small cache, so that the property also runs through evictions and hits.
  const all = PolicyEngine.fromSources(sources, { cacheSize: 64 });
  const unparsed = PolicyEngine.fromSources(sources, { cacheSize: 0, preparse: false });
  const record = Object.fromEntries(all.policies.map((p) => [p.id, p.text]));
  const erroring = (errors: readonly string[]) => errors.map((e) => e.slice(0, e.indexOf(':'))).sort();

  it('on random well-formed requests (property)', () => {
    fc.assert(
      fc.property(requestArb, (r) => {
        const expected = reference(r, record);
        if (expected.type !== 'success') throw new Error(JSON.stringify(expected.errors));
        const want = {
          allow: expected.response.decision === 'allow',
          policyIds: [...expected.response.diagnostics.reason].sort(),
          erroring: expected.response.diagnostics.errors.map((e) => e.policyId).sort(),
        };
        for (const engine of [all, all, unparsed]) {
          const d = engine.authorize(r);
          expect({ allow: d.allow, policyIds: d.policyIds, erroring: erroring(d.errors) }).toEqual(want);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('benchPolicyEngine', () => {
  it('measures warm, cold and unparsed latency on the EDU policies', () => {
    const r = benchPolicyEngine(2000);
    expect(r.policies).toBe(9);
    expect(r.allowed).toBe(2000);
    for (const k of ['warm', 'cold', 'unparsed'] as const) {
      expect(r[k].p50Us).toBeGreaterThan(0);
      expect(r[k].p99Us).toBeGreaterThanOrEqual(r[k].p50Us);
    }
    // Pre-parsing is what makes Cedar usable per message.
    expect(r.cold.p50Us).toBeLessThan(r.unparsed.p50Us);
    console.log(
      `policy authorize p50: warm ${r.warm.p50Us} µs, cold ${r.cold.p50Us} µs, unparsed ${r.unparsed.p50Us} µs`,
    );
  });
});
