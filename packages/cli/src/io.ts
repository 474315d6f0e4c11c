// SPDX-License-Identifier: Apache-2.0
import { safeText } from '@modelseal/core/output';
import type { AuditInput } from '@modelseal/core/audit';

/** Where a command writes: stdout for results, stderr for logs. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  signal?: AbortSignal;
  /** Facts for the audit event of this command (docs/audit.md), filled in by the command. */
  audit?: AuditFacts;
}

/** What a command tells the audit log about what it did. */
export type AuditFacts = Partial<
  Omit<AuditInput, 'action' | 'outcome' | 'start' | 'end' | 'toolVersion'>
>;

/**
 * The last guard before a terminal: each line of `text` through safeText.
 * Commands escape every string from an artifact where they build a line;
 * this catches one that was missed, so no control or escape sequence from
 * a file or a bundle reaches stdout or stderr. Idempotent on escaped text.
 */
export function terminalSafe(text: string): string {
  return text
    .split('\n')
    .map((line) => safeText(line))
    .join('\n');
}

/** The process's streams. */
export function processIo(signal?: AbortSignal): Io {
  const io: Io = {
    out: (line) => void process.stdout.write(`${terminalSafe(line)}\n`),
    err: (line) => void process.stderr.write(`${terminalSafe(line)}\n`),
  };
  if (signal) io.signal = signal;
  return io;
}
