// SPDX-License-Identifier: Apache-2.0
/**
 * The format scanners the engine consults, in order: the first whose
 * `detect` accepts the bytes scans them. Specific formats come before generic
 * ones (a PyTorch zip before a plain zip, a legacy torch file before a raw
 * pickle). Other format families append their scanners to this list.
 *
 * Each entry loads its scanner's module the first time it is consulted, so a
 * scan loads the scanners up to the one that accepts its files and no further
 * (a SafeTensors file: the SafeTensors scanner only; docs/performance.md,
 * "Start-up"). The order and the detections are the scanners' own.
 */
import { WRAPPER_KINDS } from './compression/kinds.js';
import type { ByteSource, FormatScanner, ScanContext } from './types.js';

/**
 * A scanner whose module is loaded when it is first consulted. A module that
 * cannot be loaded fails closed: `detect` accepts the file (it cannot tell
 * that the file is not of its format), and `scan` then throws, which the
 * engine reports as a high SCAN_INTERNAL_ERROR naming the scanner. The load
 * is tried again for the next file.
 */
export function lazyScanner(
  id: string,
  load: () => Promise<FormatScanner>,
): FormatScanner {
  let loading: Promise<FormatScanner> | undefined;
  const scanner = (): Promise<FormatScanner> =>
    (loading ??= load().then(
      (s) => {
        if (s.id !== id) throw new Error(`scanner ${id} loaded as ${s.id}`);
        return s;
      },
      (cause: unknown) => {
        // Tried again next time (a passing EMFILE must not claim every later
        // file), and without the cause's `code`: an `E…` code would read as
        // an I/O error of the model file being scanned.
        loading = undefined;
        throw new Error(`cannot load the ${id} scanner`, { cause });
      },
    ));
  // Sources this scanner could not look at (its module failed to load).
  const unseen = new WeakSet<ByteSource>();
  return {
    id,
    async detect(head: Buffer, source: ByteSource): Promise<boolean> {
      let s: FormatScanner;
      try {
        s = await scanner();
      } catch {
        unseen.add(source);
        return true;
      }
      return s.detect(head, source);
    },
    async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
      if (unseen.has(source))
        throw new Error(`the ${id} scanner could not be loaded`);
      return (await scanner()).scan(source, ctx);
    },
  };
}

/** One of the compression wrappers (one module for all of them). */
const compression = (id: string): FormatScanner =>
  lazyScanner(id, async () => {
    const m = await import('./compression/wrappers.js');
    const found = [
      ...m.COMPRESSION_SCANNERS,
      m.UNSUPPORTED_COMPRESSION_SCANNER,
    ].find((s) => s.id === id);
    if (found === undefined) throw new Error(`no compression scanner ${id}`);
    return found;
  });

/** Format scanners, consulted in order. */
export const SCANNERS: FormatScanner[] = [
  // Strict magic first: a SafeTensors header length can begin with bytes that
  // look like a pickle PROTO or a zlib header, and a TFLite root offset like a
  // zlib header; these three never claim another format's bytes.
  lazyScanner(
    'safetensors',
    async () => (await import('./safetensors/index.js')).SafetensorsScanner,
  ),
  lazyScanner(
    'gguf',
    async () => (await import('./gguf/index.js')).GgufScanner,
  ),
  lazyScanner(
    'tflite',
    async () => (await import('./tflite/index.js')).TfliteScanner,
  ),
  lazyScanner(
    'pytorch-zip',
    async () => (await import('./torch/zip-scanner.js')).TORCH_ZIP_SCANNER,
  ),
  lazyScanner(
    'numpy-npz',
    async () => (await import('./numpy/npy.js')).NPZ_SCANNER,
  ),
  lazyScanner(
    'numpy-npy',
    async () => (await import('./numpy/npy.js')).NPY_SCANNER,
  ),
  lazyScanner(
    'pytorch-legacy',
    async () => (await import('./torch/legacy.js')).TORCH_LEGACY_SCANNER,
  ),
  lazyScanner(
    'pickle',
    async () => (await import('./pickle/scanner.js')).PICKLE_SCANNER,
  ),
  lazyScanner(
    'pytorch-legacy-tar',
    async () => (await import('./torch/legacy.js')).TORCH_LEGACY_TAR_SCANNER,
  ),
  ...[...WRAPPER_KINDS, 'compression-unsupported'].map(compression),
  lazyScanner(
    'onnx',
    async () => (await import('./onnx/index.js')).OnnxScanner,
  ),
  lazyScanner(
    'tf-savedmodel',
    async () => (await import('./savedmodel/index.js')).SavedModelScanner,
  ),
  lazyScanner(
    'keras-metadata',
    async () => (await import('./keras/index.js')).KerasMetadataScanner,
  ),
  lazyScanner(
    'keras-h5',
    async () => (await import('./keras/index.js')).KerasH5Scanner,
  ),
  // Zip-based and generic archives after the PyTorch and NumPy zips and the
  // torch legacy tar above.
  lazyScanner(
    'skops',
    async () => (await import('./skops/index.js')).SkopsScanner,
  ),
  lazyScanner(
    'keras',
    async () => (await import('./keras/index.js')).KerasScanner,
  ),
  lazyScanner(
    'zip',
    async () => (await import('./archive/index.js')).ZipArchiveScanner,
  ),
  lazyScanner(
    'tar',
    async () => (await import('./archive/index.js')).TarArchiveScanner,
  ),
  // JSON configs with an `auto_map` (transformers' remote code), before the
  // YAML reader: JSON is YAML too.
  lazyScanner(
    'hf-remote-code',
    async () => (await import('./hf/index.js')).HfRemoteCodeScanner,
  ),
  // Text only (YAML with Hydra `_target_` keys); it also scans the bytes as a
  // protocol 0 pickle when they read as one.
  lazyScanner(
    'nemo-config',
    async () => (await import('./nemo/index.js')).NemoConfigScanner,
  ),
];

/**
 * Scanners with weak detection (protocol 0/1 pickles have no magic bytes),
 * consulted only when nothing in {@link SCANNERS} accepted the bytes.
 */
export const FALLBACK_SCANNERS: FormatScanner[] = [
  lazyScanner(
    'keras-h5-userblock',
    async () => (await import('./keras/index.js')).KerasH5UserBlockScanner,
  ),
  lazyScanner(
    'pickle-text',
    async () => (await import('./pickle/scanner.js')).TEXT_PICKLE_SCANNER,
  ),
];
