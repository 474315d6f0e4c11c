// SPDX-License-Identifier: Apache-2.0
// Preloaded with `node --import` by fuzz/run.mjs. The prebuilt libFuzzer addon
// that @jazzer.js/fuzzer 4.0.0 ships on npm was linked against glibc 2.38 and
// GCC 13's libstdc++, but asks for only three symbols newer than Debian 12
// (glibc 2.36, GLIBCXX_3.4.30) provides:
//   __isoc23_strtol, __isoc23_strtoul  (GLIBC_2.38): C23 variants of strtol and
//     strtoul, differing only in accepting "0b" prefixes; libFuzzer uses them to
//     parse its own -flag=value numbers.
//   std::ios_base_library_init()        (GLIBCXX_3.4.32): referenced only to pull
//     in iostream initialisation, never called (no relocation uses it).
// When the stock addon fails to load for exactly that reason, this writes a copy
// whose symbol table binds the first two to plain strtol/strtoul and whose
// version needs name versions the system has, under fuzz/.cache/, and loads it.
// Nothing in node_modules is modified.
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';

const ADDON =
  /[\\/]@jazzer\.js[\\/]fuzzer[\\/]prebuilds[\\/]fuzzer-linux-x64\.node$/;
const VERSION_FALLBACK = {
  'GLIBC_2.38': 'GLIBC_2.2.5',
  'GLIBC_2.39': 'GLIBC_2.2.5',
  'GLIBCXX_3.4.31': 'GLIBCXX_3.4',
  'GLIBCXX_3.4.32': 'GLIBCXX_3.4',
};
const C23_PREFIX = '__isoc23_';

export function elfHash(name) {
  let h = 0;
  for (const c of Buffer.from(name, 'latin1')) {
    h = ((h << 4) + c) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h ^= g >>> 24;
    h &= ~g >>> 0;
  }
  return h >>> 0;
}

/** Returns a patched copy of the ELF64 little-endian shared object `buf`. */
export function patchElf(buf) {
  const b = Buffer.from(buf);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1)
    throw new Error('not an ELF64 little-endian object');
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 0x18)),
      size: Number(b.readBigUInt64LE(o + 0x20)),
      link: b.readUInt32LE(o + 0x28),
      info: b.readUInt32LE(o + 0x2c),
      entsize: Number(b.readBigUInt64LE(o + 0x38)),
    });
  }
  const SHT_DYNSYM = 11;
  const SHT_GNU_VERNEED = 0x6ffffffe;
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  const verneed = sections.find((s) => s.type === SHT_GNU_VERNEED);
  if (dynsym === undefined || verneed === undefined)
    throw new Error('no dynamic symbol or version-needs table');
  const dynstr = sections[dynsym.link];
  const str = (off) => {
    const start = dynstr.offset + off;
    return b.toString('latin1', start, b.indexOf(0, start));
  };
  // Version names present anywhere in the table, by name: [hash, name offset].
  const known = new Map();
  const auxes = [];
  let vn = verneed.offset;
  for (let n = 0; n < verneed.info; n++) {
    let aux = vn + b.readUInt32LE(vn + 8);
    for (let k = 0, cnt = b.readUInt16LE(vn + 2); k < cnt; k++) {
      const nameOff = b.readUInt32LE(aux + 8);
      known.set(str(nameOff), [b.readUInt32LE(aux), nameOff]);
      auxes.push(aux);
      aux += b.readUInt32LE(aux + 12);
    }
    const next = b.readUInt32LE(vn + 12);
    if (next === 0) break;
    vn += next;
  }
  let changed = 0;
  for (const aux of auxes) {
    const name = str(b.readUInt32LE(aux + 8));
    const to = VERSION_FALLBACK[name];
    if (to === undefined) continue;
    const off = known.get(to)?.[1];
    if (off === undefined) throw new Error(`no ${to} to stand in for ${name}`);
    b.writeUInt32LE(elfHash(to), aux);
    b.writeUInt32LE(off, aux + 8);
    changed++;
  }
  for (
    let o = dynsym.offset;
    o < dynsym.offset + dynsym.size;
    o += dynsym.entsize
  ) {
    const nameOff = b.readUInt32LE(o);
    if (str(nameOff).startsWith(C23_PREFIX)) {
      // "__isoc23_strtol\0" ends with "strtol\0": point the name at that tail.
      b.writeUInt32LE(nameOff + C23_PREFIX.length, o);
      changed++;
    }
  }
  if (changed === 0) throw new Error('nothing to patch');
  return b;
}

const loadNode = Module._extensions['.node'];
Module._extensions['.node'] = function (module, filename) {
  try {
    return loadNode.call(this, module, filename);
  } catch (e) {
    if (
      !ADDON.test(filename) ||
      !/GLIBC(XX)?_[\d.]+' not found/.test(String(e?.message))
    )
      throw e;
    const dir = path.join(import.meta.dirname, '.cache');
    const patched = path.join(dir, 'fuzzer-linux-x64.compat.node');
    const original = fs.readFileSync(filename);
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${patched}.${process.pid}`;
    fs.writeFileSync(tmp, patchElf(original));
    fs.renameSync(tmp, patched);
    return loadNode.call(this, module, patched);
  }
};
