// SPDX-License-Identifier: Apache-2.0
/** Where a command writes: stdout for results, stderr for logs. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  signal?: AbortSignal;
}

/** The process's streams. */
export function processIo(signal?: AbortSignal): Io {
  const io: Io = {
    out: (line) => void process.stdout.write(`${line}\n`),
    err: (line) => void process.stderr.write(`${line}\n`),
  };
  if (signal) io.signal = signal;
  return io;
}
