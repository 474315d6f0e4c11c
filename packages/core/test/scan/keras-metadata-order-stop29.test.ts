// SPDX-License-Identifier: Apache-2.0
// tf.keras SavedModel metadata, wherever tf.keras reads it from:
// - keras_metadata.pb (SavedMetadata) is parsed with ParseFromString, which
//   takes fields in any order and skips unknown ones, so its detection must
//   not depend on the writer's first bytes or on the identifiers being in the
//   first 4 KiB;
// - with no keras_metadata.pb, tf.keras (`_read_legacy_metadata`) takes each
//   Keras object's JSON from saved_model.pb's object graph
//   (SavedObject.user_object.metadata), which the SavedModel scan walks too.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cat, fld, varint } from './helpers/protobuf.js';
import { scanSource, type ScanOptions } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import type { FileScanResult } from '../../src/scan/types.js';
import { REPO_ROOT } from '../helpers/vectors.js';

async function scan(
  bytes: Buffer,
  name: string,
  options?: ScanOptions,
): Promise<FileScanResult> {
  return scanSource(bufferSource(bytes), name, options);
}
const critical = (r: FileScanResult): string[] =>
  r.findings.filter((f) => f.severity === 'critical').map((f) => f.ruleId);

const KERAS_DIR = join(REPO_ROOT, 'test-vectors', 'formats', 'keras');
const fixture = (name: string): Buffer => readFileSync(join(KERAS_DIR, name));

const LAMBDA_JSON = JSON.stringify({
  name: 'lambda',
  class_name: 'Lambda',
  config: {
    name: 'lambda',
    function: ['4wEAAAAA', null, null],
    function_type: 'lambda',
    module: '__main__',
  },
});
/** What one Lambda layer's JSON gives: the layer, and its `function_type: lambda` config. */
const LAMBDA_FINDINGS = ['KERAS_LAMBDA', 'KERAS_LAMBDA'];
/** A Sequential's metadata, padded past the 4 KiB head. */
const BIG_SEQUENTIAL_JSON = JSON.stringify({
  name: 'sequential',
  class_name: 'Sequential',
  config: { name: 'sequential', layers: [] },
  pad: 'x'.repeat(5000),
});

// keras/protobuf/saved_metadata.proto: SavedMetadata.nodes = 1; SavedObject
// { reserved 1; node_id = 2; node_path = 3; identifier = 4; metadata = 5;
// version = 6 (VersionDef { producer = 1; min_consumer = 2 }) }.
const version = fld(6, 2, cat(fld(1, 0, 1), fld(2, 0, 1)));

// ---------------------------------------------------------------- keras_metadata.pb

describe('keras_metadata.pb detection in any field order', () => {
  it('the unchanged fixture is two critical KERAS_LAMBDA (baseline)', async () => {
    const r = await scan(
      fixture('lambda-keras_metadata.pb'),
      'keras_metadata.pb',
    );
    expect(r.formats).toContain('keras-metadata');
    expect(critical(r)).toEqual(LAMBDA_FINDINGS);
  });

  it('finds the Lambda behind an unknown varint field before the nodes', async () => {
    const bytes = cat(
      Buffer.from([0x10, 0x00]),
      fixture('lambda-keras_metadata.pb'),
    );
    const r = await scan(bytes, 'keras_metadata.pb');
    expect(r.formats).toContain('keras-metadata');
    expect(critical(r)).toEqual(LAMBDA_FINDINGS);
  });

  it('finds the Lambda when metadata comes before the identifiers, past 4 KiB', async () => {
    const bytes = cat(
      fld(
        1,
        2,
        cat(
          fld(2, 0, 0),
          fld(5, 2, BIG_SEQUENTIAL_JSON),
          fld(3, 2, 'root'),
          fld(4, 2, '_tf_keras_sequential'),
        ),
      ),
      fld(
        1,
        2,
        cat(
          version,
          fld(5, 2, LAMBDA_JSON),
          fld(2, 0, 1),
          fld(4, 2, '_tf_keras_layer'),
          fld(3, 2, 'root.layer-1'),
        ),
      ),
    );
    expect(bytes.indexOf('_tf_keras_')).toBeGreaterThan(4096);
    const r = await scan(bytes, 'keras_metadata.pb');
    expect(r.formats).toContain('keras-metadata');
    expect(critical(r)).toEqual(LAMBDA_FINDINGS);
  });

  it('finds the Lambda among unknown fields, a group and a non-minimal tag', async () => {
    const node = cat(
      fld(7, 0, 99),
      fld(4, 2, '_tf_keras_layer'),
      fld(5, 2, LAMBDA_JSON),
    );
    const bytes = cat(
      fld(9, 2, 'unknown'),
      // group 3: start tag, a varint inside, end tag
      Buffer.from([0x1b, 0x08, 0x01, 0x1c]),
      // field 1, wire 2 as a two-byte tag
      Buffer.from([0x8a, 0x00]),
      varint(node.length),
      node,
    );
    const r = await scan(bytes, 'keras_metadata.pb');
    expect(r.formats).toContain('keras-metadata');
    expect(critical(r)).toEqual(LAMBDA_FINDINGS);
  });

  it('finds the Lambda behind a million unknown fields (past the detection budget)', async () => {
    const padding = Buffer.alloc(2 * 1_048_600);
    for (let i = 0; i < padding.length; i += 2) padding[i] = 0x10;
    const bytes = cat(padding, fixture('lambda-keras_metadata.pb'));
    const r = await scan(bytes, 'keras_metadata.pb');
    expect(critical(r)).toEqual(LAMBDA_FINDINGS);
  }, 60_000);

  it('does not claim protobuf with no tf.keras identifier, nor bytes that are not protobuf', async () => {
    const plain = cat(
      fld(1, 2, cat(fld(4, 2, 'something_else'), fld(5, 2, LAMBDA_JSON))),
    );
    expect((await scan(plain, 'x.pb')).formats).not.toContain('keras-metadata');
    const broken = cat(
      fld(1, 2, cat(fld(4, 2, '_tf_keras_layer'), fld(5, 2, LAMBDA_JSON))),
      Buffer.from([0x0a, 0x7f, 0x00]),
    );
    expect((await scan(broken, 'x.pb')).formats).not.toContain(
      'keras-metadata',
    );
  });

  it('leaves the benign fixture clean', async () => {
    const r = await scan(
      fixture('benign-keras_metadata.pb'),
      'keras_metadata.pb',
    );
    expect(r.formats).toContain('keras-metadata');
    expect(r.findings).toEqual([]);
  });
});

// ---------------------------------------------------------------- saved_model.pb

// tensorflow/core/protobuf: SavedModel { saved_model_schema_version = 1;
// meta_graphs = 2 }; MetaGraphDef { graph_def = 2; object_graph_def = 7 };
// SavedObjectGraph { nodes = 1 }; SavedObject { children = 1; user_object = 4;
// function = 6 }; SavedUserObject { identifier = 1; version = 2; metadata = 3 }.
const graphDef = fld(2, 2, fld(1, 2, cat(fld(1, 2, 'n'), fld(2, 2, 'NoOp'))));
function savedModel(nodes: Buffer[], objectGraphFirst = false): Buffer {
  const objectGraph = fld(7, 2, cat(...nodes.map((n) => fld(1, 2, n))));
  const meta = objectGraphFirst
    ? cat(objectGraph, graphDef)
    : cat(graphDef, objectGraph);
  return cat(fld(1, 0, 1), fld(2, 2, meta));
}
const userObject = (...fields: Buffer[]): Buffer => fld(4, 2, cat(...fields));
const kerasLayer = (json: string): Buffer =>
  userObject(
    fld(1, 2, '_tf_keras_layer'),
    fld(2, 2, fld(1, 0, 1)),
    fld(3, 2, json),
  );

describe('saved_model.pb object graph metadata (no keras_metadata.pb)', () => {
  it('reports a _tf_keras_layer user_object carrying a Lambda as critical', async () => {
    const bytes = savedModel([
      userObject(fld(1, 2, '_generic_user_object')),
      cat(
        fld(1, 2, cat(fld(1, 0, 0), fld(2, 2, 'layer'))),
        kerasLayer(LAMBDA_JSON),
      ),
    ]);
    const r = await scan(bytes, 'saved_model.pb');
    expect(r.formats).toContain('tf-savedmodel');
    expect(critical(r)).toEqual(LAMBDA_FINDINGS);
  });

  it('finds it in any field order (metadata first, object graph first)', async () => {
    const bytes = savedModel(
      [
        userObject(
          fld(3, 2, LAMBDA_JSON),
          fld(9, 0, 1),
          fld(1, 2, '_tf_keras_layer'),
        ),
      ],
      true,
    );
    const r = await scan(bytes, 'saved_model.pb');
    expect(r.formats).toContain('tf-savedmodel');
    expect(critical(r)).toEqual(LAMBDA_FINDINGS);
  });

  it('ignores the metadata of objects that are not tf.keras ones', async () => {
    const bytes = savedModel([
      userObject(fld(1, 2, '_generic_user_object'), fld(3, 2, LAMBDA_JSON)),
      userObject(fld(1, 2, '_tf_keras_layer')),
    ]);
    const r = await scan(bytes, 'saved_model.pb');
    expect(r.formats).toContain('tf-savedmodel');
    expect(r.findings).toEqual([]);
  });

  it('leaves a benign tf.keras layer clean', async () => {
    const dense = JSON.stringify({
      name: 'dense',
      class_name: 'Dense',
      config: { name: 'dense', units: 4, activation: 'relu' },
    });
    const r = await scan(savedModel([kerasLayer(dense)]), 'saved_model.pb');
    expect(r.findings).toEqual([]);
  });

  it('applies the JSON limits: a config over maxJsonDepth is high SCAN_INCOMPLETE', async () => {
    const deep = `${'['.repeat(40)}${']'.repeat(40)}`;
    const r = await scan(savedModel([kerasLayer(deep)]), 'saved_model.pb', {
      limits: { maxJsonDepth: 32 },
    });
    expect(
      r.findings.map((f) => [f.ruleId, f.severity, f.evidence?.limit]),
    ).toEqual([['SCAN_INCOMPLETE', 'high', 'maxJsonDepth']]);
  });

  it('leaves the benign SavedModel fixtures free of Keras findings', async () => {
    for (const name of ['benign-tf1-saver.pb', 'benign-tf2-checkpoint.pb']) {
      const bytes = readFileSync(
        join(REPO_ROOT, 'test-vectors', 'formats', 'savedmodel', name),
      );
      const r = await scan(bytes, 'saved_model.pb');
      expect(r.formats).toContain('tf-savedmodel');
      expect(r.findings.filter((f) => f.ruleId.startsWith('KERAS_'))).toEqual(
        [],
      );
      expect(critical(r)).toEqual([]);
    }
  });
});
