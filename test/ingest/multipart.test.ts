/** The streaming multipart reader against forms Bun itself encodes, cut into chunks of every size. */
import { describe, expect, test } from "bun:test";
import { dispositionParams, multipartBoundary, MultipartError, readMultipart } from "../../src/ingest/multipart.ts";

async function encode(form: FormData): Promise<{ bytes: Uint8Array; boundary: string }> {
  const req = new Request("http://x/", { method: "POST", body: form });
  const boundary = multipartBoundary(req.headers.get("content-type"))!;
  return { bytes: new Uint8Array(await req.arrayBuffer()), boundary };
}

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

async function readAll(bytes: Uint8Array, boundary: string, size: number) {
  const parts: { name: string; filename?: string; type?: string; body: string }[] = [];
  for await (const p of readMultipart(chunked(bytes, size), boundary)) {
    const body = Buffer.concat(await Array.fromAsync(p.body)).toString("latin1");
    parts.push({ name: p.name, filename: p.filename, type: p.contentType, body });
  }
  return parts;
}

function random(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe("readMultipart", () => {
  test("same parts as Bun's FormData, whatever the chunk size", async () => {
    const form = new FormData();
    form.append("path_prefix", "releases/");
    // Bytes that look like delimiters and CRLFs inside a file must survive.
    const tricky = Buffer.concat([Buffer.from("\r\n--"), Buffer.from(random(3000, 7)), Buffer.from("\r\n-\r\n--x")]);
    form.append("file", new File([tricky], "app 1.0.tar.gz", { type: "application/gzip" }));
    form.append("file", new File([new Uint8Array(0)], "empty.txt"));
    form.append("file", new File([random(70_000, 3)], "dir/ünï cödé.bin"));
    const { bytes, boundary } = await encode(form);
    const expected = [...form.entries()].map(([name, v]) => ({
      name,
      filename: typeof v === "string" ? undefined : (v as unknown as File).name,
      body: typeof v === "string" ? v : Buffer.from(new Uint8Array(0)).toString("latin1"),
    }));
    const fileBodies = await Promise.all(
      [...form.entries()].map(async ([, v]) =>
        typeof v === "string" ? v : Buffer.from(await (v as unknown as File).arrayBuffer()).toString("latin1"),
      ),
    );
    for (const size of [1, 2, 3, 7, 64, 1000, 65536, bytes.length]) {
      const parts = await readAll(bytes, boundary, size);
      expect(parts.map((p) => p.name)).toEqual(expected.map((e) => e.name));
      expect(parts.map((p) => p.filename)).toEqual(expected.map((e) => e.filename));
      expect(parts.map((p) => p.body)).toEqual(fileBodies);
    }
  });

  test("what Bun's own parser reads, we read (round trip through Request.formData)", async () => {
    const form = new FormData();
    for (let i = 0; i < 20; i++) form.append("file", new File([random(i * 997, i + 1)], `f${i}.bin`));
    const { bytes, boundary } = await encode(form);
    const theirs = await new Request("http://x/", {
      method: "POST",
      body: bytes,
      headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
    }).formData();
    const ours = await readAll(bytes, boundary, 4096);
    const theirBodies = await Promise.all(
      [...theirs.values()].map(async (v) => Buffer.from(await (v as File).arrayBuffer()).toString("latin1")),
    );
    expect(ours.map((p) => p.body)).toEqual(theirBodies);
  });

  test("a part may be skipped without reading it", async () => {
    const form = new FormData();
    form.append("file", new File([random(100_000, 1)], "a"));
    form.append("file", new File(["second"], "b"));
    const { bytes, boundary } = await encode(form);
    const names: string[] = [];
    let last = "";
    for await (const p of readMultipart(chunked(bytes, 999), boundary)) {
      names.push(p.filename!);
      if (p.filename === "b") last = Buffer.concat(await Array.fromAsync(p.body)).toString();
    }
    expect(names).toEqual(["a", "b"]);
    expect(last).toBe("second");
  });

  test("truncated or malformed forms are MultipartErrors", async () => {
    const form = new FormData();
    form.append("file", new File(["hello"], "a"));
    const { bytes, boundary } = await encode(form);
    const cut = bytes.slice(0, bytes.length - 10);
    await expect(readAll(cut, boundary, 7)).rejects.toBeInstanceOf(MultipartError);
    await expect(readAll(new TextEncoder().encode("nothing here"), boundary, 4)).rejects.toBeInstanceOf(MultipartError);
    const noDisposition = new TextEncoder().encode(`--${boundary}\r\nX: y\r\n\r\nbody\r\n--${boundary}--\r\n`);
    await expect(readAll(noDisposition, boundary, 5)).rejects.toThrow(/Content-Disposition/);
  });

  test("boundary and Content-Disposition parameters", () => {
    expect(multipartBoundary('multipart/form-data; boundary="a b"')).toBe("a b");
    expect(multipartBoundary("multipart/form-data; charset=utf-8; boundary=----x1")).toBe("----x1");
    expect(multipartBoundary("application/json")).toBeUndefined();
    expect(multipartBoundary("multipart/form-data")).toBeUndefined();
    const p = dispositionParams(`form-data; name="file"; filename="a \\"q\\".txt"; filename*=UTF-8''%C3%BC.txt`);
    expect(p.get("name")).toBe("file");
    expect(p.get("filename")).toBe('a "q".txt');
    expect(p.get("filename*")).toBe("ü.txt");
  });
});
