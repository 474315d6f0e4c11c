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

function detectKerasMetadata(head: Buffer): boolean {
  // nodes (field 1) first, and the tf.keras object identifiers early on.
  return (
    head.length > 16 &&
    head[0] === 0x0a &&
    head.includes('_tf_keras_', 0, 'latin1')
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
