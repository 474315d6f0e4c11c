// SPDX-License-Identifier: Apache-2.0
import { safeText } from '@modelseal/core/output';
import type { HashProgress } from '@modelseal/core/manifest';

/** How progress is shown: a bar on a terminal, a line per file, or nothing. */
export type ProgressMode = 'auto' | 'plain' | 'none';

function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/**
 * A progress reporter for stderr. `auto` draws a bar only when stderr is a
 * terminal and `CI` is unset; piped output gets nothing extra.
 */
export function progressReporter(
  mode: ProgressMode,
  stream: NodeJS.WriteStream = process.stderr,
): { onProgress?: (event: HashProgress) => void; done: () => void } {
  if (mode === 'none') return { done: () => {} };
  if (mode === 'plain') {
    return {
      onProgress: (event) => {
        if (event.phase === 'hash' && event.path !== undefined)
          stream.write(`hashed ${safeText(event.path)}\n`);
      },
      done: () => {},
    };
  }
  if (!stream.isTTY || process.env.CI !== undefined) return { done: () => {} };
  const started = Date.now();
  let drawn = false;
  return {
    onProgress: (event) => {
      if (event.phase !== 'hash' || event.bytesTotal === 0) return;
      const fraction = event.bytesDone / event.bytesTotal;
      const width = 24;
      const filled = Math.round(fraction * width);
      const seconds = (Date.now() - started) / 1000;
      const rate =
        seconds > 0 ? `${formatBytes(event.bytesDone / seconds)}/s` : '';
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      stream.write(
        `\r\x1b[2Khashing [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${formatBytes(event.bytesDone)} / ${formatBytes(event.bytesTotal)}  ${event.filesDone}/${event.filesTotal} files  ${rate}`,
      );
      drawn = true;
    },
    done: () => {
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}
