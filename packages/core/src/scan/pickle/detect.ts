// SPDX-License-Identifier: Apache-2.0
/**
 * Whether bytes are a pickle to a loader, in a module of its own: it loads
 * the VM alone (about 3 ms), not the scanner and its policy (about 17), so
 * that the engine can ask it of every file another scanner claimed
 * (a second reading) at little cost.
 */
import type { ByteSource } from '../types.js';
import { bufferSource, sliceSource } from '../source.js';
import {
  analysePickleSource,
  PICKLE_INCOMPLETE_RULE,
  pickleOpcodeName,
  protoHeader,
  type PickleAnalysis,
} from './vm.js';

/**
 * True when `head` starts like a binary pickle: `PROTO 0..5` (any protocol
 * a loader accepts, not only the 2..5 that `pickle.dumps` writes) then an
 * opcode.
 */
export function detectBinaryPickle(head: Buffer): boolean {
  return (
    head.length >= 3 &&
    protoHeader(head[0], head[1]) &&
    pickleOpcodeName(head[2]!) !== undefined
  );
}

/**
 * Anomalies at which CPython's unpickler stops (an invalid opcode or
 * literal, a stack or mark underflow, a memo key never written; an
 * extension code, whose registry is empty unless a library fills it; an
 * out-of-band buffer, which `pickle.load`, `torch.load` and `numpy.load`
 * never pass): a detector run that met one has seen all the loader would
 * run. Not a PROTO after the first opcode or an opcode across a frame's
 * end: the C unpickler reads on past both.
 */
const LOADER_STOPS: ReadonlySet<string> = new Set([
  'PICKLE_MALFORMED',
  'PICKLE_MEMO_MISSING',
  'PICKLE_EXTENSION_CODE',
  'PICKLE_OUT_OF_BAND_BUFFER',
]);

/** Bytes of a source the protocol 0/1 detector may run over when the head ends inside an operand. */
const TEXT_DETECT_BYTES = 64 * 1024 * 1024;

/**
 * Detects a protocol 0/1 pickle by running the VM over the head: it must
 * execute several opcodes, including a global or a structure, without error.
 * When the head ends inside an operand (a text line or a string longer than
 * the head), the VM runs on over the source (up to 64 MiB, long operands
 * skipped): four valid opcodes that reach past the head are a pickle.
 */
export function detectTextPickle(
  head: Buffer,
  source?: ByteSource,
): Promise<boolean> {
  if (head[0] === 0x80) return Promise.resolve(false);
  return readsAsPickle(head, source);
}

/**
 * Whether bytes another format's scanner claimed also read as a pickle to
 * a loader that is handed them (`pickle.load`, `torch.load`'s legacy path,
 * `numpy.load` and `joblib.load` without their magic): a SafeTensors header
 * length whose first byte is `V` (a UNICODE line over the header), a tar
 * header inside such a line, a PROTO header. The test of
 * {@link detectTextPickle}, a PROTO start included: the VM must run sound
 * over several opcodes to a STOP or a global, or import and call before it
 * breaks, or reach a reading limit while sound (fail closed).
 */
export function detectPickleReading(
  head: Buffer,
  source?: ByteSource,
): Promise<boolean> {
  return readsAsPickle(head, source);
}

async function readsAsPickle(
  head: Buffer,
  source?: ByteSource,
): Promise<boolean> {
  if (head.length < 2 || pickleOpcodeName(head[0]!) === undefined) return false;
  const run = (src: ByteSource): Promise<PickleAnalysis> =>
    analysePickleSource(src, {
      streamLimit: 1,
      resync: false,
      limits: { maxOpcodes: 4096 },
    });
  // Running out of head, of bytes or of the opcode budget is not an error.
  // Sound: nothing the loader stops at ({@link LOADER_STOPS}). A PROTO at
  // byte 2 and the call after the head passed as "not a pickle" when every
  // anomaly counted as a stop (stop 29 review).
  const sound = (a: PickleAnalysis): boolean =>
    !a.anomalies.some((x) => LOADER_STOPS.has(x.ruleId));
  // A text pickle that imports and calls before it breaks has already run
  // the call when the loader fails (nullifAI): it is a pickle all the same.
  const calls = (a: PickleAnalysis): boolean =>
    a.imports.length > 0 && a.calls.length > 0;
  // A reading limit reached on a sound run (the opcode budget, or a line
  // or operand past the VM's limits): a loader reads on where the detector
  // stopped, so the file is a pickle to the scan, which then reports what it
  // could not read (fail closed). Padding of 4096 opcodes before the call,
  // or a 16 MiB string first, passed unclaimed before (stop 21 red team).
  const limited = (a: PickleAnalysis): boolean =>
    a.anomalies.some((x) => x.ruleId === PICKLE_INCOMPLETE_RULE);
  const a = await run(bufferSource(head));
  if (!sound(a)) return calls(a);
  if (a.results.length > 0) return a.opcodes >= 2;
  if (a.opcodes >= 4 && (a.imports.length > 0 || a.calls.length > 0))
    return true;
  if (limited(a)) return true;
  const truncated = a.anomalies.some((x) => x.ruleId === 'PICKLE_TRUNCATED');
  if (!truncated || source === undefined || source.size <= head.length)
    return false;
  const b = await run(
    sliceSource(source, 0, Math.min(source.size, TEXT_DETECT_BYTES)),
  );
  if (!sound(b)) return calls(b);
  return (b.opcodes >= 4 && b.end > head.length) || limited(b);
}
