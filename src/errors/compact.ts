/**
 * Failure types of the compaction stage, and which of them no retry can fix. Constants only: imported
 * by the compaction activities and the compaction workflow's retry policies (the workflow sandbox).
 */

/** A raw object that cannot be read, or holds other records than its manifest says. */
export const CORRUPT_RAW_OBJECT = 'CorruptRawObject';
/** A manifest older than the quiet period names an object that is not there (yet). */
export const RAW_OBJECT_MISSING = 'RawObjectMissing';
/** A committed curated file is missing or not what its state says. */
export const CURATED_FILE_CHANGED = 'CuratedFileChanged';
/** Another compaction of the table committed the generation this one planned. */
export const COMPACTION_SUPERSEDED = 'CompactionSuperseded';
export const INVALID_COMPACT_INPUT = 'InvalidCompactInput';

/** Window failures that leave that window raw and let the others go on. */
export const WINDOW_FAILURES = [CORRUPT_RAW_OBJECT, RAW_OBJECT_MISSING, CURATED_FILE_CHANGED];

export const COMPACT_NON_RETRYABLE = [
  ...WINDOW_FAILURES,
  COMPACTION_SUPERSEDED,
  INVALID_COMPACT_INPUT,
  'MissingBucket',
  'LakeAccessDenied',
];
