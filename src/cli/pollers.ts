/**
 * Whether a task queue's pollers, as Temporal describes them, include a live worker. Pure.
 *
 * The server lists a worker's poller for minutes after the worker has gone. A running worker polls
 * again at least once a minute (each long poll lasts up to a minute), so a poller whose last poll is
 * older than that is a worker gone.
 */

/** Age (s) of the last poll beyond which a poller is taken for a worker gone. */
export const LIVE_POLLER_S = 75;

export interface PollerInfo {
  /** A protobuf Timestamp; `seconds` is a Long (or a number). */
  lastAccessTime?: { seconds?: { toString(): string } | number | null } | null;
}

/** How many of the pollers polled within the last {@link LIVE_POLLER_S} seconds of `nowMs`. */
export function livePollers(pollers: readonly PollerInfo[] | null | undefined, nowMs: number): number {
  return (pollers ?? []).filter((p) => {
    const seconds = Number(String(p.lastAccessTime?.seconds ?? 0));
    return nowMs / 1000 - seconds < LIVE_POLLER_S;
  }).length;
}
