// SPDX-License-Identifier: Apache-2.0
import { resolve } from 'node:path';
import { MODELSEAL_VERSION } from '@modelseal/core/constants';
import {
  SEVERITIES,
  findingUri,
  toSarif,
  type FileScanResult,
  type Severity,
} from '@modelseal/core/scan/report';
import { loadScanPolicy } from '@modelseal/core/scan/policy';
import {
  reportReaches,
  scanPaths,
  type ScanOptions,
  type ScanReport,
} from '@modelseal/core/scan/engine';
import {
  safeJSONStringify,
  safeText,
  writeFileAtomic,
} from '@modelseal/core/output';
import { flag, parse, positiveInteger, str } from '../args.js';
import { EXIT, UsageError, type ExitCode } from '../exit-codes.js';
import type { Io } from '../io.js';
import { OUTPUT_FLAGS } from './common.js';
import { limitHelp, limitsFrom } from './limits.js';

export const SCAN_HELP: string = `usage: modelseal scan PATH... [options]

Scans model files for embedded code and unsafe constructs: pickle (raw,
PyTorch zip and legacy, NumPy, joblib), ONNX, SafeTensors, GGUF, Keras,
TensorFlow SavedModel, TFLite, and the archives that carry them. Formats are
recognised by content, never by extension; directories are scanned
recursively; nothing in a file is ever executed.

options:
  --format text|json|sarif    report format (default text); sarif is SARIF 2.1.0 for GitHub code scanning
  --output FILE               write the report to FILE (atomically; --force to overwrite) instead of stdout
  --force                     overwrite --output
  --fail-on SEVERITY          exit 1 when a finding reaches critical|high|medium|low|info (default high); none never fails
  --policy FILE               a policy file extending the allow and deny lists (docs/scan-policy.md)
  --concurrency N             files scanned at once (default 4)
  --sarif-root DIR            sarif: artifact URIs relative to DIR (%SRCROOT%; default the current
                              directory, so run from the repository root for GitHub code scanning)
${limitHelp(30)}
  --verbose                   list info findings too (text)

A file whose analysis stopped before its end (a limit, a deadline, a wrapper
that cannot be read) is listed as NOT FULLY SCANNED and counted in the summary;
its SCAN_INCOMPLETE finding is high, so the default --fail-on fails.

exit: 0 nothing reaches --fail-on; 1 a finding does; 2 usage error; 3 a file could not be read`;

const FLAGS = {
  ...OUTPUT_FLAGS,
  format: { type: 'string' },
  output: { type: 'string' },
  force: { type: 'boolean' },
  'fail-on': { type: 'string' },
  policy: { type: 'string' },
  concurrency: { type: 'string' },
  'sarif-root': { type: 'string' },
  limit: { type: 'string', multiple: true },
  verbose: { type: 'boolean', short: 'v' },
} as const;

function failOnFrom(value: string | undefined): Severity | 'none' {
  const v = value ?? 'high';
  if (v === 'none' || (SEVERITIES as readonly string[]).includes(v))
    return v as Severity | 'none';
  throw new UsageError(
    `--fail-on must be one of ${SEVERITIES.join(', ')} or none, got ${JSON.stringify(v)}`,
  );
}

/** Why a file was not fully scanned: the limits and reasons its findings name. */
function incompleteReasons(file: FileScanResult): string[] {
  const reasons = new Set<string>();
  if (file.error !== undefined) reasons.add('unreadable');
  for (const f of file.findings) {
    if (f.ruleId === 'SCAN_INCOMPLETE') {
      const limit = f.evidence?.['limit'];
      reasons.add(typeof limit === 'string' ? limit : 'SCAN_INCOMPLETE');
    } else if (
      f.ruleId === 'COMPRESSION_UNSUPPORTED' ||
      f.ruleId === 'SCAN_INTERNAL_ERROR'
    ) {
      reasons.add(f.ruleId);
    }
  }
  return [...reasons];
}

/**
 * The text report: one line per finding, the files not fully scanned, and a
 * summary. Every string from a file (names, members, messages, evidence) goes
 * through safeText: a control character or an escape sequence in a pickle
 * global name cannot erase or disguise a line.
 */
export function textReport(report: ScanReport, verbose: boolean): string {
  const lines: string[] = [];
  for (const file of report.files) {
    if (file.error)
      lines.push(
        `ERROR     ${safeText(file.file)}: ${safeText(file.error.message)}`,
      );
    for (const f of file.findings) {
      if (f.severity === 'info' && !verbose) continue;
      const where =
        f.offset === undefined
          ? findingUri(f)
          : `${findingUri(f)} @${f.offset}`;
      lines.push(
        `${f.severity.toUpperCase().padEnd(9)} ${safeText(where)}  ${safeText(f.ruleId)}  ${safeText(f.message)}`,
      );
    }
  }
  const incomplete = report.files.filter((f) => !f.complete);
  if (incomplete.length > 0) {
    lines.push(
      `NOT FULLY SCANNED: ${incomplete.length} file${incomplete.length === 1 ? '' : 's'} (a limit or an unreadable part stopped the analysis; raise a limit with --limit NAME=VALUE)`,
    );
    for (const file of incomplete) {
      const reasons = incompleteReasons(file);
      lines.push(
        `  ${safeText(file.file)}${reasons.length > 0 ? ` (${reasons.map(safeText).join(', ')})` : ''}`,
      );
    }
  }
  const s = report.summary;
  const counts = SEVERITIES.map((sev) => `${s.bySeverity[sev]} ${sev}`).join(
    ', ',
  );
  const formats = new Set(report.files.flatMap((f) => f.formats));
  const notScanned = s.incomplete;
  lines.push(
    `scanned ${s.files} file${s.files === 1 ? '' : 's'}${formats.size > 0 ? ` (${[...formats].map(safeText).join(', ')})` : ''}: ${counts}${notScanned > 0 ? `; ${notScanned} not fully scanned` : ''}${s.errors > 0 ? `; ${s.errors} unreadable` : ''}`,
  );
  return lines.join('\n');
}

/** `modelseal scan PATH...`. */
export async function scanCommand(
  argv: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const parsed = parse(argv, FLAGS);
  if (parsed.values.help === true) {
    io.out(SCAN_HELP);
    return EXIT.OK;
  }
  if (parsed.positionals.length === 0)
    throw new UsageError('missing argument PATH');
  const format =
    str(parsed, 'format') ?? (flag(parsed, 'json') ? 'json' : 'text');
  if (format !== 'text' && format !== 'json' && format !== 'sarif') {
    throw new UsageError(
      `--format must be text, json or sarif, got ${JSON.stringify(format)}`,
    );
  }
  const failOn = failOnFrom(str(parsed, 'fail-on'));
  const options: ScanOptions = {};
  const policyFile = str(parsed, 'policy');
  if (policyFile !== undefined)
    options.policy = await loadScanPolicy(policyFile);
  const concurrency = positiveInteger(parsed, 'concurrency');
  if (concurrency !== undefined) options.concurrency = concurrency;
  const limits = limitsFrom(parsed);
  if (limits !== undefined) options.limits = limits;
  if (io.signal) options.signal = io.signal;
  const paths = parsed.positionals;
  if (io.audit)
    Object.assign(io.audit, {
      modelPath: paths.length === 1 ? paths[0]! : paths.join(' '),
      ...(paths.length > 1 ? { modelPaths: paths } : {}),
    });
  // Paths in the report are relative to the single directory scanned, else to the current directory.
  if (paths.length === 1) options.root = resolve(paths[0]!);
  // SARIF: relative to the repository root (or --sarif-root), so code scanning maps a subfolder scan.
  const sarifRoot = str(parsed, 'sarif-root');
  if (sarifRoot !== undefined && format !== 'sarif')
    throw new UsageError('--sarif-root needs --format sarif');
  if (format === 'sarif') options.root = resolve(sarifRoot ?? '.');
  const report = await scanPaths(paths, options);
  if (io.audit) io.audit.findings = { ...report.summary.bySeverity };

  const gate =
    failOn !== 'none' && reportReaches(report, failOn)
      ? EXIT.FAILED
      : report.summary.errors > 0
        ? EXIT.OPERATIONAL
        : EXIT.OK;
  // `ok` answers as the exit code does: false when a finding reaches
  // --fail-on or a file could not be read (a JSON consumer that gates on it
  // must not pass what the exit code fails).
  const body =
    format === 'json'
      ? safeJSONStringify({ ...report, ok: gate === EXIT.OK, failOn }, 2)
      : format === 'sarif'
        ? safeJSONStringify(
            toSarif(report, { toolVersion: MODELSEAL_VERSION }),
            2,
          )
        : textReport(report, flag(parsed, 'verbose'));
  const output = str(parsed, 'output');
  if (output !== undefined) {
    await writeFileAtomic(resolve(output), `${body}\n`, {
      force: flag(parsed, 'force'),
    });
    if (format !== 'text')
      io.err(`modelseal: report written to ${safeText(output)}`);
    else io.out(body.split('\n').at(-1)!);
  } else {
    io.out(body);
  }
  return gate;
}
