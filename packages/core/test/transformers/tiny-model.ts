// SPDX-License-Identifier: Apache-2.0
// A tiny real model for transformers.js, built here: a feature-extraction ONNX
// graph (last_hidden_state = embedding[input_ids] * attention_mask) written
// with onnx-proto, a BERT config, and a hand-written WordLevel tokenizer.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

interface OnnxProto {
  onnx: {
    ModelProto: {
      fromObject(o: unknown): unknown;
      encode(m: unknown): { finish(): Uint8Array };
    };
  };
}
const { onnx } = createRequire(import.meta.url)('onnx-proto') as OnnxProto;

const FLOAT = 1;
const INT64 = 7;

/** Words of the vocabulary, in id order (0 and 1 are [UNK] and [PAD]). */
export const VOCAB = ['[UNK]', '[PAD]', 'hello', 'world', 'signed', 'model'];
export const HIDDEN = 4;

/** Row `id` of the embedding table: distinct, exactly representable values. */
export function embeddingRow(id: number): number[] {
  return Array.from({ length: HIDDEN }, (_, j) => id * 10 + j + 0.5);
}

function valueInfo(name: string, elemType: number, dims: string[]): unknown {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => ({ dimParam: d })) },
      },
    },
  };
}

/** The ONNX model bytes. */
export function tinyOnnx(): Buffer {
  const table = VOCAB.flatMap((_, id) => embeddingRow(id));
  const model = onnx.ModelProto.fromObject({
    irVersion: 8,
    producerName: 'modelseal-test',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny-embedder',
      initializer: [
        {
          name: 'embedding',
          dataType: FLOAT,
          dims: [VOCAB.length, HIDDEN],
          floatData: table,
        },
        { name: 'axes', dataType: INT64, dims: [1], int64Data: [-1] },
      ],
      input: [
        valueInfo('input_ids', INT64, ['batch', 'sequence']),
        valueInfo('attention_mask', INT64, ['batch', 'sequence']),
      ],
      output: [
        valueInfo('last_hidden_state', FLOAT, ['batch', 'sequence', 'hidden']),
      ],
      node: [
        {
          opType: 'Gather',
          input: ['embedding', 'input_ids'],
          output: ['gathered'],
        },
        {
          opType: 'Cast',
          input: ['attention_mask'],
          output: ['mask_f'],
          attribute: [{ name: 'to', type: 2, i: FLOAT }],
        },
        {
          opType: 'Unsqueeze',
          input: ['mask_f', 'axes'],
          output: ['mask_3d'],
        },
        {
          opType: 'Mul',
          input: ['gathered', 'mask_3d'],
          output: ['last_hidden_state'],
        },
      ],
    },
  });
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

/** Writes the model folder transformers.js expects; returns its path. */
export function writeTinyModel(dir: string): string {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  writeFileSync(join(dir, 'onnx', 'model.onnx'), tinyOnnx());
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'bert',
      architectures: ['BertModel'],
      hidden_size: HIDDEN,
      vocab_size: VOCAB.length,
    }),
  );
  writeFileSync(
    join(dir, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: VOCAB.slice(0, 2).map((content, id) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: { type: 'Lowercase' },
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: {
        type: 'WordLevel',
        vocab: Object.fromEntries(VOCAB.map((w, id) => [w, id])),
        unk_token: '[UNK]',
      },
    }),
  );
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      tokenizer_class: 'PreTrainedTokenizer',
      model_max_length: 64,
      unk_token: '[UNK]',
      pad_token: '[PAD]',
    }),
  );
  return dir;
}
