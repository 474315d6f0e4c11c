// SPDX-License-Identifier: Apache-2.0
/**
 * GGUF (`threats.md` §4): header, metadata and tensor infos, with every count
 * and length checked against the bytes left before anything is read or
 * allocated; chat templates are analysed with {@link analyzeChatTemplate}.
 */
import { createHash } from 'node:crypto';
import type {
  ByteSource,
  FormatScanner,
  ScanContext,
  Severity,
} from '../types.js';
import { SourceCursor, TruncatedError } from '../archive/cursor.js';
import { cappedReporter } from '../capped-report.js';
import { reportIncomplete } from '../incomplete.js';
import { analyzeChatTemplate, type TemplateIssue } from './chat-template.js';

const MAX_KV = 1_000_000;
/** Real models hold at most tens of thousands of tensors. */
const MAX_TENSORS = 1_000_000;
/**
 * Elements of variable-size metadata arrays walked per file (a string counts
 * 1, a nested array 32); fixed-size elements are skipped by length and not
 * counted. Real vocabularies hold a few hundred thousand strings.
 */
const MAX_ARRAY_ELEMENTS = 32_000_000;
/** Bytes read at once while walking string arrays. */
const STRING_WINDOW = 4 * 1024 * 1024;
/** Keys and tensor names (ggml caps tensor names at 64 bytes). */
const MAX_KEY_BYTES = 4096;
const MAX_ARRAY_DEPTH = 4;
const MAX_TEMPLATE_BYTES = 4 * 1024 * 1024;
const MAX_DIMS = 8;
const INT64_MAX = (1n << 63n) - 1n;

/** Byte size of fixed-size metadata value types. */
const VALUE_SIZE: Readonly<Record<number, number>> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  10: 8,
  11: 8,
  12: 8,
};
const STRING = 8;
const ARRAY = 9;

/** [block size, bytes per block] by ggml type. */
const GGML_TYPES: Readonly<Record<number, readonly [number, number]>> = {
  0: [1, 4],
  1: [1, 2],
  2: [32, 18],
  3: [32, 20],
  6: [32, 22],
  7: [32, 24],
  8: [32, 34],
  9: [32, 36],
  10: [256, 84],
  11: [256, 110],
  12: [256, 144],
  13: [256, 176],
  14: [256, 210],
  15: [256, 292],
  16: [256, 66],
  17: [256, 74],
  18: [256, 98],
  19: [256, 50],
  20: [32, 18],
  21: [256, 110],
  22: [256, 82],
  23: [256, 136],
  24: [1, 1],
  25: [1, 2],
  26: [1, 4],
  27: [1, 8],
  28: [1, 8],
  29: [256, 56],
  30: [1, 2],
  34: [256, 54],
  35: [256, 66],
  39: [32, 17],
};

class Malformed extends Error {}

/**
 * What the duplicate checks keep of a key or tensor name: the name itself
 * when short, else its digest, so a million 4 KiB keys cost a digest each.
 */
function retained(name: string): string {
  return name.length <= 64
    ? name
    : `#${createHash('sha256').update(name).digest('base64')}`;
}
/** {@link MAX_ARRAY_ELEMENTS} was reached. */
class TooManyElements extends Error {}
/** The scan was aborted (deadline or caller's signal). */
class Aborted extends Error {}

interface TensorInfo {
  name: string;
  offset: bigint;
  bytes: bigint;
  at: number;
}

function detectGguf(head: Buffer): boolean {
  return head.length >= 8 && head.toString('latin1', 0, 4) === 'GGUF';
}

async function scanGguf(source: ByteSource, ctx: ScanContext): Promise<void> {
  ctx.recognise('gguf');
  // Millions of tensor infos may be bad: list 100 per rule, count the rest.
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
  const cur = new SourceCursor(source);
  const malformed = (
    message: string,
    offset: number,
    evidence?: Record<string, unknown>,
  ): void => {
    report({
      ruleId: 'GGUF_MALFORMED',
      severity: 'high',
      offset,
      message,
      ...(evidence ? { evidence } : {}),
    });
  };
  try {
    cur.skip(4);
    const version = await cur.u32();
    if (version < 1 || version > 3) {
      malformed(`unsupported gguf version ${version}`, 4, { version });
      return;
    }
    // Version 1 used 32-bit counts and lengths.
    const count = async (): Promise<bigint> =>
      version === 1 ? BigInt(await cur.u32()) : cur.u64();
    const tensorCount = await count();
    const kvCount = await count();
    // Smallest KV: key length + empty key + type + one byte; smallest tensor info: 24 bytes.
    if (kvCount > BigInt(MAX_KV) || kvCount * 13n > BigInt(cur.remaining)) {
      malformed('metadata count exceeds the limit or the file', 16, {
        kvCount: kvCount.toString(),
      });
      return;
    }
    if (
      tensorCount > BigInt(MAX_TENSORS) ||
      tensorCount * 24n > BigInt(cur.remaining)
    ) {
      malformed('tensor count exceeds the limit or the file', 8, {
        tensorCount: tensorCount.toString(),
      });
      return;
    }
    /** Variable-size array elements walked so far (see MAX_ARRAY_ELEMENTS). */
    let walked = 0;
    const readString = async (
      maxKeep: number,
    ): Promise<{ value: string | undefined; length: bigint }> => {
      const length = await count();
      if (length > BigInt(cur.remaining))
        throw new Malformed(
          `string length ${length} runs past the end of the file`,
        );
      if (length > BigInt(maxKeep)) {
        cur.skip(length);
        return { value: undefined, length };
      }
      return { value: (await cur.bytes(length)).toString('utf8'), length };
    };
    const skipValue = async (type: number, depth: number): Promise<void> => {
      const fixed = VALUE_SIZE[type];
      if (fixed !== undefined) return cur.skip(fixed);
      if (type === STRING) {
        await readString(0);
        return;
      }
      if (type !== ARRAY)
        throw new Malformed(`unknown metadata value type ${type}`);
      if (depth >= MAX_ARRAY_DEPTH)
        throw new Malformed('arrays nested too deeply');
      const elementType = await cur.u32();
      const n = await count();
      const elementFixed = VALUE_SIZE[elementType];
      const minimum =
        elementFixed ??
        (elementType === STRING
          ? version === 1
            ? 4
            : 8
          : elementType === ARRAY
            ? 12
            : -1);
      if (minimum < 0)
        throw new Malformed(`unknown array element type ${elementType}`);
      if (n * BigInt(minimum) > BigInt(cur.remaining))
        throw new Malformed(
          `array of ${n} elements runs past the end of the file`,
        );
      if (elementFixed !== undefined) return cur.skip(n * BigInt(elementFixed));
      // A nested array is read field by field: it costs as much as 32 strings.
      const weight = elementType === ARRAY ? 32 : 1;
      if (n * BigInt(weight) > BigInt(MAX_ARRAY_ELEMENTS - walked))
        throw new TooManyElements();
      walked += Number(n) * weight;
      if (elementType === STRING) return skipStrings(Number(n));
      for (let i = 0n; i < n; i++) await skipValue(elementType, depth + 1);
    };
    /**
     * Skips `n` strings in one synchronous pass per window: no promise, no
     * BigInt and no allocation per element (an array of empty strings costs
     * a few nanoseconds per element).
     */
    const skipStrings = async (n: number): Promise<void> => {
      const lengthBytes = version === 1 ? 4 : 8;
      let pos = cur.pos;
      let left = n;
      while (left > 0) {
        const size = Math.min(STRING_WINDOW, source.size - pos);
        if (size < lengthBytes) throw new TruncatedError(pos, lengthBytes);
        if (ctx.signal?.aborted === true) throw new Aborted();
        const buf = await source.read(pos, size);
        if (buf.length < lengthBytes)
          throw new TruncatedError(pos, lengthBytes);
        let at = 0;
        while (left > 0 && at + lengthBytes <= buf.length) {
          const length =
            lengthBytes === 4
              ? buf.readUInt32LE(at)
              : buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 2 ** 32;
          const next = at + lengthBytes + length;
          if (pos + next > source.size)
            throw new Malformed(
              `string length ${length} runs past the end of the file`,
            );
          left--;
          if (next > buf.length) {
            // The string runs past this window: continue after it.
            at = next;
            break;
          }
          at = next;
        }
        pos += at;
      }
      cur.pos = pos;
    };

    const seen = new Map<string, number>();
    let alignment = 32;
    for (let i = 0n; i < kvCount; i++) {
      const at = cur.pos;
      const key = await readString(MAX_KEY_BYTES);
      if (key.value === undefined)
        throw new Malformed(`metadata key of ${key.length} bytes`);
      const type = await cur.u32();
      const name = key.value;
      const first = seen.get(retained(name));
      if (first !== undefined) {
        report({
          ruleId: 'GGUF_DUPLICATE_KEY',
          severity: 'high',
          offset: at,
          message: `metadata key ${name} appears more than once`,
          evidence: { key: name, firstOffset: first },
        });
      } else {
        seen.set(retained(name), at);
      }
      if (name === 'general.alignment' && type === 4) {
        alignment = await cur.u32();
        if (alignment === 0 || (alignment & (alignment - 1)) !== 0) {
          malformed(
            `general.alignment ${alignment} is not a power of two`,
            at,
            { alignment },
          );
          return;
        }
      } else if (
        name.startsWith('tokenizer.chat_template') &&
        type === STRING
      ) {
        const valueAt = cur.pos;
        const template = await readString(MAX_TEMPLATE_BYTES);
        if (template.value === undefined) {
          // A template is code a chat front end renders: not analysed is high.
          reportIncomplete(ctx, {
            limit: 'gguf-template-bytes',
            value: MAX_TEMPLATE_BYTES,
            offset: valueAt,
            message: `chat template ${name} larger than ${MAX_TEMPLATE_BYTES} bytes was not analysed`,
            evidence: { key: name, length: template.length.toString() },
          });
        } else {
          reportTemplate(report, name, template.value, valueAt);
        }
      } else {
        try {
          await skipValue(type, 0);
        } catch (error) {
          if (!(error instanceof TooManyElements)) throw error;
          // After the last key only tensor infos follow: offsets and shapes,
          // nothing a loader runs. Before it, a chat template may follow.
          const last = i === kvCount - 1n;
          reportIncomplete(ctx, {
            limit: 'gguf-array-elements',
            value: MAX_ARRAY_ELEMENTS,
            offset: at,
            severity: last ? 'medium' : 'high',
            message: `metadata array ${name} has more than ${MAX_ARRAY_ELEMENTS} elements in all; ${last ? 'the tensor infos after it were' : 'the metadata after it was'} not read`,
            evidence: { key: name },
          });
          return;
        }
      }
    }

    const tensors: TensorInfo[] = [];
    const names = new Set<string>();
    for (let i = 0n; i < tensorCount; i++) {
      const at = cur.pos;
      const name = await readString(MAX_KEY_BYTES);
      if (name.value === undefined)
        throw new Malformed(`tensor name of ${name.length} bytes`);
      const nDims = await cur.u32();
      if (nDims > MAX_DIMS)
        throw new Malformed(`tensor ${name.value} has ${nDims} dimensions`);
      const dims: bigint[] = [];
      for (let d = 0; d < nDims; d++)
        dims.push(version === 1 ? BigInt(await cur.u32()) : await cur.u64());
      const type = await cur.u32();
      const offset = await cur.u64();
      if (names.has(retained(name.value))) {
        report({
          ruleId: 'GGUF_DUPLICATE_TENSOR',
          severity: 'high',
          offset: at,
          message: `tensor ${name.value} appears more than once`,
          evidence: { tensor: name.value },
        });
      }
      names.add(retained(name.value));
      const layout = GGML_TYPES[type];
      if (layout === undefined) {
        malformed(`tensor ${name.value} has unknown ggml type ${type}`, at, {
          tensor: name.value,
          type,
        });
        continue;
      }
      const [block, typeSize] = layout;
      let elements = 1n;
      let overflow = false;
      for (const dim of dims) {
        elements *= dim;
        if (elements > INT64_MAX) overflow = true;
      }
      const bytes = (elements / BigInt(block)) * BigInt(typeSize);
      if (
        overflow ||
        bytes > INT64_MAX ||
        (dims[0] ?? 1n) % BigInt(block) !== 0n
      ) {
        report({
          ruleId: 'GGUF_SIZE_OVERFLOW',
          severity: 'high',
          offset: at,
          message: `tensor ${name.value} size overflows or breaks its block size`,
          evidence: { tensor: name.value, dims: dims.map(String), type },
        });
        continue;
      }
      if (offset % BigInt(alignment) !== 0n) {
        report({
          ruleId: 'GGUF_TENSOR_OUT_OF_BOUNDS',
          severity: 'high',
          offset: at,
          message: `tensor ${name.value} offset is not aligned to ${alignment}`,
          evidence: {
            tensor: name.value,
            offset: offset.toString(),
            alignment,
          },
        });
      }
      // Kept for messages only: a long name is cut (and copied, so that the
      // whole name is not retained).
      const label =
        name.value.length <= 256
          ? name.value
          : `${Buffer.from(name.value.slice(0, 256)).toString()}…`;
      tensors.push({ name: label, offset, bytes, at });
    }

    const dataStart = BigInt(Math.ceil(cur.pos / alignment) * alignment);
    const dataSize = BigInt(source.size) - dataStart;
    for (const tensor of tensors) {
      if (tensor.offset + tensor.bytes > dataSize) {
        report({
          ruleId: 'GGUF_TENSOR_OUT_OF_BOUNDS',
          severity: 'high',
          offset: tensor.at,
          message: `tensor ${tensor.name} ends past the end of the file`,
          evidence: {
            tensor: tensor.name,
            offset: tensor.offset.toString(),
            bytes: tensor.bytes.toString(),
            dataSize: dataSize.toString(),
          },
        });
      }
    }
    const sorted = tensors
      .filter((t) => t.bytes > 0n)
      .sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    let end = 0n;
    let last: TensorInfo | undefined;
    for (const tensor of sorted) {
      if (last !== undefined && tensor.offset < end) {
        report({
          ruleId: 'GGUF_TENSOR_OVERLAP',
          severity: 'high',
          offset: tensor.at,
          message: `tensor ${tensor.name} overlaps tensor ${last.name}`,
          evidence: { tensor: tensor.name, other: last.name },
        });
      }
      if (tensor.offset + tensor.bytes > end) {
        end = tensor.offset + tensor.bytes;
        last = tensor;
      }
    }
  } catch (error) {
    if (error instanceof TruncatedError) {
      malformed('header runs past the end of the file', error.offset, {
        wanted: String(error.wanted),
      });
    } else if (error instanceof Malformed) {
      malformed(error.message, cur.pos);
    } else if (error instanceof Aborted) {
      reportIncomplete(ctx, {
        limit: 'aborted',
        message: 'gguf header walk aborted',
        offset: cur.pos,
      });
    } else {
      throw error;
    }
  }
}

/** The finding for each kind of template issue, in reporting order. */
const TEMPLATE_FINDINGS: readonly {
  kind: TemplateIssue['kind'];
  ruleId: string;
  severity: Severity;
  what: string;
}[] = [
  {
    kind: 'injection',
    ruleId: 'GGUF_TEMPLATE_INJECTION',
    severity: 'critical',
    what: 'reaches python internals',
  },
  {
    kind: 'obfuscation',
    ruleId: 'GGUF_TEMPLATE_SUSPICIOUS',
    severity: 'high',
    what: 'builds names indirectly',
  },
];

function reportTemplate(
  report: ScanContext['report'],
  key: string,
  template: string,
  offset: number,
): void {
  const issues = analyzeChatTemplate(template);
  for (const { kind, ruleId, severity, what } of TEMPLATE_FINDINGS) {
    const found = issues.filter((i) => i.kind === kind);
    if (found.length === 0) continue;
    report({
      ruleId,
      severity,
      offset,
      message: `chat template ${key} ${what}: ${found[0]!.detail}`,
      evidence: { key, issues: found.slice(0, 10) },
    });
  }
}

/** Scanner for GGUF files (`threats.md` §4). */
export const GgufScanner: FormatScanner = Object.freeze({
  id: 'gguf',
  detect: detectGguf,
  scan: scanGguf,
});
