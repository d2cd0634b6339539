/**
 * Spec §3.3: 5 s per handshake, exponential backoff 2^n seconds capped at 60 s, at most 3
 * retries. Pure functions: the caller owns the timer and starts a fresh handshake (new
 * handshakeId, new ephemeral key) when the delay has passed.
 */
import { ValidationError } from '../errors.js';
import type { WireErrorCode } from '../wire/errors.js';

export interface RetryPolicy {
  /** How long one handshake may take from initiation to establishment. */
  readonly timeoutMs: number;
  /** Delay before retry n is baseDelayMs * 2^n (n = 1, 2, 3...). */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRetries: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  timeoutMs: 5_000,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  maxRetries: 3,
});

/**
 * Failures worth another attempt: the peer or the hub was slow or busy. Authentication, trust,
 * credential and consent failures are final — retrying them only repeats the refusal.
 */
export const RETRYABLE_CODES: ReadonlySet<WireErrorCode> = new Set<WireErrorCode>([
  'handshake_timeout',
  'too_many_handshakes',
  'rate_limited',
  'unreachable',
  'did_resolution_failed',
  'internal_error',
]);

/** Delay before retry number `retry` (1-based): 2 s, 4 s, 8 s, ... capped at maxDelayMs. */
export function retryDelayMs(retry: number, policy: RetryPolicy = DEFAULT_RETRY_POLICY): number {
  if (!Number.isInteger(retry) || retry < 1) {
    throw new ValidationError('retry number must be an integer >= 1', [
      { path: 'retry', message: String(retry) },
    ]);
  }
  // 2^retry overflows to Infinity for huge n; Math.min still caps it.
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
}

/**
 * After attempt `attempt` (0 = the first try) failed with `code`: the delay before the next
 * attempt, or undefined when the policy says stop.
 */
export function nextRetryDelayMs(
  attempt: number,
  code: WireErrorCode,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): number | undefined {
  if (!RETRYABLE_CODES.has(code) || !Number.isInteger(attempt) || attempt < 0) return undefined;
  if (attempt >= policy.maxRetries) return undefined;
  return retryDelayMs(attempt + 1, policy);
}
