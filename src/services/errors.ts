import type { ServiceName, ServiceStatus } from './definitions';

export type ServiceErrorKind =
  /** A port the service needs answers, and it is not our process. */
  | 'port-in-use'
  /** A program needed to install or run the service is not on PATH. */
  | 'missing-tool'
  | 'install-failed'
  /** The process exited while starting. */
  | 'exited'
  /** Still not healthy when the deadline passed. */
  | 'unhealthy'
  | 'start-failed'
  | 'stop-failed'
  /** Another caller holds the service's lock for too long. */
  | 'busy';

/**
 * A problem with one service. The message is one line that names the service and says what to do;
 * `details` are supporting lines (the tail of a log or of an install's output).
 */
export class ServiceError extends Error {
  override name = 'ServiceError';

  constructor(
    readonly service: ServiceName,
    readonly kind: ServiceErrorKind,
    message: string,
    readonly details: string[] = [],
  ) {
    super(`${service}: ${message}`);
  }
}

/** One or more services failed; each problem is in `problems`, in service order; `statuses` describe all services asked for. */
export class ServicesError extends Error {
  override name = 'ServicesError';

  constructor(
    readonly problems: ServiceError[],
    readonly statuses: ServiceStatus[] = [],
  ) {
    super(problems.map((p) => p.message).join('; '));
  }
}
