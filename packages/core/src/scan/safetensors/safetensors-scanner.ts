// SPDX-License-Identifier: Apache-2.0
/**
 * SafeTensors: `u64le N`, `N` bytes of UTF-8 JSON, then the data section. The
 * checks follow the reference loader (huggingface/safetensors `tensor.rs`); see
 * `threats.md` §3. Only the header is read; tensor data is never touched.
 * Everything the reference loader refuses is high: it is either corruption or
 * a file shaped for a loader other than the reference one.
 */
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { readRange } from '../archive/byte-source.js';
import { boundedProduct } from '../bounded-product.js';
import { cappedReporter } from '../capped-report.js';
import { reportIncomplete } from '../incomplete.js';
import {
  jsonBudget,
  parseBoundedJson,
  reportJsonLimit,
} from '../bounded-json.js';

/** The reference loader's header limit. */
const MAX_HEADER_BYTES = 100_000_000;

/** Bits per element for every dtype the reference loader knows. */
const DTYPE_BITS: Readonly<Record<string, number>> = Object.freeze({
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
});

interface TensorRange {
  name: string;
  start: number;
  end: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Content detection: a plausible header length followed by `{`. */
function detectSafetensors(head: Buffer, source: ByteSource): boolean {
  if (head.length < 10 || source.size < 10) return false;
  const n = head.readBigUInt64LE(0);
  if (n < 2n || n > BigInt(Number.MAX_SAFE_INTEGER)) return false;
  return (
    head[8] === 0x7b &&
    (head[9] === 0x22 ||
      head[9] === 0x7d ||
      head[9] === 0x20 ||
      head[9] === 0x0a)
  );
}

/** Products above this many bits are not computed: no file holds such a tensor. */
const MAX_TENSOR_BITS = 2n ** 128n;
/** Dimensions of a shape quoted in a finding's evidence. */
const MAX_SHAPE_EVIDENCE = 64;

async function scanSafetensors(
  source: ByteSource,
  ctx: ScanContext,
): Promise<void> {
  ctx.recognise('safetensors');
  // A header may list millions of bad tensors: list 100 per rule, count the rest.
  const out = cappedReporter(ctx);
  try {
    await scanHeader(source, ctx, out.report);
  } finally {
    out.flush();
  }
}

async function scanHeader(
  source: ByteSource,
  ctx: ScanContext,
  report: ScanContext['report'],
): Promise<void> {
  const malformed = (
    offset: number,
    message: string,
    evidence?: Record<string, unknown>,
  ): void =>
    report({
      ruleId: 'SAFETENSORS_MALFORMED',
      severity: 'high',
      offset,
      message,
      ...(evidence === undefined ? {} : { evidence }),
    });
  if (source.size < 8) {
    malformed(0, 'file shorter than the 8-byte header length');
    return;
  }
  const n = (await readRange(source, 0, 8)).readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    malformed(0, 'header length exceeds the safetensors limit', {
      headerLength: n.toString(),
      limit: MAX_HEADER_BYTES,
    });
    return;
  }
  if (n > BigInt(ctx.limits.maxMemberBytes)) {
    // A header the reference loader reads but the scan may not hold. High:
    // without it the layout (and bytes smuggled past the last tensor for a
    // zip-reading loader) cannot be checked.
    reportIncomplete(ctx, {
      limit: 'maxMemberBytes',
      value: ctx.limits.maxMemberBytes,
      offset: 8,
      message: `safetensors header of ${n} bytes not read`,
    });
    return;
  }
  const headerLength = Number(n);
  if (8 + headerLength > source.size) {
    malformed(0, 'header length runs past the end of the file', {
      headerLength,
      fileSize: source.size,
    });
    return;
  }
  const raw = await readRange(source, 8, headerLength);
  const parsed = parseBoundedJson(raw, jsonBudget(ctx.limits), {
    strictUtf8: true,
  });
  if (!parsed.ok) {
    if (parsed.kind === 'limit')
      reportJsonLimit(ctx, parsed, 'safetensors header', 8);
    else
      malformed(8, 'header is not valid utf-8 json', {
        reason: parsed.reason,
      });
    return;
  }
  const header = parsed.value;
  if (!isPlainObject(header)) {
    malformed(8, 'header json is not an object');
    return;
  }
  const dataStart = 8 + headerLength;
  const dataSize = source.size - dataStart;
  const ranges: TensorRange[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      const ok =
        isPlainObject(entry) &&
        Object.values(entry).every((v) => typeof v === 'string');
      if (!ok) {
        report({
          ruleId: 'SAFETENSORS_METADATA_INVALID',
          severity: 'high',
          offset: 8,
          message: '__metadata__ is not a map of strings',
        });
      }
      continue;
    }
    if (!isPlainObject(entry)) {
      malformed(8, `tensor ${name} is not an object`, { tensor: name });
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = entry;
    const bits =
      typeof dtype === 'string' && Object.hasOwn(DTYPE_BITS, dtype)
        ? DTYPE_BITS[dtype]
        : undefined;
    if (bits === undefined) {
      malformed(8, `tensor ${name} has an unknown dtype`, {
        tensor: name,
        dtype,
      });
      continue;
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
      malformed(8, `tensor ${name} has an invalid shape`, { tensor: name });
      continue;
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every(isNonNegativeInteger) ||
      (offsets[1] as number) < (offsets[0] as number)
    ) {
      malformed(8, `tensor ${name} has invalid data_offsets`, { tensor: name });
      continue;
    }
    const start = offsets[0] as number;
    const end = offsets[1] as number;
    const totalBits = boundedProduct([bits, ...shape], MAX_TENSOR_BITS);
    const expected =
      totalBits === undefined
        ? undefined
        : totalBits % 8n === 0n
          ? totalBits / 8n
          : -1n;
    if (expected !== BigInt(end - start)) {
      const declared =
        expected === undefined
          ? `more than ${MAX_TENSOR_BITS / 8n} bytes`
          : expected < 0n
            ? 'a partial byte'
            : `${expected} bytes`;
      report({
        ruleId: 'SAFETENSORS_SIZE_MISMATCH',
        severity: 'high',
        offset: dataStart + start,
        message: `tensor ${name} declares ${declared} but its range holds ${end - start}`,
        evidence: {
          tensor: name,
          dtype,
          shape: shape.slice(0, MAX_SHAPE_EVIDENCE),
          declaredBytes:
            expected === undefined
              ? `>${MAX_TENSOR_BITS / 8n}`
              : expected.toString(),
          rangeBytes: end - start,
        },
      });
    }
    if (end > dataSize) {
      report({
        ruleId: 'SAFETENSORS_OFFSET_OUT_OF_BOUNDS',
        severity: 'high',
        offset: dataStart + start,
        message: `tensor ${name} ends past the end of the file`,
        evidence: { tensor: name, end, dataSize },
      });
    }
    ranges.push({ name, start, end });
  }
  ranges.sort((a, b) => a.start - b.start || a.end - b.end);
  let previousEnd = 0;
  let previousName: string | undefined;
  for (const range of ranges) {
    if (range.start < previousEnd) {
      report({
        ruleId: 'SAFETENSORS_OVERLAP',
        severity: 'high',
        offset: dataStart + range.start,
        message: `tensor ${range.name} overlaps tensor ${previousName ?? ''}`,
        evidence: {
          tensor: range.name,
          other: previousName,
          start: range.start,
          previousEnd,
        },
      });
    } else if (range.start > previousEnd) {
      report({
        ruleId: 'SAFETENSORS_GAP',
        severity: 'high',
        offset: dataStart + previousEnd,
        message: `${range.start - previousEnd} bytes before tensor ${range.name} belong to no tensor`,
        evidence: {
          tensor: range.name,
          gapStart: previousEnd,
          gapEnd: range.start,
        },
      });
    }
    if (range.end >= previousEnd) {
      previousEnd = range.end;
      previousName = range.name;
    }
  }
  if (previousEnd < dataSize) {
    report({
      ruleId: 'SAFETENSORS_TRAILING_DATA',
      severity: 'high',
      offset: dataStart + previousEnd,
      message: `${dataSize - previousEnd} bytes after the last tensor`,
      evidence: {
        trailingBytes: dataSize - previousEnd,
        dataEnd: previousEnd,
        dataSize,
      },
    });
  }
}

/** Scanner for SafeTensors files (`threats.md` §3). */
export const SafetensorsScanner: FormatScanner = Object.freeze({
  id: 'safetensors',
  detect: detectSafetensors,
  scan: scanSafetensors,
});
