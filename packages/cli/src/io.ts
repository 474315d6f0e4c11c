// SPDX-License-Identifier: Apache-2.0
import type { AuditInput } from '@modelseal/core';

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

/** The process's streams. */
export function processIo(signal?: AbortSignal): Io {
  const io: Io = {
    out: (line) => void process.stdout.write(`${line}\n`),
    err: (line) => void process.stderr.write(`${line}\n`),
  };
  if (signal) io.signal = signal;
  return io;
}
