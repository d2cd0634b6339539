/**
 * The messages MCP federation adds inside sealed envelopes (docs/mcp.md). They travel as the clear
 * payload's `{ type, data }`, so the hubs see only the type in the signed header, never tools,
 * arguments or results. Every one is validated here when it arrives: the partner is authenticated,
 * not trusted to be well-formed.
 */
import { capabilitySchema, isPlainJsonValue, isUuidValue, onlyKeys, uuidSchema } from '@fmp/core';
import { z } from 'zod';

export const MCP_MESSAGE_TYPES = {
  catalog: 'mcp.catalog',
  request: 'agent.task.request',
  progress: 'agent.task.progress',
  cancel: 'agent.task.cancel',
  response: 'agent.task.response',
} as const;

export const MCP_LIMITS = {
  toolsPerCatalog: 512,
  descriptionLength: 4096,
  schemaBytes: 64 * 1024,
  reasonLength: 1024,
} as const;

/** MCP tool names: 1-128 of [A-Za-z0-9_.-] (MCP 2025-11-25 "Tool names"). */
export const toolNameSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'not an MCP tool name');

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

const jsonSchemaObject = z
  .looseObject({ type: z.literal('object') })
  .refine((s) => jsonBytes(s) <= MCP_LIMITS.schemaBytes, { message: 'schema exceeds 64 KiB' });

export const catalogToolSchema = z.strictObject({
  name: toolNameSchema,
  title: z.string().max(256).optional(),
  description: z.string().max(MCP_LIMITS.descriptionLength).optional(),
  inputSchema: jsonSchemaObject,
  outputSchema: jsonSchemaObject.optional(),
  annotations: z.record(z.string(), z.json()).optional(),
  capability: capabilitySchema,
});
export type CatalogTool = z.infer<typeof catalogToolSchema>;

/**
 * What a node offers one partner (sent when a federation starts and when its tools change), with
 * its own MeshAgentCredential so the partner can weigh its trust even when it initiated the
 * federation (the target's credential is checked by the hub, not shown to the initiator).
 */
export const catalogSchema = z.strictObject({
  revision: z.number().int().min(0),
  tools: z.array(catalogToolSchema).max(MCP_LIMITS.toolsPerCatalog),
  credential: z.record(z.string(), z.json()),
});
export type Catalog = z.infer<typeof catalogSchema>;

/** Who asked: an agent DID (or DID URL naming a local MCP session), and the MCP client it used. */
export const agentSchema = z.strictObject({
  did: z.string().min(8).max(512).regex(/^did:/),
  client: z.string().max(128).optional(),
});
export type Agent = z.infer<typeof agentSchema>;

export const taskRequestSchema = z.strictObject({
  taskId: uuidSchema,
  tool: toolNameSchema,
  arguments: z.record(z.string(), z.json()),
  agent: agentSchema,
  /** The caller wants agent.task.progress messages. */
  progress: z.boolean(),
  /** Epoch ms after which the caller no longer waits. */
  deadline: z.number().int().min(0),
});
export type TaskRequest = z.infer<typeof taskRequestSchema>;

export const taskProgressSchema = z.strictObject({
  taskId: uuidSchema,
  progress: z.number().finite(),
  total: z.number().finite().optional(),
  message: z.string().max(MCP_LIMITS.reasonLength).optional(),
});
export type TaskProgress = z.infer<typeof taskProgressSchema>;

export const taskCancelSchema = z.strictObject({
  taskId: uuidSchema,
  reason: z.string().max(MCP_LIMITS.reasonLength),
});
export type TaskCancel = z.infer<typeof taskCancelSchema>;

/** Why a federated call failed; each becomes an MCP tool error with a readable message. */
export const TASK_ERROR_CODES = [
  'unknown_tool',
  'policy_denied',
  'trust_too_low',
  'rate_limited',
  'busy',
  'invalid_request',
  'timeout',
  'cancelled',
  'upstream_unavailable',
  'upstream_crashed',
  'upstream_error',
  'result_too_large',
  'partner_offline',
  'not_federated',
] as const;
export type TaskErrorCode = (typeof TASK_ERROR_CODES)[number];

export const taskErrorSchema = z.strictObject({
  code: z.enum(TASK_ERROR_CODES),
  message: z.string().max(MCP_LIMITS.reasonLength),
  retryAfterMs: z.number().int().min(0).optional(),
});
export type TaskError = z.infer<typeof taskErrorSchema>;

export const taskResponseSchema = z.union([
  z.strictObject({ taskId: uuidSchema, result: z.record(z.string(), z.json()) }),
  z.strictObject({ taskId: uuidSchema, error: taskErrorSchema }),
]);
export type TaskResponse = z.infer<typeof taskResponseSchema>;

// Hand checks for the two messages of every call (zod's record-of-json walk cost ~30-50 µs a call
// on each side). Each accepts only values its schema accepts and gives back unchanged, so the value
// itself stands for the schema's output; anything else (a `__proto__` key, an unsafe integer, any
// error) goes to the schema, which decides and names the issue.

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const REQUEST_KEYS = new Set(['taskId', 'tool', 'arguments', 'agent', 'progress', 'deadline']);
const AGENT_KEYS = new Set(['did', 'client']);
const RESULT_KEYS = new Set(['taskId', 'result']);
const ERROR_KEYS = new Set(['taskId', 'error']);
const RESPONSE_ERROR_KEYS = new Set(['code', 'message', 'retryAfterMs']);
const ERROR_CODES: ReadonlySet<unknown> = new Set(TASK_ERROR_CODES);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

const isJsonRecord = (v: unknown): v is Record<string, unknown> => isPlainObject(v) && isPlainJsonValue(v, 1);

function isAgentValue(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  const { did, client } = v;
  if (!onlyKeys(v, AGENT_KEYS)) return false;
  return (
    typeof did === 'string' &&
    did.length >= 8 &&
    did.length <= 512 &&
    did.startsWith('did:') &&
    (client === undefined || (typeof client === 'string' && client.length <= 128))
  );
}

function isTaskRequestValue(v: unknown): v is TaskRequest {
  if (!isPlainObject(v) || !onlyKeys(v, REQUEST_KEYS)) return false;
  return (
    isUuidValue(v.taskId) &&
    typeof v.tool === 'string' &&
    TOOL_NAME.test(v.tool) &&
    isJsonRecord(v.arguments) &&
    isAgentValue(v.agent) &&
    typeof v.progress === 'boolean' &&
    Number.isSafeInteger(v.deadline) &&
    (v.deadline as number) >= 0
  );
}

function isTaskResponseValue(v: unknown): v is TaskResponse {
  if (!isPlainObject(v) || !isUuidValue(v.taskId)) return false;
  // Only the keys of one branch (each required member's value is checked, so none is missing).
  if (Object.hasOwn(v, 'result')) return onlyKeys(v, RESULT_KEYS) && isJsonRecord(v.result);
  if (!onlyKeys(v, ERROR_KEYS)) return false;
  const e = v.error;
  if (!isPlainObject(e) || !onlyKeys(e, RESPONSE_ERROR_KEYS)) return false;
  return (
    ERROR_CODES.has(e.code) &&
    typeof e.message === 'string' &&
    e.message.length <= MCP_LIMITS.reasonLength &&
    (e.retryAfterMs === undefined ||
      (Number.isSafeInteger(e.retryAfterMs) && (e.retryAfterMs as number) >= 0))
  );
}

/** taskRequestSchema.safeParse, by the hand check when it suffices. */
export function parseTaskRequest(v: unknown): z.ZodSafeParseResult<TaskRequest> {
  return isTaskRequestValue(v) ? { success: true, data: v } : taskRequestSchema.safeParse(v);
}

/** taskResponseSchema.safeParse, by the hand check when it suffices. */
export function parseTaskResponse(v: unknown): z.ZodSafeParseResult<TaskResponse> {
  return isTaskResponseValue(v) ? { success: true, data: v } : taskResponseSchema.safeParse(v);
}
