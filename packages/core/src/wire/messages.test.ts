import { describe, expect, expectTypeOf, it } from 'vitest';
import { ValidationError } from '../errors.js';
import {
  availableMeshesSchema,
  type ComplianceContext,
  complianceContextSchema,
  didSchema,
  discoveryQueryFrameSchema,
  discoveryQuerySchema,
  type Envelope,
  envelopeSchema,
  errorFrameSchema,
  LIMITS,
  multibaseSignatureSchema,
  parseRetentionPeriod,
  prioritySchema,
  regionCodeSchema,
  traceparentSchema,
  unsignedEnvelopeSchema,
} from './messages.js';

const SOURCE = 'did:mesh:enterprise:acme-001';
const TARGET = 'did:mesh:academic:mit-001';
const HUB_NA = 'did:mesh:hub:na';
const HUB_EU = 'did:mesh:hub:eu';

function validEnvelope(): Envelope {
  return {
    version: 'fmp/1',
    type: 'agent.task.request',
    messageId: '3b241101-e2bb-4255-8caf-4136c566a962',
    federationId: '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69',
    sourceMeshId: SOURCE,
    targetMeshId: TARGET,
    timestamp: 1730246400000,
    priority: 'normal',
    complianceContext: {
      dataClassification: 'personal-identifiable',
      processingBasis: 'legitimate-interest',
      retentionPeriod: '90-days',
      geographicRestrictions: ['eu'],
      auditTrail: true,
    },
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    payload: { type: 'agent.task.request', data: { task: 'summarize', n: 3 } },
    signature: 'z58DAdFfa9SkqZMsuN1ob',
    hopCount: 1,
    maxHops: 5,
    route: [HUB_NA],
  };
}

function issuePaths(
  schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { path: PropertyKey[] }[] } } },
  value: unknown,
): string[] {
  const result = schema.safeParse(value);
  expect(result.success).toBe(false);
  return (result.error?.issues ?? []).map((i) => i.path.join('.'));
}

describe('didSchema', () => {
  it.each([
    SOURCE,
    'did:web:acme.com:mesh',
    'did:web:example.com%3A8443',
    'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
    'did:ethr:0x123abc',
    'did:ion:EiA_x-y.z',
  ])('accepts %s', (did) => {
    expect(didSchema.safeParse(did).success).toBe(true);
  });

  it.each([
    'mesh:enterprise:acme',
    'did:Mesh:acme',
    'did:mesh:',
    'did:mesh:acme:',
    'did::acme',
    'did:mesh:ac me',
    'did:mesh:acme#key-1',
    'did:mesh:%zz',
    `did:mesh:${'a'.repeat(LIMITS.didLength)}`,
    42,
  ])('rejects %s', (did) => {
    expect(didSchema.safeParse(did).success).toBe(false);
  });

  it('rejects a long near-miss without catastrophic backtracking', () => {
    expect(didSchema.safeParse(`did:mesh:${'a:'.repeat(900)}!`).success).toBe(false);
  });
});

describe('common fields', () => {
  it('traceparent follows W3C Trace Context version 00', () => {
    expect(
      traceparentSchema.safeParse('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01').success,
    ).toBe(true);
    for (const bad of [
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    ]) {
      expect(traceparentSchema.safeParse(bad).success, bad).toBe(false);
    }
  });

  it('priorities are the four of spec 6.2', () => {
    for (const p of ['critical', 'high', 'normal', 'low'])
      expect(prioritySchema.safeParse(p).success).toBe(true);
    expect(prioritySchema.safeParse('urgent').success).toBe(false);
  });

  it('region codes are lowercase regions, countries or subdivisions', () => {
    for (const r of ['eu', 'na', 'apac', 'de', 'us-ca'])
      expect(regionCodeSchema.safeParse(r).success).toBe(true);
    for (const r of ['EU', 'e', 'eu_west', 'us-', '-ca', 'toolongregion']) {
      expect(regionCodeSchema.safeParse(r).success, r).toBe(false);
    }
  });

  it('multibase signatures are base58btc and bounded', () => {
    expect(multibaseSignatureSchema.safeParse('z58DAdFfa').success).toBe(true);
    expect(multibaseSignatureSchema.safeParse('u58DAdFfa').success).toBe(false);
    expect(multibaseSignatureSchema.safeParse('z0OIl').success).toBe(false);
    expect(multibaseSignatureSchema.safeParse(`z${'1'.repeat(LIMITS.signatureLength)}`).success).toBe(false);
  });
});

describe('complianceContextSchema', () => {
  const spec: ComplianceContext = {
    dataClassification: 'personal-identifiable',
    processingBasis: 'legitimate-interest',
    retentionPeriod: '90-days',
    geographicRestrictions: ['eu'],
    auditTrail: true,
  };

  it('accepts the spec 7.2 example and minimal non-personal contexts', () => {
    expect(complianceContextSchema.parse(spec)).toEqual(spec);
    expect(
      complianceContextSchema.safeParse({ dataClassification: 'public', auditTrail: false }).success,
    ).toBe(true);
  });

  it('requires a GDPR lawful basis for personal data', () => {
    expect(
      issuePaths(complianceContextSchema, { dataClassification: 'special-category', auditTrail: true }),
    ).toContain('processingBasis');
  });

  it('rejects unknown keys, unknown enums, bad retention and duplicate regions', () => {
    expect(issuePaths(complianceContextSchema, { ...spec, extra: 1 })).toContain('');
    expect(issuePaths(complianceContextSchema, { ...spec, processingBasis: 'because' })).toContain(
      'processingBasis',
    );
    expect(issuePaths(complianceContextSchema, { ...spec, dataClassification: 'secret' })).toContain(
      'dataClassification',
    );
    expect(issuePaths(complianceContextSchema, { ...spec, retentionPeriod: '90 days' })).toContain(
      'retentionPeriod',
    );
    expect(issuePaths(complianceContextSchema, { ...spec, geographicRestrictions: ['eu', 'eu'] })).toContain(
      'geographicRestrictions',
    );
    expect(issuePaths(complianceContextSchema, { ...spec, auditTrail: 'yes' })).toContain('auditTrail');
  });
});

describe('parseRetentionPeriod', () => {
  it('parses amounts and units', () => {
    expect(parseRetentionPeriod('90-days')).toEqual({ amount: 90, unit: 'day', ms: 90 * 86_400_000 });
    expect(parseRetentionPeriod('1-year').ms).toBe(365 * 86_400_000);
    expect(parseRetentionPeriod('6-months').ms).toBe(180 * 86_400_000);
    expect(parseRetentionPeriod('2-weeks').ms).toBe(14 * 86_400_000);
    expect(parseRetentionPeriod('36-hours').ms).toBe(36 * 3_600_000);
  });

  it.each(['0-days', '90 days', '-1-days', '90-fortnights', '123456-days', 'days', ''])(
    'rejects %j',
    (text) => {
      expect(() => parseRetentionPeriod(text)).toThrow(ValidationError);
    },
  );
});

describe('envelopeSchema', () => {
  it('accepts a valid envelope unchanged (no defaults, no transforms)', () => {
    const env = validEnvelope();
    expect(envelopeSchema.parse(env)).toEqual(env);
    expectTypeOf(envelopeSchema.parse(env)).toEqualTypeOf<Envelope>();
  });

  it('accepts a sealed payload', () => {
    const env = {
      ...validEnvelope(),
      payload: { alg: 'ChaCha20-Poly1305', nonce: 'AAAAAAAAAAAAAAAA', ciphertext: 'A'.repeat(40) },
    };
    expect(envelopeSchema.safeParse(env).success).toBe(true);
  });

  const cases: [string, (e: Record<string, unknown>) => void, string][] = [
    ['unknown key', (e) => Object.assign(e, { extra: true }), ''],
    ['missing maxHops (no default on the wire)', (e) => delete e.maxHops, 'maxHops'],
    ['missing priority', (e) => delete e.priority, 'priority'],
    ['other version', (e) => Object.assign(e, { version: 'fmp/2' }), 'version'],
    ['maxHops above 5', (e) => Object.assign(e, { maxHops: 6 }), 'maxHops'],
    ['maxHops 0', (e) => Object.assign(e, { maxHops: 0 }), 'maxHops'],
    [
      'hopCount above maxHops',
      (e) => Object.assign(e, { maxHops: 1, hopCount: 2, route: [HUB_NA, HUB_EU] }),
      'hopCount',
    ],
    ['route shorter than hopCount', (e) => Object.assign(e, { hopCount: 2 }), 'route'],
    ['route visits a hub twice', (e) => Object.assign(e, { hopCount: 2, route: [HUB_NA, HUB_NA] }), 'route'],
    ['fractional timestamp', (e) => Object.assign(e, { timestamp: 1.5 }), 'timestamp'],
    ['non-uuid messageId', (e) => Object.assign(e, { messageId: 'msg-uuid' }), 'messageId'],
    ['bad source DID', (e) => Object.assign(e, { sourceMeshId: 'acme' }), 'sourceMeshId'],
    ['undotted type', (e) => Object.assign(e, { type: 'task' }), 'type'],
    [
      'payload type differs',
      (e) => Object.assign(e, { payload: { type: 'agent.other', data: 1 } }),
      'payload.type',
    ],
    ['payload without data', (e) => Object.assign(e, { payload: { type: 'agent.task.request' } }), 'payload'],
    [
      'sealed payload with a short nonce',
      (e) =>
        Object.assign(e, {
          payload: { alg: 'ChaCha20-Poly1305', nonce: 'AAAA', ciphertext: 'A'.repeat(40) },
        }),
      'payload',
    ],
    [
      'sealed payload with another algorithm',
      (e) =>
        Object.assign(e, {
          payload: { alg: 'AES-GCM', nonce: 'AAAAAAAAAAAAAAAA', ciphertext: 'A'.repeat(40) },
        }),
      'payload',
    ],
    [
      'bad compliance context',
      (e) => Object.assign(e, { complianceContext: { auditTrail: true } }),
      'complianceContext.dataClassification',
    ],
  ];

  it.each(cases)('rejects %s', (_name, mutate, path) => {
    const env = validEnvelope() as unknown as Record<string, unknown>;
    mutate(env);
    const paths = issuePaths(envelopeSchema, env);
    expect(paths.some((p) => p.startsWith(path))).toBe(true);
  });

  it('the unsigned schema rejects a signature and the signed one requires it', () => {
    const { signature: _s, ...unsigned } = validEnvelope();
    expect(unsignedEnvelopeSchema.safeParse(unsigned).success).toBe(true);
    expect(unsignedEnvelopeSchema.safeParse(validEnvelope()).success).toBe(false);
    expect(issuePaths(envelopeSchema, unsigned)).toContain('signature');
  });
});

describe('discovery and error schemas', () => {
  it('accepts discovery queries and results', () => {
    expect(discoveryQuerySchema.parse({})).toEqual({});
    const query = { region: 'eu', capabilities: ['ml.inference', 'data.analysis'], minTrustScore: 75 };
    expect(discoveryQuerySchema.parse(query)).toEqual(query);
    expect(
      discoveryQueryFrameSchema.safeParse({
        type: 'discovery.query',
        requestId: '3b241101-e2bb-4255-8caf-4136c566a962',
        query,
      }).success,
    ).toBe(true);
    const mesh = {
      meshId: TARGET,
      region: 'na',
      capabilities: ['ml.inference'],
      trustScore: 88.5,
      homeHub: HUB_NA,
    };
    expect(availableMeshesSchema.parse([mesh])).toEqual([mesh]);
  });

  it('rejects out-of-range and unbounded discovery input', () => {
    expect(discoveryQuerySchema.safeParse({ minTrustScore: 101 }).success).toBe(false);
    expect(discoveryQuerySchema.safeParse({ region: 'EU' }).success).toBe(false);
    expect(
      discoveryQuerySchema.safeParse({ capabilities: Array(LIMITS.capabilities + 1).fill('a') }).success,
    ).toBe(false);
    expect(discoveryQuerySchema.safeParse({ regions: ['eu'] }).success).toBe(false);
    const mesh = { meshId: TARGET, region: 'na', capabilities: [], trustScore: 50, homeHub: HUB_NA };
    expect(availableMeshesSchema.safeParse(Array(LIMITS.discoveryResults + 1).fill(mesh)).success).toBe(
      false,
    );
    expect(availableMeshesSchema.safeParse([{ ...mesh, homeHub: 'hub-na' }]).success).toBe(false);
  });

  it('error frames carry a known code', () => {
    expect(
      errorFrameSchema.safeParse({
        type: 'error',
        code: 'rate_limited',
        message: 'slow down',
        retryAfterMs: 500,
      }).success,
    ).toBe(true);
    expect(errorFrameSchema.safeParse({ type: 'error', code: 'teapot', message: 'x' }).success).toBe(false);
    expect(
      errorFrameSchema.safeParse({ type: 'error', code: 'unreachable', message: 'x', stack: 'y' }).success,
    ).toBe(false);
    expect(
      errorFrameSchema.safeParse({
        type: 'error',
        code: 'unreachable',
        message: 'x'.repeat(LIMITS.errorMessageLength + 1),
      }).success,
    ).toBe(false);
  });
});
