// The token bucket and the per-federation limiter moved to @fmp/core (mesh nodes limit partners' tool calls too).
export {
  type Quota,
  RateLimiter,
  type RateLimiterOptions,
  rateLimitedError,
  type TakeResult,
  TokenBucket,
  type TokenBucketOptions,
} from '@fmp/core';
