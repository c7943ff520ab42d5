/**
 * The container image's file system, for both ways of building the image
 * (the Dockerfile's build stage and scripts/image.sh), so the two cannot
 * drift:
 *
 *   bun scripts/image-rootfs.ts --binary dist/tufbox-linux-x64 --arch x64 --out DIR
 *
 * writes DIR/rootfs/ (the binary as /usr/local/bin/tufbox, the glibc files
 * it loads, /etc/passwd and /etc/group naming uid 10001, a sticky /tmp) and
 * DIR/data/ (empty; the image copies it to /data owned by 10001).
 *
 * Which glibc files: the binary's own ELF header says — its program
 * interpreter (PT_INTERP) and its DT_NEEDED libraries — read here rather than
 * with `ldd` (which runs the binary, impossible for arm64 on an x64 builder)
 * or `readelf` (binutils is not in the Bun build image). They are taken from
 * this machine's glibc for its own architecture, or from Debian's
 * libc6-arm64-cross (libc6-amd64-cross) sysroot when cross-building.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";

interface Arch {
  /** ELF e_machine */
  machine: number;
  /** where the libraries go inside the image (Debian's multiarch directory) */
  libDir: string;
  /** where to find them on this machine, first match wins */
  sources: string[];
}

const ARCHES: Record<string, Arch> = {
  x64: {
    machine: 62,
    libDir: "/lib/x86_64-linux-gnu",
    sources: ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/usr/x86_64-linux-gnu/lib"],
  },
  arm64: {
    machine: 183,
    libDir: "/lib/aarch64-linux-gnu",
    sources: ["/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/aarch64-linux-gnu/lib"],
  },
};

export const IMAGE_UID = 10001;

export interface DynamicInfo {
  machine: number;
  interpreter: string;
  needed: string[];
}

/** PT_INTERP and DT_NEEDED of a 64-bit little-endian ELF executable. */
export function readDynamicInfo(bytes: Buffer): DynamicInfo {
  if (bytes.subarray(0, 4).toString("latin1") !== "\x7fELF" || bytes[4] !== 2 || bytes[5] !== 1)
    throw new Error("not a 64-bit little-endian ELF file");
  const machine = bytes.readUInt16LE(18);
  const phoff = Number(bytes.readBigUInt64LE(32));
  const phentsize = bytes.readUInt16LE(54);
  const phnum = bytes.readUInt16LE(56);
  const loads: { vaddr: number; offset: number; filesz: number }[] = [];
  let interpreter = "";
  let dynamic: { offset: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const type = bytes.readUInt32LE(p);
    const offset = Number(bytes.readBigUInt64LE(p + 8));
    const vaddr = Number(bytes.readBigUInt64LE(p + 16));
    const filesz = Number(bytes.readBigUInt64LE(p + 32));
    if (type === 1) loads.push({ vaddr, offset, filesz }); // PT_LOAD
    if (type === 2) dynamic = { offset, size: filesz }; // PT_DYNAMIC
    if (type === 3) interpreter = bytes.toString("latin1", offset, offset + filesz).replace(/\0.*$/s, ""); // PT_INTERP
  }
  if (!dynamic || !interpreter) throw new Error("not a dynamically linked executable");
  const neededOffsets: number[] = [];
  let strtab = 0;
  for (let p = dynamic.offset; p < dynamic.offset + dynamic.size; p += 16) {
    const tag = Number(bytes.readBigInt64LE(p));
    const value = Number(bytes.readBigUInt64LE(p + 8));
    if (tag === 0) break; // DT_NULL
    if (tag === 1) neededOffsets.push(value); // DT_NEEDED
    if (tag === 5) strtab = value; // DT_STRTAB (a virtual address)
  }
  const segment = loads.find((l) => strtab >= l.vaddr && strtab < l.vaddr + l.filesz);
  if (!segment) throw new Error("DT_STRTAB is outside every loaded segment");
  const strtabOffset = strtab - segment.vaddr + segment.offset;
  const needed = neededOffsets.map((o) => {
    const start = strtabOffset + o;
    return bytes.toString("latin1", start, bytes.indexOf(0, start));
  });
  return { machine, interpreter, needed };
}

function findLibrary(arch: Arch, name: string): string {
  for (const dir of arch.sources) {
    const file = join(dir, name);
    if (existsSync(file)) return realpathSync(file);
  }
  throw new Error(
    `${name} not found in ${arch.sources.join(", ")} (cross-building: apt-get install ${arch.machine === 183 ? "libc6-arm64-cross" : "libc6-amd64-cross"})`,
  );
}

function place(rootfs: string, pathInImage: string, source: string): void {
  const target = join(rootfs, pathInImage);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(source, target);
  chmodSync(target, 0o755);
}

export function writeRootfs(opts: { binary: string; arch: string; out: string }): { files: string[] } {
  const arch = ARCHES[opts.arch];
  if (!arch) throw new Error(`unknown --arch ${opts.arch}; known: ${Object.keys(ARCHES).join(", ")}`);
  const info = readDynamicInfo(readFileSync(opts.binary));
  if (info.machine !== arch.machine) throw new Error(`${opts.binary} is not an ${opts.arch} executable`);
  const rootfs = join(opts.out, "rootfs");
  rmSync(opts.out, { recursive: true, force: true });
  mkdirSync(rootfs, { recursive: true });
  const files: string[] = [];
  place(rootfs, "/usr/local/bin/tufbox", opts.binary);
  files.push("/usr/local/bin/tufbox");
  const interpreterName = info.interpreter.slice(info.interpreter.lastIndexOf("/") + 1);
  place(rootfs, info.interpreter, findLibrary(arch, interpreterName));
  files.push(info.interpreter);
  for (const name of info.needed) {
    if (name === interpreterName) continue; // the interpreter is also listed as needed
    place(rootfs, join(arch.libDir, name), findLibrary(arch, name));
    files.push(join(arch.libDir, name));
  }
  // Names for uid/gid 10001 (ps, logs, `id` in debug containers); no shell, no home.
  mkdirSync(join(rootfs, "etc"));
  writeFileSync(
    join(rootfs, "etc/passwd"),
    `root:x:0:0:root:/root:/sbin/nologin\ntufbox:x:${IMAGE_UID}:${IMAGE_UID}:tufbox:/data:/sbin/nologin\n`,
  );
  writeFileSync(join(rootfs, "etc/group"), `root:x:0:\ntufbox:x:${IMAGE_UID}:\n`);
  // SQLite may spill large sorts to a temporary file.
  mkdirSync(join(rootfs, "tmp"));
  chmodSync(join(rootfs, "tmp"), 0o1777);
  mkdirSync(join(opts.out, "data"));
  return { files };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: { binary: { type: "string" }, arch: { type: "string" }, out: { type: "string" } },
    strict: true,
  });
  if (!values.binary || !values.arch || !values.out) {
    console.error("usage: bun scripts/image-rootfs.ts --binary FILE --arch x64|arm64 --out DIR");
    process.exit(2);
  }
  try {
    const { files } = writeRootfs({ binary: values.binary, arch: values.arch, out: values.out });
    console.log(`${values.out}/rootfs: ${files.join(" ")} /etc/passwd /etc/group /tmp; ${values.out}/data`);
  } catch (err) {
    console.error(`image-rootfs: ${(err as Error).message}`);
    process.exit(1);
  }
}
