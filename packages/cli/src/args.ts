// SPDX-License-Identifier: Apache-2.0
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './exit-codes.js';

/** `--ignore_paths` and `--ignore-paths` are the same flag, as in model_signing. */
export function normaliseFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const [index, arg] of argv.entries()) {
    if (arg === '--') {
      out.push(...argv.slice(index));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg : arg.slice(0, eq);
      out.push(name.replaceAll('_', '-') + (eq === -1 ? '' : arg.slice(eq)));
    } else {
      out.push(arg);
    }
  }
  return out;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed flags and positionals. */
export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/** A flag that takes one value, given twice, is a usage error: the last one must not win silently. */
class RepeatedFlag extends UsageError {}

function refuseRepeated(
  tokens: readonly { kind: string; name?: string }[],
  options: Options,
): void {
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined) continue;
    const option = options[token.name];
    if (option === undefined || option.type !== 'string' || option.multiple)
      continue;
    if (seen.has(token.name))
      throw new RepeatedFlag(
        `--${token.name} was given more than once; it takes one value`,
      );
    seen.add(token.name);
  }
}

/** parseArgs with our flag normalisation and errors turned into usage errors. */
export function parse(argv: readonly string[], options: Options): Parsed {
  try {
    const { values, positionals, tokens } = parseArgs({
      args: normaliseFlags(argv),
      options,
      allowPositionals: true,
      strict: true,
      allowNegative: true,
      tokens: true,
    });
    refuseRepeated(tokens, options);
    return { values, positionals };
  } catch (error) {
    if (error instanceof RepeatedFlag) throw error;
    const message = error instanceof Error ? error.message : String(error);
    // Node's messages run over several lines; keep the first sentence on one line.
    const first = message
      .split('\n')[0]!
      .replace(/\. To specify a positional.*$/, '')
      .replace(/\.$/, '');
    throw new UsageError(first);
  }
}

/** A string flag's value. */
export function str(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A repeatable string flag's values. */
export function list(parsed: Parsed, name: string): string[] {
  const value = parsed.values[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter(
    (v): v is string => typeof v === 'string',
  );
}

/** A boolean flag. */
export function flag(parsed: Parsed, name: string): boolean {
  return parsed.values[name] === true;
}

/** Parses a positive integer flag. */
export function positiveInteger(
  parsed: Parsed,
  name: string,
): number | undefined {
  const text = str(parsed, name);
  if (text === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(
      `--${name} must be a positive integer, got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

/** Requires exactly `count` positionals. */
export function positionals(
  parsed: Parsed,
  names: readonly string[],
): string[] {
  if (parsed.positionals.length < names.length) {
    throw new UsageError(
      `missing argument ${names[parsed.positionals.length]!}`,
    );
  }
  if (parsed.positionals.length > names.length) {
    throw new UsageError(
      `unexpected argument ${JSON.stringify(parsed.positionals[names.length])}`,
    );
  }
  return parsed.positionals;
}
