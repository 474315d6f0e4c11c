// SPDX-License-Identifier: Apache-2.0
/**
 * Keras (`threats.md` §5): the `.keras` zip (every `config.json` copy, all
 * archive checks, every member scanned) and legacy `.h5`, where the
 * `model_config` attribute is found by a bounded, heuristic search for the JSON
 * object (no HDF5 library is used).
 */
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { readRange } from '../archive/byte-source.js';
import { zipDirectoryOf } from '../zip/zip-directory-of.js';
import { scanZipArchive } from '../archive/zip-scanner.js';
import { reportIncomplete } from '../incomplete.js';
import { reportKerasConfig } from './report-keras-config.js';

/** How much of an .h5 file is searched for model_config. */
const H5_SEARCH_BYTES = 16 * 1024 * 1024;
const HDF5_SIGNATURE = Buffer.from([
  0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a,
]);

async function detectKeras(head: Buffer, source: ByteSource): Promise<boolean> {
  if (head.length < 4 || head.readUInt32LE(0) !== 0x04034b50) return false;
  // Shared with the other zip detectors; its entry limit (100,000) is MAX_ARCHIVE_ENTRIES.
  const directory = await zipDirectoryOf(source);
  if (directory === undefined) return false;
  const names = new Set(directory.entries.map((e) => e.name));
  return (
    names.has('config.json') &&
    (names.has('metadata.json') || names.has('model.weights.h5'))
  );
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

/** End of the balanced JSON object starting at `start`, or -1 (string-aware brace matching). */
function objectEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return i + 1;
  }
  return -1;
}

function detectH5(head: Buffer): boolean {
  // Keras writes the superblock at 0. HDF5 also allows it after a user block
  // (512, 1024, … bytes), but a signature there is as likely a member of
  // another container, so only offset 0 is claimed.
  return head.length >= 8 && head.subarray(0, 8).equals(HDF5_SIGNATURE);
}

/**
 * Scanner for legacy Keras `.h5` (HDF5) files. Heuristic: the first 16 MiB are
 * searched for `{"class_name"` objects (the `model_config` attribute) and each
 * balanced JSON object found is walked. A weights-only HDF5 file has none and
 * yields no finding.
 */
export const KerasH5Scanner: FormatScanner = Object.freeze({
  id: 'keras-h5',
  detect: detectH5,
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('hdf5');
    const window = await readRange(
      source,
      0,
      Math.min(source.size, H5_SEARCH_BYTES),
    );
    // latin1 keeps one character per byte, so string offsets are file offsets.
    const text = window.toString('latin1');
    let from = 0;
    let found = 0;
    for (;;) {
      const start = text.indexOf('{"class_name"', from);
      if (start < 0 || found >= 16) break;
      const end = objectEnd(text, start);
      if (end < 0 && source.size <= H5_SEARCH_BYTES) {
        ctx.report({
          ruleId: 'KERAS_MALFORMED',
          severity: 'high',
          offset: start,
          message: 'model_config json is not closed before the end of the file',
        });
        break;
      }
      if (end < 0) {
        // The rest of the object lies past the searched window: not read.
        reportIncomplete(ctx, {
          limit: 'h5-search-window',
          value: H5_SEARCH_BYTES,
          offset: start,
          message: `model_config json is not closed within the first ${H5_SEARCH_BYTES} bytes`,
        });
        break;
      }
      found++;
      if (found === 1) ctx.recognise('keras-h5');
      reportKerasConfig(
        ctx,
        window.subarray(start, end),
        'model_config',
        start,
      );
      from = end;
    }
  },
});
