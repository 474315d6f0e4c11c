// SPDX-License-Identifier: Apache-2.0
/**
 * TensorFlow SavedModel (`threats.md` §6): walks `saved_model.pb`
 * (SavedModel → meta_graphs → graph_def → node, library.function[].node_def)
 * with the bounded protobuf walker and reports ops with side effects, and
 * the tf.keras metadata of its object graph (`keras-objects.ts`).
 */
import type {
  ByteSource,
  FormatScanner,
  ScanContext,
  Severity,
} from '../types.js';
import { readWholeSource } from '../read-whole-source.js';
import { readString, walkProto, type ProtoSchema } from '../onnx/proto-walk.js';
import { kerasObjectVisitor } from './keras-objects.js';
import {
  WireWindow,
  walkFields,
  type WireField,
} from '../onnx/proto-detect.js';

const SCHEMA: ProtoSchema = {
  SavedModel: { 2: 'MetaGraph' },
  MetaGraph: { 2: 'Graph', 7: 'ObjectGraph' },
  ObjectGraph: { 1: 'SavedObject' },
  SavedObject: { 4: 'UserObject' },
  UserObject: {},
  Graph: { 1: 'Node', 2: 'Library' },
  Library: { 1: 'Function' },
  Function: { 1: 'OpDef', 3: 'Node' },
  OpDef: {},
  Node: {},
};
const PROTOBUF_LIMIT = 2 * 1024 * 1024 * 1024 - 1;

/**
 * Ops that reach a tf.data service over the network. Reported with the file
 * ops (the TFLite Flex check treats `file` as critical); only the message
 * differs.
 */
const NETWORK_OPS: ReadonlySet<string> = new Set([
  'DataServiceDataset',
  'DataServiceDatasetV2',
  'DataServiceDatasetV3',
  'DataServiceDatasetV4',
  'RegisterDataset',
  'RegisterDatasetV2',
]);

/** Side-effect ops by rule (`threats.md` §6). */
const FILE_OPS: ReadonlySet<string> = new Set([
  'ReadFile',
  'WriteFile',
  'MatchingFiles',
  'ImmutableConst',
  'LoadAndRemapMatrix',
  'WholeFileReader',
  'WholeFileReaderV2',
  'TextLineReader',
  'TextLineReaderV2',
  'FixedLengthRecordReader',
  'FixedLengthRecordReaderV2',
  'TFRecordReader',
  'TFRecordReaderV2',
  'LMDBReader',
  'TFRecordDataset',
  'TFRecordDatasetV2',
  'TextLineDataset',
  'FixedLengthRecordDataset',
  'FixedLengthRecordDatasetV2',
  'CreateSummaryFileWriter',
  'CreateSummaryDbWriter',
  'DebugIdentity',
  'DebugIdentityV2',
  'DebugNanCount',
  'DebugNumericSummary',
  'DatasetToTFRecord',
  'SaveDataset',
  'SaveDatasetV2',
  'LoadDataset',
  'SnapshotDataset',
  'SnapshotDatasetV2',
  'CSVDataset',
  'CSVDatasetV2',
  'ExperimentalCSVDataset',
  'ExperimentalDatasetToTFRecord',
  'SqlDataset',
  'ExperimentalSqlDataset',
  'LMDBDataset',
  'ExperimentalLMDBDataset',
  'MatchingFilesDataset',
  'ExperimentalMatchingFilesDataset',
  'RecordInput',
  'DistributedSave',
  'SnapshotDatasetReader',
  'SnapshotNestedDatasetReader',
  'SnapshotChunkDataset',
  // descriptor_source may name a file of FileDescriptorSet.
  'DecodeProtoV2',
  'EncodeProto',
  'FileSystemSetConfiguration',
  'GcsConfigureCredentials',
  'GcsConfigureBlockCache',
  'BigQueryReader',
  ...NETWORK_OPS,
]);
const PYTHON_OPS: ReadonlySet<string> = new Set([
  'PyFunc',
  'PyFuncStateless',
  'EagerPyFunc',
]);
const CHECKPOINT_OPS: ReadonlySet<string> = new Set([
  'SaveV2',
  'RestoreV2',
  'Save',
  'SaveSlices',
  'Restore',
  'RestoreSlice',
  'MergeV2Checkpoints',
  'ShardedFilename',
  'ShardedFilespec',
]);
const TABLE_OPS: ReadonlySet<string> = new Set([
  'InitializeTableFromTextFile',
  'InitializeTableFromTextFileV2',
]);
const PRINT_OPS: ReadonlySet<string> = new Set(['Print', 'PrintV2']);

/** Classification of a TensorFlow op name, shared with the TFLite Flex check. */
export function classifyTensorFlowOp(
  op: string,
): 'file' | 'python' | 'checkpoint' | 'table' | 'print' | undefined {
  if (FILE_OPS.has(op)) return 'file';
  if (PYTHON_OPS.has(op)) return 'python';
  if (CHECKPOINT_OPS.has(op)) return 'checkpoint';
  if (TABLE_OPS.has(op)) return 'table';
  if (PRINT_OPS.has(op)) return 'print';
  return undefined;
}

type TensorFlowOpKind = NonNullable<ReturnType<typeof classifyTensorFlowOp>>;

/** The finding for each kind of op; `effect` ends the message. */
const OP_FINDINGS: Readonly<
  Record<
    TensorFlowOpKind,
    { ruleId: string; severity: Severity; effect: string }
  >
> = {
  file: {
    ruleId: 'TF_FILE_ACCESS_OP',
    severity: 'critical',
    effect: ' touches the file system',
  },
  python: {
    ruleId: 'TF_PYTHON_OP',
    severity: 'critical',
    effect: ' calls host python',
  },
  checkpoint: {
    ruleId: 'TF_CHECKPOINT_OP_OUTSIDE_SAVER',
    severity: 'low',
    effect: ' outside the checkpoint saver',
  },
  table: {
    ruleId: 'TF_TABLE_FROM_FILE',
    severity: 'low',
    effect: ' reads a vocabulary file',
  },
  print: { ruleId: 'TF_PRINT_OP', severity: 'low', effect: '' },
};

interface NodeInfo {
  name: string;
  op: string;
  fn: string | undefined;
  offset: number;
}

function readVarintAt(
  head: Buffer,
  at: number,
): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 5 && at + i < head.length; i++) {
    const byte = head[at + i] as number;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) return { value, next: at + i + 1 };
  }
  return undefined;
}

/** The writer's start: version 1, then meta_graphs whose first field is meta_info_def (1) or graph_def (2). */
function writerOrderStart(head: Buffer, source: ByteSource): boolean {
  let at = 0;
  if (head[0] === 0x08 && head[1] === 0x01) at = 2;
  if (head[at] !== 0x12) return false;
  const length = readVarintAt(head, at + 1);
  // Without the version prefix the start is less distinctive: require the
  // first message to fit in the file.
  if (
    length === undefined ||
    length.value < 2 ||
    (at === 0 && length.next + length.value > source.size)
  )
    return false;
  const first = head[length.next];
  return first === 0x0a || first === 0x12;
}

/** GraphDef fields read to check a graph_def payload is wire format. */
const GRAPH_FIELDS_CHECKED = 64;

/**
 * What the MetaGraphDef in `[start, end)` is: `graph` when it is valid wire
 * format holding a graph_def (field 2, itself starting as wire format).
 * Its fields (meta_info_def 1 … object_graph_def 7) may come in any order,
 * among unknown ones, as TensorFlow's parser accepts them.
 */
async function metaGraphShape(
  win: WireWindow,
  start: number,
  end: number,
): Promise<'graph' | 'other' | 'invalid' | 'budget'> {
  let graph = false;
  let graphInvalid = false;
  const graphDef = async (
    f: WireField,
  ): Promise<'stop' | 'reject' | 'continue'> => {
    const graphStart = f.start as number;
    let seen = 0;
    const inner = await walkFields(
      win,
      graphStart,
      graphStart + (f.length as number),
      () => (++seen >= GRAPH_FIELDS_CHECKED ? 'stop' : 'continue'),
    );
    if (inner === 'invalid') {
      graphInvalid = true;
      return 'reject';
    }
    graph = true;
    return inner === 'budget' ? 'stop' : 'continue';
  };
  const result = await walkFields(win, start, end, (f) =>
    f.field === 2 && f.wireType === 2 ? graphDef(f) : 'continue',
  );
  if (result === 'invalid' || graphInvalid) return 'invalid';
  if (result === 'budget') return 'budget';
  return graph ? 'graph' : 'other';
}

/**
 * Order-independent detection: the top-level fields of the whole file are
 * valid wire format (saved_model_schema_version 1 and meta_graphs 2 in any
 * order, unknown fields allowed) and a meta_graphs entry is a MetaGraphDef
 * with a graph_def.
 */
async function savedModelFields(
  head: Buffer,
  source: ByteSource,
): Promise<boolean> {
  if (head.length < 2) return false;
  const win = new WireWindow(head, source);
  let graph = false;
  const metaGraph = async (
    f: WireField,
  ): Promise<'stop' | 'reject' | 'continue'> => {
    const start = f.start as number;
    const shape = await metaGraphShape(
      win,
      start,
      start + (f.length as number),
    );
    if (shape === 'invalid') return 'reject';
    if (shape === 'graph') graph = true;
    return shape === 'budget' ? 'stop' : 'continue';
  };
  // Synchronous for the other fields: a padded file has a million of them.
  const result = await walkFields(win, 0, source.size, (f) =>
    f.field === 2 && f.wireType === 2 ? metaGraph(f) : 'continue',
  );
  if (result === 'end') return graph;
  // A million valid fields is protobuf beyond doubt, padded to outlast the
  // detection: claimed (the scan walks all of it) rather than let through.
  // ONNX, consulted first, leaves such a file here only when it is shaped
  // like a SavedModel, and scans it as one too otherwise.
  return result === 'budget' || result === 'stopped';
}

/** Detects `saved_model.pb` by content. */
export async function detectSavedModel(
  head: Buffer,
  source: ByteSource,
): Promise<boolean> {
  if (writerOrderStart(head, source)) return true;
  return savedModelFields(head, source);
}

async function scanSavedModel(
  source: ByteSource,
  ctx: ScanContext,
): Promise<void> {
  ctx.recognise('tf-savedmodel');
  const bytes = await readWholeSource(source, ctx, {
    limit: Math.min(ctx.limits.maxMemberBytes, PROTOBUF_LIMIT),
    limitName: 'maxMemberBytes',
    message: 'saved_model.pb larger than the in-memory scan limit',
  });
  if (bytes === undefined) return;
  // One finding per (op, function): a model repeats the same op many times.
  const grouped = new Map<
    string,
    { kind: TensorFlowOpKind; nodes: NodeInfo[]; count: number }
  >();
  // tf.keras metadata of the object graph (`keras-objects.ts`).
  const keras = kerasObjectVisitor(ctx);
  const result = walkProto(
    bytes,
    'SavedModel',
    SCHEMA,
    {
      enter(frame) {
        keras.enter(frame);
        if (frame.type === 'Node')
          frame.state = {
            name: '',
            op: '',
            fn: undefined,
            offset: frame.start,
          } satisfies NodeInfo;
        if (frame.type === 'Function') frame.state = { name: '' };
        if (frame.type === 'OpDef') frame.state = frame.parent?.state;
      },
      field(frame, field, wireType, reader) {
        if (keras.field(frame, field, wireType, reader)) return true;
        if (wireType !== 2) return false;
        if (frame.type === 'Node' && (field === 1 || field === 2)) {
          const node = frame.state as NodeInfo;
          if (field === 1) node.name = readString(reader, 512);
          else node.op = readString(reader, 256);
          return true;
        }
        if (frame.type === 'OpDef' && field === 1) {
          (frame.state as { name: string }).name = readString(reader, 512);
          return true;
        }
        return false;
      },
      exit(frame) {
        keras.exit(frame);
        if (frame.type !== 'Node') return;
        const node = frame.state as NodeInfo;
        // Grouped as they come, ten kept per group: a graph may hold
        // millions of nodes.
        const kind = classifyTensorFlowOp(node.op);
        if (kind === undefined) return;
        node.fn =
          frame.parent?.type === 'Function'
            ? (frame.parent.state as { name: string }).name
            : undefined;
        if (kind === 'checkpoint' && isCheckpointContext(node)) return;
        const key = `${node.op}\u0000${node.fn ?? ''}`;
        const group = grouped.get(key);
        if (group === undefined)
          grouped.set(key, { kind, nodes: [node], count: 1 });
        else {
          group.count++;
          if (group.nodes.length < 10) group.nodes.push(node);
        }
      },
    },
    16,
  );
  if (result.error !== undefined) {
    ctx.report({
      ruleId: 'TF_MALFORMED',
      severity: 'high',
      offset: result.error.offset,
      message: 'invalid protobuf wire format, rest of the model not scanned',
      evidence: { reason: result.error.reason },
    });
  }
  keras.flush();
  for (const { kind, nodes: list, count } of grouped.values()) {
    const node = list[0] as NodeInfo;
    const where = node.fn === undefined ? 'the graph' : `function ${node.fn}`;
    const { ruleId, severity } = OP_FINDINGS[kind];
    const effect = NETWORK_OPS.has(node.op)
      ? ' connects to a tf.data service over the network'
      : OP_FINDINGS[kind].effect;
    ctx.report({
      ruleId,
      severity,
      offset: node.offset,
      message: `${node.op} op in ${where}${effect}`,
      evidence: {
        op: node.op,
        function: node.fn,
        nodes: list.map((n) => n.name),
        count,
      },
    });
  }
}

/** TF2 puts checkpoint ops in `__inference__traced_save/restore_*`; TF1 in `save/…` (or `save_N/…`) nodes. */
function isCheckpointContext(node: NodeInfo): boolean {
  if (node.fn !== undefined)
    return (
      /^__inference__traced_(save|restore)_\d+$/.test(node.fn) ||
      /^__inference_(save|restore)/.test(node.fn)
    );
  return /^save(_\d+)?\//.test(node.name);
}

/** Scanner for TensorFlow `saved_model.pb` (`threats.md` §6). */
export const SavedModelScanner: FormatScanner = Object.freeze({
  id: 'tf-savedmodel',
  detect: detectSavedModel,
  scan: scanSavedModel,
});
