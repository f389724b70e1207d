/**
 * One-line descriptions of the subcommands that `--help` lists, kept apart from the command
 * definitions so that every command has one (a test walks the whole tree).
 */
import type { Command } from 'commander';

/** By command path (names joined with spaces, the program's own name left out). */
export const DESCRIPTIONS: Record<string, string> = {
  'services up': 'install what is missing, start what is stopped, wait until healthy',
  'services down': 'stop the local services (their data stays in .data/)',
  'services status': 'state, address, pid and log file of each local service',
  'replay start': 'start a replay of a CSV file into Kafka (harmless if it is already running)',
  'replay pause': 'pause a replay: nothing more is produced within a few seconds',
  'replay resume': 'resume a paused replay where it stopped',
  'replay speed': 'change the speed of a running replay',
  'replay status': 'state, position, rate and rejected rows (with the last reasons) of a replay',
  'sink start': 'start the sink from Kafka to the S3 lake (harmless if it is already running)',
  'sink pause': 'pause the sink: it drains, commits and stops consuming',
  'sink resume': 'resume the sink from its committed offsets',
  'sink status': "the sink's offsets, files and last flush, and the consumer group's lag on the broker",
  'crawl now': 'crawl the lake now and update the Glue table',
  'schedule create': 'create the crawl schedule',
  'schedule update': 'change the interval of the crawl schedule',
  'schedule pause': 'pause the crawl schedule',
  'schedule unpause': 'unpause the crawl schedule',
  'schedule trigger': 'run a crawl of the schedule now',
  'schedule describe': 'interval, state and next runs of the crawl schedule',
  'schedule delete': 'delete the crawl schedule',
  'schedule list': 'every crawl schedule of the namespace',
};

function pathOf(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Every command below `program`, depth first. */
export function allCommands(program: Command): Command[] {
  return program.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** Gives each command without a description its line from DESCRIPTIONS. */
export function describeCommands(program: Command): Command {
  for (const cmd of allCommands(program)) {
    if (!cmd.description()) {
      const text = DESCRIPTIONS[pathOf(cmd)];
      if (text) cmd.description(text);
    }
  }
  return program;
}

export { pathOf as commandPath };
