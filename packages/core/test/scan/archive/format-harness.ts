// SPDX-License-Identifier: Apache-2.0
// A minimal stand-in for the scan engine, for unit tests of the non-pickle
// format scanners: content detection over those scanners, a ScanContext that
// collects findings, and nested scanning with the depth limit.
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import {
  DEFAULT_SCAN_LIMITS,
  type ByteSource,
  type Finding,
  type FindingInput,
  type FormatScanner,
  type ScanContext,
  type ScanLimits,
} from '../../../src/scan/types.js';
import { bufferSource } from '../../../src/scan/source.js';
import { FORMAT_SCANNERS } from './format-scanners.js';

export const REPO_ROOT: string = resolve(import.meta.dirname, '../../../../..');
export const FORMAT_VECTORS: string = join(
  REPO_ROOT,
  'test-vectors',
  'formats',
);

export interface HarnessResult {
  findings: Finding[];
  formats: string[];
  ruleIds: string[];
}

export interface HarnessOptions {
  scanner?: FormatScanner;
  absolutePath?: string;
  file?: string;
  limits?: Partial<ScanLimits>;
}

async function dispatch(
  source: ByteSource,
): Promise<FormatScanner | undefined> {
  const head = await source.read(0, Math.min(4096, source.size));
  for (const scanner of FORMAT_SCANNERS) {
    if (await scanner.detect(head, source)) return scanner;
  }
  return undefined;
}

/** Scans bytes with one scanner (or the first that detects them) and collects what it reports. */
export async function scanBytes(
  bytes: Buffer,
  options: HarnessOptions = {},
): Promise<HarnessResult> {
  const findings: Finding[] = [];
  const formats: string[] = [];
  const limits: ScanLimits = { ...DEFAULT_SCAN_LIMITS, ...options.limits };
  const file = options.file ?? 'model';
  const makeContext = (member: string[], depth: number): ScanContext => ({
    file,
    absolutePath: options.absolutePath ?? '',
    member,
    depth,
    limits,
    report(input: FindingInput): void {
      const { member: sub, ...rest } = input;
      findings.push({ ...rest, file, member: [...member, ...(sub ?? [])] });
    },
    async scanNested(source: ByteSource, memberName: string): Promise<void> {
      const childMember = [...member, memberName];
      if (depth + 1 > limits.maxNestingDepth) {
        // As the engine reports it.
        findings.push({
          ruleId: 'SCAN_INCOMPLETE',
          severity: 'high',
          file,
          member: childMember,
          message: 'not fully scanned: nested deeper than the nesting limit',
          evidence: { limit: 'maxNestingDepth', value: limits.maxNestingDepth },
        });
        return;
      }
      const scanner = await dispatch(source);
      if (scanner !== undefined)
        await scanner.scan(source, makeContext(childMember, depth + 1));
    },
    recognise(format: string): void {
      formats.push(format);
    },
  });
  const source = bufferSource(bytes);
  const scanner = options.scanner ?? (await dispatch(source));
  if (scanner !== undefined) await scanner.scan(source, makeContext([], 0));
  return {
    findings,
    formats,
    ruleIds: [...new Set(findings.map((f) => f.ruleId))].sort(),
  };
}

/** Scans a file on disk (absolutePath is set, so on-disk checks run). */
export async function scanFile(
  path: string,
  options: HarnessOptions = {},
): Promise<HarnessResult> {
  return scanBytes(readFileSync(path), {
    absolutePath: path,
    file: basename(path),
    ...options,
  });
}

/** Findings at or above medium, the false-positive bar of style.md. */
export function seriousFindings(result: HarnessResult): Finding[] {
  return result.findings.filter(
    (f) =>
      f.severity === 'critical' ||
      f.severity === 'high' ||
      f.severity === 'medium',
  );
}

export interface FixtureCase {
  path: string;
  rules: string[];
  bytes: Buffer;
  limits?: Partial<ScanLimits>;
}

interface GeneratedFixture {
  path: string;
  bytes: Buffer;
  rules: string[];
}

let generated: Map<string, GeneratedFixture> | undefined;

async function generateFixtures(): Promise<Map<string, GeneratedFixture>> {
  const generator = (await import(
    join(REPO_ROOT, 'scripts/fixtures/gen-format-fixtures.mjs')
  )) as { buildFormatFixtures(): GeneratedFixture[] };
  return new Map(generator.buildFormatFixtures().map((f) => [f.path, f]));
}

/**
 * The committed fixtures of one format (test-vectors/formats/manifest.json),
 * checked against a fresh in-memory run of the generator so that a stale
 * fixture fails loudly.
 */
export async function loadFixtureCases(format: string): Promise<FixtureCase[]> {
  const manifest = JSON.parse(
    readFileSync(join(FORMAT_VECTORS, 'manifest.json'), 'utf8'),
  ) as {
    fixtures: { path: string; rules: string[]; limits?: Partial<ScanLimits> }[];
  };
  generated ??= await generateFixtures();
  const fresh = generated;
  const cases = manifest.fixtures
    .filter((f) => f.path.startsWith(`${format}/`))
    .map((f) => ({ ...f, bytes: readFileSync(join(FORMAT_VECTORS, f.path)) }));
  for (const c of cases) {
    const generated = fresh.get(c.path);
    if (
      generated === undefined ||
      !generated.bytes.equals(c.bytes) ||
      [...generated.rules].sort().join() !== c.rules.join()
    ) {
      throw new Error(
        `fixture ${c.path} is stale: run \`node scripts/fixtures/gen-format-fixtures.mjs\``,
      );
    }
  }
  if (cases.length === 0) throw new Error(`no fixtures for ${format}`);
  return cases;
}

/** Applies byte edits and an optional truncation to a copy of `bytes` (fuzzing mutations). */
export function mutate(
  bytes: Buffer,
  edits: readonly { pos: number; byte: number }[],
  truncate: number | undefined,
): Buffer {
  const copy = Buffer.from(bytes);
  for (const { pos, byte } of edits)
    if (copy.length > 0) copy[pos % copy.length] = byte;
  return truncate === undefined
    ? copy
    : copy.subarray(0, truncate % (copy.length + 1));
}

const SEVERITY_NAMES = new Set(['critical', 'high', 'medium', 'low', 'info']);

/** Checks the shape of every finding of a fuzzed scan; throws on the first bad one. */
export function assertWellFormed(result: HarnessResult): void {
  for (const f of result.findings) {
    if (
      !/^[A-Z][A-Z0-9_]+$/.test(f.ruleId) ||
      !SEVERITY_NAMES.has(f.severity) ||
      typeof f.message !== 'string'
    ) {
      throw new Error(`malformed finding ${JSON.stringify(f)}`);
    }
  }
}
