/**
 * `npm run bench:cli`: how long a `ticklake` command takes, from the shell's point of view (process
 * start to exit), for the compiled CLI in dist/ against the same commands run from the TypeScript
 * sources through tsx (TICKLAKE_FROM_SOURCE=1, the way every command ran before the build), side by
 * side.
 *
 * Commands: `--help`, `status`, `replay list` and `services status` (the last three ask the local
 * services, which must be up: `npm run services -- up`). Workflows left running with no worker make
 * `status` wait 5 s for one: the benchmark refuses to time that (start a worker, or end them). Each command runs once untimed in each mode
 * (tsx fills its compile cache; the operating system its file cache), then `--runs` times (default 10)
 * in each mode, the two modes alternating so that a change of the machine's load falls on both. Every
 * run's exit status and output are checked (help text, status sections, the replay list's JSON, the
 * services' table); a run that fails them fails the benchmark. Reported: median and worst per command
 * and mode, the ratio of the medians (tsx / compiled), and the load average before and after, since
 * figures from a shared machine are inflated by what else runs. The last line printed is one JSON object
 * with `help_ms` and `status_ms` (the compiled medians).
 *
 * Options: --runs <n>.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'ticklake.js');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Command {
  name: string;
  args: string[];
  /** Why the output is wrong, or undefined when it is what the command should print. */
  check(stdout: string, status: number | null): string | undefined;
}

const COMMANDS: Command[] = [
  {
    name: 'help',
    args: ['--help'],
    check: (out, status) =>
      status !== 0
        ? `exit ${status}`
        : !out.includes('Usage: ticklake') || !out.includes('status')
          ? 'no usage text'
          : undefined,
  },
  {
    name: 'status',
    args: ['status'],
    check: (out, status) =>
      status !== 0
        ? `exit ${status}`
        : !/^replays: |^┌/m.test(out) || !/^(sink|crawl)/m.test(out)
          ? 'no replays/sink/crawl sections'
          : undefined,
  },
  {
    name: 'replay list',
    args: ['replay', 'list', '--json'],
    check: (out, status) => {
      if (status !== 0) return `exit ${status}`;
      try {
        return Array.isArray(JSON.parse(out)) ? undefined : 'not a JSON array';
      } catch {
        return 'not JSON';
      }
    },
  },
  {
    name: 'services status',
    args: ['services', 'status'],
    check: (out, status) =>
      status !== 0 ? `exit ${status} (a service is not running)` : !out.includes('temporal') ? 'no table' : undefined,
  },
];

type Mode = 'compiled' | 'tsx';

/** One run: its wall time in ms (spawn to exit), after checking its output. */
function runOnce(cmd: Command, mode: Mode): number {
  const env = { ...process.env, TICKLAKE_FROM_SOURCE: mode === 'tsx' ? '1' : '0' };
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...cmd.args], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const wrong = r.error ? r.error.message : cmd.check(r.stdout, r.status);
  if (wrong) {
    throw new Error(
      `ticklake ${cmd.args.join(' ')} (${mode}): ${wrong}\nstdout: ${r.stdout.slice(-500)}\nstderr: ${r.stderr.slice(-500)}`,
    );
  }
  // status says so on stdout ("note: no worker polls ..." / "no worker answered within 5 s on ..."), other
  // commands on stderr.
  if (/no worker (answered|polls)/.test(`${r.stdout}\n${r.stderr}`)) {
    // Then status waits out its 5 s deadline for a worker: that is not the command's own time.
    throw new Error(
      `ticklake ${cmd.args.join(' ')} waited for a worker that does not run: workflows are running on the ` +
        `task queue with no worker; start one (npm run worker) or end them (npx ticklake replay cancel, ` +
        `npm run temporal -- workflow terminate), then run the benchmark again`,
    );
  }
  if (mode === 'compiled' && r.stderr.includes('running from the TypeScript sources')) {
    throw new Error(`the build in dist/ is stale (${r.stderr.trim()}); run 'npm run build'`);
  }
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number) => Math.round(x);
const load = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

function main(): void {
  const runs = Number(arg('runs') ?? 10);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a whole number ≥ 1');
  const loadBefore = load();
  console.log(`ticklake CLI latency: ${runs} runs per command and mode; load average ${loadBefore.join(' ')}`);
  const results: Record<string, Record<Mode, number[]>> = {};
  for (const cmd of COMMANDS) {
    // Untimed: tsx's compile cache and the file cache are warm for both modes before timing.
    runOnce(cmd, 'tsx');
    runOnce(cmd, 'compiled');
    const times: Record<Mode, number[]> = { compiled: [], tsx: [] };
    for (let i = 0; i < runs; i++) {
      for (const mode of (i % 2 === 0 ? ['compiled', 'tsx'] : ['tsx', 'compiled']) as Mode[]) {
        times[mode].push(runOnce(cmd, mode));
      }
    }
    results[cmd.name] = times;
  }
  const loadAfter = load();

  const rows = COMMANDS.map((cmd) => {
    const t = results[cmd.name];
    return {
      command: cmd.name,
      compiled_median_ms: round(median(t.compiled)),
      compiled_worst_ms: round(Math.max(...t.compiled)),
      tsx_median_ms: round(median(t.tsx)),
      tsx_worst_ms: round(Math.max(...t.tsx)),
      ratio: Math.round((median(t.tsx) / median(t.compiled)) * 10) / 10,
    };
  });
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  console.log(
    `\n${'command'.padEnd(16)}${pad('compiled median', 16)}${pad('worst', 10)}${pad('tsx median', 12)}${pad('worst', 10)}${pad('tsx/compiled', 14)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.command.padEnd(16)}${pad(`${r.compiled_median_ms} ms`, 16)}${pad(`${r.compiled_worst_ms} ms`, 10)}` +
        `${pad(`${r.tsx_median_ms} ms`, 12)}${pad(`${r.tsx_worst_ms} ms`, 10)}${pad(`${r.ratio}×`, 14)}`,
    );
  }
  console.log(`load average (1, 5, 15 min): before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')}`);
  const byName = (name: string) => rows.find((r) => r.command === name)!;
  console.log(
    JSON.stringify({
      help_ms: byName('help').compiled_median_ms,
      status_ms: byName('status').compiled_median_ms,
      help_worst_ms: byName('help').compiled_worst_ms,
      status_worst_ms: byName('status').compiled_worst_ms,
      help_tsx_ms: byName('help').tsx_median_ms,
      status_tsx_ms: byName('status').tsx_median_ms,
      runs,
      commands: rows,
      loadavg_before: loadBefore,
      loadavg_after: loadAfter,
      cpus: os.cpus().length,
    }),
  );
}

try {
  main();
} catch (err) {
  console.error(`error: ${(err as Error).message}`);
  process.exit(1);
}
