/**
 * The CLI's heavy dependencies, loaded on first use. Temporal's client, the AWS SDK, kafkajs, DuckDB,
 * zod (the configuration) and the service manager take most of a second to load together; `--help`
 * needs none of them, and each command loads only those it calls. Every export here has the type of
 * the function it stands for and loads that function's module when it is first called.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- a require() inside a function is what defers the load */

/** A module loaded on the first call of the returned function. */
function once<M>(load: () => M): () => M {
  let loaded: M | undefined;
  return () => (loaded ??= load());
}

/** Stands for function `name` of the module `load` returns, loading it on the first call. */
function deferred<M, K extends keyof M>(load: () => M, name: K): M[K] {
  return ((...args: unknown[]) => (load()[name] as (...a: unknown[]) => unknown)(...args)) as M[K];
}

const config = once(() => require('../config') as typeof import('../config'));
const temporal = once(() => require('../adapters/temporal') as typeof import('../adapters/temporal'));
const kafka = once(() => require('../adapters/kafka') as typeof import('../adapters/kafka'));
const aws = once(() => require('../adapters/aws') as typeof import('../adapters/aws'));
const pipeline = once(() => require('../pipeline') as typeof import('../pipeline'));
const schedules = once(() => require('../schedules') as typeof import('../schedules'));
const services = once(() => require('../services') as typeof import('../services'));
const workerMain = once(() => require('../worker-main') as typeof import('../worker-main'));
const queryOutput = once(() => require('./query-output') as typeof import('./query-output'));
const lakeReportModule = once(() => require('../compact/lake-report') as typeof import('../compact/lake-report'));
const compactReportModule = once(() => require('../compact/report') as typeof import('../compact/report'));
const dashboardServer = once(() => require('../dashboard/server') as typeof import('../dashboard/server'));
const dashboardSettings = once(() => require('../dashboard/options') as typeof import('../dashboard/options'));
const deadLetters = once(() => require('../dead-letters') as typeof import('../dead-letters'));

export const loadConfig = deferred(config, 'loadConfig');
export const durationMs = deferred(config, 'durationMs');
export const compactReport = deferred(compactReportModule, 'compactReport');
export const compactLakeReport = deferred(lakeReportModule, 'compactLakeReport');
export const connectClient = deferred(temporal, 'connectClient');
export const createKafka = deferred(kafka, 'createKafka');
export const groupLag = deferred(kafka, 'groupLag');
export const createAwsClients = deferred(aws, 'createAwsClients');
export const prepareInfrastructure = deferred(pipeline, 'prepareInfrastructure');
export const runCrawl = deferred(pipeline, 'runCrawl');
export const startQuery = deferred(pipeline, 'startQuery');
export const startReplay = deferred(pipeline, 'startReplay');
export const startSink = deferred(pipeline, 'startSink');
export const startCompaction = deferred(pipeline, 'startCompaction');
export const createCrawlSchedule = deferred(schedules, 'createCrawlSchedule');
export const crawlScheduleId = deferred(schedules, 'crawlScheduleId');
export const deleteCrawlSchedule = deferred(schedules, 'deleteCrawlSchedule');
export const describeCompactSchedule = deferred(schedules, 'describeCompactSchedule');
export const describeCrawlSchedule = deferred(schedules, 'describeCrawlSchedule');
export const ensureCrawlSchedule = deferred(schedules, 'ensureCrawlSchedule');
export const ensureCompactSchedule = deferred(schedules, 'ensureCompactSchedule');
export const listCrawlSchedules = deferred(schedules, 'listCrawlSchedules');
export const pauseCrawlSchedule = deferred(schedules, 'pauseCrawlSchedule');
export const setCrawlScheduleInterval = deferred(schedules, 'setCrawlScheduleInterval');
export const triggerCrawlSchedule = deferred(schedules, 'triggerCrawlSchedule');
export const unpauseCrawlSchedule = deferred(schedules, 'unpauseCrawlSchedule');
export const ensureServices = deferred(services, 'ensureServices');
export const parseServiceNames = deferred(services, 'parseServiceNames');
export const serviceStatus = deferred(services, 'serviceStatus');
export const stopServices = deferred(services, 'stopServices');
export const runWorker = deferred(workerMain, 'runWorker');
export const printQueryResult = deferred(queryOutput, 'printQueryResult');
export const readProducerDeadLetters = deferred(deadLetters, 'readProducerDeadLetters');
export const readSinkDeadLetters = deferred(deadLetters, 'readSinkDeadLetters');
export const startDashboard = deferred(dashboardServer, 'startDashboard');
export const dashboardOptions = deferred(dashboardSettings, 'dashboardOptions');
