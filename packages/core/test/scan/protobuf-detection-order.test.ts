// SPDX-License-Identifier: Apache-2.0
// ONNX and SavedModel detection must not depend on the writer's field order:
// protobuf parsers (onnxruntime, TensorFlow) accept fields in any order,
// non-minimal varints, unknown fields and unknown groups. And TensorFlow ops
// that reach files or the network are critical.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cat, fld, varint } from './helpers/protobuf.js';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import type { FileScanResult } from '../../src/scan/types.js';
import { classifyTensorFlowOp } from '../../src/scan/savedmodel/index.js';

async function scan(bytes: Buffer, name: string): Promise<FileScanResult> {
  return scanSource(bufferSource(bytes), name);
}
const critical = (r: FileScanResult): string[] =>
  r.findings.filter((f) => f.severity === 'critical').map((f) => f.ruleId);

// ---------------------------------------------------------------- ONNX

const external = cat(
  fld(1, 2, 'location'),
  fld(2, 2, '../../../../etc/passwd'),
);
const initializer = cat(
  fld(1, 0, 4),
  fld(2, 0, 1),
  fld(8, 2, 'W'),
  fld(13, 2, external),
  fld(14, 0, 1),
);
const node = cat(
  fld(1, 2, 'X'),
  fld(1, 2, 'W'),
  fld(2, 2, 'Y'),
  fld(4, 2, 'EvilOp'),
  fld(7, 2, 'com.attacker'),
);
const graph = fld(
  7,
  2,
  cat(
    fld(1, 2, node),
    fld(2, 2, 'g'),
    fld(5, 2, initializer),
    fld(11, 2, fld(1, 2, 'X')),
    fld(12, 2, fld(1, 2, 'Y')),
  ),
);
const irVersion = fld(1, 0, 8);
const opsets = cat(
  fld(8, 2, cat(fld(1, 2, ''), fld(2, 0, 17))),
  fld(8, 2, cat(fld(1, 2, 'com.attacker'), fld(2, 0, 1))),
);

async function expectEvilOnnx(bytes: Buffer): Promise<void> {
  const r = await scan(bytes, 'model.onnx');
  expect(r.formats).toContain('onnx');
  expect(critical(r)).toContain('ONNX_EXTERNAL_DATA_ESCAPE');
  expect(r.findings.map((f) => f.ruleId)).toContain('ONNX_CUSTOM_DOMAIN');
}

describe('ONNX detection in any field order', () => {
  it('control: the writer order is reported', async () => {
    await expectEvilOnnx(cat(irVersion, fld(2, 2, 'pytorch'), graph, opsets));
  });

  it('recognises a model whose graph comes first', async () => {
    await expectEvilOnnx(cat(graph, irVersion, opsets));
  });

  it('recognises a model starting with an unknown field', async () => {
    await expectEvilOnnx(cat(fld(100, 2, 'x'), irVersion, graph, opsets));
    await expectEvilOnnx(cat(fld(99, 0, 5), graph, irVersion, opsets));
  });

  it('recognises a model whose first tag reads as a pickle PROTO or a zlib header', async () => {
    // Field 16 as a varint: tag `80 01`, then 0x4e (a pickle NONE): the
    // pickle scanner claims the file by those bytes (stop 29 review).
    const proto = cat(fld(16, 0, 0x4e), graph, irVersion, opsets);
    expect([...proto.subarray(0, 3)]).toEqual([0x80, 0x01, 0x4e]);
    await expectEvilOnnx(proto);
    // Field 15 as a varint: tag `78`, then 0x9c 0x01: a zlib header.
    const zlib = cat(fld(15, 0, 0x9c), graph, irVersion, opsets);
    expect([...zlib.subarray(0, 2)]).toEqual([0x78, 0x9c]);
    await expectEvilOnnx(zlib);
  });

  it('recognises a non-minimal ir_version varint', async () => {
    // ir_version 8 in four bytes: 88 80 80 00.
    const ir = Buffer.from([0x08, 0x88, 0x80, 0x80, 0x00]);
    await expectEvilOnnx(cat(ir, graph, opsets));
  });

  it('recognises a known field of another wire type (kept as unknown by parsers)', async () => {
    await expectEvilOnnx(
      cat(fld(1, 2, 'not a varint'), graph, irVersion, opsets),
    );
  });

  it('recognises a model starting with an unknown group, and scans past it', async () => {
    // Field 50 start group (wire 3), a varint inside, end group (wire 4).
    const group = cat(
      varint((50 << 3) | 3),
      fld(1, 0, 1),
      varint((50 << 3) | 4),
    );
    await expectEvilOnnx(cat(group, graph, irVersion, opsets));
  });

  it('recognises an opset_import-first model without an ir_version', async () => {
    const r = await scan(cat(opsets, graph), 'model.onnx');
    expect(r.formats).toContain('onnx');
    expect(critical(r)).toContain('ONNX_EXTERNAL_DATA_ESCAPE');
  });
});

// ---------------------------------------------------------------- SavedModel

const tfNode = (name: string, op: string): Buffer =>
  fld(1, 2, cat(fld(1, 2, name), fld(2, 2, op)));
const tfGraph = fld(
  2,
  2,
  cat(
    tfNode('fname', 'Const'),
    tfNode('rf', 'ReadFile'),
    tfNode('wf', 'WriteFile'),
    tfNode('py', 'PyFunc'),
  ),
);
const saverDef = fld(3, 2, fld(1, 2, 'save/Const:0'));
const metaInfo = fld(1, 2, fld(4, 2, 'serve'));

async function expectEvilSavedModel(bytes: Buffer): Promise<void> {
  const r = await scan(bytes, 'saved_model.pb');
  expect(r.formats).toContain('tf-savedmodel');
  expect(critical(r)).toEqual(
    expect.arrayContaining(['TF_FILE_ACCESS_OP', 'TF_PYTHON_OP']),
  );
  const ops = r.findings.map((f) => f.evidence?.op);
  expect(ops).toEqual(
    expect.arrayContaining(['ReadFile', 'WriteFile', 'PyFunc']),
  );
}

describe('SavedModel detection in any field order', () => {
  it('control: the writer order is reported', async () => {
    await expectEvilSavedModel(
      cat(fld(1, 0, 1), fld(2, 2, cat(metaInfo, tfGraph))),
    );
  });

  it('recognises a MetaGraphDef starting with saver_def', async () => {
    await expectEvilSavedModel(
      cat(fld(1, 0, 1), fld(2, 2, cat(saverDef, tfGraph))),
    );
  });

  it('recognises the schema version after meta_graphs', async () => {
    await expectEvilSavedModel(
      cat(fld(2, 2, cat(saverDef, tfGraph)), fld(1, 0, 1)),
    );
  });

  it('recognises unknown fields and non-minimal varints', async () => {
    await expectEvilSavedModel(
      cat(
        fld(15, 2, 'junk'),
        Buffer.from([0x08, 0x81, 0x80, 0x00]), // schema version 1, non-minimal
        fld(2, 2, cat(fld(40, 0, 7), saverDef, tfGraph)),
      ),
    );
  });

  it('recognises the graph in a second meta graph', async () => {
    await expectEvilSavedModel(
      cat(fld(1, 0, 1), fld(2, 2, saverDef), fld(2, 2, cat(saverDef, tfGraph))),
    );
  });

  it('scans a SavedModel whose schema version reads as an ONNX IR version', async () => {
    // `08 03 12 …` matches the ONNX writer order: scanned as both.
    await expectEvilSavedModel(
      cat(fld(1, 0, 3), fld(2, 2, cat(metaInfo, tfGraph))),
    );
  });

  it('does not take a reordered SavedModel for ONNX, nor a reordered ONNX model for a SavedModel', async () => {
    const sm = await scan(
      cat(fld(2, 2, cat(saverDef, tfGraph)), fld(1, 0, 1)),
      'saved_model.pb',
    );
    expect(sm.formats).toEqual(['tf-savedmodel']);
    const onnx = await scan(cat(graph, irVersion, opsets), 'model.onnx');
    expect(onnx.formats).toEqual(['onnx']);
  });
});

// ---------------------------------------------------------------- TF ops

const NEW_OPS = [
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
  'DecodeProtoV2',
  'EncodeProto',
  'DataServiceDataset',
  'DataServiceDatasetV2',
  'DataServiceDatasetV3',
  'DataServiceDatasetV4',
  'RegisterDataset',
  'RegisterDatasetV2',
  'FileSystemSetConfiguration',
  'GcsConfigureCredentials',
  'GcsConfigureBlockCache',
  'BigQueryReader',
];

describe('TensorFlow ops that reach files or the network', () => {
  it('classifies each as file access (critical in TFLite Flex too)', () => {
    for (const op of NEW_OPS)
      expect([op, classifyTensorFlowOp(op)]).toEqual([op, 'file']);
  });

  it('reports each as a critical TF_FILE_ACCESS_OP in a SavedModel', async () => {
    const nodes = cat(...NEW_OPS.map((op, i) => tfNode(`n${i}`, op)));
    const r = await scan(
      cat(fld(1, 0, 1), fld(2, 2, fld(2, 2, nodes))),
      'saved_model.pb',
    );
    const reported = r.findings
      .filter(
        (f) => f.ruleId === 'TF_FILE_ACCESS_OP' && f.severity === 'critical',
      )
      .map((f) => f.evidence?.op);
    expect(reported.sort()).toEqual([...NEW_OPS].sort());
  });
});

// ---------------------------------------------------------------- controls

describe('protobuf detection controls', () => {
  it('does not claim random bytes', async () => {
    for (let i = 0; i < 200; i++) {
      const r = await scan(randomBytes(64 + i * 7), 'blob.bin');
      expect(
        r.formats.filter((f) => f === 'onnx' || f === 'tf-savedmodel'),
      ).toEqual([]);
    }
  });

  it('does not claim text, a frozen GraphDef or a protobuf without an ONNX graph', async () => {
    const samples = [
      Buffer.from('model:\n  name: Bert\n  target: x\nB\x05hello: ok\n'),
      // GraphDef (field 1 node, 4 versions): not a SavedModel, not ONNX.
      cat(tfNode('a', 'ReadFile'), fld(4, 2, fld(1, 0, 27))),
      // ModelProto-like fields but no graph.
      cat(fld(2, 2, 'pytorch'), irVersion, opsets),
      // SavedModel-like, meta graph without a graph_def.
      cat(fld(2, 2, saverDef), fld(1, 0, 1)),
    ];
    for (const bytes of samples) {
      const r = await scan(bytes, 'other.pb');
      expect(
        r.formats.filter((f) => f === 'onnx' || f === 'tf-savedmodel'),
      ).toEqual([]);
    }
  });
});

describe('padding past the detection budget', () => {
  /** `count` copies of one field. */
  const repeat = (field: Buffer, count: number): Buffer =>
    Buffer.concat(Array.from({ length: count }, () => field));
  const pastBudget = (1 << 20) + 16;

  it('still scans an ONNX model behind a million unknown fields', async () => {
    const pad = repeat(fld(99, 0, 1), pastBudget);
    const r = await scan(cat(pad, graph, irVersion, opsets), 'model.onnx');
    expect(r.formats).toContain('onnx');
    expect(critical(r)).toContain('ONNX_EXTERNAL_DATA_ESCAPE');
  });

  it('still scans a SavedModel behind a million schema-version fields', async () => {
    const pad = repeat(fld(1, 0, 1), pastBudget);
    const r = await scan(
      cat(pad, fld(2, 2, cat(saverDef, tfGraph))),
      'saved_model.pb',
    );
    expect(r.formats).toEqual(['tf-savedmodel']);
    expect(critical(r)).toEqual(
      expect.arrayContaining(['TF_FILE_ACCESS_OP', 'TF_PYTHON_OP']),
    );
  });

  it('still scans a SavedModel behind a million unknown fields', async () => {
    const pad = repeat(fld(99, 0, 1), pastBudget);
    const r = await scan(
      cat(pad, fld(1, 0, 1), fld(2, 2, cat(saverDef, tfGraph))),
      'saved_model.pb',
    );
    expect(r.formats).toContain('tf-savedmodel');
    expect(critical(r)).toEqual(
      expect.arrayContaining(['TF_FILE_ACCESS_OP', 'TF_PYTHON_OP']),
    );
  });
});
