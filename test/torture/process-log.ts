/**
 * The log that child processes of the process torture keep: one file that every child
 * and the parent append lines to (O_APPEND: each line lands whole, in the order the
 * writes happened), read back by the parent as it grows. A line is written by a write(2)
 * before the writer goes on, so it survives a SIGKILL that comes after it.
 *
 *   "<slot> <code> [<number>]"   codes are the fixtures' (a/A/R for a lock, g/G for a get, ...)
 *   "<slot> K"                   written by the parent just before it kills that slot
 *   "<slot> S <pid>"             a child saying who it is (pool tasks, so they can be killed)
 */
import { appendFileSync, closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One line of the log. */
export interface LogLine {
  slot: number;
  code: string;
  n: number;
}

/** Appends a line (from a child or the parent). */
export function writeLine(path: string, slot: number, code: string, n?: number): void {
  appendFileSync(path, n === undefined ? `${slot} ${code}\n` : `${slot} ${code} ${n}\n`);
}

/** The parent's side: a fresh log file, read incrementally. */
export class ProcessLog {
  readonly path: string;
  readonly #dir: string;
  #fd: number;
  #pos = 0;
  #rest = '';
  readonly #buf = Buffer.alloc(1 << 16);
  /** Every line read so far, in order. */
  readonly lines: LogLine[] = [];

  constructor() {
    this.#dir = mkdtempSync(join(tmpdir(), 'concur-torture-'));
    this.path = join(this.#dir, 'log');
    appendFileSync(this.path, '');
    this.#fd = openSync(this.path, 'r');
  }

  /** Reads what was appended since the last call; returns the new lines. */
  poll(): LogLine[] {
    const fresh: LogLine[] = [];
    for (;;) {
      const n = readSync(this.#fd, this.#buf, 0, this.#buf.length, this.#pos);
      if (n === 0) break;
      this.#pos += n;
      const text = this.#rest + this.#buf.toString('latin1', 0, n);
      const parts = text.split('\n');
      this.#rest = parts.pop()!;
      for (const p of parts) {
        const [slot, code, num] = p.split(' ');
        const line = { slot: Number(slot), code: code!, n: num === undefined ? -1 : Number(num) };
        if (!Number.isInteger(line.slot) || code === undefined) throw new Error(`a torn line in the torture log: ${JSON.stringify(p)}`);
        fresh.push(line);
        this.lines.push(line);
      }
    }
    return fresh;
  }

  /** Appends a line as the parent. */
  write(slot: number, code: string, n?: number): void {
    writeLine(this.path, slot, code, n);
  }

  /** The last `k` lines, as text, for a failure message. */
  tail(k = 30): string[] {
    return this.lines.slice(-k).map((l) => `${l.slot} ${l.code}${l.n >= 0 ? ` ${l.n}` : ''}`);
  }

  /** Closes and removes the file. */
  close(): void {
    closeSync(this.#fd);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
