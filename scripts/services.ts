/**
 * `npm run services -- up|down|restart|status|install|logs [service...]`, and
 * `npm run temporal -- <args>` (the Temporal CLI installed by the service manager).
 * The work is in src/services; this file only parses arguments and prints.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { Command, Option } from 'commander';
import { loadConfig } from '../src/config';
import {
  ServiceError,
  ServicesError,
  ensureServices,
  ensureTemporalBinary,
  installService,
  parseServiceNames,
  restartService,
  serviceLogTail,
  serviceStatus,
  stopServices,
  type ServiceName,
} from '../src/services';
import { renderProblem, renderStatusTable, statusJson } from '../src/services/format';
import { restoreCatalog } from '../src/catalog/restore';

/** `status` exits with this when a service asked for is not running (as LSB init scripts do). */
const EXIT_NOT_RUNNING = 3;

const progress = (service: ServiceName, message: string) => console.error(`[${service}] ${message}`);

async function up(args: string[]): Promise<void> {
  const names = parseServiceNames(args);
  const started = Date.now();
  const statuses = await ensureServices(names, { onProgress: progress });
  // moto keeps the Glue catalog in memory: a moto that just started has lost every table; rebuild them.
  if (statuses.some((s) => s.name === 'moto' && s.started) && statuses.some((s) => s.name === 's3')) {
    await restoreCatalog(loadConfig(), { onProgress: (m) => progress('moto', m) });
  }
  console.log(renderStatusTable(statuses));
  if (statuses.some((s) => s.started)) console.error(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function down(args: string[], options: { force?: boolean }): Promise<void> {
  const statuses = await stopServices(parseServiceNames(args), { onProgress: progress, force: options.force });
  console.log(renderStatusTable(statuses));
}

async function restart(args: string[], options: { force?: boolean }): Promise<void> {
  const names = parseServiceNames(args);
  const results = await Promise.allSettled(
    names.map((name) => restartService(name, { onProgress: progress, force: options.force })),
  );
  const statuses = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  if (statuses.some((s) => s.name === 'moto')) {
    await restoreCatalog(loadConfig(), { onProgress: (m) => progress('moto', m) }).catch((err: unknown) =>
      progress('moto', `could not rebuild the catalog from the lake: ${(err as Error).message}`),
    );
  }
  if (statuses.length > 0) console.log(renderStatusTable(statuses));
  const problems = results.flatMap((r, i) =>
    r.status === 'rejected'
      ? [r.reason instanceof ServiceError ? r.reason : new ServiceError(names[i], 'start-failed', String(r.reason))]
      : [],
  );
  if (problems.length > 0) throw new ServicesError(problems);
}

async function status(args: string[], options: { json?: boolean }): Promise<void> {
  const statuses = await serviceStatus(parseServiceNames(args));
  console.log(options.json ? statusJson(statuses) : renderStatusTable(statuses));
  if (statuses.some((s) => s.state !== 'running')) process.exitCode = EXIT_NOT_RUNNING;
}

async function install(args: string[]): Promise<void> {
  const names = parseServiceNames(args);
  const results = await Promise.allSettled(names.map((name) => installService(name, { onProgress: progress })));
  const problems = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as ServiceError] : []));
  if (problems.length > 0) throw new ServicesError(problems);
  results.forEach((r, i) => r.status === 'fulfilled' && console.log(`${names[i]}: ${r.value}`));
}

function logs(service: string, options: { lines: string }): void {
  const [name] = parseServiceNames([service]);
  for (const line of serviceLogTail(name, Number(options.lines))) console.log(line);
}

/** Runs the Temporal CLI with the user's arguments, pointed at the configured Temporal by default. */
async function temporal(args: string[]): Promise<void> {
  const binary = await ensureTemporalBinary({ onProgress: progress });
  const config = loadConfig();
  const env = { ...process.env };
  // The CLI reads the same variable names as ticklake; fill in the configured defaults.
  env.TEMPORAL_ADDRESS ??= config.temporal.address;
  env.TEMPORAL_NAMESPACE ??= config.temporal.namespace;
  const child = spawn(binary, args, { stdio: 'inherit', env });
  const code = await new Promise<number>((resolve) => {
    child.on('error', (err) => {
      console.error(`error: temporal: could not run ${binary}: ${err.message}`);
      resolve(1);
    });
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? 128 + (signal ? os.constants.signals[signal] : 0)));
  });
  process.exitCode = code;
}

function program(): Command {
  const cli = new Command('services')
    .description(
      'Local services of the ticklake pipeline: Temporal dev server, Kafka broker, S3 server (versitygw), moto (Glue, Athena).\n' +
        'Services: temporal, kafka, s3, moto (default: all). State under TICKLAKE_DATA_DIR, installs under TICKLAKE_CACHE_DIR.',
    )
    .showHelpAfterError();
  cli
    .command('up')
    .description('install what is missing, start what is stopped, wait until healthy')
    .argument('[services...]')
    .action(up);
  cli
    .command('down')
    .description('stop services (SIGTERM, then SIGKILL); state stays on disk')
    .argument('[services...]')
    .addOption(new Option('--force', 'SIGKILL at once, as in a crash'))
    .action(down);
  cli
    .command('restart')
    .description('stop and start services, keeping their state')
    .argument('[services...]')
    .addOption(new Option('--force', 'SIGKILL instead of a clean stop'))
    .action(restart);
  cli
    .command('status')
    .description(`show each service: running, unhealthy or stopped (exit code ${EXIT_NOT_RUNNING} unless all running)`)
    .argument('[services...]')
    .option('--json', 'print JSON instead of a table')
    .action(status);
  cli.command('install').description('install without starting').argument('[services...]').action(install);
  cli
    .command('logs')
    .description("print the end of a service's log")
    .argument('<service>')
    .option('-n, --lines <count>', 'number of lines', '50')
    .action(logs);
  cli.command('temporal').description('run the Temporal CLI (also: npm run temporal -- <args>)').argument('[args...]');
  return cli;
}

function report(err: unknown): void {
  if (err instanceof ServicesError) {
    if (err.statuses.length > 0) console.log(renderStatusTable(err.statuses));
    for (const problem of err.problems) console.error(renderProblem(problem));
  } else if (err instanceof ServiceError) {
    console.error(renderProblem(err));
  } else {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function main(argv: string[]): Promise<void> {
  try {
    // Everything after `temporal` belongs to the Temporal CLI, including --help and its flags.
    if (argv[0] === 'temporal') await temporal(argv.slice(1));
    else await program().parseAsync(argv, { from: 'user' });
  } catch (err) {
    report(err);
    process.exitCode = 1;
  }
}

void main(process.argv.slice(2));
