// SPDX-License-Identifier: Apache-2.0
/**
 * The rule registry: one {@link RuleInfo} for every rule id a scanner can
 * report, for documentation (`docs/scanner-rules.md`) and SARIF rule metadata.
 * Each format family appends its rules to {@link SCAN_RULES}.
 */
import type { RuleInfo, Severity } from './types.js';
import { ARCHIVE_RULES } from './archive/rules.js';
import { GGUF_RULES } from './gguf/rules.js';
import { KERAS_RULES } from './keras/rules.js';
import { ONNX_RULES } from './onnx/rules.js';
import { SAFETENSORS_RULES } from './safetensors/rules.js';
import { TF_RULES } from './savedmodel/rules.js';
import { TFLITE_RULES } from './tflite/rules.js';
import { NEMO_RULES } from './nemo/rules.js';
import { HF_RULES } from './hf/rules.js';
import { SKOPS_RULES } from './skops/rules.js';

function rule(
  id: string,
  severity: Severity,
  title: string,
  description: string,
  remediation: string,
): RuleInfo {
  return { id, severity, title, description, remediation };
}

const DO_NOT_LOAD =
  'Do not load the file; obtain the model from a trusted source or convert it to a format without code execution (SafeTensors).';

/** Rules of the pickle family: raw pickle, PyTorch, NumPy, joblib, zip and compression wrappers. */
export const PICKLE_FAMILY_RULES: readonly RuleInfo[] = Object.freeze([
  rule(
    'PICKLE_DANGEROUS_GLOBAL',
    'critical',
    'dangerous global in pickle',
    'The pickle imports a global on the deny list (code execution, processes, files, network, import machinery, eval/exec/getattr), after Python 2 aliases and module aliases were resolved. Loading the file can run arbitrary code.',
    DO_NOT_LOAD,
  ),
  rule(
    'PICKLE_DUNDER_ACCESS',
    'critical',
    'dunder attribute path in pickle global',
    'A global is resolved through a dunder attribute (`__builtins__`, `__globals__`, `__dict__`, `__class__`, `__subclasses__`, ...), which reaches interpreter internals from any object.',
    DO_NOT_LOAD,
  ),
  rule(
    'PICKLE_GETATTR_CHAIN',
    'critical',
    'getattr chain in pickle',
    'The pickle calls `getattr` on a module or class, with a computed name, or with a dunder name: a way to reach a dangerous function that no import names.',
    DO_NOT_LOAD,
  ),
  rule(
    'PICKLE_LOADER_TRAMPOLINE',
    'critical',
    'nested loader call in pickle',
    'The pickle calls a loader (`pickle.loads`, `torch.load`, `numpy.load`, `marshal.loads`, ...). Constant payloads are scanned as nested artifacts and the call is medium (info for `torch.storage._load_from_bytes`, which `pickle.dumps(tensor)` produces); a payload computed at load time cannot be scanned and is critical.',
    'Inspect the nested findings; do not load the file unless every nested payload is clean and expected.',
  ),
  rule(
    'PICKLE_MUTATED_READBACK',
    'critical',
    'global read back after mutation',
    'A `BUILD` planted attributes on a module, class or function and a later global is resolved through that object: the pickle redirects a name to attacker-chosen state.',
    DO_NOT_LOAD,
  ),
  rule(
    'PICKLE_TENSOR_WRITE',
    'critical',
    'write into a tensor or storage',
    '`SETITEM`, `SETITEMS`, `APPEND`, `APPENDS` or `BUILD` applied to a tensor or storage object: the write primitive of CVE-2026-24747 (out-of-bounds heap write in torch < 2.10 under `weights_only`).',
    'Do not load the file; upgrade torch to 2.10 or later.',
  ),
  rule(
    'PICKLE_UNSAFE_CALL',
    'high',
    'call of a global outside the allow list',
    'The pickle calls (`REDUCE`, `INST`, `OBJ`) a global that is on no active allow profile. Loading runs that function with attacker-chosen arguments.',
    'If the global is expected (a class of your own project), add it to the allow list of a policy file (docs/scan-policy.md); otherwise do not load the file.',
  ),
  rule(
    'PICKLE_DYNAMIC_CALL',
    'high',
    'call of a computed callable',
    'The pickle calls something that is not a plain global: the result of another call, a persistent object, an extension code or a value read back from the memo.',
    DO_NOT_LOAD,
  ),
  rule(
    'PICKLE_GLOBAL_MUTATION',
    'high',
    'BUILD on a module, class or function',
    '`BUILD` sets attributes on a global object (not on an instance): it changes the behaviour of code that runs later in the process.',
    DO_NOT_LOAD,
  ),
  rule(
    'PICKLE_EXTENSION_CODE',
    'high',
    'copyreg extension code',
    '`EXT1`/`EXT2`/`EXT4` import a global through the copyreg extension registry, which the scanner cannot see; the registry is empty by default, so the opcode is unexpected in model files.',
    DO_NOT_LOAD,
  ),
  rule(
    'PICKLE_MEMO_MISSING',
    'high',
    'memo read before write',
    'A `GET` reads a memo key that was never written. The loader fails here, but scanners that track the memo wrongly are desynchronised by this pattern (picklescan#14, modelscan#85); everything executed before it already ran.',
    DO_NOT_LOAD,
  ),
  rule(
    'PICKLE_FRAME_VIOLATION',
    'high',
    'pickle frame violation',
    'An opcode straddles the end of a `FRAME`, a frame starts inside another, or a frame runs past the data. The C and Python unpicklers disagree on such streams (a parser differential).',
    DO_NOT_LOAD,
  ),
  rule(
    'PICKLE_UNKNOWN_CLASS',
    'medium',
    'instantiated class outside the allow list',
    'A class outside the active allow profiles is instantiated without a constructor call (`NEWOBJ`, `copyreg._reconstructor`) and receives state. Its `__setstate__` or `__reduce__` may still run code.',
    'Check the class; if it is expected, allow it in a policy file.',
  ),
  rule(
    'PICKLE_STAGING_CALL',
    'medium',
    'decoding helper called in pickle',
    'A decoding helper (`base64.b64decode`, `codecs.decode`, `zlib.decompress`, ...) is called: typical staging of a hidden payload.',
    'Inspect what the decoded value feeds; do not load the file if it reaches a loader.',
  ),
  rule(
    'PICKLE_PROTO_MISPLACED',
    'medium',
    'PROTO opcode not at the start',
    'A `PROTO` opcode appears after the first opcode of a stream: no pickler writes this.',
    DO_NOT_LOAD,
  ),
  rule(
    'PICKLE_MALFORMED',
    'medium',
    'malformed pickle stream',
    'The stream is invalid (unknown opcode, stack underflow, missing mark, bad literal). The loader fails at this point, but everything before it already executed; scanning resumes at the next stream.',
    'Do not load the file; a damaged or crafted pickle has no legitimate use.',
  ),
  rule(
    'PICKLE_TRUNCATED',
    'medium',
    'truncated pickle stream',
    'The data ends inside an opcode, before `STOP`, or inline array data runs past the end of the file.',
    'Re-download the file; a truncated model cannot load.',
  ),
  rule(
    'PICKLE_LIMIT_EXCEEDED',
    'medium',
    'pickle scan limit exceeded',
    'The stream exceeds an opcode, stack, memo or operand limit; the rest of it was not analysed.',
    'Treat the file as unscanned.',
  ),
  rule(
    'PICKLE_TRAILING_DATA',
    'low',
    'bytes outside pickle streams',
    'Bytes between or after pickle streams that are not a pickle; they were skipped (bounded resynchronisation).',
    'Usually harmless; check the file if you do not expect appended data.',
  ),
  rule(
    'PICKLE_OUT_OF_BAND_BUFFER',
    'low',
    'out-of-band pickle buffer',
    'The stream refers to protocol-5 out-of-band buffers (`NEXT_BUFFER`) that a model file cannot supply.',
    'Check the file.',
  ),
  rule(
    'PICKLE_UNKNOWN_GLOBAL',
    'info',
    'global referenced but not called',
    'A global outside the allow list is only referenced (not called, not instantiated).',
    'None needed; allow it in a policy file to silence.',
  ),
  rule(
    'PICKLE_NESTED_PAYLOAD',
    'info',
    'nested pickle payload',
    'A byte or string constant is itself a pickle (raw, zlib or base64); it was scanned, and its findings carry its nesting path.',
    'Inspect the nested findings.',
  ),
  rule(
    'TORCH_STORAGE_OOB',
    'critical',
    'storage larger than its record',
    'A persistent id declares `numel × element size` beyond the bytes of its `data/<key>` record: the out-of-bounds read of CVE-2026-24747.',
    'Do not load the file; upgrade torch to 2.10 or later.',
  ),
  rule(
    'TORCH_TENSOR_OOB',
    'critical',
    'tensor view outside its storage',
    '`_rebuild_tensor_v2` declares an offset, size and stride that reach beyond the storage, or negative offsets or strides.',
    'Do not load the file; upgrade torch to 2.10 or later.',
  ),
  rule(
    'TORCH_MISSING_STORAGE',
    'high',
    'storage record missing',
    'A persistent id names a storage key with no `data/<key>` record in the archive.',
    'Re-create the checkpoint; it cannot load.',
  ),
  rule(
    'TORCH_UNKNOWN_STORAGE_TYPE',
    'medium',
    'unknown storage type',
    'A persistent id names a storage type that torch does not define.',
    'Check the file.',
  ),
  rule(
    'TORCH_TORCHSCRIPT',
    'high',
    'TorchScript archive',
    'The archive is TorchScript (`constants.pkl`, `code/`): torch ≤ 2.5.1 loaded such files through `torch.jit.load` even with `weights_only=True` (CVE-2025-32434), and TorchScript code runs when the model runs.',
    'Load with torch ≥ 2.6 and only from trusted sources; prefer SafeTensors for weights.',
  ),
  rule(
    'TORCH_LEGACY_FORMAT',
    'info',
    'legacy PyTorch format',
    'A pre-1.6 PyTorch file (stacked pickles or tar); all its pickles were scanned.',
    'Re-save with a current torch or convert to SafeTensors.',
  ),
  rule(
    'TORCH_NO_DATA_PKL',
    'medium',
    'PyTorch archive without data.pkl',
    'A zip with torch markers (`version`, `byteorder`, `data/`) but no `data.pkl`: not loadable, or a decoy.',
    'Check the file.',
  ),
  rule(
    'NUMPY_OBJECT_ARRAY',
    'info',
    'NumPy object array',
    'The `.npy` body is a pickle (object dtype); `np.load` unpickles it with `allow_pickle=True`. The pickle was scanned; this finding alone is not a threat.',
    'Avoid `allow_pickle=True` unless the pickle findings are clean.',
  ),
  rule(
    'NUMPY_HEADER_MALFORMED',
    'high',
    'malformed NumPy header',
    'The `.npy` header is not a valid dict literal with `descr`, `fortran_order` and `shape`.',
    'Re-create the file.',
  ),
  rule(
    'NUMPY_SIZE_MISMATCH',
    'high',
    'NumPy data size mismatch',
    '`prod(shape) × itemsize` differs from the bytes present after the header.',
    'Re-create the file; extra bytes can smuggle a second payload.',
  ),
  rule(
    'ZIP_DUPLICATE_ENTRY',
    'high',
    'duplicate zip entry name',
    'Two central-directory entries share a name. Loaders disagree on which one they read (Python: last; miniz: either); every copy was scanned.',
    DO_NOT_LOAD,
  ),
  rule(
    'ZIP_OVERLAPPING_ENTRIES',
    'high',
    'overlapping zip entries',
    'Several entries point at overlapping bytes (zip bomb or smuggling).',
    DO_NOT_LOAD,
  ),
  rule(
    'ZIP_NAME_MISMATCH',
    'medium',
    'local and central zip names differ',
    'The local header name differs from the central directory name (CVE-2025-1944): torch reads the central name, streaming readers the local one.',
    DO_NOT_LOAD,
  ),
  rule(
    'ZIP_SUSPICIOUS_FLAGS',
    'medium',
    'unusual zip flag bits',
    'Flag bits 0x1 (encryption), 0x20 (patched data) or 0x40 (strong encryption) are set (CVE-2025-1945); torch 2.11 refuses such members and strict readers fail.',
    DO_NOT_LOAD,
  ),
  rule(
    'ZIP_ENTRY_OUT_OF_BOUNDS',
    'medium',
    'zip entry outside the file',
    'A local header or entry data lies outside the file.',
    'Re-create the archive.',
  ),
  rule(
    'ZIP_UNSUPPORTED_METHOD',
    'medium',
    'zip entry not scannable',
    "An entry uses a compression method other than stored or DEFLATE and was not scanned: high for bzip2, LZMA and zstd (methods 12, 14, 93), which Python's zipfile decodes, medium for the others.",
    'Treat the entry as unscanned.',
  ),
  rule(
    'ZIP_INFLATE_ERROR',
    'high',
    'zip entry does not decompress',
    "An entry fails to inflate or inflates to a size other than declared: Python's zipfile refuses it, another reader (PyTorch's miniz) may read it otherwise, and an entry that does not inflate is not scanned.",
    'Re-create the archive.',
  ),
  rule(
    'ZIP_CRC_MISMATCH',
    'low',
    'zip CRC mismatch',
    'An entry CRC-32 differs from its data (CVE-2025-10156); torch ignores CRCs, Python fails.',
    'Re-create the archive.',
  ),
  rule(
    'ZIP_AMBIGUOUS',
    'high',
    'zip reads differently in other readers',
    "The archive's records admit another reading that a loader takes: an end record past the one whose comment fits (miniz and Python's zipfile take the last), bytes before the archive by which zipfile shifts every offset, offsets recorded past the records (zipfile shifts them back, miniz refuses), a central directory longer than its entry count (zipfile reads by size), a ZIP64 end record other than the one the locator names, a locator that names a record other than the one just before it (Python 3.11 reads that one, or the plain end record when there is none), or an entry with more than one ZIP64 extra field (the first one's values stand for miniz and zipfile). A loader may load members the scan did not list: the scan is incomplete.",
    'Do not load the file; re-create the archive with a standard tool.',
  ),
  rule(
    'ARCHIVE_TAR_POLYGLOT',
    'medium',
    'file is also a tar archive',
    "The file was read as another format (a pickle, say), but its first block is also a tar header that Python's tarfile and torch's legacy loader accept: a tar whose first member's name is a pickle. It is scanned as the tar as well, and the archive's findings are reported under the member `<tar archive>`.",
    'Find out why the file carries a second format; re-create it with the tool that wrote the model.',
  ),
  rule(
    'JOBLIB_COMPANION_FILE',
    'high',
    'joblib unpickles another file',
    "The pickle BUILDs joblib 0.9's `NDArrayWrapper`, and `joblib.load` (current versions too) replaces it with `numpy.load(os.path.join(folder, filename), allow_pickle=True)`, which unpickles a file that is neither `.npy` nor `.npz`. High when the name leaves the model's folder (absolute, `..`, a link out) and the file was not scanned; a companion in the same folder is scanned with the pickle (member `<companion NAME>`, info), a missing one is low (joblib fails before it unpickles anything), and one whose name the scanner cannot read is a high `SCAN_INCOMPLETE` (limit `joblib-companion`).",
    'Do not load the file; re-save the model with a current joblib, which writes arrays inline.',
  ),
  rule(
    'PICKLE_POLYGLOT',
    'medium',
    'file is also a pickle',
    "The file was read as another format (SafeTensors, a tar archive, ...), but its bytes also run as a pickle from byte 0: a SafeTensors header length whose first byte is `V` opens a UNICODE line that swallows the header, and the pickle goes on after it. `pickle.load`, `numpy.load`, `joblib.load` and `torch.load`'s legacy path (weights_only off) run such a file as a pickle. It is scanned as one as well, and those findings are reported under the member `<read as a pickle>`.",
    'Find out why the file carries a second format; re-create it with the tool that wrote the model.',
  ),
  rule(
    'ZIP_EMBEDDED',
    'medium',
    'zip archive inside another format',
    "The file does not read as a zip at byte 0, yet it ends with a zip archive that Python's zipfile opens: zipfile finds an archive by its end record and skips whatever comes before it, and keras.saving.load_model opens any `.keras` path that way. A file that is two formats at once (a polyglot) loads differently in different loaders. The archive is scanned as well, and its findings are reported under the member `<zip archive at byte N>`.",
    'Find out why the file carries a second format; re-create it with the tool that wrote the model.',
  ),
  rule(
    'ZIP_MALFORMED',
    'medium',
    'malformed zip directory',
    'The end-of-central-directory or central directory records are inconsistent.',
    'Re-create the archive.',
  ),
  rule(
    'COMPRESSION_UNSUPPORTED',
    'high',
    'compressed stream not scannable',
    'The bytes are a compressed container the scanner cannot decode (7z, used to hide PyTorch checkpoints in the nullifAI attack; rar, lzip, legacy LZ4, lzop, framed snappy, Unix compress); their content was not scanned, and a loader that unpacks it may run it. The scan is incomplete.',
    'Unpack the content with a trusted tool and scan it, or treat the file as unscanned.',
  ),
  rule(
    'COMPRESSION_ERROR',
    'high',
    'compressed stream does not decode',
    'A compressed stream (gzip, zlib, bzip2, xz, LZMA, zstd, LZ4, joblib ZF) is corrupt or truncated. Reported as SCAN_INCOMPLETE with limit `compression-error`: what decoded before the break was scanned (a payload placed before the break is still found), the rest was not.',
    'Re-create the file; treat it as unscanned.',
  ),
  rule(
    'SCAN_INCOMPLETE',
    'high',
    'not fully scanned',
    'The analysis of a stream, member or file stopped before its end: a limit (opcodes, stack, memo, operand or member size, expanded bytes, nesting, JSON tokens or depth, time) was hit, or the content is wrapped in something the scanner cannot read to its end. A loader may still reach what was not read, so the scan is not clean. The evidence names the limit and its value (docs/scanner-rules.md, "Limits").',
    'Treat the file as unscanned. If you trust the source, raise the named limit (`--limit NAME=VALUE`) and scan again.',
  ),
  rule(
    'SCAN_LIMIT_EXCEEDED',
    'high',
    'scan limit exceeded',
    'Nesting depth, expanded bytes or member size exceeds the scan limits; the rest was not scanned.',
    'Treat the part as unscanned; raise the limits if you trust the source.',
  ),
  rule(
    'SCAN_INTERNAL_ERROR',
    'high',
    'scanner failure',
    'A scanner failed on this input; the part was not fully scanned. Please report it.',
    'Treat the part as unscanned.',
  ),
  rule(
    'SCAN_SPECIAL_FILE_SKIPPED',
    'low',
    'special file not scanned',
    'A FIFO, socket or device file inside a scanned directory. It is not model data and was not opened.',
    'Remove it from the model directory; signing refuses such files too.',
  ),
  rule(
    'SCAN_SYMLINK_SKIPPED',
    'info',
    'symbolic link not followed',
    'A symbolic link inside a scanned directory was not followed.',
    'Scan its target directly if needed.',
  ),
]);

/**
 * Every known rule. Format families append their rules here (a plain list,
 * consulted by {@link ruleInfo}).
 */
export const SCAN_RULES: RuleInfo[] = [
  ...PICKLE_FAMILY_RULES,
  ...ONNX_RULES,
  ...SAFETENSORS_RULES,
  ...GGUF_RULES,
  ...KERAS_RULES,
  ...TF_RULES,
  ...TFLITE_RULES,
  ...ARCHIVE_RULES,
  ...NEMO_RULES,
  ...HF_RULES,
  ...SKOPS_RULES,
];

/** The rule with this id, or `undefined`. */
export function ruleInfo(id: string): RuleInfo | undefined {
  return SCAN_RULES.find((r) => r.id === id);
}
