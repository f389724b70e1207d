export { replayWorkflow, type ReplayInput } from './replay';
export { sinkWorkflow, type SinkWorkflowInput } from './sink';
export { crawlWorkflow } from './crawl';
export { queryWorkflow } from './query';
export { compactWorkflow } from './compact';
export * from './definitions';
