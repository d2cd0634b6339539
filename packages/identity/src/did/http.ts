/**
 * Bounded JSON fetching for network DID methods: a timeout through AbortSignal, a cap on response
 * bytes (read incrementally, so a huge body is never buffered), redirects refused by default.
 */
import { DidFetchError, DidFetchTimeoutError, DidNotFoundError, DidResponseTooLargeError } from './errors.js';

export type FetchFunction = (input: string, init?: RequestInit) => Promise<Response>;

export interface HttpOptions {
  /** Injected for tests and custom transports; defaults to the global fetch. */
  readonly fetch?: FetchFunction;
  /** Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Default 256 KiB. */
  readonly maxResponseBytes?: number;
}

export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024;

export async function fetchJson(
  url: string,
  options: HttpOptions & {
    init?: { method?: string; body?: string; headers?: Record<string, string> };
    signal?: AbortSignal | undefined;
  },
): Promise<unknown> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  try {
    const response = await doFetch(url, {
      redirect: 'error',
      ...options.init,
      headers: {
        accept: 'application/did+ld+json, application/did+json, application/json',
        ...options.init?.headers,
      },
      signal,
    });
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel().catch(() => {});
      throw new DidNotFoundError(`${url} answered ${response.status}`);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new DidFetchError(`${url} answered HTTP ${response.status}`, response.status);
    }
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > maxBytes) {
      await response.body?.cancel().catch(() => {});
      throw new DidResponseTooLargeError(`${url}: response of ${declared} bytes exceeds ${maxBytes}`);
    }
    const text = await readBounded(response, maxBytes, url);
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new DidFetchError(`${url}: response is not JSON`, response.status, { cause });
    }
  } catch (cause) {
    if (
      cause instanceof DidNotFoundError ||
      cause instanceof DidFetchError ||
      cause instanceof DidResponseTooLargeError
    ) {
      throw cause;
    }
    if (timeout.aborted)
      throw new DidFetchTimeoutError(`${url}: no answer within ${timeoutMs} ms`, { cause });
    throw new DidFetchError(`${url}: request failed`, undefined, { cause });
  }
}

async function readBounded(response: Response, maxBytes: number, url: string): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new DidResponseTooLargeError(`${url}: response exceeds ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
