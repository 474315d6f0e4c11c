// SPDX-License-Identifier: Apache-2.0
// `--limit NAME=VALUE` (repeatable): the scanner's limits (ScanLimits) from the command line.
import {
  DEFAULT_SCAN_LIMITS,
  type ScanLimits,
} from '@modelseal/core/scan/report';
import { list, type Parsed } from '../args.js';
import { UsageError } from '../exit-codes.js';

type LimitName = keyof ScanLimits;
type Unit = 'bytes' | 'ms' | 'count';

/** The unit of each limit: how its value is written. */
const UNITS: Readonly<Record<LimitName, Unit>> = {
  maxNestingDepth: 'count',
  maxExpandedBytes: 'bytes',
  maxMemberBytes: 'bytes',
  maxFileMs: 'ms',
  maxPickleOpcodes: 'count',
  maxPickleStack: 'count',
  maxPickleMemo: 'count',
  maxJsonTokens: 'count',
  maxJsonDepth: 'count',
  maxCompressionRatio: 'count',
};

/** Every limit name `--limit` accepts, in the order of the docs. */
export const LIMIT_NAMES: readonly LimitName[] = Object.keys(
  DEFAULT_SCAN_LIMITS,
) as LimitName[];

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

const TIME_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
};

/** Help lines for `--limit`, shared by scan and sign; descriptions start at `column`. */
export function limitHelp(column: number): string {
  const pad = ' '.repeat(column);
  const names: string[] = [];
  for (let i = 0; i < LIMIT_NAMES.length; i += 5)
    names.push(`${pad}  ${LIMIT_NAMES.slice(i, i + 5).join(', ')}`);
  return [
    `${'  --limit NAME=VALUE'.padEnd(column)}raise or lower a scanner limit (repeatable); a limit that stops the`,
    `${pad}scan is a high SCAN_INCOMPLETE finding ("not fully scanned"). NAME is one of:`,
    ...names,
    `${pad}Bytes take KiB, MiB, GiB, TiB (or K, M, G, T) or kB, MB, GB, TB; maxFileMs takes ms, s,`,
    `${pad}min or h; counts are plain integers (_ allowed). Example: --limit maxMemberBytes=1GiB`,
  ].join('\n');
}

function bad(spec: string, why: string): never {
  throw new UsageError(`--limit ${JSON.stringify(spec)}: ${why}`);
}

function parseValue(spec: string, name: LimitName, text: string): number {
  const match = /^([0-9][0-9_]*)(?:\.([0-9]+))?\s*([a-zA-Z]*)$/.exec(text);
  if (match === null || match[1]!.endsWith('_'))
    bad(spec, `${JSON.stringify(text)} is not a non-negative number`);
  const unitText = match[3]!.toLowerCase();
  const unit = UNITS[name];
  const table =
    unit === 'bytes' ? BYTE_UNITS : unit === 'ms' ? TIME_UNITS : { '': 1 };
  const factor = table[unitText];
  if (factor === undefined) {
    const allowed =
      unit === 'bytes'
        ? 'bytes, KiB, MiB, GiB, TiB, kB, MB, GB, TB'
        : unit === 'ms'
          ? 'ms, s, min, h'
          : 'none (a plain count)';
    bad(spec, `unit ${JSON.stringify(match[3])} of ${name}: use ${allowed}`);
  }
  const whole = Number(match[1]!.replaceAll('_', ''));
  const fraction = match[2] === undefined ? 0 : Number(`0.${match[2]}`);
  if (fraction !== 0 && factor === 1)
    bad(spec, `${name} must be a whole number`);
  const value = Math.round((whole + fraction) * factor);
  if (!Number.isSafeInteger(value)) bad(spec, `${text} is too large`);
  return value;
}

/** `--limit NAME=VALUE` flags as scan limits; a usage error (exit 2) for an unknown name or a bad value. */
export function limitsFrom(parsed: Parsed): Partial<ScanLimits> | undefined {
  const specs = list(parsed, 'limit');
  if (specs.length === 0) return undefined;
  const limits: Partial<ScanLimits> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) bad(spec, 'expected NAME=VALUE');
    const name = spec.slice(0, eq).trim();
    if (!(LIMIT_NAMES as readonly string[]).includes(name)) {
      bad(
        spec,
        `unknown limit ${JSON.stringify(name)}; one of ${LIMIT_NAMES.join(', ')}`,
      );
    }
    const key = name as LimitName;
    const value = parseValue(spec, key, spec.slice(eq + 1).trim());
    if (limits[key] !== undefined && limits[key] !== value)
      bad(spec, `${key} is given twice with different values`);
    limits[key] = value;
  }
  return limits;
}
