/**
 * Local policy in Cedar (issue #6, DESIGN "Policy, compliance, audit"): an operator's policy files,
 * validated against the fmp Cedar schema (policies/fmp.cedarschema) when they are loaded, answer
 * whether a partner may federate, call one of our tools, or exchange a message with us, and name
 * the policies that decided.
 *
 * Semantics are Cedar's: deny unless a permit applies, and any applicable forbid wins. A policy
 * whose condition errors (say it reads an attribute the request did not supply) is skipped and its
 * error reported.
 *
 * Speed (benchPolicyEngine, EDU example, one core: ~9 µs p50 per cached decision, ~55 µs per cache
 * miss, ~470 µs when Cedar re-parses the policies per call): cedar-wasm's cost is dominated by
 * converting each request's entities and context into Cedar values (about 10 µs per entity), not by
 * evaluating policies. So the engine
 * - pre-parses the policy set once, one slice per action (a policy whose scope names other actions
 *   can neither apply nor error, so leaving it out changes nothing);
 * - passes Cedar only the attributes the slice's policies read (by name, `.attr` and `has`), and
 *   drops entities nobody reads;
 * - validates requests with zod against the same shapes the schema declares, and so does not ask
 *   Cedar to re-check them against the schema on every call;
 * - remembers decisions in a bounded LRU keyed by exactly what Cedar sees (Cedar evaluation is a
 *   pure function of the policies and that input).
 * The tests check these shortcuts against a plain schema-validated isAuthorized on random requests.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  AuthorizationAnswer,
  CedarValueJson,
  DetailedError,
  EntityJson,
  EntityUidJson,
  Expr,
  PolicyJson,
} from '@cedar-policy/cedar-wasm/nodejs';
import { type ComplianceContext, complianceContextSchema, FmpError, parseRetentionPeriod } from '@fmp/core';
import { z } from 'zod';
import { loadCedar } from './cedar.js';

// ---------------------------------------------------------------------------------------------
// The model: what a request says (mirrors policies/fmp.cedarschema)
// ---------------------------------------------------------------------------------------------

export const POLICY_ACTIONS = ['federate', 'callTool', 'send', 'receive'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/** A mesh as policies see it: its did:mesh category, region code and credential trustLevel. */
export interface MeshAttributes {
  readonly category: string;
  readonly region: string;
  readonly trustLevel?: number;
}
/** The agent's mesh; the agent is `in` it. With attrs, policies can read `principal.mesh.category`. */
export interface AgentAttributes {
  readonly mesh: { readonly id: string; readonly attrs?: MeshAttributes };
}
export interface ToolAttributes {
  readonly capability: string;
  readonly server: string;
}

export type PolicyPrincipal =
  | { readonly type: 'Mesh'; readonly id: string; readonly attrs?: MeshAttributes }
  | { readonly type: 'Agent'; readonly id: string; readonly attrs?: AgentAttributes };
export type PolicyResource =
  | { readonly type: 'Mesh'; readonly id: string; readonly attrs?: MeshAttributes }
  | { readonly type: 'Tool'; readonly id: string; readonly attrs?: ToolAttributes };

export interface PolicyContext {
  /**
   * The partner's trust score, 0-100 (spec 5.1): the principal's mesh, or for send the destination.
   * Policies see it rounded down to an integer (Cedar has no floats; see the schema).
   */
  readonly trustScore: number;
  readonly capability?: string;
  readonly purpose?: string;
  /** The spec 7.2 complianceContext travelling with the request. `dataSubject` is not passed on. */
  readonly compliance?: ComplianceContext;
}

/**
 * principal acts, resource is acted on: federate (partner mesh, our mesh), callTool (partner mesh or
 * agent, our tool), send (our mesh, destination mesh), receive (sending mesh, our mesh).
 */
export interface PolicyRequest {
  readonly principal: PolicyPrincipal;
  readonly action: PolicyAction;
  readonly resource: PolicyResource;
  readonly context: PolicyContext;
}

export interface PolicyDecision {
  readonly allow: boolean;
  /** The determining policies: the permits that allowed, or the forbids that denied (none on default deny). */
  readonly policyIds: readonly string[];
  /** Policies that errored (and were skipped), or why the request itself was refused. */
  readonly errors: readonly string[];
}

/** Principal and resource types per action (the schema's appliesTo). */
const APPLIES_TO: Record<PolicyAction, { principal: readonly string[]; resource: string }> = {
  federate: { principal: ['Mesh'], resource: 'Mesh' },
  callTool: { principal: ['Mesh', 'Agent'], resource: 'Tool' },
  send: { principal: ['Mesh'], resource: 'Mesh' },
  receive: { principal: ['Mesh'], resource: 'Mesh' },
};

// cedar-wasm throws on strings with lone surrogates (not valid Unicode): refuse them here.
const LONE_SURROGATE = /\p{Cs}/u;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);
const WELL_FORMED = 'must be well-formed Unicode (no lone surrogate)';
const idSchema = z.string().min(1).max(256).refine(wellFormed, WELL_FORMED);
const labelSchema = z.string().min(1).max(128).refine(wellFormed, WELL_FORMED);
const meshAttrsSchema = z.strictObject({
  category: labelSchema,
  region: labelSchema,
  trustLevel: z.number().int().min(0).max(100).optional(),
});
const principalSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('Mesh'), id: idSchema, attrs: meshAttrsSchema.optional() }),
  z.strictObject({
    type: z.literal('Agent'),
    id: idSchema,
    attrs: z
      .strictObject({ mesh: z.strictObject({ id: idSchema, attrs: meshAttrsSchema.optional() }) })
      .optional(),
  }),
]);
const resourceSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('Mesh'), id: idSchema, attrs: meshAttrsSchema.optional() }),
  z.strictObject({
    type: z.literal('Tool'),
    id: idSchema,
    attrs: z.strictObject({ capability: labelSchema, server: labelSchema }).optional(),
  }),
]);
/** A PolicyRequest as it may arrive from outside. */
export const policyRequestSchema = z.strictObject({
  principal: principalSchema,
  action: z.enum(POLICY_ACTIONS),
  resource: resourceSchema,
  context: z.strictObject({
    trustScore: z.number().min(0).max(100),
    capability: labelSchema.optional(),
    purpose: labelSchema.optional(),
    compliance: complianceContextSchema
      .refine((c) => c.purpose === undefined || wellFormed(c.purpose), {
        message: WELL_FORMED,
        path: ['purpose'],
      })
      .optional(),
  }),
});
// The hand-written types above and the schema must describe the same requests.
const _typesMatch: z.ZodType<PolicyRequest> = policyRequestSchema;
void _typesMatch;

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/** The fmp Cedar schema (human-readable Cedar schema syntax). */
export const FMP_CEDAR_SCHEMA_FILE = fileURLToPath(
  new URL('../../policies/fmp.cedarschema', import.meta.url),
);
/** The demo organizations with an example policy file (policies/examples/<org>.cedar). */
export const EXAMPLE_POLICY_ORGS = ['ent', 'edu', 'gov', 'ngo', 'pub'] as const;
export type ExamplePolicyOrg = (typeof EXAMPLE_POLICY_ORGS)[number];

export function examplePolicyFile(org: ExamplePolicyOrg): string {
  return fileURLToPath(new URL(`../../policies/examples/${org}.cedar`, import.meta.url));
}

let schemaText: string | undefined;
/** The text of policies/fmp.cedarschema (read once). */
export function fmpCedarSchema(): string {
  schemaText ??= readFileSync(FMP_CEDAR_SCHEMA_FILE, 'utf8');
  return schemaText;
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/** A policy file could not be read, parsed or validated against the fmp schema. */
export class PolicyError extends FmpError {
  /** The file (or the name given to fromText) at fault, when one is. */
  readonly source: string | undefined;
  constructor(message: string, source?: string, options?: { cause?: unknown }) {
    super('policy_invalid', message, options);
    this.source = source;
  }
}

export interface PolicySource {
  /** Shown in errors; its base name prefixes the ids of policies without an @id annotation. */
  readonly name: string;
  readonly text: string;
}

export interface PolicyEngineOptions {
  /** fromText only: the name of the text in errors and in `name:index` policy ids. Default `policies`. */
  readonly name?: string;
  /** Decisions remembered (LRU), keyed by everything the policies can see. 0 disables. Default 4096. */
  readonly cacheSize?: number;
  /**
   * Pre-parse the policy set into cedar-wasm's cache (default true). false makes Cedar parse the
   * policies on every call, roughly ten times slower; the engine also falls back to it when the
   * process has pre-parsed more than PREPARSE_BUDGET_BYTES of distinct policy text.
   */
  readonly preparse?: boolean;
}

export interface LoadedPolicy {
  /** The @id annotation, else `<file base name>:<index>` (0-based, in file order). */
  readonly id: string;
  readonly source: string;
  readonly effect: 'permit' | 'forbid';
  /** The actions its scope admits. */
  readonly actions: readonly PolicyAction[];
  readonly text: string;
}

/**
 * cedar-wasm keeps pre-parsed policy sets in a process-wide cache it offers no way to empty. Sets
 * are keyed by content hash (reloading the same files costs nothing), and once this much distinct
 * policy text has been pre-parsed, new engines parse per call instead of growing the cache.
 */
export const PREPARSE_BUDGET_BYTES = 16 * 1024 * 1024;
const preparsed = new Set<string>();
let preparsedBytes = 0;

const DEFAULT_CACHE_SIZE = 4096;
const MAX_POLICY_TEXT = 4 * 1024 * 1024;
const MAX_POLICIES = 10_000;

/** What one action's policies read, so that requests carry only that into wasm. */
interface Slice {
  readonly count: number;
  readonly record: Record<string, string>;
  /** cedar-wasm pre-parsed policy set id, or undefined to parse per call. */
  readonly psetId: string | undefined;
  /** Attribute names read anywhere in the slice (`.attr`, `has attr`). */
  readonly names: ReadonlySet<string>;
  /** `context` itself, or `context.compliance` itself, is used as a value (not only read from). */
  readonly wholeContext: boolean;
  readonly wholeCompliance: boolean;
}

const DEFAULT_DENY: PolicyDecision = Object.freeze({
  allow: false,
  policyIds: Object.freeze([]),
  errors: Object.freeze([]),
});

function deny(errors: string[]): PolicyDecision {
  return Object.freeze({ allow: false, policyIds: Object.freeze([]), errors: Object.freeze(errors) });
}

function lineCol(text: string, offset: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else col++;
  }
  return `line ${line}:${col}`;
}

/**
 * One Cedar diagnostic as one line: the message, where (line:col in `text`, located `base`
 * characters in, and the snippet), the label and help.
 */
function describe(e: DetailedError, text?: string, base = 0): string {
  let out = e.message;
  const loc = e.sourceLocations?.[0];
  if (loc && text !== undefined) {
    const snippet = text
      .slice(base + loc.start, base + loc.end)
      .replace(/\s+/g, ' ')
      .slice(0, 80);
    out += ` at ${lineCol(text, base + loc.start)}`;
    if (snippet) out += ` (\`${snippet}\`)`;
    if (loc.label) out += `: ${loc.label}`;
  }
  if (e.help) out += `; ${e.help}`;
  return out;
}

function actionsOf(scope: PolicyJson['action']): PolicyAction[] {
  if (scope.op === 'All') return [...POLICY_ACTIONS];
  const uids: EntityUidJson[] =
    'entities' in scope ? scope.entities : 'entity' in scope ? [scope.entity] : [];
  const out = new Set<PolicyAction>();
  for (const uid of uids) {
    const id = '__entity' in uid ? uid.__entity.id : uid.id;
    if ((POLICY_ACTIONS as readonly string[]).includes(id)) out.add(id as PolicyAction);
  }
  return [...out];
}

/**
 * Collects the attribute names an expression reads and whether it uses `context` or
 * `context.compliance` as a whole value (compared, put in a set...), in which case every attribute
 * of it must be passed. Entities are compared by uid, so their attributes are only ever read by name.
 */
function scan(
  expr: Expr,
  out: { names: Set<string>; wholeContext: boolean; wholeCompliance: boolean },
  base = false,
): void {
  const node = expr as Record<string, unknown>;
  const op = Object.keys(node)[0];
  if (op === undefined) return;
  const body = node[op] as Record<string, unknown> | unknown[] | string;
  switch (op) {
    case 'Value':
    case 'Slot':
      return;
    case 'Var':
      if (body === 'context' && !base) out.wholeContext = true;
      return;
    case '.': {
      const b = body as { left: Expr; attr: string };
      out.names.add(b.attr);
      // `compliance` is the only record-valued attribute in the schema.
      if (b.attr === 'compliance' && !base) out.wholeCompliance = true;
      scan(b.left, out, true);
      return;
    }
    case 'has': {
      const b = body as { left: Expr; attr: string | string[] };
      for (const a of Array.isArray(b.attr) ? b.attr : [b.attr]) out.names.add(a);
      scan(b.left, out, true);
      return;
    }
    case 'like':
      scan((body as { left: Expr }).left, out);
      return;
    case 'Record':
      for (const v of Object.values(body as Record<string, Expr>)) scan(v, out);
      return;
    default:
      // Operators ({left,right}, {arg}, if-then-else), sets and extension calls: every child is an Expr.
      for (const v of Array.isArray(body) ? body : Object.values(body as Record<string, unknown>)) {
        if (v !== null && typeof v === 'object') scan(v as Expr, out);
      }
  }
}

function preparse(record: Record<string, string>): string | undefined {
  const canonical = JSON.stringify(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const id = `fmp-policy:${createHash('sha256').update(canonical).digest('hex')}`;
  if (preparsed.has(id)) return id;
  if (preparsedBytes + canonical.length > PREPARSE_BUDGET_BYTES) return undefined;
  const answer = loadCedar().preparsePolicySet(id, { staticPolicies: record });
  if (answer.type === 'failure') {
    throw new PolicyError(
      `cedar-wasm could not pre-parse the policies: ${answer.errors.map((e) => e.message).join('; ')}`,
    );
  }
  preparsed.add(id);
  preparsedBytes += canonical.length;
  return id;
}

// ---------------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------------

type CedarCall = {
  principal: EntityUidJson;
  action: EntityUidJson;
  resource: EntityUidJson;
  context: Record<string, CedarValueJson>;
  entities: EntityJson[];
};

export class PolicyEngine {
  /** Every policy loaded, in file order. */
  readonly policies: readonly LoadedPolicy[];
  /** Cedar's validation warnings (e.g. a policy that can never apply), one line each. */
  readonly warnings: readonly string[];
  private readonly slices: Record<PolicyAction, Slice>;
  private readonly cache = new Map<string, PolicyDecision>();
  private readonly cacheSize: number;

  private constructor(sources: readonly PolicySource[], options: PolicyEngineOptions) {
    const cedar = loadCedar();
    this.cacheSize = Math.max(0, Math.floor(options.cacheSize ?? DEFAULT_CACHE_SIZE));
    const policies: LoadedPolicy[] = [];
    const json = new Map<string, PolicyJson>();
    const where = new Map<string, { source: string; text: string; policy: string; offset: number }>();
    for (const { name, text } of sources) {
      if (text.length > MAX_POLICY_TEXT) {
        throw new PolicyError(`${name}: policy file larger than ${MAX_POLICY_TEXT} characters`, name);
      }
      const parts = cedar.policySetTextToParts(text);
      if (parts.type === 'failure') {
        throw new PolicyError(`${name}: ${parts.errors.map((e) => describe(e, text)).join('; ')}`, name);
      }
      if (parts.policy_templates.length > 0) {
        throw new PolicyError(
          `${name}: policy templates (slots such as ?principal) are not supported; write static policies`,
          name,
        );
      }
      // policySetTextToParts returns the policies sorted by their ids policy0, policy1, ... as
      // strings (policy10 before policy2); undo that to number them in file order.
      const order = parts.policies.map((_, i) => i).sort((a, b) => (`policy${a}` < `policy${b}` ? -1 : 1));
      const inFile: { index: number; text: string; json: PolicyJson }[] = [];
      for (const [k, policyText] of parts.policies.entries()) {
        const answer = cedar.policyToJson(policyText);
        if (answer.type === 'failure') {
          throw new PolicyError(
            `${name}: ${answer.errors.map((e) => describe(e, policyText)).join('; ')}`,
            name,
          );
        }
        inFile.push({ index: order[k]!, text: policyText, json: answer.json });
      }
      inFile.sort((a, b) => a.index - b.index);
      for (const p of inFile) {
        const annotated = p.json.annotations?.['id'];
        const id = annotated ?? `${basename(name)}:${p.index}`;
        if (annotated !== undefined && (annotated.length === 0 || annotated.length > 128)) {
          throw new PolicyError(`${name}: @id must be 1 to 128 characters`, name);
        }
        const seen = where.get(id);
        if (seen) {
          throw new PolicyError(`${name}: duplicate policy id "${id}" (also in ${seen.source})`, name);
        }
        where.set(id, { source: name, text, policy: p.text, offset: text.indexOf(p.text) });
        json.set(id, p.json);
        policies.push({
          id,
          source: name,
          effect: p.json.effect,
          actions: actionsOf(p.json.action),
          text: p.text,
        });
      }
      if (policies.length > MAX_POLICIES) throw new PolicyError(`more than ${MAX_POLICIES} policies`, name);
    }

    const record = Object.fromEntries(policies.map((p) => [p.id, p.text]));
    const validation = cedar.validate({
      schema: fmpCedarSchema(),
      policies: { staticPolicies: record },
      validationSettings: { mode: 'strict' },
    });
    if (validation.type === 'failure') {
      throw new PolicyError(
        `policies failed validation: ${validation.errors.map((e) => e.message).join('; ')}`,
      );
    }
    // Validation locations are relative to the policy's own text: report them in the file.
    const atPolicy = (id: string, e: DetailedError) => {
      const w = where.get(id);
      if (!w) return `policy ${id}: ${describe(e)}`;
      return `${w.source}: policy ${id}: ${w.offset >= 0 ? describe(e, w.text, w.offset) : describe(e, w.policy)}`;
    };
    if (validation.validationErrors.length > 0) {
      const first = where.get(validation.validationErrors[0]!.policyId)?.source;
      throw new PolicyError(
        `policies do not validate against the fmp Cedar schema: ${validation.validationErrors.map((v) => atPolicy(v.policyId, v.error)).join('; ')}`,
        first,
      );
    }
    this.warnings = Object.freeze([
      ...validation.validationWarnings.map((v) => atPolicy(v.policyId, v.error)),
      ...validation.otherWarnings.map((e) => describe(e, undefined)),
    ]);
    this.policies = Object.freeze(policies);

    const slices = {} as Record<PolicyAction, Slice>;
    for (const action of POLICY_ACTIONS) {
      const mine = policies.filter((p) => p.actions.includes(action));
      const seen = { names: new Set<string>(), wholeContext: false, wholeCompliance: false };
      for (const p of mine) for (const c of json.get(p.id)!.conditions) scan(c.body, seen);
      const sliceRecord = Object.fromEntries(mine.map((p) => [p.id, p.text]));
      slices[action] = {
        count: mine.length,
        record: sliceRecord,
        psetId: mine.length > 0 && options.preparse !== false ? preparse(sliceRecord) : undefined,
        ...seen,
      };
    }
    this.slices = slices;
  }

  /** Decisions currently remembered (at most `cacheSize`). */
  get cachedDecisions(): number {
    return this.cache.size;
  }

  /** Policies in Cedar syntax (one file's worth); `options.name` names it in errors and ids. */
  static fromText(policies: string, options: PolicyEngineOptions = {}): PolicyEngine {
    return new PolicyEngine([{ name: options.name ?? 'policies', text: policies }], options);
  }

  /** Several policy files' worth of text, validated together (policy ids must be unique across them). */
  static fromSources(sources: readonly PolicySource[], options: PolicyEngineOptions = {}): PolicyEngine {
    return new PolicyEngine(sources, options);
  }

  /**
   * Reads the policy files (synchronously: this runs once, at startup or on a reload) and loads
   * them as fromSources does. A file that cannot be read is a PolicyError naming it.
   */
  static fromFiles(paths: readonly string[], options: PolicyEngineOptions = {}): PolicyEngine {
    const sources = paths.map((path) => {
      try {
        return { name: path, text: readFileSync(path, 'utf8') };
      } catch (err) {
        throw new PolicyError(`${path}: cannot read policy file: ${(err as Error).message}`, path, {
          cause: err,
        });
      }
    });
    return new PolicyEngine(sources, options);
  }

  /**
   * Decides a request. Never throws: a malformed request, or anything unexpected, is a deny with
   * the reason in `errors`.
   */
  authorize(request: PolicyRequest): PolicyDecision {
    try {
      return this.decide(request);
    } catch (err) {
      return deny([`internal error: ${err instanceof Error ? err.message : String(err)}`]);
    }
  }

  private decide(input: PolicyRequest): PolicyDecision {
    const parsed = policyRequestSchema.safeParse(input);
    if (!parsed.success) {
      return deny(
        parsed.error.issues.map(
          (i) => `invalid request: ${i.path.map(String).join('.') || '(root)'}: ${i.message}`,
        ),
      );
    }
    const request = parsed.data;
    const applies = APPLIES_TO[request.action];
    if (!applies.principal.includes(request.principal.type) || applies.resource !== request.resource.type) {
      return deny([
        `invalid request: ${request.action} takes a ${applies.principal.join(' or ')} principal and a ` +
          `${applies.resource} resource, not ${request.principal.type} and ${request.resource.type}`,
      ]);
    }
    const slice = this.slices[request.action];
    if (slice.count === 0) return DEFAULT_DENY;
    const call = buildCall(request, slice);
    if (typeof call === 'string') return deny([call]);

    const key = this.cacheSize > 0 ? JSON.stringify(call) : '';
    if (this.cacheSize > 0) {
      const hit = this.cache.get(key);
      if (hit) {
        // Refresh recency.
        this.cache.delete(key);
        this.cache.set(key, hit);
        return hit;
      }
    }
    const cedar = loadCedar();
    const answer: AuthorizationAnswer = slice.psetId
      ? cedar.statefulIsAuthorized({ ...call, preparsedPolicySetId: slice.psetId })
      : cedar.isAuthorized({ ...call, policies: { staticPolicies: slice.record } });
    const decision = toDecision(answer);
    if (this.cacheSize > 0) {
      this.cache.set(key, decision);
      if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
    }
    return decision;
  }
}

function toDecision(answer: AuthorizationAnswer): PolicyDecision {
  if (answer.type === 'failure') return deny(answer.errors.map((e) => `cedar: ${describe(e, undefined)}`));
  const { decision, diagnostics } = answer.response;
  return Object.freeze({
    allow: decision === 'allow',
    policyIds: Object.freeze([...diagnostics.reason].sort()),
    errors: Object.freeze(diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`)),
  });
}

const uid = (type: string, id: string): EntityUidJson => ({ type: `Fmp::${type}`, id });

function pick(attrs: object, names: ReadonlySet<string>, all: boolean): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && (all || names.has(k))) out[k] = v as CedarValueJson;
  }
  return out;
}

/** The compliance context in Cedar's shape: sets for arrays, retentionDays added, dataSubject left out. */
function complianceValue(c: ComplianceContext): Record<string, CedarValueJson> {
  const { dataSubject: _subject, retentionPeriod, ...rest } = c;
  const out: Record<string, CedarValueJson> = { ...(rest as Record<string, CedarValueJson>) };
  if (retentionPeriod !== undefined) {
    out['retentionPeriod'] = retentionPeriod;
    out['retentionDays'] = Math.ceil(parseRetentionPeriod(retentionPeriod).ms / 86_400_000);
  }
  return out;
}

/** Whether two descriptions of one mesh agree (a missing one agrees with anything). */
function sameMesh(a: MeshAttributes | undefined, b: MeshAttributes | undefined): boolean {
  if (!a || !b) return true;
  return a.category === b.category && a.region === b.region && a.trustLevel === b.trustLevel;
}

/** The Cedar request with only what the slice reads, or the reason the request is inconsistent. */
function buildCall(r: PolicyRequest, s: Slice): CedarCall | string {
  const p = r.principal;
  const res = r.resource;
  // Only federate, send and receive name two meshes (APPLIES_TO). Checked on the full attributes: an
  // inconsistent request is refused even when no policy reads them.
  if (p.type === 'Mesh' && res.type === 'Mesh' && p.id === res.id && !sameMesh(p.attrs, res.attrs)) {
    return `invalid request: Fmp::Mesh::"${p.id}" appears twice with different attributes`;
  }
  const entities = new Map<string, EntityJson>();
  const add = (type: string, id: string, attrs: Record<string, CedarValueJson>, parents: EntityUidJson[]) => {
    // An entity nobody reads is left out: absent and attribute-less read the same to `has` and `in`.
    if (Object.keys(attrs).length > 0 || parents.length > 0) {
      entities.set(`${type}\u0000${id}`, { uid: uid(type, id), attrs, parents });
    }
  };
  if (p.type === 'Agent') {
    if (p.attrs) {
      const mesh = p.attrs.mesh;
      add(
        'Agent',
        p.id,
        s.names.has('mesh') ? { mesh: { __entity: { type: 'Fmp::Mesh', id: mesh.id } } } : {},
        [uid('Mesh', mesh.id)],
      );
      if (mesh.attrs) add('Mesh', mesh.id, pick(mesh.attrs, s.names, false), []);
    }
  } else if (p.attrs) add('Mesh', p.id, pick(p.attrs, s.names, false), []);
  if (res.attrs) add(res.type, res.id, pick(res.attrs, s.names, false), []);

  const c = r.context;
  const all = s.wholeContext;
  const context: Record<string, CedarValueJson> = {};
  // Cedar has no floats; rounding down keeps `>= n` and `< n` exact for integer thresholds.
  if (all || s.names.has('trustScore')) context['trustScore'] = Math.floor(c.trustScore);
  if (c.capability !== undefined && (all || s.names.has('capability'))) context['capability'] = c.capability;
  if (c.purpose !== undefined && (all || s.names.has('purpose'))) context['purpose'] = c.purpose;
  if (c.compliance !== undefined && (all || s.names.has('compliance'))) {
    context['compliance'] = pick(complianceValue(c.compliance), s.names, all || s.wholeCompliance);
  }
  return {
    principal: uid(p.type, p.id),
    action: { type: 'Fmp::Action', id: r.action },
    resource: uid(res.type, res.id),
    context,
    entities: [...entities.values()],
  };
}
