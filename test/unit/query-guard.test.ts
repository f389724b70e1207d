import { athenaLiteral, checkReadOnly, checkSingleStatement, tokenize } from '../../src/query/sql-guard';

describe('the read-only guard of Athena statements', () => {
  it.each([
    'SELECT * FROM ticks',
    '  select 1;  ',
    '-- a comment\nSELECT 1',
    '/* block */ WITH x AS (SELECT 1) SELECT * FROM x',
    '(SELECT 1) UNION ALL (SELECT 2)',
    'VALUES (1, 2)',
    'SHOW TABLES',
    'SHOW PARTITIONS ticks',
    'DESCRIBE ticks',
    'EXPLAIN SELECT * FROM ticks',
    'EXPLAIN ANALYZE SELECT 1',
    'EXPLAIN (FORMAT JSON) SELECT 1',
    "SELECT 'DROP TABLE x; DELETE' FROM ticks",
    'SELECT "insert" FROM ticks',
    "SELECT * FROM ticks WHERE symbol = 'a;b'",
  ])('lets %j run', (sql) => {
    expect(checkReadOnly(sql)).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['  ; -- nothing', /empty/],
    ['DROP TABLE ticks', /DROP writes.*QUERY_ALLOW_WRITES/],
    ['insert into ticks values (1)', /INSERT/],
    ['CREATE TABLE x AS SELECT * FROM ticks', /CREATE/],
    ['MSCK REPAIR TABLE ticks', /MSCK/],
    ["UNLOAD (SELECT 1) TO 's3://b/x' WITH (format = 'CSV')", /UNLOAD/],
    ["ALTER TABLE ticks ADD PARTITION (symbol = 'X')", /ALTER/],
    ['SELECT 1; DROP TABLE ticks', /one statement.*2/],
    ['SELECT 1; SELECT 2', /one statement/],
    ['EXPLAIN ANALYZE INSERT INTO t SELECT 1', /INSERT/],
    ['WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x', /INSERT/],
    ["SELECT 'unterminated", /unterminated string/],
    ['SELECT 1 /* open', /unterminated/],
    ['PREPARE p FROM SELECT 1', /PREPARE/],
    ['EXECUTE p', /EXECUTE/],
  ])('refuses %j', (sql, reason) => {
    expect(checkReadOnly(sql)).toMatch(reason);
  });

  it('counts statements for writes when they are allowed', () => {
    expect(checkSingleStatement('DROP TABLE x')).toBeUndefined();
    expect(checkSingleStatement("INSERT INTO x VALUES ('a;b'); ")).toBeUndefined();
    expect(checkSingleStatement('DROP TABLE x; DROP TABLE y')).toMatch(/one statement/);
  });

  it('keeps quoted text whole', () => {
    const [tokens] = tokenize(`SELECT 'it''s', "a""b" FROM t`);
    expect(tokens.map((t) => t.text)).toEqual(['SELECT', "'it''s'", ',', '"a""b"', 'FROM', 'T']);
  });
});

describe('Athena execution parameters', () => {
  it('are SQL literals: strings quoted with quotes doubled, so a value never becomes SQL', () => {
    expect(athenaLiteral('HSI')).toBe("'HSI'");
    expect(athenaLiteral("x' OR '1'='1")).toBe("'x'' OR ''1''=''1'");
    expect(athenaLiteral("'; DROP TABLE ticks; --")).toBe("'''; DROP TABLE ticks; --'");
    expect(athenaLiteral(2020)).toBe('2020');
    expect(athenaLiteral(-3)).toBe('-3');
    expect(athenaLiteral(1.5)).toBe('1.5e0');
    expect(athenaLiteral(1e-7)).toBe('1e-7');
    expect(athenaLiteral(true)).toBe('TRUE');
    expect(athenaLiteral(null)).toBe('NULL');
    expect(() => athenaLiteral(Number.NaN)).toThrow(/finite/);
  });
});
