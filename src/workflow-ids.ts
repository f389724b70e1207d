/**
 * Workflow ids and search attributes: business keys, so that starting twice attaches to the running
 * workflow. Pure, in a module of their own so that the CLI names workflows without loading the
 * Temporal client (src/pipeline.ts re-exports them).
 */
import path from 'node:path';

export const SEARCH_ATTRIBUTES = { stage: 'TicklakeStage', source: 'TicklakeSource', topic: 'TicklakeTopic' } as const;

/** `data/sample.csv` → `sample` */
export function replayIdFor(file: string): string {
  return path
    .basename(file)
    .replace(/\.[^.]*$/, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-');
}

export const workflowIds = {
  replay: (replayId: string) => `replay/${replayId}`,
  sink: (topic: string) => `sink/${topic}`,
  crawl: (database: string, table: string) => `crawl/${database}.${table}`,
  compact: (database: string, table: string) => `compact/${database}.${table}`,
  query: (id: string) => `query/${id}`,
};
