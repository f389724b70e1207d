/**
 * Failure types of the crawl stage, and which of them no retry can fix. Constants only: imported by
 * the crawl activities and the crawl workflow's retry policies (the workflow sandbox).
 */

export const MISSING_BUCKET = 'MissingBucket';
export const LAKE_ACCESS_DENIED = 'LakeAccessDenied';
/** An object of the lake that is not JSON lines, or a table that does not fit the lake. */
export const INVALID_LAKE = 'InvalidLake';
export const INVALID_CRAWL_INPUT = 'InvalidCrawlInput';
export const MANAGED_CRAWL_FAILED = 'ManagedCrawlFailed';

/**
 * Error types a crawl never retries (a missing bucket, denied access, a lake that is not JSON lines,
 * bad input, a failed managed crawler); the crawl workflow lists them in its retry policies.
 */
export const CRAWL_NON_RETRYABLE = [
  MISSING_BUCKET,
  LAKE_ACCESS_DENIED,
  INVALID_LAKE,
  INVALID_CRAWL_INPUT,
  MANAGED_CRAWL_FAILED,
];
