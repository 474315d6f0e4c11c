// SPDX-License-Identifier: Apache-2.0
// Models larger than the in-memory limit are rebuilt without their tensor
// payloads and scanned; only when the rest is still too large are they
// reported as not scanned.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, scanBytes } from '../archive/format-harness.js';

type Gen = {
  onnxModel(o: { graph: Buffer }): Buffer;
  onnxGraph(o: { nodes?: Buffer[]; initializers?: Buffer[] }): Buffer;
  onnxTensor(o: {
    name?: string;
    dims: number[];
    raw?: Buffer;
    external?: Record<string, string>;
  }): Buffer;
  onnxNodeForTests(opType: string, domain: string): Buffer;
};
const gen = (await import(
  join(REPO_ROOT, 'scripts/fixtures/gen-format-fixtures.mjs')
)) as Gen;
const MiB = 1024 * 1024;
const limits = { maxMemberBytes: MiB };

describe('onnx models above the in-memory limit', () => {
  it('scans the graph of a model whose weights exceed the limit', async () => {
    const big = gen.onnxTensor({
      name: 'w',
      dims: [MiB],
      raw: Buffer.alloc(4 * MiB),
    });
    const bytes = gen.onnxModel({
      graph: gen.onnxGraph({
        nodes: [gen.onnxNodeForTests('Backdoor', 'evil.ops')],
        initializers: [big],
      }),
    });
    const result = await scanBytes(bytes, { limits });
    expect(result.ruleIds).toEqual(['ONNX_CUSTOM_DOMAIN']);
    expect(result.findings[0]!.offset).toBeUndefined();
  });

  it('still checks sizes and external data in the rebuilt model', async () => {
    const lying = gen.onnxTensor({
      name: 'w',
      dims: [2 * MiB],
      raw: Buffer.alloc(4 * MiB),
    });
    const escaping = gen.onnxTensor({
      name: 'e',
      dims: [4],
      external: { location: '/etc/passwd' },
    });
    const bytes = gen.onnxModel({
      graph: gen.onnxGraph({ initializers: [lying, escaping] }),
    });
    expect((await scanBytes(bytes, { limits })).ruleIds).toEqual([
      'ONNX_EXTERNAL_DATA_ESCAPE',
      'ONNX_TENSOR_SIZE_MISMATCH',
    ]);
  });

  it('rebuilds a graph of 200,000 small nodes (more parts than spread arguments allow)', async () => {
    const node = gen.onnxNodeForTests('Relu', '');
    const big = gen.onnxTensor({
      name: 'w',
      dims: [2 * MiB],
      raw: Buffer.alloc(8 * MiB),
    });
    const bytes = gen.onnxModel({
      graph: gen.onnxGraph({
        nodes: new Array<Buffer>(200_000).fill(node),
        initializers: [big],
      }),
    });
    const result = await scanBytes(bytes, {
      limits: { maxMemberBytes: 8 * MiB },
    });
    expect(result.ruleIds).toEqual([]);
  });

  it('reports a model whose non-weight part is still too large', async () => {
    const hugeNames = Array.from({ length: 3 }, () =>
      gen.onnxNodeForTests('X'.repeat(MiB / 2), ''),
    );
    const bytes = gen.onnxModel({ graph: gen.onnxGraph({ nodes: hugeNames }) });
    const { findings } = await scanBytes(bytes, { limits });
    expect(
      findings.map((f) => [f.ruleId, f.severity, f.evidence?.limit]),
    ).toEqual([['SCAN_INCOMPLETE', 'high', 'maxMemberBytes']]);
  });
});
