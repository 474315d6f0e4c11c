// SPDX-License-Identifier: Apache-2.0
/**
 * Keras (`threats.md` §5): the `.keras` zip (every `config.json` copy, all
 * archive checks, every member scanned) and legacy `.h5`, where the
 * `model_config` attribute is found by a bounded, heuristic search for the JSON
 * object (no HDF5 library is used).
 */
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { zipDirectoryOf } from '../zip/zip-directory-of.js';
import { scanZipArchive } from '../archive/zip-scanner.js';
import { reportIncomplete } from '../incomplete.js';
import { reportKerasConfig } from './report-keras-config.js';
import { jsonBudget, parseBoundedJson } from '../bounded-json.js';
import { findH5Configs } from './h5-config-search.js';
import { HDF5_SIGNATURE, hdf5AfterUserBlock } from './hdf5-signature.js';

/** Largest JSON object read from an .h5 file (a model_config is a few MB at most). */
const H5_OBJECT_BYTES = 64 * 1024 * 1024;

async function detectKeras(head: Buffer, source: ByteSource): Promise<boolean> {
  if (head.length < 4 || head.readUInt32LE(0) !== 0x04034b50) return false;
  // Shared with the other zip detectors; its entry limit (100,000) is MAX_ARCHIVE_ENTRIES.
  const directory = await zipDirectoryOf(source);
  if (directory === undefined) return false;
  // Keras's loader reads config.json and builds the model from it before it
  // looks for weights (`.h5` or `.npz`) and never reads metadata.json at
  // load: a zip with config.json alone runs a Lambda layer (stop 29 red
  // team). Any zip with a config.json at its root is read as a `.keras`.
  return directory.entries.some((e) => e.name === 'config.json');
}

/** Scanner for `.keras` zips (`threats.md` §5); register it before the generic zip scanner. */
export const KerasScanner: FormatScanner = Object.freeze({
  id: 'keras',
  detect: detectKeras,
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('keras');
    const configs: { data: Buffer; offset: number }[] = [];
    await scanZipArchive(source, ctx, {
      onMember(entry, data) {
        if (entry.name === 'config.json')
          configs.push({ data, offset: entry.localHeaderOffset });
      },
    });
    if (configs.length > 1) {
      ctx.report({
        ruleId: 'KERAS_DUPLICATE_CONFIG',
        severity: 'high',
        message: `config.json appears ${configs.length} times; python reads the last`,
        evidence: { copies: configs.length },
      });
    }
    // Each copy was read within maxMemberBytes; its JSON is parsed within
    // maxJsonTokens / maxJsonDepth (reportKerasConfig).
    configs.forEach((config, i) => {
      const where =
        configs.length > 1
          ? `config.json (copy ${i + 1} of ${configs.length})`
          : 'config.json';
      reportKerasConfig(ctx, config.data, where, config.offset);
    });
  },
});

function detectH5(head: Buffer): boolean {
  // Keras writes the superblock at 0.
  return head.length >= 8 && head.subarray(0, 8).equals(HDF5_SIGNATURE);
}

/**
 * Scanner for legacy Keras `.h5` (HDF5) files. Heuristic: the whole file is
 * searched for `"class_name"` keys and the outermost JSON object around each
 * (the `model_config` attribute, wherever HDF5 stored it) is walked
 * ({@link findH5Configs}). A weights-only HDF5 file has none and yields no
 * finding.
 */
export const KerasH5Scanner: FormatScanner = Object.freeze({
  id: 'keras-h5',
  detect: detectH5,
  scan: scanH5,
});

/**
 * {@link KerasH5Scanner} for an HDF5 file behind a user block, claimed only
 * when no other format does (a fallback scanner): a signature there may as
 * well be a member of another container, which its own scanner reads. The
 * engine also scans a file another format claimed this way.
 */
export const KerasH5UserBlockScanner: FormatScanner = Object.freeze({
  id: 'keras-h5-userblock',
  detect: hdf5AfterUserBlock,
  scan: scanH5,
});

/** Whether `bytes` parse as JSON with a `class_name` key somewhere (however it is spelled). */
function hasClassName(bytes: Buffer, ctx: ScanContext): boolean {
  const parsed = parseBoundedJson(bytes, jsonBudget(ctx.limits), {
    python: true,
  });
  // Past the JSON limits it cannot be told apart: kept, so that its walk
  // reports the limit (high) instead of the object passing unread (stop 29
  // red team: escaped keys and 600 nested lists hid a Lambda).
  if (!parsed.ok) return parsed.kind === 'limit';
  const stack: unknown[] = [parsed.value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) stack.push(...(v as unknown[]));
    else if (v !== null && typeof v === 'object') {
      if (Object.hasOwn(v, 'class_name')) return true;
      stack.push(...Object.values(v as Record<string, unknown>));
    }
  }
  return false;
}

async function scanH5(source: ByteSource, ctx: ScanContext): Promise<void> {
  ctx.recognise('hdf5');
  let found = 0;
  for await (const hit of findH5Configs(source, {
    maxObjectBytes: Math.min(ctx.limits.maxMemberBytes, H5_OBJECT_BYTES),
    maxTotalBytes: ctx.limits.maxMemberBytes,
    isConfig: (bytes) => hasClassName(bytes, ctx),
  })) {
    if (ctx.signal?.aborted === true) return;
    switch (hit.kind) {
      case 'object':
        found++;
        if (found === 1) ctx.recognise('keras-h5');
        reportKerasConfig(ctx, hit.bytes, 'model_config', hit.offset);
        break;
      case 'unclosed':
        ctx.report({
          ruleId: 'KERAS_MALFORMED',
          severity: 'high',
          offset: hit.offset,
          message: 'model_config json is not closed before the end of the file',
        });
        break;
      case 'no-object':
        ctx.report({
          ruleId: 'KERAS_MALFORMED',
          severity: 'high',
          offset: hit.offset,
          message:
            'a "class_name" key outside any json object that can be read',
        });
        break;
      case 'too-large':
        reportIncomplete(ctx, {
          limit: 'h5-config-bytes',
          value: hit.limit,
          offset: hit.offset,
          message: `a json object around "class_name" is larger than ${hit.limit} bytes: not read`,
        });
        break;
      case 'budget':
        reportIncomplete(ctx, {
          limit: 'maxMemberBytes',
          value: hit.limit,
          offset: hit.offset,
          message: `more than ${hit.limit} bytes of json objects around "class_name": the rest not read`,
        });
        break;
    }
  }
}
