/** The CLI's command tree, parsed without running anything: help lines and where options may go. */
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/index';
import { allCommands, commandPath } from '../../src/cli/descriptions';

function find(program: Command, path: string): Command {
  const cmd = allCommands(program).find((c) => commandPath(c) === path);
  if (!cmd) throw new Error(`no command '${path}'`);
  return cmd;
}

/** Parses argv with the command's action replaced by one that records its arguments. */
async function parsed(path: string, argv: string[]): Promise<unknown[]> {
  const program = buildProgram();
  let got: unknown[] = [];
  find(program, path).action((...args: unknown[]) => {
    got = args.slice(0, -1);
  });
  program.exitOverride();
  await program.parseAsync(['node', 'ticklake', ...argv]);
  return got;
}

describe('ticklake --help', () => {
  it('has a one-line description for every command and subcommand', () => {
    const missing = allCommands(buildProgram())
      .filter((c) => c.name() !== 'help')
      .filter((c) => !c.description() || c.description().includes('\n'))
      .map(commandPath);
    expect(missing).toEqual([]);
  });

  it('lists replay list, replay cancel and dlq', () => {
    const program = buildProgram();
    for (const path of ['replay list', 'replay cancel', 'dlq']) expect(find(program, path).description()).not.toBe('');
    expect(find(program, 'dlq').options.map((o) => o.long)).toEqual(expect.arrayContaining(['--replay', '--limit']));
  });
});

describe('options before or after positional arguments', () => {
  it('query: --param before the SQL, after it, and repeated', async () => {
    const sql = 'SELECT * FROM ticks WHERE symbol = ? AND year = ?';
    for (const argv of [
      ['query', '--param', 'HSI', '--param', '2020', sql],
      ['query', sql, '--param', 'HSI', '--param', '2020'],
      ['query', '--param', 'HSI', sql, '--param', '2020'],
    ]) {
      const [gotSql, opts] = await parsed('query', argv);
      expect([gotSql, (opts as { param: string[] }).param]).toEqual([sql, ['HSI', '2020']]);
    }
  });

  it('replay start and dlq: options anywhere, global --json before or after the command', async () => {
    for (const argv of [
      ['replay', 'start', '--id', 'x', '--speed', '10rows', 'data/sample.csv'],
      ['replay', 'start', 'data/sample.csv', '--id', 'x', '--speed', '10rows'],
      ['--json', 'replay', 'start', '--id', 'x', 'data/sample.csv', '--speed', '10rows'],
    ]) {
      const [file, opts] = await parsed('replay start', argv);
      expect([file, (opts as { id: string }).id, (opts as { speed: string }).speed]).toEqual([
        'data/sample.csv',
        'x',
        '10rows',
      ]);
    }
    const [opts] = await parsed('dlq', ['dlq', '--json', '--replay', 'r1']);
    expect(opts).toMatchObject({ replay: 'r1' });
  });
});
