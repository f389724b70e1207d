/**
 * The bounded page of rows a query returns inline. Pure.
 *
 * A query's result travels in a Temporal payload (limit 2 MB): the page stops at `maxRows` rows or
 * `maxBytes` bytes of JSON, whichever comes first, and says so with `truncated`. The full result stays
 * with the engine (a file for DuckDB, S3 for Athena).
 */
import { cellBytes, type Cell } from './values';

/** Default bound of the inline page in bytes of JSON: a quarter of Temporal's 2 MB payload limit. */
export const DEFAULT_MAX_PAGE_BYTES = 512 * 1024;

/** Hard ceiling of `maxBytes`, whatever the input says: well below Temporal's 2 MB payload limit. */
export const MAX_PAGE_BYTES_CEILING = 1024 * 1024;

export class PageBuilder {
  readonly rows: Cell[][] = [];
  private bytes = 2;
  private full = false;
  /** Rows offered, including those that did not fit. */
  seen = 0;

  constructor(
    private readonly maxRows: number,
    private readonly maxBytes: number,
  ) {
    if (!Number.isInteger(maxRows) || maxRows < 0) throw new RangeError('maxRows must be a whole number >= 0');
    if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new RangeError('maxBytes must be a whole number > 0');
  }

  /** Offers the next row; returns false once the page is full (this row and all later ones are left out). */
  add(row: Cell[]): boolean {
    this.seen++;
    if (this.full) return false;
    if (this.rows.length >= this.maxRows) {
      this.full = true;
      return false;
    }
    let size = 3;
    for (const cell of row) size += cellBytes(cell);
    if (this.bytes + size > this.maxBytes) {
      this.full = true;
      return false;
    }
    this.bytes += size;
    this.rows.push(row);
    return true;
  }

  /** True once a row was left out: the page is not the whole result. */
  get truncated(): boolean {
    return this.seen > this.rows.length;
  }

  /** Bytes of JSON of the rows kept so far (approximate to a few bytes). */
  get size(): number {
    return this.bytes;
  }
}

/** The page bounds of an input, clamped to safe values. */
export function pageBounds(input: { maxRows: number; maxBytes?: number }): { maxRows: number; maxBytes: number } {
  const maxRows = Math.max(0, Math.floor(input.maxRows));
  const maxBytes = Math.min(
    Math.max(1024, Math.floor(input.maxBytes ?? DEFAULT_MAX_PAGE_BYTES)),
    MAX_PAGE_BYTES_CEILING,
  );
  return { maxRows, maxBytes };
}
