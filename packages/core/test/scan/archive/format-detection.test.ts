// SPDX-License-Identifier: Apache-2.0
// Content detection: each fixture and each benign real model is claimed by its
// own scanner and by no other (the archive scanners excepted where a format is
// built on zip), so routing never depends on file extensions.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bufferSource } from '../../../src/scan/archive/index.js';
import {
  benignModelPath,
  BENIGN_ONNX,
  BENIGN_TFLITE,
} from '../onnx/benign-models.js';
import { FORMAT_SCANNERS } from './format-scanners.js';
import { loadFixtureCases } from './format-harness.js';

async function claimants(bytes: Buffer): Promise<string[]> {
  const source = bufferSource(bytes);
  const head = bytes.subarray(0, 4096);
  const ids: string[] = [];
  for (const scanner of FORMAT_SCANNERS)
    if (await scanner.detect(head, source)) ids.push(scanner.id);
  return ids;
}

const expected: Record<string, string[]> = {
  onnx: ['onnx'],
  safetensors: ['safetensors'],
  gguf: ['gguf'],
  savedmodel: ['tf-savedmodel'],
  tflite: ['tflite'],
};

describe('content detection', () => {
  it.each(Object.keys(expected))(
    'claims every %s fixture with exactly one scanner',
    async (format) => {
      for (const c of await loadFixtureCases(format)) {
        // A format's fixture wrapped in a zip (`<format>/zip-*.zip`) is the zip's.
        const want = /\/zip-[^/]*\.zip$/.test(c.path)
          ? ['zip']
          : expected[format];
        expect([c.path, await claimants(c.bytes)]).toEqual([c.path, want]);
      }
    },
  );

  it('claims .keras zips as keras (and zip), .h5 as keras-h5, keras_metadata.pb as keras-metadata', async () => {
    for (const c of await loadFixtureCases('keras')) {
      const want = c.path.endsWith('.h5')
        ? ['keras-h5']
        : c.path.endsWith('.pb')
          ? ['keras-metadata']
          : ['keras', 'zip'];
      expect([c.path, await claimants(c.bytes)]).toEqual([c.path, want]);
    }
  });

  it('routes real benign models by content alone', async () => {
    for (const [pkg, file] of BENIGN_ONNX)
      expect(await claimants(readFileSync(benignModelPath(pkg, file)))).toEqual(
        ['onnx'],
      );
    for (const [pkg, file] of BENIGN_TFLITE)
      expect(await claimants(readFileSync(benignModelPath(pkg, file)))).toEqual(
        ['tflite'],
      );
  });

  it('claims nothing for empty input, text and json', async () => {
    for (const bytes of [
      Buffer.alloc(0),
      Buffer.from('hello world\n'),
      Buffer.from('{"a": 1}'),
    ])
      expect(await claimants(bytes)).toEqual([]);
  });
});
