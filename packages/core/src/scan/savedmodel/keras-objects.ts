// SPDX-License-Identifier: Apache-2.0
/**
 * tf.keras metadata held in `saved_model.pb` (`threats.md` §5, §6).
 *
 * With no (or an empty) `keras_metadata.pb`, tf.keras builds its metadata
 * from the object graph (`_read_legacy_metadata`, keras/saving/legacy/
 * saved_model/load.py): MetaGraphDef.object_graph_def (7) →
 * SavedObjectGraph.nodes (1) → SavedObject.user_object (4) →
 * SavedUserObject { identifier = 1; version = 2; metadata = 3 }, for the
 * objects whose identifier is a tf.keras one (`_tf_keras_layer`, …). Their
 * JSON gets the rules `keras_metadata.pb` nodes get, with the same limits.
 *
 * The schema types named here are those of the SavedModel scanner's walk
 * (`SavedModel`, `ObjectGraph`, `SavedObject`, `UserObject`).
 *
 * A top-level field 1 that is a message (saved_model_schema_version is a
 * varint, so TensorFlow keeps it as an unknown field) is also read as a
 * keras_metadata.pb node (SavedMetadata.nodes = 1): a keras_metadata.pb
 * padded with a million fields outlasts the detections, and the ONNX and
 * SavedModel ones claim it before the keras_metadata.pb one is consulted.
 */
import type { ScanContext } from '../types.js';
import { cappedReporter } from '../capped-report.js';
import {
  readBytes,
  readString,
  walkProto,
  type ProtoFrame,
  type ProtoReader,
  type ProtoSchema,
} from '../onnx/proto-walk.js';
import { reportKerasConfig } from '../keras/report-keras-config.js';

const KERAS_PREFIX = '_tf_keras_';

/** A keras_metadata.pb node, read on its own. */
const KERAS_NODE: ProtoSchema = { KerasNode: {} };

interface ObjectGraphState {
  count: number;
}

/**
 * One SavedObject. User objects repeated in a node merge as the parser merges
 * them (the last identifier and the last metadata win, and another kind of
 * the oneof clears them): the last metadata seen, read when any identifier
 * seen is a tf.keras one, covers whatever the parser keeps.
 */
interface SavedObjectState {
  index: number;
  identifier: string | undefined;
  metadata: Buffer | undefined;
  offset: number;
}

/**
 * The path (3) and the last metadata (5) of a SavedMetadata node; undefined
 * when it is not wire format (then TensorFlow skips it, and tf.keras refuses
 * the file).
 */
function kerasNode(
  bytes: Buffer,
): { path: string; json: Buffer | undefined } | undefined {
  let path = '';
  let json: Buffer | undefined;
  const result = walkProto(
    bytes,
    'KerasNode',
    KERAS_NODE,
    {
      field(_frame, field, wireType, reader) {
        if (wireType !== 2) return false;
        if (field === 3) path = readString(reader, 512);
        else if (field === 5) json = readBytes(reader);
        else return false;
        return true;
      },
    },
    1,
  );
  return result.error === undefined ? { path, json } : undefined;
}

/** The walk's callbacks for the tf.keras metadata, and `flush` for the end. */
export interface KerasObjectVisitor {
  enter(frame: ProtoFrame): void;
  /** Reads the field and returns true when it is one of the metadata's. */
  field(
    frame: ProtoFrame,
    field: number,
    wireType: number,
    reader: ProtoReader,
  ): boolean;
  exit(frame: ProtoFrame): void;
  /** Reports the count of findings left out per rule. */
  flush(): void;
}

/** A visitor that reports the tf.keras metadata of the walk to `ctx`, capped per rule. */
export function kerasObjectVisitor(ctx: ScanContext): KerasObjectVisitor {
  const capped = cappedReporter(ctx);
  const each: ScanContext = Object.create(ctx, {
    report: { value: capped.report },
  }) as ScanContext;
  const report = (json: Buffer, where: string, offset: number): void => {
    if (json.length > 0)
      reportKerasConfig(each, json, where, offset, `${where} metadata`);
  };
  return {
    enter(frame) {
      switch (frame.type) {
        case 'ObjectGraph':
          frame.state = { count: 0 } satisfies ObjectGraphState;
          break;
        case 'SavedObject': {
          const graph = frame.parent?.state as ObjectGraphState;
          frame.state = {
            index: graph.count++,
            identifier: undefined,
            metadata: undefined,
            offset: frame.start,
          } satisfies SavedObjectState;
          break;
        }
        case 'UserObject':
          frame.state = frame.parent?.state;
          break;
      }
    },
    field(frame, field, wireType, reader) {
      if (wireType !== 2) return false;
      if (frame.type === 'UserObject') {
        const object = frame.state as SavedObjectState;
        if (field === 1) {
          const identifier = readString(reader, 512);
          if (identifier.startsWith(KERAS_PREFIX))
            object.identifier = identifier;
        } else if (field === 3) object.metadata = readBytes(reader);
        else return false;
        return true;
      }
      if (frame.type === 'SavedModel' && field === 1) {
        const bytes = readBytes(reader);
        const node = kerasNode(bytes);
        if (node?.json !== undefined)
          report(
            node.json,
            `keras_metadata.pb node ${node.path || '(root)'}`,
            reader.pos - bytes.length,
          );
        return true;
      }
      return false;
    },
    exit(frame) {
      if (frame.type === 'SavedObject') {
        const object = frame.state as SavedObjectState;
        if (object.identifier === undefined || object.metadata === undefined)
          return;
        report(
          object.metadata,
          `saved_model.pb object ${object.index} (${object.identifier})`,
          object.offset,
        );
      }
    },
    flush: capped.flush,
  };
}
