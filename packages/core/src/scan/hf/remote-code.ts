// SPDX-License-Identifier: Apache-2.0
/**
 * Hugging Face configs that make transformers run Python from the
 * repository: a JSON object with an `auto_map` (`config.json`,
 * `tokenizer_config.json`, processor configs). Recognised by content, as
 * every format: a JSON object whose bytes hold the key `"auto_map"`.
 */
import {
  jsonBudget,
  parseBoundedJson,
  reportJsonLimit,
} from '../bounded-json.js';
import { readWholeSource } from '../read-whole-source.js';
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';

/** Configs larger than this are not searched for the key (none is). */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

const KEY = Buffer.from('"auto_map"', 'latin1');

/** `auto_map` spelled with `\u` escapes still reads as the key to Python's json. */
const ESCAPED_KEY =
  /"(?:a|\\u0061)(?:u|\\u0075)(?:t|\\u0074)(?:o|\\u006f)(?:_|\\u005f)(?:m|\\u006d)(?:a|\\u0061)(?:p|\\u0070)"/i;

const isJsonSpace = (b: number | undefined): boolean =>
  b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** Bytes searched at a time in a file too large to read whole (each window overlaps the next). */
const WINDOW = 1024 * 1024;

async function detect(head: Buffer, source: ByteSource): Promise<boolean> {
  let i = 0;
  // A UTF-8 BOM, then JSON whitespace (any amount: Python's json skips it),
  // then an object.
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) i = 3;
  while (i < head.length && isJsonSpace(head[i])) i++;
  if (i < head.length && head[i] !== 0x7b) return false;
  if (source.size <= MAX_CONFIG_BYTES) {
    const bytes = await source.read(0, source.size);
    while (i < bytes.length && isJsonSpace(bytes[i])) i++;
    if (bytes[i] !== 0x7b) return false;
    return hasKey(bytes);
  }
  // Larger than any config: claimed when the key appears anywhere (the scan
  // then reports it too large to read, high), searched a window at a time.
  for (let at = 0; at < source.size; at += WINDOW) {
    const bytes = await source.read(
      at,
      Math.min(WINDOW + 64, source.size - at),
    );
    if (hasKey(bytes)) return true;
  }
  return false;
}

function hasKey(bytes: Buffer): boolean {
  return bytes.includes(KEY) || ESCAPED_KEY.test(bytes.toString('latin1'));
}

/** Module names an `auto_map` value refers to (`module.Class`, `repo--module.Class`, lists of them). */
function modulesOf(value: unknown, out: Set<string>): void {
  if (typeof value === 'string') {
    const ref = value.includes('--')
      ? value.slice(value.indexOf('--') + 2)
      : value;
    const dot = ref.lastIndexOf('.');
    out.add(dot > 0 ? ref.slice(0, dot) : ref);
  } else if (Array.isArray(value)) {
    for (const v of value as unknown[]) modulesOf(v, out);
  }
}

async function scan(source: ByteSource, ctx: ScanContext): Promise<void> {
  ctx.recognise('hf-config');
  const bytes = await readWholeSource(source, ctx, {
    limit: MAX_CONFIG_BYTES,
    // A fixed bound of this reader (as `h5-config-bytes`), not a --limit.
    limitName: 'hf-config-bytes',
    message: 'config larger than the scan limit',
  });
  if (bytes === undefined) return;
  const parsed = parseBoundedJson(bytes, jsonBudget(ctx.limits), {
    python: true,
  });
  if (!parsed.ok) {
    if (parsed.kind === 'limit') reportJsonLimit(ctx, parsed, 'the config');
    // Not JSON to Python either: transformers cannot load it.
    return;
  }
  const root = parsed.value;
  if (root === null || typeof root !== 'object' || Array.isArray(root)) return;
  const autoMap = (root as Record<string, unknown>).auto_map;
  // transformers looks classes up in an object; null or an empty one
  // names no code.
  if (
    autoMap === null ||
    typeof autoMap !== 'object' ||
    Array.isArray(autoMap) ||
    Object.keys(autoMap).length === 0
  )
    return;
  const modules = new Set<string>();
  for (const v of Object.values(autoMap as Record<string, unknown>))
    modulesOf(v, modules);
  const names = [...modules].filter((m) => m !== '').sort();
  ctx.report({
    ruleId: 'HF_REMOTE_CODE',
    severity: 'high',
    message:
      names.length > 0
        ? `auto_map loads repository code under trust_remote_code: ${names.map((m) => `${m}.py`).join(', ')}`
        : 'auto_map loads repository code under trust_remote_code',
    evidence: { modules: names },
  });
}

/** Scanner for configs with an `auto_map` (consulted when no other format claims the file). */
export const HfRemoteCodeScanner: FormatScanner = Object.freeze({
  id: 'hf-remote-code',
  detect,
  scan,
});
