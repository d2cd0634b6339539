/** Client of a running node's loopback control API (node-process.ts), for the CLI and the demo. */
import { FmpError } from '@fmp/core';
import { UsageError } from './errors.js';

/** The node answered with an error; `code` is the node's error code (e.g. federation_failed). */
export class ControlApiError extends FmpError {
  readonly status: number;
  constructor(code: string, message: string, status: number) {
    super(code, message);
    this.status = status;
  }
}

export async function controlRequest(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    throw new UsageError(`cannot reach the node at ${baseUrl}: is it running?`, { cause });
  }
  const json = (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } };
  if (!res.ok) {
    throw new ControlApiError(
      json.error?.code ?? 'http_error',
      json.error?.message ?? `HTTP ${res.status}`,
      res.status,
    );
  }
  return json;
}
