/**
 * The sink's per-record check, fast: a byte-level JSON validator that also picks out the two fields
 * the lake layout needs (top-level `symbol` and `trade_date`), without decoding the value to a
 * string or building an object. Pure: no I/O.
 *
 * It only ever says yes for values that `JSON.parse` accepts as an object with the same `symbol`
 * and `trade_date` (property-tested against it); anything it does not accept, or cannot decide
 * cheaply (escapes in those fields, very deep nesting), goes to the reference check in
 * src/message.ts, which also words the dead-letter reason. Validation cost dominated the sink's
 * CPU profile when it was one JSON.parse per record.
 */
import { checkRecordValue, type RecordCheck } from '../message';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MAX_DEPTH = 64;

/** Which top-level keys matter, by their exact bytes. */
const SYMBOL = Buffer.from('symbol');
const TRADE_DATE = Buffer.from('trade_date');

class Scanner {
  private b: Buffer = Buffer.alloc(0);
  private end = 0;
  pos = 0;
  depth = 0;
  symbolStart = -1;
  symbolEnd = -1;
  dateStart = -1;
  dateEnd = -1;
  /** A field we need holds an escape: let the reference check decide. */
  escaped = false;

  /** One scanner serves every record (no allocation per record). */
  reset(b: Buffer): void {
    this.b = b;
    this.end = b.length;
    this.pos = 0;
    this.depth = 0;
    this.symbolStart = this.symbolEnd = this.dateStart = this.dateEnd = -1;
    this.escaped = false;
  }

  ws(): void {
    const b = this.b;
    while (this.pos < this.end) {
      const c = b[this.pos];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else return;
    }
  }

  /** A string starting at pos (a quote); returns whether it held an escape, or undefined when invalid. */
  string(): boolean | undefined {
    const b = this.b;
    let escaped = false;
    let i = this.pos + 1;
    while (i < this.end) {
      const c = b[i];
      if (c === QUOTE) {
        this.pos = i + 1;
        return escaped;
      }
      if (c < 0x20) return undefined;
      if (c === BACKSLASH) {
        escaped = true;
        const e = b[i + 1];
        if (e === 0x75) {
          for (let k = 2; k < 6; k++) {
            const h = b[i + k];
            const hex = (h >= 0x30 && h <= 0x39) || (h >= 0x41 && h <= 0x46) || (h >= 0x61 && h <= 0x66);
            if (!hex || i + k >= this.end) return undefined;
          }
          i += 6;
          continue;
        }
        if (
          e === QUOTE ||
          e === BACKSLASH ||
          e === 0x2f ||
          e === 0x62 ||
          e === 0x66 ||
          e === 0x6e ||
          e === 0x72 ||
          e === 0x74
        ) {
          i += 2;
          continue;
        }
        return undefined;
      }
      i++;
    }
    return undefined;
  }

  number(): boolean {
    const b = this.b;
    let i = this.pos;
    if (b[i] === 0x2d) i++;
    if (i >= this.end) return false;
    if (b[i] === 0x30) i++;
    else if (b[i] >= 0x31 && b[i] <= 0x39) while (i < this.end && b[i] >= 0x30 && b[i] <= 0x39) i++;
    else return false;
    if (i < this.end && b[i] === 0x2e) {
      i++;
      const start = i;
      while (i < this.end && b[i] >= 0x30 && b[i] <= 0x39) i++;
      if (i === start) return false;
    }
    if (i < this.end && (b[i] === 0x65 || b[i] === 0x45)) {
      i++;
      if (i < this.end && (b[i] === 0x2b || b[i] === 0x2d)) i++;
      const start = i;
      while (i < this.end && b[i] >= 0x30 && b[i] <= 0x39) i++;
      if (i === start) return false;
    }
    this.pos = i;
    return true;
  }

  literal(word: string): boolean {
    if (this.pos + word.length > this.end) return false;
    for (let k = 0; k < word.length; k++) if (this.b[this.pos + k] !== word.charCodeAt(k)) return false;
    this.pos += word.length;
    return true;
  }

  value(): boolean {
    if (this.pos >= this.end) return false;
    const c = this.b[this.pos];
    if (c === 0x7b) return this.object(false);
    if (c === 0x5b) return this.array();
    if (c === QUOTE) return this.string() !== undefined;
    if (c === 0x74) return this.literal('true');
    if (c === 0x66) return this.literal('false');
    if (c === 0x6e) return this.literal('null');
    return this.number();
  }

  array(): boolean {
    if (++this.depth > MAX_DEPTH) return false;
    this.pos++;
    this.ws();
    if (this.b[this.pos] === 0x5d) {
      this.pos++;
      this.depth--;
      return true;
    }
    for (;;) {
      this.ws();
      if (!this.value()) return false;
      this.ws();
      const c = this.b[this.pos++];
      if (c === 0x5d) break;
      if (c !== 0x2c) return false;
    }
    this.depth--;
    return true;
  }

  object(top: boolean): boolean {
    if (++this.depth > MAX_DEPTH) return false;
    const b = this.b;
    this.pos++;
    this.ws();
    if (b[this.pos] === 0x7d) {
      this.pos++;
      this.depth--;
      return true;
    }
    for (;;) {
      this.ws();
      if (b[this.pos] !== QUOTE) return false;
      const keyStart = this.pos + 1;
      const keyEscaped = this.string();
      if (keyEscaped === undefined) return false;
      const keyEnd = this.pos - 1;
      this.ws();
      if (b[this.pos++] !== 0x3a) return false;
      this.ws();
      let wanted: 'symbol' | 'trade_date' | undefined;
      if (top) {
        // A key spelt with escapes might still be one of ours: leave that to the reference check.
        if (keyEscaped) this.escaped = true;
        else if (same(b, keyStart, keyEnd, SYMBOL)) wanted = 'symbol';
        else if (same(b, keyStart, keyEnd, TRADE_DATE)) wanted = 'trade_date';
      }
      if (wanted) {
        if (b[this.pos] === QUOTE) {
          const start = this.pos + 1;
          const escaped = this.string();
          if (escaped === undefined) return false;
          if (escaped) this.escaped = true;
          // The last occurrence wins, as in JSON.parse.
          if (wanted === 'symbol') {
            this.symbolStart = start;
            this.symbolEnd = this.pos - 1;
          } else {
            this.dateStart = start;
            this.dateEnd = this.pos - 1;
          }
        } else {
          if (!this.value()) return false;
          if (wanted === 'symbol') this.symbolStart = this.symbolEnd = -1;
          else this.dateStart = this.dateEnd = -1;
        }
      } else if (!this.value()) return false;
      this.ws();
      const c = b[this.pos++];
      if (c === 0x7d) break;
      if (c !== 0x2c) return false;
    }
    this.depth--;
    return true;
  }
}

function same(b: Buffer, start: number, end: number, word: Buffer): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (b[start + k] !== word[k]) return false;
  return true;
}

const digit = (c: number) => c >= 0x30 && c <= 0x39;

function isDate(b: Buffer, start: number, end: number): boolean {
  if (end - start !== 10 || b[start + 4] !== 0x2d || b[start + 7] !== 0x2d) return false;
  return (
    digit(b[start]) &&
    digit(b[start + 1]) &&
    digit(b[start + 2]) &&
    digit(b[start + 3]) &&
    digit(b[start + 5]) &&
    digit(b[start + 6]) &&
    digit(b[start + 8]) &&
    digit(b[start + 9])
  );
}

/** A symbol the fast path does not judge: blank as `trim` sees it, or holding non-ASCII (Unicode spaces). */
function unusualSymbol(b: Buffer, start: number, end: number): boolean {
  let blank = true;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c >= 0x80) return true;
    if (c !== 0x20 && (c < 0x09 || c > 0x0d)) blank = false;
  }
  return blank;
}

/**
 * Checks a message value for the lake: a JSON object with a non-blank string `symbol` and a
 * `trade_date` string of the form YYYY-MM-DD, at most `maxBytes` long. Same answers as
 * `checkRecordValue`, much faster on good records.
 */
export function checkRecord(value: Buffer | null, maxBytes: number): RecordCheck {
  if (value === null || value.length > maxBytes) return checkRecordValue(value, maxBytes);
  const s = scanner;
  s.reset(value);
  s.ws();
  if (value[s.pos] === 0x7b && s.object(true)) {
    s.ws();
    const { symbolStart, symbolEnd, dateStart, dateEnd } = s;
    // Non-ASCII in the symbol (which could be Unicode whitespace) also goes the reference way.
    if (
      s.pos === value.length &&
      !s.escaped &&
      symbolStart >= 0 &&
      dateStart >= 0 &&
      !unusualSymbol(value, symbolStart, symbolEnd) &&
      isDate(value, dateStart, dateEnd)
    ) {
      return {
        ok: true,
        symbol: value.toString('latin1', symbolStart, symbolEnd),
        trade_date: value.toString('latin1', dateStart, dateEnd),
      };
    }
  }
  return checkRecordValue(value, maxBytes);
}

const scanner = new Scanner();
