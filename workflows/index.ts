/**
 * Every workflow of ticklake, one file each: `replayWorkflow` (CSV to Kafka), `sinkWorkflow` (Kafka to
 * the S3 lake), `crawlWorkflow` (lake to Glue), `queryWorkflow` (SQL), `compactWorkflow` (raw JSON to
 * curated Parquet). The worker bundles this file (`workflowsPath`); clients start the workflows by
 * these functions' types (src/pipeline.ts). Signals, queries and updates are in definitions.ts.
 */
export { replayWorkflow, type ReplayInput } from './replay';
export { sinkWorkflow, type SinkWorkflowInput } from './sink';
export { crawlWorkflow } from './crawl';
export { queryWorkflow } from './query';
export { compactWorkflow } from './compact';
export * from './definitions';
