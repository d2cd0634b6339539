import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ed25519 } from '../crypto.js';
import { createEnvelope, signEnvelope } from '../envelope.js';
import {
  CryptoError,
  DecodeError,
  InvalidSignatureError,
  NotImplementedError,
  ValidationError,
} from '../errors.js';
import { ProtocolError, WIRE_ERROR_CODES } from './errors.js';
import {
  encodeErrorFrame,
  type FrameType,
  type ParsedFrame,
  parseFrame,
  registeredFrameTypes,
  registerFrameSchema,
} from './frame.js';
import { errorFrameSchema, MAX_JSON_DEPTH } from './messages.js';

const keys = ed25519.keyPairFromSeed(new Uint8Array(32).fill(3));
const FED = '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69';
const REQ = '3b241101-e2bb-4255-8caf-4136c566a962';

const envelope = signEnvelope(
  createEnvelope(
    {
      type: 'agent.task.request',
      federationId: FED,
      sourceMeshId: 'did:mesh:enterprise:acme-001',
      targetMeshId: 'did:mesh:academic:mit-001',
      payload: { type: 'agent.task.request', data: { task: 'summarize' } },
      complianceContext: { dataClassification: 'internal', auditTrail: true },
    },
    { now: () => 1730246400000 },
  ),
  keys,
);
const VALID_FRAMES: Record<string, unknown>[] = [
  envelope,
  { type: 'error', code: 'rate_limited', message: 'quota', inReplyTo: REQ, retryAfterMs: 250 },
  {
    type: 'discovery.query',
    requestId: REQ,
    query: { region: 'eu', capabilities: ['ml.inference'], minTrustScore: 50 },
  },
  {
    type: 'discovery.result',
    inReplyTo: REQ,
    meshes: [
      {
        meshId: 'did:mesh:academic:mit-001',
        region: 'na',
        capabilities: ['ml.inference'],
        trustScore: 91,
        homeHub: 'did:mesh:hub:na',
      },
    ],
  },
];

function protocolError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected a ProtocolError');
}

/** Either a parsed frame or a ProtocolError; anything else fails the property. */
function parsesOrProtocolError(raw: string | Uint8Array, maxBytes?: number): ParsedFrame | ProtocolError {
  try {
    return parseFrame(raw, maxBytes === undefined ? {} : { maxBytes });
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
}

describe('parseFrame dispatch', () => {
  it('parses each kind of frame', () => {
    expect(parseFrame(JSON.stringify(envelope))).toEqual({ kind: 'envelope', frame: envelope });
    const kinds = VALID_FRAMES.slice(1).map((f) => parseFrame(JSON.stringify(f)).kind);
    expect(kinds).toEqual(['error', 'discovery.query', 'discovery.result']);
  });

  it('accepts bytes as well as text', () => {
    expect(parseFrame(new TextEncoder().encode(JSON.stringify(envelope))).kind).toBe('envelope');
  });

  it('narrows the frame by kind', () => {
    const parsed = parseFrame(JSON.stringify(VALID_FRAMES[1]));
    if (parsed.kind !== 'error') throw new Error('expected an error frame');
    expect(parsed.frame.code).toBe('rate_limited');
  });
});

describe('parseFrame failures', () => {
  it('checks size before anything else, in UTF-8 bytes', () => {
    expect(protocolError(() => parseFrame('{not json'.repeat(20), { maxBytes: 100 })).wireCode).toBe(
      'message_too_large',
    );
    // 40 characters, 120 bytes.
    expect(protocolError(() => parseFrame('€'.repeat(40), { maxBytes: 100 })).wireCode).toBe(
      'message_too_large',
    );
    expect(protocolError(() => parseFrame(new Uint8Array(101), { maxBytes: 100 })).wireCode).toBe(
      'message_too_large',
    );
    const frame = JSON.stringify(envelope);
    expect(parseFrame(frame, { maxBytes: Buffer.byteLength(frame) }).kind).toBe('envelope');
    expect(protocolError(() => parseFrame(frame, { maxBytes: Buffer.byteLength(frame) - 1 })).wireCode).toBe(
      'message_too_large',
    );
  });

  it.each([
    ['invalid JSON', '{"type":'],
    ['an array', '[]'],
    ['null', 'null'],
    ['a number', '42'],
    ['no type', '{"code":"x"}'],
    ['a non-string type', '{"type":7}'],
    ['a non-string version', '{"type":"agent.task.request","version":1}'],
    ['an unknown type that is not an envelope', '{"type":"gossip"}'],
    ['a __proto__ key', `{"type":"error","code":"expired","message":"x","__proto__":{"polluted":true}}`],
  ])('rejects %s as malformed_frame', (_name, raw) => {
    expect(protocolError(() => parseFrame(raw)).wireCode).toBe('malformed_frame');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects invalid UTF-8 as malformed_frame', () => {
    const err = protocolError(() => parseFrame(Uint8Array.from([0x7b, 0xff, 0x7d])));
    expect(err.wireCode).toBe('malformed_frame');
    expect(err.cause).toBeInstanceOf(DecodeError);
  });

  it('rejects deep nesting without recursing', () => {
    const deep = `{"type":"error","code":"expired","message":"x","details":{"a":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}}`;
    expect(protocolError(() => parseFrame(deep)).wireCode).toBe('malformed_frame');
    const veryDeep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(protocolError(() => parseFrame(`{"type":"error","details":${veryDeep}}`)).wireCode).toBe(
      'malformed_frame',
    );
  });

  it('answers another protocol version with unsupported_version', () => {
    const err = protocolError(() => parseFrame(JSON.stringify({ ...envelope, version: 'fmp/2' })));
    expect(err.wireCode).toBe('unsupported_version');
    expect(encodeErrorFrame(err).details).toEqual({ supported: ['fmp/1'] });
  });

  it('reports the zod issues of a schema failure', () => {
    const err = protocolError(() => parseFrame(JSON.stringify({ ...envelope, hopCount: 3 })));
    expect(err.wireCode).toBe('malformed_frame');
    expect(err.cause).toBeInstanceOf(ValidationError);
    expect((err.cause as ValidationError).issues.map((i) => i.path)).toContain('route');
    expect(err.message).toContain('route');
    const frame = encodeErrorFrame(err, { inReplyTo: envelope.messageId });
    expect(frame).toMatchObject({ code: 'malformed_frame', inReplyTo: envelope.messageId });
    expect(frame.details).toEqual({
      issues: expect.arrayContaining([expect.objectContaining({ path: 'route' })]),
    });
  });

  it('rejects a bad maxBytes option with a ProtocolError', () => {
    expect(protocolError(() => parseFrame('{}', { maxBytes: 0 })).wireCode).toBe('internal_error');
  });
});

describe('frame registry', () => {
  const pingSchema = z.strictObject({ type: z.literal('test.ping'), n: z.number().int() });

  it('dispatches a registered type to its schema', () => {
    expect(registeredFrameTypes()).toEqual(
      expect.arrayContaining(['error', 'discovery.query', 'discovery.result']),
    );
    registerFrameSchema('test.ping' as FrameType, pingSchema as never);
    expect(parseFrame('{"type":"test.ping","n":1}')).toEqual({
      kind: 'test.ping',
      frame: { type: 'test.ping', n: 1 },
    });
    expect(protocolError(() => parseFrame('{"type":"test.ping","n":"1"}')).message).toContain('test.ping');
  });

  it('accepts PascalCase types such as the handshake messages', () => {
    const hello = z.strictObject({ type: z.literal('TestHello') });
    registerFrameSchema('TestHello' as FrameType, hello as never);
    expect(parseFrame('{"type":"TestHello"}').kind).toBe('TestHello');
  });

  it('refuses duplicates and malformed types', () => {
    expect(() => registerFrameSchema('error', errorFrameSchema)).toThrow(ValidationError);
    for (const bad of ['Bad Type', '', '.ping', 'ping.', 'x'.repeat(200)]) {
      expect(() => registerFrameSchema(bad as FrameType, pingSchema as never), bad).toThrow(ValidationError);
    }
  });
});

describe('encodeErrorFrame', () => {
  it.each([
    [
      new ProtocolError('rate_limited', 'quota exceeded', { retryAfterMs: 1500 }),
      'rate_limited',
      'quota exceeded',
    ],
    [
      new ValidationError('bad', [{ path: 'a', message: 'b' }]),
      'malformed_frame',
      WIRE_ERROR_CODES.malformed_frame,
    ],
    [new DecodeError('bad base64'), 'malformed_frame', WIRE_ERROR_CODES.malformed_frame],
    [new InvalidSignatureError(), 'invalid_signature', WIRE_ERROR_CODES.invalid_signature],
    [new CryptoError('tag mismatch'), 'decryption_failed', WIRE_ERROR_CODES.decryption_failed],
    [new NotImplementedError('did:ion short form'), 'not_implemented', WIRE_ERROR_CODES.not_implemented],
    [new Error('ECONNREFUSED /var/run/secret.sock'), 'internal_error', WIRE_ERROR_CODES.internal_error],
    ['a thrown string', 'internal_error', WIRE_ERROR_CODES.internal_error],
    [undefined, 'internal_error', WIRE_ERROR_CODES.internal_error],
  ])('maps %s', (err, code, message) => {
    const frame = encodeErrorFrame(err);
    expect(frame).toMatchObject({ type: 'error', code, message });
    expect(errorFrameSchema.safeParse(frame).success).toBe(true);
    expect(parseFrame(JSON.stringify(frame))).toEqual({ kind: 'error', frame });
  });

  it('keeps retryAfterMs and the issues, and drops an inReplyTo that is not a UUID', () => {
    expect(
      encodeErrorFrame(new ProtocolError('rate_limited', 'q', { retryAfterMs: 1500 })).retryAfterMs,
    ).toBe(1500);
    expect(encodeErrorFrame(new ValidationError('bad', [{ path: 'a', message: 'b' }])).details).toEqual({
      issues: [{ path: 'a', message: 'b' }],
    });
    expect(encodeErrorFrame(new InvalidSignatureError(), { inReplyTo: REQ }).inReplyTo).toBe(REQ);
    expect('inReplyTo' in encodeErrorFrame(new InvalidSignatureError(), { inReplyTo: 'msg-1' })).toBe(false);
  });

  it('bounds what it sends', () => {
    const long = new ProtocolError('policy_denied', 'x'.repeat(5000));
    const issues = Array.from({ length: 500 }, (_, i) => ({ path: `p${i}`, message: 'y'.repeat(1000) }));
    const frame = encodeErrorFrame(
      new ProtocolError('malformed_frame', 'm', { cause: new ValidationError('v', issues) }),
    );
    expect(encodeErrorFrame(long).message.length).toBeLessThanOrEqual(1024);
    expect(frame.details?.issues).toHaveLength(20);
    expect(errorFrameSchema.safeParse(frame).success).toBe(true);
  });
});

describe('properties: parseFrame ends in a frame or a ProtocolError', () => {
  it('random text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        parsesOrProtocolError(s);
      }),
      { numRuns: 500 },
    );
  });

  it('random bytes, with random size limits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 400 }), (bytes, max) => {
        parsesOrProtocolError(bytes, max);
      }),
      { numRuns: 500 },
    );
  });

  it('random JSON objects, including ones with a type', () => {
    const typed = fc.record({
      type: fc.constantFrom('error', 'discovery.query', 'discovery.result', 'agent.task.request', 'x'),
      version: fc.constantFrom('fmp/1', 'fmp/2', 1),
      rest: fc.jsonValue({ maxDepth: 4 }),
    });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), typed), (value) => {
        parsesOrProtocolError(JSON.stringify(value));
      }),
      { numRuns: 500 },
    );
  });

  /** Replaces, deletes or adds a value at a random path of a valid frame. */
  function mutate(frame: unknown, path: number[], replacement: unknown, op: number): unknown {
    if (typeof frame !== 'object' || frame === null) return replacement;
    const copy: Record<string, unknown> | unknown[] = Array.isArray(frame) ? [...frame] : { ...frame };
    const keys = Object.keys(copy);
    if (keys.length === 0 || path.length === 0) {
      (copy as Record<string, unknown>)['injected'] = replacement;
      return copy;
    }
    const key = keys[path[0]! % keys.length]!;
    const rec = copy as Record<string, unknown>;
    if (path.length === 1) {
      if (op === 0) delete rec[key];
      else if (op === 1) rec[key] = replacement;
      else rec[`${key}_x`] = replacement;
      return copy;
    }
    rec[key] = mutate(rec[key], path.slice(1), replacement, op);
    return copy;
  }

  it('mutated valid frames (structure)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VALID_FRAMES),
        fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
        fc.jsonValue({ maxDepth: 3 }),
        fc.integer({ min: 0, max: 2 }),
        (frame, path, replacement, op) => {
          const result = parsesOrProtocolError(JSON.stringify(mutate(frame, path, replacement, op)));
          if (!(result instanceof ProtocolError)) {
            expect(['envelope', ...registeredFrameTypes()]).toContain(result.kind);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('mutated valid frames (bytes)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VALID_FRAMES),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (frame, edits) => {
          let bytes = Array.from(new TextEncoder().encode(JSON.stringify(frame)));
          for (const [pos, byte, op] of edits) {
            const at = pos % (bytes.length + 1);
            if (op === 0) bytes[at] = byte;
            else if (op === 1) bytes.splice(at, 0, byte);
            else bytes = bytes.slice(0, at);
          }
          parsesOrProtocolError(Uint8Array.from(bytes));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('docs/protocol.md', () => {
  it('documents every wire error code', () => {
    const doc = readFileSync(new URL('../../../../docs/protocol.md', import.meta.url), 'utf8');
    for (const code of Object.keys(WIRE_ERROR_CODES)) {
      expect(doc, code).toMatch(new RegExp(`^\\| \`${code}\` +\\|`, 'm'));
    }
  });
});
