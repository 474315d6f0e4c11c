// SPDX-License-Identifier: Apache-2.0
// `modelseal scan` over a mixed directory: one report (JSON and SARIF) covers
// every format, through the engine and the shared scanner registry.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanPaths } from '../../../src/scan/engine.js';
import { toSarif } from '../../../src/scan/sarif.js';
import { FORMAT_VECTORS } from './format-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'modelseal-mixed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Names without telling extensions: routing is by content.
const FILES: Record<string, string> = {
  'a/model-1': 'onnx/custom-domain-main.onnx',
  'a/model-2': 'safetensors/trailing-pickle-polyglot.safetensors',
  'b/model-3': 'gguf/template-injection-globals.gguf',
  'b/model-4': 'keras/lambda-keras3.keras',
  'c/model-5': 'keras/lambda-legacy.h5',
  'c/saved_model.pb': 'savedmodel/py-func.pb',
  'd/model-7': 'tflite/flex-read-file.tflite',
  'd/model-8': 'archive/tar-symlink-chain.tar',
  'e/model-9': 'archive/zip-path-traversal.zip',
  'e/model-10': 'archive/tgz-nested-malicious.tar.gz',
  'f/clean-1': 'onnx/benign-standard.onnx',
  'f/clean-2': 'safetensors/benign-two-tensors.safetensors',
  'f/clean-3': 'gguf/benign-llama3-tools.gguf',
  'f/clean-4': 'keras/benign-sequential.keras',
  'f/clean-5': 'savedmodel/benign-tf2-checkpoint.pb',
  'f/clean-6': 'tflite/benign-builtin.tflite',
  'f/clean-7': 'archive/benign-model.zip',
};
for (const [name, fixture] of Object.entries(FILES)) {
  mkdirSync(join(dir, name, '..'), { recursive: true });
  cpSync(join(FORMAT_VECTORS, fixture), join(dir, name));
}

describe('mixed directory scan', () => {
  it('reports every format in one report', async () => {
    const report = await scanPaths([dir], { root: dir });
    const byFile = new Map(report.files.map((f) => [f.file, f]));
    const expect1 = (
      file: string,
      format: string,
      rule: string | undefined,
    ): void => {
      const result = byFile.get(file);
      expect(result, file).toBeDefined();
      expect(result!.formats[0], file).toBe(format);
      const serious = result!.findings
        .filter((f) => ['critical', 'high', 'medium'].includes(f.severity))
        .map((f) => f.ruleId);
      if (rule === undefined) expect(serious, file).toEqual([]);
      else expect(serious, file).toContain(rule);
    };
    expect1('a/model-1', 'onnx', 'ONNX_CUSTOM_DOMAIN');
    expect1('a/model-2', 'safetensors', 'SAFETENSORS_TRAILING_DATA');
    expect1('b/model-3', 'gguf', 'GGUF_TEMPLATE_INJECTION');
    expect1('b/model-4', 'keras', 'KERAS_LAMBDA');
    expect1('c/model-5', 'hdf5', 'KERAS_LAMBDA');
    expect1('c/saved_model.pb', 'tf-savedmodel', 'TF_PYTHON_OP');
    expect1('d/model-7', 'tflite', 'TFLITE_FLEX_OP');
    expect1('d/model-8', 'tar', 'ARCHIVE_SYMLINK_ESCAPE');
    expect1('e/model-9', 'zip', 'ARCHIVE_PATH_TRAVERSAL');
    expect1('e/model-10', 'gzip', 'ONNX_CUSTOM_DOMAIN');
    for (const clean of [
      'f/clean-1',
      'f/clean-2',
      'f/clean-3',
      'f/clean-4',
      'f/clean-5',
      'f/clean-6',
      'f/clean-7',
    ]) {
      expect1(clean, byFile.get(clean)!.formats[0]!, undefined);
    }
    expect(report.summary.highest).toBe('critical');
    const ids = new Set(report.rules.map((r) => r.id));
    for (const id of [
      'ONNX_CUSTOM_DOMAIN',
      'GGUF_TEMPLATE_INJECTION',
      'KERAS_LAMBDA',
      'TF_PYTHON_OP',
      'ARCHIVE_SYMLINK_ESCAPE',
    ])
      expect(ids).toContain(id);

    const sarif = toSarif(report) as unknown as {
      runs: {
        tool: { driver: { rules: { id: string }[] } };
        results: { ruleId: string }[];
      }[];
    };
    const ruleIds = sarif.runs[0]!.tool.driver.rules.map((r) => r.id);
    for (const id of [
      'ONNX_CUSTOM_DOMAIN',
      'SAFETENSORS_TRAILING_DATA',
      'GGUF_TEMPLATE_INJECTION',
      'KERAS_LAMBDA',
      'TF_PYTHON_OP',
      'TFLITE_FLEX_OP',
      'ARCHIVE_PATH_TRAVERSAL',
    ]) {
      expect(ruleIds).toContain(id);
      expect(sarif.runs[0]!.results.some((r) => r.ruleId === id)).toBe(true);
    }
  });
});
