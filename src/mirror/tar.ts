/**
 * Bundles as tar files (POSIX ustar, with pax headers for long names and
 * large sizes), written and read here rather than with `Bun.Archive`:
 * `Bun.Archive` builds and reads whole archives in memory, while a bundle with
 * targets can be many gigabytes carried to a small device. Writing streams
 * each file into the archive; reading indexes the headers once and then reads
 * entries by offset, without extracting anything to disk, so a hostile
 * archive cannot place files anywhere (no paths are ever created from its
 * names) and links are ignored. test/mirror/tar.test.ts checks both
 * directions against GNU tar.
 */
import { open, type FileHandle } from "node:fs/promises";
import type { Source, TargetStream } from "./source.ts";
import { SourceError } from "./source.ts";

const BLOCK = 512;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function put(header: Uint8Array, offset: number, width: number, text: string): void {
  const bytes = encoder.encode(text);
  header.set(bytes.subarray(0, width), offset);
}

function paxRecord(key: string, value: string): string {
  // "<len> <key>=<value>\n", where <len> counts its own digits too.
  const body = ` ${key}=${value}\n`;
  let len = encoder.encode(body).byteLength + 1;
  while (String(len).length + encoder.encode(body).byteLength !== len) len++;
  return `${len}${body}`;
}

function header(name: string, size: number, mtime: number, type: "0" | "1" | "x", linkName = ""): Uint8Array {
  const h = new Uint8Array(BLOCK);
  put(h, 0, 100, name);
  put(h, 157, 100, linkName);
  put(h, 100, 8, "0000644\0");
  put(h, 108, 8, octal(0, 8));
  put(h, 116, 8, octal(0, 8));
  put(h, 124, 12, octal(size, 12));
  put(h, 136, 12, octal(mtime, 12));
  put(h, 148, 8, "        ");
  put(h, 156, 1, type);
  put(h, 257, 6, "ustar\0");
  put(h, 263, 2, "00");
  let sum = 0;
  for (const b of h) sum += b;
  put(h, 148, 8, `${octal(sum, 7)} `);
  return h;
}

const MAX_OCTAL_SIZE = 0o77777777777;

function isPlain(name: string): boolean {
  return encoder.encode(name).byteLength <= 100 && /^[\u0020-\u007e]*$/.test(name);
}

/** Where a TarWriter puts its bytes, in order. */
export interface TarSink {
  write(bytes: Uint8Array): Promise<void>;
  /** after the last write: make it durable (a file) or end it (a stream) */
  finish(): Promise<void>;
  abort(): Promise<void>;
}

/** A new file (never an existing one), written at increasing offsets; `finish` fsyncs it. */
async function fileSink(path: string, mode: number): Promise<TarSink> {
  const fd: FileHandle = await open(path, "wx", mode);
  let position = 0;
  return {
    async write(bytes) {
      let at = 0;
      while (at < bytes.byteLength) {
        const { bytesWritten } = await fd.write(bytes, at, bytes.byteLength - at, position);
        at += bytesWritten;
        position += bytesWritten;
      }
    },
    async finish() {
      await fd.sync();
      await fd.close();
    },
    async abort() {
      await fd.close().catch(() => undefined);
    },
  };
}

/** Collects small writes (headers, padding, small files) into ~1 MiB writes. */
function buffered(sink: TarSink, size = 1 << 20): TarSink {
  let buf = new Uint8Array(size);
  let used = 0;
  const flush = async () => {
    if (used === 0) return;
    const out = buf.subarray(0, used);
    buf = new Uint8Array(size);
    used = 0;
    await sink.write(out);
  };
  return {
    async write(bytes) {
      if (bytes.byteLength >= size) {
        await flush();
        return sink.write(bytes);
      }
      if (used + bytes.byteLength > size) await flush();
      buf.set(bytes, used);
      used += bytes.byteLength;
    },
    async finish() {
      await flush();
      await sink.finish();
    },
    abort: () => sink.abort(),
  };
}

/** Writes a tar file (or stream) entry by entry; `finish` ends it and makes it durable. */
export class TarWriter {
  readonly #sink: TarSink;
  readonly #mtime = Math.floor(Date.now() / 1000);

  private constructor(sink: TarSink) {
    this.#sink = buffered(sink);
  }

  /** A new tar file at `path` (mode 0644 unless given: backups are 0600). */
  static async create(path: string, mode = 0o644): Promise<TarWriter> {
    return new TarWriter(await fileSink(path, mode));
  }

  /** A tar written into any sink (e.g. an HTTP response body). */
  static to(sink: TarSink): TarWriter {
    return new TarWriter(sink);
  }

  #write(bytes: Uint8Array): Promise<void> {
    return this.#sink.write(bytes);
  }

  async #pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest !== 0) await this.#write(new Uint8Array(BLOCK - rest));
  }

  async #header(name: string, size: number, linkName?: string): Promise<void> {
    const plain = isPlain(name);
    const plainLink = linkName === undefined || isPlain(linkName);
    if (!plain || !plainLink || size > MAX_OCTAL_SIZE) {
      let records = "";
      if (!plain) records += paxRecord("path", name);
      if (!plainLink) records += paxRecord("linkpath", linkName!);
      if (size > MAX_OCTAL_SIZE) records += paxRecord("size", String(size));
      const body = encoder.encode(records);
      await this.#write(header("PaxHeader", body.byteLength, this.#mtime, "x"));
      await this.#write(body);
      await this.#pad(body.byteLength);
    }
    const short = (n: string) => (isPlain(n) ? n : `pax/${n.replace(/[^\u0020-\u007e]/g, "_").slice(-90)}`);
    await this.#write(
      linkName === undefined
        ? header(short(name), Math.min(size, MAX_OCTAL_SIZE), this.#mtime, "0")
        : header(short(name), 0, this.#mtime, "1", short(linkName)),
    );
  }

  /** A second name for an entry written before (a hard link: no bytes repeated). */
  async addLink(name: string, target: string): Promise<void> {
    await this.#header(name, 0, target);
  }

  async addBytes(name: string, bytes: Uint8Array): Promise<void> {
    await this.#header(name, bytes.byteLength);
    await this.#write(bytes);
    await this.#pad(bytes.byteLength);
  }

  /** Streams `size` bytes from `body` into the entry; fails if the stream gives another amount. */
  async addStream(name: string, size: number, body: ReadableStream<Uint8Array>): Promise<void> {
    await this.#header(name, size);
    let written = 0;
    for await (const chunk of body) {
      written += chunk.byteLength;
      if (written > size) throw new Error(`${name}: more than the ${size} bytes announced`);
      await this.#write(chunk);
    }
    if (written !== size) throw new Error(`${name}: ${written} bytes instead of ${size}`);
    await this.#pad(size);
  }

  async finish(): Promise<void> {
    await this.#write(new Uint8Array(BLOCK * 2));
    await this.#sink.finish();
  }

  async abort(): Promise<void> {
    await this.#sink.abort();
  }
}

export interface TarEntry {
  offset: number;
  size: number;
}

function readOctal(block: Uint8Array, offset: number, width: number): number {
  const field = block.subarray(offset, offset + width);
  if (field[0]! & 0x80) {
    // GNU base-256 for large values
    let n = field[0]! & 0x7f;
    for (let i = 1; i < width; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = decoder.decode(field).replace(/\0.*$/s, "").trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`bad number ${JSON.stringify(text)} in a tar header`);
  return parseInt(text, 8);
}

function readString(block: Uint8Array, offset: number, width: number): string {
  const field = block.subarray(offset, offset + width);
  const end = field.indexOf(0);
  return decoder.decode(end === -1 ? field : field.subarray(0, end));
}

function parsePax(body: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < body.byteLength) {
    const space = body.indexOf(0x20, at);
    if (space === -1) break;
    const len = Number(decoder.decode(body.subarray(at, space)));
    if (!Number.isSafeInteger(len) || len <= 0 || at + len > body.byteLength) break;
    const record = decoder.decode(body.subarray(space + 1, at + len - 1));
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}

/** Regular files of a tar file by name (leading `./` removed); links, directories and devices are ignored. */
export async function indexTar(path: string): Promise<Map<string, TarEntry>> {
  const fd = await open(path, "r");
  const entries = new Map<string, TarEntry>();
  try {
    const { size: total } = await fd.stat();
    let position = 0;
    let pax: Record<string, string> = {};
    let longName: string | undefined;
    let longLink: string | undefined;
    const block = new Uint8Array(BLOCK);
    while (position + BLOCK <= total) {
      const { bytesRead } = await fd.read(block, 0, BLOCK, position);
      if (bytesRead < BLOCK) break;
      if (block.every((b) => b === 0)) break;
      const stored = readOctal(block, 148, 8);
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
      if (sum !== stored) throw new Error(`not a tar file, or damaged: bad header checksum at byte ${position}`);
      const type = String.fromCharCode(block[156]!);
      let size = readOctal(block, 124, 12);
      const dataAt = position + BLOCK;
      if (type === "x" || type === "L" || type === "K") {
        const body = new Uint8Array(size);
        await fd.read(body, 0, size, dataAt);
        if (type === "x") pax = parsePax(body);
        else if (type === "L") longName = readString(body, 0, size);
        else longLink = readString(body, 0, size);
      } else if (type === "0" || type === "\0" || type === "7") {
        const prefix = readString(block, 345, 155);
        const short = readString(block, 0, 100);
        let name = pax.path ?? longName ?? (prefix ? `${prefix}/${short}` : short);
        if (pax.size !== undefined && /^\d+$/.test(pax.size)) size = Number(pax.size);
        name = name.replace(/^(\.\/)+/, "");
        if (dataAt + size > total) throw new Error(`tar file is truncated (${name})`);
        entries.set(name, { offset: dataAt, size });
        pax = {};
        longName = undefined;
        longLink = undefined;
      } else if (type === "1") {
        // A hard link names an earlier entry: same bytes, no file is created.
        const name = (pax.path ?? longName ?? readString(block, 0, 100)).replace(/^(\.\/)+/, "");
        const target = (pax.linkpath ?? longLink ?? readString(block, 157, 100)).replace(/^(\.\/)+/, "");
        const earlier = entries.get(target);
        if (earlier) entries.set(name, earlier);
        pax = {};
        longName = undefined;
        longLink = undefined;
        size = 0;
      } else if (type !== "g") {
        // directories, symbolic links, devices: nothing a bundle needs
        pax = {};
        longName = undefined;
        longLink = undefined;
      }
      position = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    }
  } finally {
    await fd.close();
  }
  return entries;
}

/** A bundle in a tar file: `metadata/NAME`, `targets/PATH`, as `tufbox export --out FILE.tar` writes it. */
export class TarSource implements Source {
  readonly label: string;
  readonly #path: string;
  readonly #entries: Map<string, TarEntry>;

  private constructor(path: string, entries: Map<string, TarEntry>) {
    this.label = path;
    this.#path = path;
    this.#entries = entries;
  }

  static async open(path: string): Promise<TarSource> {
    return new TarSource(path, await indexTar(path));
  }

  async metadata(name: string, maxLength: number): Promise<Uint8Array | undefined> {
    const e = this.#entries.get(`metadata/${name}`);
    if (!e) return undefined;
    if (e.size > maxLength)
      throw new SourceError("tampered", `metadata/${name} is ${e.size} bytes, more than the ${maxLength} allowed`);
    return new Uint8Array(
      await Bun.file(this.#path)
        .slice(e.offset, e.offset + e.size)
        .arrayBuffer(),
    );
  }

  async target(urlPath: string): Promise<TargetStream | undefined> {
    const e = this.#entries.get(`targets/${urlPath}`);
    if (!e) return undefined;
    const body = Bun.file(this.#path)
      .slice(e.offset, e.offset + e.size)
      .stream();
    return { body, size: e.size, cancel: () => void body.cancel().catch(() => undefined) };
  }

  async listMetadata(): Promise<string[]> {
    return [...this.#entries.keys()]
      .filter((n) => n.startsWith("metadata/") && !n.slice(9).includes("/"))
      .map((n) => n.slice(9));
  }

  async listTargets(): Promise<string[]> {
    return [...this.#entries.keys()].filter((n) => n.startsWith("targets/")).map((n) => n.slice(8));
  }
}
