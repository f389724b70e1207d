import fs from 'node:fs';
import path from 'node:path';
import { parseExamples } from '../../src/query/examples';
import { checkReadOnly } from '../../src/query/sql-guard';

describe('the example queries of docs/queries.md', () => {
  it('are read from sql blocks marked as examples, with their parameters', () => {
    const md = [
      'text',
      '```sql\n-- example: one\nSELECT 1\n```',
      '```sql\nSELECT 2 -- not an example\n```',
      '```sql\n-- example: two\n-- params: ["HSI", 2020]\nSELECT *\nFROM ticks WHERE symbol = ? AND year = ?\n```',
    ].join('\n\n');
    expect(parseExamples(md)).toEqual([
      { name: 'one', sql: 'SELECT 1', params: [] },
      { name: 'two', sql: 'SELECT *\nFROM ticks WHERE symbol = ? AND year = ?', params: ['HSI', 2020] },
    ]);
  });

  it('are all read statements that Athena would accept, with as many parameters as placeholders', () => {
    const examples = parseExamples(fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'queries.md'), 'utf8'));
    expect(examples.length).toBeGreaterThanOrEqual(5);
    for (const e of examples) {
      expect([e.name, checkReadOnly(e.sql)]).toEqual([e.name, undefined]);
      expect([e.name, (e.sql.match(/\?/g) ?? []).length]).toEqual([e.name, e.params.length]);
    }
  });
});
