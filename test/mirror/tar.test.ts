/**
 * The hand-written tar writer and reader (src/mirror/tar.ts) against an
 * independent implementation, GNU tar: what we write, GNU tar lists and
 * extracts byte for byte (long and non-ASCII names via pax headers, hard
 * links); what GNU tar writes (pax and GNU formats), we read.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync, linkSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { TarWriter, indexTar, TarSource } from "../../src/mirror/tar.ts";
import { tempDir } from "../helpers/server.ts";

const dir = tempDir("tufbox-tar-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const longName = `targets/${"deep/".repeat(30)}${"a".repeat(64)}.file-with-a-long-name.tar.gz`;
const files: Record<string, Uint8Array<ArrayBuffer>> = {
  "metadata/timestamp.json": new TextEncoder().encode('{"signed":{}}'),
  [longName]: new Uint8Array(1000).map((_, i) => i % 251),
  "targets/docs/guide ü €.txt": new TextEncoder().encode("unicode name"),
  "targets/empty": new Uint8Array(0),
  "targets/exactly-512": new Uint8Array(512).fill(7),
};

describe("tar", () => {
  test("GNU tar extracts what TarWriter writes", async () => {
    const tar = join(dir, "ours.tar");
    const w = await TarWriter.create(tar);
    for (const [name, bytes] of Object.entries(files)) {
      if (name === "targets/exactly-512") await w.addStream(name, bytes.byteLength, new Blob([bytes]).stream());
      else await w.addBytes(name, bytes);
    }
    await w.addLink("targets/second-name", longName);
    await w.finish();
    const out = join(dir, "extracted");
    mkdirSync(out);
    const r = Bun.spawnSync(["tar", "-xf", tar, "-C", out]);
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    for (const [name, bytes] of Object.entries(files))
      expect(new Uint8Array(readFileSync(join(out, name)))).toEqual(bytes);
    expect(new Uint8Array(readFileSync(join(out, "targets/second-name")))).toEqual(files[longName]!);

    // And we read it back the same way.
    const source = await TarSource.open(tar);
    expect(await source.metadata("timestamp.json", 100)).toEqual(files["metadata/timestamp.json"]!);
    await expect(source.metadata("timestamp.json", 5)).rejects.toThrow(/longer|more than/);
    const t = await source.target("second-name");
    expect(new Uint8Array(await new Response(t!.body).arrayBuffer())).toEqual(files[longName]!);
  });

  for (const format of ["pax", "gnu"]) {
    test(`TarSource reads what GNU tar writes (--format=${format}); links outside are ignored`, async () => {
      const src = join(dir, `src-${format}`);
      for (const [name, bytes] of Object.entries(files)) {
        mkdirSync(join(src, name, ".."), { recursive: true });
        writeFileSync(join(src, name), bytes);
      }
      linkSync(join(src, longName), join(src, "targets/hard"));
      symlinkSync("/etc/passwd", join(src, "targets/evil-symlink"));
      const tar = join(dir, `gnu-${format}.tar`);
      const r = Bun.spawnSync(["tar", `--format=${format}`, "-cf", tar, "-C", src, "."]);
      expect(r.exitCode).toBe(0);
      const entries = await indexTar(tar);
      const bytesOf = async (name: string) => {
        const e = entries.get(name)!;
        return new Uint8Array(
          await Bun.file(tar)
            .slice(e.offset, e.offset + e.size)
            .arrayBuffer(),
        );
      };
      for (const [name, bytes] of Object.entries(files)) expect(await bytesOf(name)).toEqual(bytes);
      expect(await bytesOf("targets/hard")).toEqual(files[longName]!);
      expect(entries.has("targets/evil-symlink")).toBe(false);
    });
  }

  test("a damaged header is refused, not guessed", async () => {
    const tar = join(dir, "ours.tar");
    const bytes = new Uint8Array(readFileSync(tar));
    bytes[10] = bytes[10]! ^ 0x20;
    const bad = join(dir, "bad.tar");
    writeFileSync(bad, bytes);
    await expect(indexTar(bad)).rejects.toThrow(/checksum/);
  });
});
