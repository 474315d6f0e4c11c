// SPDX-License-Identifier: Apache-2.0
// Stop 29 red team: files a real loader runs that the scan passed as clean.
// Each case was first checked against CPython's unpickler (and numpy/joblib
// where named); the tests build the same bytes here.
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { describeDtype } from '../../src/scan/numpy/npy.js';
import { pickleLineInt } from '../../src/scan/pickle/python-int.js';
import { bufferSource } from '../../src/scan/source.js';
import { highs } from './helpers/findings.js';
import { LAMBDA_CONFIG, tarOf } from './helpers/keras-lambda.js';
import { buildZip } from './helpers/zip-builder.js';

/** Protocol 0: `os.system('true')` called, then STOP. */
const CALL = Buffer.from("cos\nsystem\n(S'true'\ntR.", 'latin1');

const scan = (bytes: Buffer, name: string) =>
  scanSource(bufferSource(bytes), name);

describe('protocol 0 integers as CPython reads them', () => {
  // [line, INT, LONG] from CPython 3.11's C unpickler (`pickle.loads`);
  // null where it raises.
  const CPYTHON: [string, string | null, string | null][] = [
    ['0', '0', '0'],
    ['00', '0', '0'],
    ['010', '8', null],
    ['08', null, null],
    ['0x10', '16', '16'],
    ['0X1f', '31', '31'],
    ['0x', null, null],
    ['0x_1f', '31', '31'],
    ['0o17', '15', '15'],
    ['0b101', '5', '5'],
    ['1_0', '10', '10'],
    ['1__0', null, null],
    ['_1', null, null],
    ['1_', null, null],
    [' 5', '5', '5'],
    ['5 ', '5', '5'],
    ['\t7\r', '7', '7'],
    ['- 1', null, null],
    ['9223372036854775808', '9223372036854775808', '9223372036854775808'],
    ['0777777777777777777777777', null, null],
    ['5\0junk', '5', '5'],
    ['\0abc', '0', null],
    [' \0', null, null],
    ['0_7', null, null],
    ['007', '7', null],
    ['1e3', null, null],
    ['12L', null, '12'],
    ['L', null, null],
    ['', null, null],
  ];
  it.each(CPYTHON)('%j', (line, int, long) => {
    const str = (v: bigint | undefined): string | null =>
      v === undefined ? null : String(v);
    expect(str(pickleLineInt(line, 'INT'))).toBe(int);
    expect(str(pickleLineInt(line, 'LONG'))).toBe(long);
  });

  it('GET and PUT read base 10 with underscores and spaces', () => {
    expect(pickleLineInt('1_0', 'PUT')).toBe(10n);
    expect(pickleLineInt(' 3 ', 'GET')).toBe(3n);
    expect(pickleLineInt('0x1', 'GET')).toBeUndefined();
  });

  it.each(['I0x10\n0', 'I1_0\n0', 'I0b1\n0', 'L0o7L\n0', 'I5\0x\n0'])(
    'a call after %j is found',
    async (prefix) => {
      const r = await scan(
        Buffer.concat([Buffer.from(prefix, 'latin1'), CALL]),
        'a.pkl',
      );
      expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
    },
  );

  it('a memo key with underscores is a key', async () => {
    // PUT 1_0, then the call: the VM must not stop at the PUT.
    const r = await scan(
      Buffer.concat([Buffer.from('I1\np1_0\n0', 'latin1'), CALL]),
      'a.pkl',
    );
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
  });
});

describe('anomalies the loader reads past do not end a detection', () => {
  it('a PROTO after the first opcode, then a call past the first 4 KiB (stop 29 review)', async () => {
    // CPython accepts PROTO anywhere; the detector took the misplaced PROTO
    // for a stop and never looked past its 4 KiB head.
    const file = Buffer.concat([
      Buffer.from('N0\x80\x02V', 'latin1'),
      Buffer.alloc(5000, 'A'),
      Buffer.from('\n0', 'latin1'),
      CALL,
    ]);
    const r = await scan(file, 'a.pkl');
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
  });
});

describe('anomalies the loader stops at still end a detection', () => {
  it('random bytes that begin EXT2, STOP are no pickle (the registry is empty)', async () => {
    const file = Buffer.concat([
      Buffer.from([0x83, 0x56, 0x18, 0x2e]),
      Buffer.alloc(4096, 0xa5),
    ]);
    const r = await scan(file, 'f.bin');
    expect(r.formats).not.toContain('pickle');
    expect(highs(r)).toEqual([]);
  });
});

describe('bytes another format claims that also read as a pickle', () => {
  it('a SafeTensors file whose header length begins with V', async () => {
    const payload = Buffer.concat([Buffer.from('0'), CALL]);
    const n = payload.length;
    let header = JSON.stringify({
      t: { dtype: 'U8', shape: [n], data_offsets: [0, n] },
    });
    // 0x156 = 342: the length's bytes are `V` 0x01 0 0 0 0 0 0; the UNICODE
    // line ends at the header's last byte, a newline (JSON whitespace).
    header = header.padEnd(341, ' ') + '\n';
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    expect(length[0]).toBe(0x56);
    const file = Buffer.concat([length, Buffer.from(header), payload]);
    const r = await scan(file, 'model.safetensors');
    expect(r.formats).toContain('safetensors');
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
    expect(r.findings.map((f) => f.ruleId)).toContain('PICKLE_POLYGLOT');
    expect(
      r.findings.find((f) => f.ruleId === 'PICKLE_DANGEROUS_GLOBAL')?.member,
    ).toEqual(['<read as a pickle>']);
  });

  it('a SafeTensors file of the same shape without the call is clean', async () => {
    const payload = Buffer.from('0N.');
    const n = payload.length;
    const header =
      JSON.stringify({
        t: { dtype: 'U8', shape: [n], data_offsets: [0, n] },
      }).padEnd(341, ' ') + '\n';
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    const r = await scan(
      Buffer.concat([length, Buffer.from(header), payload]),
      'model.safetensors',
    );
    expect(highs(r)).toEqual([]);
  });

  it('a tar whose first header is inside a UNICODE line', async () => {
    // The member's name starts with `V`; the header has no newline, so the
    // line runs to the member's data, which starts with one.
    const data = Buffer.concat([Buffer.from('\n0'), CALL]);
    const tar = await tarOf([{ name: 'Vx', data }]);
    expect(tar.subarray(0, 512).includes(0x0a)).toBe(false);
    const r = await scan(tar, 'model.pkl');
    expect(r.formats).toContain('tar');
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
  });

  it('a zip is never read as a pickle (PERSID stops every loader)', async () => {
    const zip = buildZip([
      { name: 'a.txt', data: Buffer.concat([Buffer.from('\n0'), CALL]) },
    ]);
    const r = await scan(zip, 'a.zip');
    expect(r.findings.some((f) => f.member?.[0] === '<read as a pickle>')).toBe(
      false,
    );
  });
});

describe('NumPy dtypes that hold Python objects', () => {
  it.each(['T', '|T', '|T16', '<T'])(
    '%j is an object dtype (StringDType)',
    (descr) => {
      expect(describeDtype(descr)?.hasObject).toBe(true);
    },
  );

  it.each(['float64', 'i4,f8', '|k8', 'datetime64[ns]'])(
    '%j is not followed, so not plain',
    (descr) => {
      expect(describeDtype(descr)?.hasObject).toBe('unknown');
    },
  );

  it('the body of a T array is scanned as a pickle', async () => {
    const header = "{'descr': '|T16', 'fortran_order': False, 'shape': (1,), }";
    const pad = 64 - ((10 + header.length + 1) % 64);
    const text = header + ' '.repeat(pad % 64) + '\n';
    const len = Buffer.alloc(2);
    len.writeUInt16LE(text.length);
    const file = Buffer.concat([
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]),
      len,
      Buffer.from(text, 'latin1'),
      Buffer.from([0x80, 0x02]),
      CALL,
    ]);
    const r = await scan(file, 'a.npy');
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
  });
});

describe('Keras zips', () => {
  it('config.json alone (no metadata.json, no weights) is read as Keras', async () => {
    const zip = buildZip([
      { name: 'config.json', data: Buffer.from(JSON.stringify(LAMBDA_CONFIG)) },
    ]);
    const r = await scan(zip, 'model.keras');
    expect(r.formats).toContain('keras');
    expect(highs(r)).toContain('KERAS_LAMBDA');
  });

  it('config.json with .npz weights is read as Keras', async () => {
    const zip = buildZip([
      { name: 'config.json', data: Buffer.from(JSON.stringify(LAMBDA_CONFIG)) },
      { name: 'model.weights.npz', data: buildZip([]) },
    ]);
    const r = await scan(zip, 'model.keras');
    expect(highs(r)).toContain('KERAS_LAMBDA');
  });

  it('a zip of plain files with a Hugging Face config.json stays clean', async () => {
    const zip = buildZip([
      {
        name: 'config.json',
        data: Buffer.from(
          '{"architectures":["BertModel"],"model_type":"bert"}',
        ),
      },
      { name: 'README.md', data: Buffer.from('# model\n') },
    ]);
    const r = await scan(zip, 'model.zip');
    expect(highs(r)).toEqual([]);
  });
});

describe('joblib: a nested object-array pickle is read by plain pickle.load', () => {
  const u = (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8');
    return Buffer.concat([Buffer.from([0x8c, b.length]), b]);
  };
  const raw = (s: string): Buffer => Buffer.from(s, 'latin1');
  const N = 64;
  const dtype = (code: string, flags: number): Buffer =>
    Buffer.concat([
      raw('cnumpy\ndtype\n'),
      u(code),
      raw('\x89\x88\x87R(K\x03'),
      u('|'),
      raw('NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK'),
      Buffer.from([flags]),
      raw('tb'),
    ]);
  const wrapper = (d: Buffer): Buffer =>
    Buffer.concat([
      raw('cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}('),
      u('subclass'),
      raw('cnumpy\nndarray\n'),
      u('shape'),
      raw(`K${String.fromCharCode(N)}\x85`),
      u('order'),
      u('C'),
      u('dtype'),
      d,
      u('allow_mmap'),
      raw('\x89ub'),
    ]);

  it('a wrapper BUILD inside it reads no inline bytes: a call there is found', async () => {
    // The nested pickle's BUILD of a wrapper is a plain BUILD to the loader,
    // which then runs the next N bytes as opcodes: the call. A scanner that
    // skipped N bytes there (as after an outer wrapper) missed it.
    const call = raw('cos\nsystem\n(Vecho PWNED\ntR0');
    const rest = N - call.length;
    const filler =
      rest % 2 === 1
        ? Buffer.concat([raw('K\x000'), raw('N0'.repeat((rest - 3) / 2))])
        : raw('N0'.repeat(rest / 2));
    const region = Buffer.concat([call, filler]);
    expect(region.length).toBe(N);
    const nested = Buffer.concat([
      raw('\x80\x02'),
      wrapper(dtype('u1', 0)),
      region,
      raw('.'),
    ]);
    const file = Buffer.concat([
      raw('\x80\x02'),
      wrapper(dtype('O8', 63)),
      nested,
      raw('.'),
    ]);
    const r = await scan(file, 'm.joblib');
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
  });
});

describe('legacy Keras .h5: a config found through escapes past the JSON limits', () => {
  it('is reported incomplete (high), never dropped (stop 29 red team)', async () => {
    // Every key spelled `"\u0063lass_name"` (Python's json decodes it) and a
    // pad of 600 nested lists: the object could not be parsed within the
    // limits, was not taken for a config, and the Lambda passed unread.
    const config = JSON.stringify({ ...LAMBDA_CONFIG, pad: 'PAD' })
      .replaceAll('"class_name"', '"\\u0063lass_name"')
      .replace('"PAD"', '['.repeat(600) + ']'.repeat(600));
    const file = Buffer.concat([
      Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]),
      Buffer.alloc(64),
      Buffer.from(config),
      Buffer.alloc(64),
    ]);
    const r = await scan(file, 'model.h5');
    expect(highs(r)).toContain('SCAN_INCOMPLETE');
  });
});

describe('Hugging Face configs that run repository code', () => {
  const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o, null, 2));

  it('an auto_map is HF_REMOTE_CODE (high), naming the modules', async () => {
    const r = await scan(
      json({
        architectures: ['EvilModel'],
        auto_map: {
          AutoConfig: 'configuration_evil.EvilConfig',
          AutoModel: 'org/repo--modeling_evil.EvilModel',
          AutoTokenizer: ['tokenization_evil.EvilTokenizer', null],
        },
      }),
      'config.json',
    );
    expect(highs(r)).toEqual(['HF_REMOTE_CODE']);
    expect(r.findings[0]?.evidence).toEqual({
      modules: ['configuration_evil', 'modeling_evil', 'tokenization_evil'],
    });
  });

  it('the key spelled with escapes is the key to Python json', async () => {
    const text = '{"\\u0061uto_map": {"AutoModel": "modeling_x.M"}}';
    const r = await scan(Buffer.from(text), 'config.json');
    expect(highs(r)).toEqual(['HF_REMOTE_CODE']);
  });

  it('any amount of leading whitespace (Python skips it; the head held only spaces)', async () => {
    const text = ' '.repeat(5000) + '{"auto_map": {"AutoModel": "evil.M"}}';
    const r = await scan(Buffer.from(text), 'config.json');
    expect(highs(r)).toEqual(['HF_REMOTE_CODE']);
  });

  it('a null or empty auto_map names no code', async () => {
    for (const text of [
      '{"auto_map": null}',
      '{"auto_map": {}}',
      '{"auto_map": {"AutoModel": "x.M"}, "auto_map": null}',
    ]) {
      const r = await scan(Buffer.from(text), 'config.json');
      expect(highs(r)).toEqual([]);
    }
  });

  it('configs without one, or with the words only in a value, stay clean', async () => {
    for (const cfg of [
      { architectures: ['BertModel'], model_type: 'bert' },
      {
        note: 'no "auto_map" here',
        nested: { auto_map: { AutoModel: 'x.Y' } },
      },
    ]) {
      const r = await scan(json(cfg), 'config.json');
      expect(r.findings).toEqual([]);
    }
  });
});

describe('GGUF chat templates: keys from the model file and subscripts on functions', () => {
  it('raise_exception[eos_token] (eos_token from the vocabulary) is injection (stop 29 review)', async () => {
    const { analyzeChatTemplate } =
      await import('../../src/scan/gguf/chat-template.js');
    const issues = analyzeChatTemplate(
      "{% for m in messages %}{{ m['content'] }}{% endfor %}{{ raise_exception[eos_token]['os'][bos_token]('id').read() }}",
    );
    expect(issues.map((i) => i.kind)).toContain('injection');
    for (const t of [
      '{% set k = eos_token %}{{ loop[k] }}',
      '{{ messages[eos_token|lower] }}',
    ])
      expect(analyzeChatTemplate(t).length).toBeGreaterThan(0);
    for (const t of [
      "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>' + message['content'] + eos_token }}{% endfor %}",
      '{% for k, v in tool.items() %}{{ tool[k] }}{% endfor %}',
      '{% for name in tool.parameters.properties.keys() %}{{ tool.parameters.properties[name] }}{% endfor %}',
    ])
      expect(analyzeChatTemplate(t)).toEqual([]);
  });
});
