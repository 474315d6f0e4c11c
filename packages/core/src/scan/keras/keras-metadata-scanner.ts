// SPDX-License-Identifier: Apache-2.0
/**
 * `keras_metadata.pb` of a tf.keras SavedModel (`threats.md` §5, §6): a
 * SavedMetadata protobuf whose nodes carry each layer's JSON metadata; the JSON
 * is walked with the Keras config rules (a Lambda layer shows up here).
 */
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { cappedReporter } from '../capped-report.js';
import { readWholeSource } from '../read-whole-source.js';
import {
  readBytes,
  readString,
  walkProto,
  type ProtoSchema,
} from '../onnx/proto-walk.js';
import {
  WireWindow,
  walkFields,
  type WireField,
} from '../onnx/proto-detect.js';
import { reportKerasConfig } from './report-keras-config.js';

const SCHEMA: ProtoSchema = {
  SavedMetadata: { 1: 'SavedObject' },
  SavedObject: {},
};

interface SavedObjectState {
  path: string;
  json: Buffer | undefined;
  offset: number;
}

/** Identifiers of the tf.keras objects (`_tf_keras_layer`, `_tf_keras_model`, …). */
const KERAS_IDENTIFIER = Buffer.from('_tf_keras_', 'latin1');

/** Whether `[start, start + length)` of the source begins with {@link KERAS_IDENTIFIER}. */
async function isKerasIdentifier(
  head: Buffer,
  source: ByteSource,
  start: number,
  length: number,
): Promise<boolean> {
  const n = KERAS_IDENTIFIER.length;
  if (length < n) return false;
  const bytes =
    start + n <= head.length
      ? head.subarray(start, start + n)
      : await source.read(start, n);
  return bytes.equals(KERAS_IDENTIFIER);
}

/**
 * Order-independent detection, as tf.keras parses the file
 * (`ParseFromString`: fields in any order, unknown fields and groups skipped):
 * the whole file is valid wire format, and a `nodes` entry (field 1, a
 * message) holds an identifier (field 4) starting with `_tf_keras_`, wherever
 * it lies in the node and in the file (read through the source, not only
 * the head). A million valid fields with such an identifier among them is
 * claimed too (the scan walks the rest).
 */
async function detectKerasMetadata(
  head: Buffer,
  source: ByteSource,
): Promise<boolean> {
  if (head.length < 2) return false;
  const win = new WireWindow(head, source);
  let keras = false;
  let nodeInvalid = false;
  const identifier = async (g: WireField): Promise<'continue'> => {
    const start = g.start as number;
    if (await isKerasIdentifier(head, source, start, g.length as number))
      keras = true;
    return 'continue';
  };
  const node = async (
    f: WireField,
  ): Promise<'stop' | 'reject' | 'continue'> => {
    const start = f.start as number;
    // Synchronous for the other fields: a node may hold a million of them.
    const inner = await walkFields(
      win,
      start,
      start + (f.length as number),
      (g) =>
        !keras && g.field === 4 && g.wireType === 2
          ? identifier(g)
          : 'continue',
    );
    if (inner === 'invalid') {
      nodeInvalid = true;
      return 'reject';
    }
    return inner === 'budget' ? 'stop' : 'continue';
  };
  const result = await walkFields(win, 0, source.size, (f) =>
    f.field === 1 && f.wireType === 2 ? node(f) : 'continue',
  );
  if (nodeInvalid || result === 'invalid') return false;
  return (
    keras && (result === 'end' || result === 'budget' || result === 'stopped')
  );
}

async function scanKerasMetadata(
  source: ByteSource,
  ctx: ScanContext,
): Promise<void> {
  ctx.recognise('keras-metadata');
  const bytes = await readWholeSource(source, ctx, {
    limit: ctx.limits.maxMemberBytes,
    limitName: 'maxMemberBytes',
    message: 'keras_metadata.pb larger than the in-memory scan limit',
  });
  if (bytes === undefined) return;
  // Each node's JSON is parsed (within the JSON budget) when the node ends,
  // and dropped; findings are capped per rule over the whole file.
  const capped = cappedReporter(ctx);
  const each: ScanContext = Object.create(ctx, {
    report: { value: capped.report },
  }) as ScanContext;
  const result = walkProto(
    bytes,
    'SavedMetadata',
    SCHEMA,
    {
      enter(frame) {
        if (frame.type === 'SavedObject')
          frame.state = {
            path: '',
            json: undefined,
            offset: frame.start,
          } satisfies SavedObjectState;
      },
      field(frame, field, wireType, reader) {
        if (frame.type !== 'SavedObject' || wireType !== 2) return false;
        const state = frame.state as SavedObjectState;
        if (field === 3) state.path = readString(reader, 512);
        else if (field === 5) state.json = readBytes(reader);
        else return false;
        return true;
      },
      exit(frame) {
        if (frame.type !== 'SavedObject') return;
        const object = frame.state as SavedObjectState;
        if (object.json === undefined || object.json.length === 0) return;
        const where = `keras_metadata.pb node ${object.path || '(root)'}`;
        reportKerasConfig(
          each,
          object.json,
          where,
          object.offset,
          `${where} metadata`,
        );
      },
    },
    4,
  );
  if (result.error !== undefined) {
    ctx.report({
      ruleId: 'KERAS_MALFORMED',
      severity: 'high',
      offset: result.error.offset,
      message: 'keras_metadata.pb is not valid protobuf, rest not scanned',
      evidence: { reason: result.error.reason },
    });
  }
  capped.flush();
}

/** Scanner for `keras_metadata.pb` (tf.keras SavedModel layer metadata). */
export const KerasMetadataScanner: FormatScanner = Object.freeze({
  id: 'keras-metadata',
  detect: detectKerasMetadata,
  scan: scanKerasMetadata,
});
