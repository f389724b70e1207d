/** How service statuses and problems are shown on a terminal or as JSON. Pure. */
import path from 'node:path';
import Table from 'cli-table3';
import type { ServiceStatus } from './definitions';
import type { ServiceError } from './errors';

/** A path relative to `cwd` when it lies inside it (shorter columns), else absolute. */
export function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

export function displayAddress(status: Pick<ServiceStatus, 'address' | 'url'>): string {
  return status.url ? `${status.address} (UI ${status.url})` : status.address;
}

/** One row per service: service, state, address, log, pid, and a note column when any row has one. */
export function renderStatusTable(statuses: readonly ServiceStatus[], cwd = process.cwd()): string {
  const notes = statuses.map(noteFor);
  const withNotes = notes.some((n) => n !== '');
  const table = new Table({
    head: ['service', 'state', 'address', 'log', 'pid', ...(withNotes ? ['note'] : [])],
    style: { head: [], border: [] },
  });
  statuses.forEach((s, i) => {
    table.push([
      s.name,
      s.state,
      displayAddress(s),
      displayPath(s.logFile, cwd),
      s.pid ?? '-',
      ...(withNotes ? [notes[i]] : []),
    ]);
  });
  return table.toString();
}

function noteFor(status: ServiceStatus): string {
  if (status.detail) return status.detail;
  if (status.started === true) return 'started';
  if (status.state === 'stopped' && !status.installed) return 'not installed';
  return '';
}

/** The JSON printed by `status --json`: an array of statuses with absolute paths. */
export function statusJson(statuses: readonly ServiceStatus[]): string {
  return JSON.stringify(
    statuses.map((s) => ({
      name: s.name,
      state: s.state,
      pid: s.pid ?? null,
      address: s.address,
      url: s.url ?? null,
      log: s.logFile,
      stateDir: s.stateDir,
      version: s.version,
      installed: s.installed,
      detail: s.detail ?? null,
    })),
    null,
    2,
  );
}

/** A problem as printed: one `error:` line, then its supporting lines indented under it. */
export function renderProblem(problem: Pick<ServiceError, 'message' | 'details'>): string {
  return [`error: ${problem.message}`, ...problem.details.map((line) => `    | ${line}`)].join('\n');
}

/** A long command line shortened to its program and its end (where the data paths are). */
export function abbreviateCommand(commandLine: string, max = 90): string {
  if (commandLine.length <= max) return commandLine;
  const program = path.basename(commandLine.split(' ')[0]);
  const keep = Math.max(10, max - program.length - 3);
  return `${program} … ${commandLine.slice(-keep).replace(/^\S*\s/, '')}`;
}
