/**
 * The upload routes, scenario by scenario (PUT /api/v1/artifacts/content/…,
 * POST /api/v1/artifacts/upload): a 202 carries the RSTUF envelope plus what
 * was stored; every refusal names the field or the limit and changes nothing —
 * no task, no contents row, no stored or staged file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { createApi } from "../../../src/server/api/index.ts";
import { TOKEN, type TestServer } from "../../helpers/server.ts";
import { bootstrapped, localFiles, postForm, put, sha256, sha512 } from "../../helpers/upload.ts";
import { startTestServer } from "../../helpers/server.ts";

let s: TestServer;
const LIMIT = 64 * 1024;

beforeAll(async () => {
  s = await bootstrapped({ env: { TUFBOX_MAX_UPLOAD_BYTES: String(LIMIT), TUFBOX_STORAGE_HASHES: "sha256,sha512" } });
});
afterAll(async () => {
  await s.stop();
});

async function nothingChanged<T>(fn: () => Promise<T>): Promise<T> {
  // Earlier accepted uploads may still be publishing.
  while ((await s.app.store.countPendingChanges()) > 0) await Bun.sleep(10);
  const before = {
    files: localFiles(s.app.config.storage.local_dir),
    contents: await s.app.store.contents.list({ limit: 1000 }),
    pending: await s.app.store.countPendingChanges(),
    artifacts: await s.app.store.countArtifacts(),
  };
  const out = await fn();
  // A refused upload may still be unwinding its staging file when the answer arrives.
  await Bun.sleep(20);
  expect({
    files: localFiles(s.app.config.storage.local_dir),
    contents: await s.app.store.contents.list({ limit: 1000 }),
    pending: await s.app.store.countPendingChanges(),
    artifacts: await s.app.store.countArtifacts(),
  }).toEqual(before);
  return out;
}

describe("PUT /api/v1/artifacts/content/<path>", () => {
  test("202: stored, hashed (sha256 + sha512), added and published; served under /targets/", async () => {
    const bytes = new TextEncoder().encode("hello upload");
    const r = await put(s.url, "releases/app%201.0.tar.gz", bytes, { "x-tufbox-custom": '{"build":"42"}' });
    expect(r.status).toBe(202);
    expect(r.body.message).toBe("New Artifact(s) successfully submitted.");
    expect(Object.keys(r.body.data).sort()).toEqual(["artifacts", "hashes", "last_update", "length", "task_id"]);
    expect(r.body.data.artifacts).toEqual(["releases/app 1.0.tar.gz"]);
    expect(r.body.data.length).toBe(bytes.length);
    expect(r.body.data.hashes).toEqual({ sha256: sha256(bytes), sha512: sha512(bytes) });
    const task = await s.waitTask(r.body.data.task_id);
    expect(task.state).toBe("SUCCESS");
    expect(task.result.details.added_artifacts).toEqual(["releases/app 1.0.tar.gz"]);
    // Audited with the caller: the test server's admin token, over HTTP, on the upload route.
    const audit = (await s.app.store.listAudit({ limit: 100 })).find((a) => a.taskId === r.body.data.task_id);
    expect(audit).toMatchObject({
      principal: "admin",
      action: "add_artifacts",
      route: "PUT /api/v1/artifacts/content/*",
    });
    expect(audit?.source).toBeString();
    const entry = await s.app.store.getArtifact("releases/app 1.0.tar.gz");
    expect(JSON.parse(entry!.fragment)).toEqual({
      length: bytes.length,
      hashes: { sha256: sha256(bytes), sha512: sha512(bytes) },
      custom: { build: "42" },
    });
    for (const path of [
      "releases/app%201.0.tar.gz",
      `releases/${sha256(bytes)}.app%201.0.tar.gz`,
      `releases/${sha512(bytes)}.app%201.0.tar.gz`,
    ]) {
      const got = await fetch(`${s.url}/targets/${path}`);
      expect(got.status).toBe(200);
      expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
    }
    expect(localFiles(s.app.config.storage.local_dir)).toMatchObject({ staging: [] });
  });

  test("publish=false holds the change like publish_artifacts: false; a chunked body works", async () => {
    const chunks = ["abc", "def"].map((x) => new TextEncoder().encode(x));
    const body = new ReadableStream({
      pull(c) {
        const next = chunks.shift();
        if (next) c.enqueue(next);
        else c.close();
      },
    });
    const r = await put(s.url, "held/a.bin", body, {}, "?publish=false");
    expect(r.status).toBe(202);
    expect(r.body.message).toBe("New Artifact(s) successfully submitted. Publishing will be skipped.");
    expect(r.body.data.length).toBe(6);
    expect((await s.waitTask(r.body.data.task_id)).result.details.published).toBe(false);
    expect(await s.app.store.getArtifact("held/a.bin")).toBeUndefined();
  });

  test("the same bytes under two paths are stored once", async () => {
    const bytes = new TextEncoder().encode("dedup me");
    const a = await put(s.url, "dedup/one.txt", bytes);
    const b = await put(s.url, "dedup/two.txt", bytes);
    expect([a.status, b.status]).toEqual([202, 202]);
    const objects = localFiles(s.app.config.storage.local_dir).objects.filter((o) => o === sha256(bytes));
    expect(objects).toEqual([sha256(bytes)]);
  });

  const refusals: {
    name: string;
    path: string;
    body?: () => RequestInit["body"];
    headers?: Record<string, string>;
    query?: string;
    status: number;
    check: (body: any) => void;
  }[] = [
    {
      name: "no token",
      path: "x.bin",
      headers: { authorization: "" },
      status: 401,
      check: (b) => expect(b.detail.message).toBe("Unauthorized"),
    },
    {
      name: "an encoded '/'",
      path: "a%2Fb",
      status: 422,
      check: (b) => expect(b.detail[0].loc).toEqual(["path"]),
    },
    {
      name: "a trailing '/'",
      path: "dir/",
      status: 422,
      check: (b) => expect(b.detail[0].msg).toContain("empty segments"),
    },
    {
      name: "custom that is not an object",
      path: "x.bin",
      headers: { "x-tufbox-custom": "[1]" },
      status: 422,
      check: (b) => expect(b.detail[0].loc).toEqual(["header", "x-tufbox-custom"]),
    },
    {
      name: "custom with a float (not canonical JSON)",
      path: "x.bin",
      headers: { "x-tufbox-custom": '{"a":1.5}' },
      status: 422,
      check: (b) => expect(b.detail[0].loc).toEqual(["header", "x-tufbox-custom"]),
    },
    {
      name: "publish that is not a boolean",
      path: "x.bin",
      query: "?publish=maybe",
      status: 422,
      check: (b) => expect(b.detail[0].loc).toEqual(["query", "publish"]),
    },
    {
      name: "a body over limits.max_upload_bytes (declared)",
      path: "big.bin",
      body: () => new Uint8Array(LIMIT + 1),
      status: 413,
      check: (b) => expect(b.detail.error).toContain(`limit is ${LIMIT} (limits.max_upload_bytes)`),
    },
    {
      name: "a chunked body that grows over the limit",
      path: "big.bin",
      body: () => {
        let sent = 0;
        return new ReadableStream({
          pull(c) {
            if (sent > LIMIT) return c.close();
            sent += 16384;
            c.enqueue(new Uint8Array(16384));
          },
        });
      },
      status: 413,
      check: (b) => expect(b.detail.error).toContain("limits.max_upload_bytes"),
    },
    {
      name: "a Content-Digest the bytes do not match",
      path: "x.bin",
      body: () => "some bytes",
      headers: { "content-digest": `sha-256=:${Buffer.from(sha256("other"), "hex").toString("base64")}:` },
      status: 400,
      check: (b) => expect(b.detail.error).toContain("corrupted"),
    },
  ];
  for (const row of refusals) {
    test(`${row.status}: ${row.name}, nothing changes`, async () => {
      await nothingChanged(async () => {
        const r = await put(s.url, row.path, row.body?.() ?? "bytes", row.headers, row.query);
        expect(r.status).toBe(row.status);
        row.check(r.body);
      });
    });
  }

  // Dot segments never arrive: Bun resolves them in the request URL (as fetch and curl do before sending).
  test("422: an empty segment (sent as is over a socket)", async () => {
    await nothingChanged(async () => {
      const { port } = new URL(s.url);
      const answer = await new Promise<string>((resolve) => {
        let out = "";
        const sock = connect(Number(port), "127.0.0.1", () => {
          sock.write(
            `PUT /api/v1/artifacts/content/a//b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`,
          );
        });
        sock.on("data", (d) => (out += d));
        sock.on("close", () => resolve(out));
        sock.on("error", () => {});
      });
      expect(answer).toStartWith("HTTP/1.1 422");
      const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
      expect(body.detail[0].loc).toEqual(["path"]);
      expect(body.detail[0].msg).toContain("empty segments");
    });
  });

  test("a matching Content-Digest is accepted", async () => {
    const r = await put(s.url, "digest.bin", "digest me", {
      "content-digest": `sha-256=:${Buffer.from(sha256("digest me"), "hex").toString("base64")}:`,
    });
    expect(r.status).toBe(202);
  });

  test("400: a body shorter than its Content-Length (in-process: HTTP/1.1 cannot deliver one)", async () => {
    const api = createApi(s.app);
    await nothingChanged(async () => {
      const res = await api(
        new Request(`${s.url}/api/v1/artifacts/content/short.bin`, {
          method: "PUT",
          headers: { authorization: `Bearer ${TOKEN}`, "content-length": "100" },
          body: new Blob([new Uint8Array(50)]).stream(),
        }),
      );
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).detail.error).toBe("Content-Length says 100 bytes, but 50 arrived");
    });
  });

  test("a client that disconnects mid-upload leaves nothing behind", async () => {
    await nothingChanged(async () => {
      const { port } = new URL(s.url);
      await new Promise<void>((resolve) => {
        const sock = connect(Number(port), "127.0.0.1", () => {
          sock.write(
            `PUT /api/v1/artifacts/content/cut.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 60000\r\n\r\n`,
          );
          sock.write(Buffer.alloc(30000, 1));
          setTimeout(() => sock.destroy(), 100);
        });
        sock.on("close", () => resolve());
        sock.on("error", () => {});
      });
      await Bun.sleep(100);
    });
  });
});

describe("POST /api/v1/artifacts/upload (multipart)", () => {
  test("202: every file part stored and added as one task under path_prefix", async () => {
    const form = new FormData();
    form.append("path_prefix", "bundle/");
    form.append("file", new File(["first file"], "a.txt"));
    form.append("file", new File(["second file"], "sub/b.txt"));
    const r = await postForm(s.url, form);
    expect(r.status).toBe(202);
    expect(r.body.data.artifacts).toEqual(["bundle/a.txt", "bundle/sub/b.txt"]);
    expect(r.body.data.files).toEqual([
      { path: "bundle/a.txt", length: 10, hashes: { sha256: sha256("first file"), sha512: sha512("first file") } },
      {
        path: "bundle/sub/b.txt",
        length: 11,
        hashes: { sha256: sha256("second file"), sha512: sha512("second file") },
      },
    ]);
    const task = await s.waitTask(r.body.data.task_id);
    expect(task.result.details.added_artifacts).toEqual(["bundle/a.txt", "bundle/sub/b.txt"]);
    const audit = (await s.app.store.listAudit({ limit: 100 })).find((a) => a.taskId === r.body.data.task_id);
    expect(audit).toMatchObject({
      principal: "admin",
      action: "add_artifacts",
      route: "POST /api/v1/artifacts/upload",
    });
    const got = await fetch(`${s.url}/targets/bundle/sub/${sha256("second file")}.b.txt`);
    expect(await got.text()).toBe("second file");
  });

  test("path_prefix may come after the files", async () => {
    const form = new FormData();
    form.append("file", new File(["late prefix"], "c.txt"));
    form.append("path_prefix", "late");
    const r = await postForm(s.url, form, "?publish=false");
    expect(r.status).toBe(202);
    expect(r.body.data.artifacts).toEqual(["late/c.txt"]);
    expect(r.body.message).toBe("New Artifact(s) successfully submitted. Publishing will be skipped.");
  });

  const formRefusals: { name: string; form: () => FormData; status: number; loc?: (string | number)[] }[] = [
    { name: "no file part", form: () => fd([["path_prefix", "x/"]]), status: 422, loc: ["body", "file"] },
    {
      name: "an unknown field",
      form: () =>
        fd([
          ["file", file("a", "x")],
          ["colour", "red"],
        ]),
      status: 422,
      loc: ["body", "colour"],
    },
    {
      name: "a bad path_prefix",
      form: () =>
        fd([
          ["path_prefix", "../up"],
          ["file", file("a", "x")],
        ]),
      status: 422,
      loc: ["body", "path_prefix"],
    },
    {
      name: "a filename that is not a target path (checked after the files when the prefix comes late)",
      form: () =>
        fd([
          ["file", file("ok", "x")],
          ["file", file("../evil", "y")],
        ]),
      status: 422,
      loc: ["body", "file", 1, "filename"],
    },
    {
      name: "the same path twice",
      form: () =>
        fd([
          ["file", file("same", "x")],
          ["file", file("same", "y")],
        ]),
      status: 422,
      loc: ["body", "file", 1, "filename"],
    },
    {
      name: "files over the limit together",
      form: () =>
        fd([
          ["file", file("a", "x".repeat(LIMIT / 2 + 1))],
          ["file", file("b", "y".repeat(LIMIT / 2 + 1))],
        ]),
      status: 413,
    },
  ];
  for (const row of formRefusals) {
    test(`${row.status}: ${row.name}, nothing changes`, async () => {
      await nothingChanged(async () => {
        const r = await postForm(s.url, row.form());
        expect(r.status).toBe(row.status);
        if (row.loc) expect(r.body.detail[0].loc).toEqual(row.loc);
      });
    });
  }

  test("422: not multipart", async () => {
    const r = await s.api("POST", "/api/v1/artifacts/upload", { file: "x" });
    expect(r.status).toBe(422);
    expect(r.body.detail[0].loc).toEqual(["header", "content-type"]);
  });
});

test("404 before bootstrap, for both routes", async () => {
  const fresh = await startTestServer();
  try {
    expect((await put(fresh.url, "a.bin", "x")).status).toBe(404);
    expect((await postForm(fresh.url, fd([["file", file("a", "x")]]))).status).toBe(404);
  } finally {
    await fresh.stop();
  }
});

function file(name: string, text: string): File {
  return new File([text], name);
}

function fd(entries: [string, string | File][]): FormData {
  const form = new FormData();
  for (const [k, v] of entries) form.append(k, v);
  return form;
}
