// SPDX-License-Identifier: Apache-2.0
// A minimal GGUF carrying one chat template, for the template-analysis tests.
import { u32, u64 } from '../../helpers/bytes.js';

const str = (s: string): Buffer =>
  Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);

/** A GGUF with no tensors whose only key is `tokenizer.chat_template`. */
export function ggufWithTemplate(template: string): Buffer {
  return Buffer.concat([
    Buffer.from('GGUF'),
    u32(3),
    u64(0),
    u64(1),
    str('tokenizer.chat_template'),
    u32(8),
    str(template),
  ]);
}
