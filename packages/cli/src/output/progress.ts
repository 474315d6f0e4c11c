// SPDX-License-Identifier: Apache-2.0
/**
 * Progress on stderr. Our own renderer (about a hundred lines, no
 * dependency): the libraries we looked at add a dependency tree for a bar
 * and still need the CI mode below.
 *
 * - `plain`: lines only, never a carriage return or an escape sequence, for
 *   CI logs: one line per file hashed or scanned, and one every
 *   `intervalMs` (default 10 s) while a large file is hashed, each with bytes
 *   done, total and rate.
 * - `auto`: a one-line bar redrawn in place when stderr is a terminal and
 *   `CI` is unset; it never wraps (cut to the terminal's width, read at each
 *   redraw so a resize is followed) and redraws at most every 100 ms.
 *   Otherwise nothing.
 */
import { safeText } from '@modelseal/core/output';
import type { HashProgress } from '@modelseal/core/manifest';

/** How progress is shown: a bar on a terminal, lines for CI logs, or nothing. */
export type ProgressMode = 'auto' | 'plain' | 'none';

/** A scan's progress: one event per file scanned. */
export interface ScanProgress {
  path: string;
  filesDone: number;
  filesTotal: number;
}

/** What a command passes to the library, and calls when it ends. */
export interface ProgressReporter {
  onProgress?: (event: HashProgress) => void;
  onScanProgress?: (event: ScanProgress) => void;
  done: () => void;
}

/** Where progress goes: a stream with, when it is a terminal, its width. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Options of {@link progressReporter}. */
export interface ProgressOptions {
  stream?: ProgressStream;
  env?: NodeJS.ProcessEnv;
  /** Plain mode: a line at least this often while bytes are hashed. Default 10000 (MODELSEAL_PROGRESS_INTERVAL, seconds). */
  intervalMs?: number;
  now?: () => number;
}

/** Bytes in SI units, as `ls -h --si` and most CI logs print them. */
export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

function formatRate(bytes: number, ms: number): string {
  return ms <= 0 ? '-' : `${formatBytes(Math.round((bytes * 1000) / ms))}/s`;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function percent(done: number, total: number): string {
  return total === 0 ? '100%' : `${Math.floor((done / total) * 100)}%`;
}

function intervalFrom(env: NodeJS.ProcessEnv): number {
  const text = env.MODELSEAL_PROGRESS_INTERVAL;
  const seconds = text === undefined ? NaN : Number(text);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 10_000;
}

/** Plain lines for CI logs. */
function plainReporter(
  stream: ProgressStream,
  intervalMs: number,
  now: () => number,
): ProgressReporter {
  let started: number | undefined;
  let lastLine = 0;
  let finished = false;
  const line = (text: string): void => {
    stream.write(`${text}\n`);
    lastLine = now();
  };
  const totals = (e: HashProgress): string => {
    const elapsed = now() - (started ?? now());
    return `${e.filesDone}/${e.filesTotal} files, ${formatBytes(e.bytesDone)} / ${formatBytes(e.bytesTotal)} (${percent(e.bytesDone, e.bytesTotal)}), ${formatRate(e.bytesDone, elapsed)}`;
  };
  let scanStarted: number | undefined;
  return {
    onScanProgress: (event) => {
      scanStarted ??= now();
      line(
        `scanned ${safeText(event.path)} [${event.filesDone}/${event.filesTotal} files, ${formatSeconds(now() - scanStarted)}]`,
      );
    },
    onProgress: (event) => {
      if (event.phase !== 'hash' || finished) return;
      if (started === undefined) {
        started = now();
        line(
          `hashing ${event.filesTotal} files, ${formatBytes(event.bytesTotal)}`,
        );
        return;
      }
      if (event.path !== undefined) {
        line(`hashed ${safeText(event.path)} [${totals(event)}]`);
      } else if (
        event.filesDone === event.filesTotal &&
        event.bytesDone === event.bytesTotal
      ) {
        finished = true;
        line(
          `hashed ${event.filesTotal} files, ${formatBytes(event.bytesTotal)} in ${formatSeconds(now() - started)} (${formatRate(event.bytesTotal, now() - started)})`,
        );
      } else if (now() - lastLine >= intervalMs) {
        line(`hashing [${totals(event)}]`);
      }
    },
    done: () => {},
  };
}

const REDRAW_MS = 100;
/** Room kept after the bar for "100%  999.9 MB / 999.9 MB  999.9 MB/s  99999/99999 files". */
const TAIL_RESERVE = 58;

/** The in-place bar for a terminal. */
function barReporter(
  stream: ProgressStream,
  now: () => number,
): ProgressReporter {
  let started: number | undefined;
  let drawn = false;
  let lastDraw = -Infinity;
  const draw = (text: string, force: boolean): void => {
    const t = now();
    if (!force && t - lastDraw < REDRAW_MS) return;
    lastDraw = t;
    // One column short of the width: writing the last column wraps on some terminals.
    const width = Math.max(20, (stream.columns ?? 80) - 1);
    stream.write(`\r\x1b[2K${text.slice(0, width)}`);
    drawn = true;
  };
  // The bar's size depends on the width only, so it does not jump as the
  // numbers after it grow; on a narrow terminal the bar goes first, then the
  // pieces at the end of the line.
  const bar = (label: string, fraction: number, pieces: string[]): string => {
    const columns = Math.max(20, (stream.columns ?? 80) - 1);
    const size = Math.min(40, columns - label.length - 3 - TAIL_RESERVE);
    const drawn =
      size < 10
        ? label
        : `${label} [${'#'.repeat(Math.min(size, Math.round(fraction * size)))}${'.'.repeat(size - Math.min(size, Math.round(fraction * size)))}]`;
    let keep = pieces.length;
    while (
      keep > 1 &&
      `${drawn} ${pieces.slice(0, keep).join('  ')}`.length > columns
    )
      keep--;
    return `${drawn} ${pieces.slice(0, keep).join('  ')}`;
  };
  return {
    onScanProgress: (event) => {
      draw(
        bar('scanning', event.filesDone / Math.max(1, event.filesTotal), [
          `${event.filesDone}/${event.filesTotal} files`,
        ]),
        event.filesDone === event.filesTotal,
      );
    },
    onProgress: (event) => {
      if (event.phase !== 'hash') return;
      started ??= now();
      const fraction =
        event.bytesTotal === 0 ? 1 : event.bytesDone / event.bytesTotal;
      const pieces = [
        percent(event.bytesDone, event.bytesTotal).padStart(4),
        `${formatBytes(event.bytesDone)} / ${formatBytes(event.bytesTotal)}`,
        formatRate(event.bytesDone, now() - started),
        `${event.filesDone}/${event.filesTotal} files`,
      ];
      draw(bar('hashing', fraction, pieces), false);
    },
    done: () => {
      if (drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}

/**
 * A progress reporter for stderr. `auto` draws a bar only when the stream is
 * a terminal and `CI` is unset; `plain` prints lines whatever the stream is.
 */
export function progressReporter(
  mode: ProgressMode,
  options: ProgressOptions | ProgressStream = {},
): ProgressReporter {
  const opts: ProgressOptions =
    'write' in options ? { stream: options } : options;
  const stream = opts.stream ?? process.stderr;
  const env = opts.env ?? process.env;
  const now = opts.now ?? Date.now;
  if (mode === 'none') return { done: () => {} };
  if (mode === 'plain')
    return plainReporter(stream, opts.intervalMs ?? intervalFrom(env), now);
  if (stream.isTTY !== true || (env.CI !== undefined && env.CI !== ''))
    return { done: () => {} };
  return barReporter(stream, now);
}
