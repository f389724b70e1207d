/** `ticklake sink start|pause|resume|status`: the S3 sink workflow of the configured topic. */
import type { Command } from 'commander';
import { workflowIds } from '../workflow-ids';
import { pauseSignal, resumeSignal } from '../../workflows/definitions';
import { brokerLag, brokerLagText } from './broker-lag';
import type { CliContext } from './context';
import { prepareInfrastructure, startSink } from './lazy';
import { print } from './output';
import { sinkReport, sinkRows } from './reports';

export function registerSinkCommands(program: Command, ctx: CliContext): void {
  const sink = program.command('sink').description('start and steer the S3 sink');
  sink.command('start').action(async (_o, cmd: Command) => {
    const g = ctx.globals(cmd);
    await prepareInfrastructure(g.config);
    const h = await startSink(await ctx.client(g), g.config);
    print(g, { workflowId: h.workflowId }, () => `started ${h.workflowId}`);
    await ctx.warnWithoutWorker(g);
  });
  for (const [name, signal, verb] of [
    ['pause', pauseSignal, 'paused (drains, commits, stops consuming)'],
    ['resume', resumeSignal, 'resumed'],
  ] as const) {
    sink.command(name).action(async (_o, cmd: Command) => {
      const g = ctx.globals(cmd);
      const h = (await ctx.client(g)).workflow.getHandle(workflowIds.sink(g.config.kafka.topic));
      await h.signal(signal);
      print(
        g,
        { workflowId: h.workflowId, state: name === 'pause' ? 'paused' : 'running' },
        () => `${h.workflowId} ${verb}`,
      );
    });
  }
  sink.command('status').action(async (_o, cmd: Command) => {
    const g = ctx.globals(cmd);
    const h = (await ctx.client(g)).workflow.getHandle(workflowIds.sink(g.config.kafka.topic));
    // A paused sink reports the offsets it committed before pausing; the broker says what waits since.
    const [s, lag] = await Promise.all([sinkReport(h, g.config.temporal.taskQueue), brokerLag(g.config)]);
    print(g, { ...s, lag: lag ?? null }, () => `${sinkRows(s)}\n${brokerLagText(g.config, lag)}`);
  });
}
