// SPDX-License-Identifier: Apache-2.0
/**
 * SARIF 2.1.0 output for GitHub code scanning
 * (https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html and
 * GitHub's "SARIF support for code scanning"): rule metadata with
 * `security-severity`, levels `error` (critical, high), `warning` (medium),
 * `note` (low, info), artifact URIs relative to the report's root
 * (`%SRCROOT%`: the CLI's `--sarif-root`, default the current directory, so a
 * subfolder scan maps to repository files; a file outside it gets an
 * absolute `file:` URI) with container members written
 * `container/path!/member`, `startLine: 1` with the
 * byte offset in `properties`, and our own `partialFingerprints` (binaries
 * have no source lines for GitHub's fallback hash).
 */
import { createHash } from 'node:crypto';
import { safeText } from '../internal/safe-text.js';
import type { ScanReport } from './engine.js';
import { ruleInfo } from './rules.js';
import type { Finding, RuleInfo, Severity } from './types.js';

/** SARIF `level` of a severity. */
export function sarifLevel(severity: Severity): 'error' | 'warning' | 'note' {
  return severity === 'critical' || severity === 'high'
    ? 'error'
    : severity === 'medium'
      ? 'warning'
      : 'note';
}

/** GitHub `security-severity` score of a severity (threats.md §0). */
export const SECURITY_SEVERITY: Readonly<Record<Severity, string>> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.0',
  low: '2.0',
  info: '0.1',
};

/** Options of {@link toSarif}. */
export interface SarifOptions {
  /** Tool version written in `tool.driver.version`. */
  toolVersion?: string;
  /** Default `https://github.com/modelseal/modelseal`. */
  informationUri?: string;
}

/** A SARIF log (the subset we write), as a plain JSON object. */
export type SarifLog = Record<string, unknown> & {
  version: '2.1.0';
  runs: Record<string, unknown>[];
};

function encodePath(p: string): string {
  return p
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

/** The artifact URI of a finding: `file` or `file!/member/…!/inner`. */
export function findingUri(f: Pick<Finding, 'file' | 'member'>): string {
  return [f.file, ...f.member].map(encodePath).join('!/');
}

/**
 * The SARIF artifact location of a report path: relative to `%SRCROOT%`, or
 * an absolute `file:` URI (no base) for a file the engine reported outside
 * the root (an absolute path).
 */
function artifactLocation(
  file: string,
  member: readonly string[],
): Record<string, unknown> {
  const uri = findingUri({ file, member: [...member] });
  if (file.startsWith('/')) return { uri: `file://${uri}` };
  const drive = /^[A-Za-z]:\//.exec(file);
  if (drive)
    return {
      uri: `file:///${drive[0]}${findingUri({ file: file.slice(3), member: [...member] })}`,
    };
  return { uri, uriBaseId: '%SRCROOT%' };
}

/** Stable fingerprint of a finding: rule, path, member path and offset. */
export function findingFingerprint(f: Finding): string {
  return createHash('sha256')
    .update(
      `${f.ruleId}\u0000${f.file}\u0000${f.member.join('\u0001')}\u0000${f.offset ?? ''}`,
    )
    .digest('hex')
    .slice(0, 32);
}

function ruleDescriptor(r: RuleInfo): Record<string, unknown> {
  return {
    id: r.id,
    name: r.id
      .toLowerCase()
      .split('_')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join(''),
    shortDescription: { text: r.title },
    fullDescription: { text: r.description || r.title },
    help: {
      text: r.remediation || r.title,
      markdown: `${r.description}\n\n**Fix:** ${r.remediation}`,
    },
    helpUri: `https://github.com/modelseal/modelseal/blob/main/docs/scanner-rules.md#${r.id.toLowerCase()}`,
    defaultConfiguration: { level: sarifLevel(r.severity) },
    properties: {
      'security-severity': SECURITY_SEVERITY[r.severity],
      tags: ['security', 'model-scanning'],
      precision: 'high',
    },
  };
}

/** Converts a scan report into a SARIF 2.1.0 log. */
export function toSarif(
  report: ScanReport,
  options: SarifOptions = {},
): SarifLog {
  const ids = new Set<string>();
  for (const f of report.files) for (const x of f.findings) ids.add(x.ruleId);
  const rules: RuleInfo[] = [...ids].sort().map(
    (id) =>
      report.rules.find((r) => r.id === id) ??
      ruleInfo(id) ?? {
        id,
        severity: 'medium',
        title: id,
        description: '',
        remediation: '',
      },
  );
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const results: Record<string, unknown>[] = [];
  const notifications: Record<string, unknown>[] = [];
  for (const file of report.files) {
    if (file.error !== undefined) {
      notifications.push({
        level: 'error',
        // Message text is shown to people (code scanning UI, CLI viewers):
        // escaped. The exact values stay in `properties.evidence`.
        message: { text: safeText(file.error.message) },
        locations: [
          {
            physicalLocation: {
              artifactLocation: artifactLocation(file.file, []),
            },
          },
        ],
      });
    }
    for (const f of file.findings) {
      const properties: Record<string, unknown> = { severity: f.severity };
      if (f.offset !== undefined) properties['offset'] = f.offset;
      if (f.member.length > 0) properties['member'] = f.member;
      if (f.evidence !== undefined) properties['evidence'] = f.evidence;
      results.push({
        ruleId: f.ruleId,
        ruleIndex: index.get(f.ruleId),
        level: sarifLevel(f.severity),
        message: { text: safeText(f.message) },
        locations: [
          {
            physicalLocation: {
              artifactLocation: artifactLocation(f.file, f.member),
              region: { startLine: 1 },
            },
          },
        ],
        partialFingerprints: { primaryLocationLineHash: findingFingerprint(f) },
        properties,
      });
    }
  }
  const driver: Record<string, unknown> = {
    name: 'modelseal',
    informationUri:
      options.informationUri ?? 'https://github.com/modelseal/modelseal',
    rules: rules.map(ruleDescriptor),
  };
  if (options.toolVersion !== undefined)
    driver['version'] = options.toolVersion;
  const rootUri =
    'file://' +
    encodePath(report.root.split('\\').join('/').replace(/^\/?/, '/')) +
    '/';
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver },
        originalUriBaseIds: { '%SRCROOT%': { uri: rootUri } },
        results,
        invocations: [
          {
            executionSuccessful: true,
            toolExecutionNotifications: notifications,
          },
        ],
      },
    ],
  };
}
