/**
 * End to end with the real tuf-js client, on local storage and on S3 (a real
 * s3rver on loopback, downloads redirected to presigned URLs): artifacts
 * whose bytes reached tufbox by PUT, by a multipart form, through the drop
 * directory and by `tufbox import` are downloaded and verified by tuf-js
 * from /targets/.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { importCommand } from "../../src/cli/import.ts";
import { artifactCommand } from "../../src/cli/artifact.ts";
import { tempDir, type TestServer } from "../helpers/server.ts";
import { startS3, type TestS3 } from "../helpers/s3.ts";
import { tufClient } from "../helpers/tufjs.ts";
import { bootstrapped, postForm, put, sha256 } from "../helpers/upload.ts";
import { serverTerm } from "../cli/server-helpers.ts";

const text = (s: string) => new TextEncoder().encode(s);

for (const backend of ["local", "s3"] as const) {
  describe(`tuf-js downloads uploaded artifacts (${backend} storage)`, () => {
    let s3: TestS3 | undefined;
    let server: TestServer;
    let trustedRoot: Uint8Array;
    let drop: string;
    const expected = new Map<string, Uint8Array>();

    beforeAll(async () => {
      drop = tempDir("tufbox-drop-");
      const env: Record<string, string> = { TUFBOX_DROP_DIR: drop, TUFBOX_DROP_DIR_SCAN_SECONDS: "1" };
      if (backend === "s3") {
        s3 = await startS3();
        Object.assign(env, s3.env);
      }
      server = await bootstrapped({ env });
      trustedRoot = new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer());
    }, 120_000);
    afterAll(async () => {
      await server?.stop();
      await s3?.stop();
    });

    async function verifyAll(): Promise<void> {
      const client = tufClient(server.url, join(tempDir("tufbox-client-"), "c"), trustedRoot);
      await client.refresh();
      for (const [path, bytes] of expected) {
        const got = await client.download(path);
        expect({ path, got: got && Buffer.from(got).toString("hex") }).toEqual({
          path,
          got: Buffer.from(bytes).toString("hex"),
        });
      }
    }

    test("PUT, multipart, drop directory and import, then one fresh client verifies them all", async () => {
      // PUT
      const one = text("uploaded with PUT");
      const r1 = await put(server.url, "put/app-1.0.tar.gz", one);
      expect(r1.status).toBe(202);
      expect((await server.waitTask(r1.body.data.task_id)).state).toBe("SUCCESS");
      expected.set("put/app-1.0.tar.gz", one);

      // multipart
      const form = new FormData();
      form.append("path_prefix", "form");
      form.append("file", new File(["first from a form"], "a.txt"));
      form.append("file", new File([new Uint8Array(300_000).fill(7)], "big/b.bin"));
      const r2 = await postForm(server.url, form);
      expect(r2.status).toBe(202);
      expect((await server.waitTask(r2.body.data.task_id)).state).toBe("SUCCESS");
      expected.set("form/a.txt", text("first from a form"));
      expected.set("form/big/b.bin", new Uint8Array(300_000).fill(7));

      // drop directory
      const tmp = join(drop, "tuf_tmp_ci-42");
      mkdirSync(join(tmp, "dropped", "deep"), { recursive: true });
      writeFileSync(join(tmp, "dropped", "deep", "c.txt"), "dropped by a pipeline");
      renameSync(tmp, join(drop, "tuf_ready_ci-42"));
      expected.set("dropped/deep/c.txt", text("dropped by a pipeline"));
      const deadline = Date.now() + 30_000;
      while (!(await server.app.store.getArtifact("dropped/deep/c.txt"))) {
        if (Date.now() > deadline) throw new Error("drop directory not published");
        await Bun.sleep(20);
      }

      // tufbox import DIR (in-process, against the real server)
      const dir = tempDir("tufbox-import-");
      mkdirSync(join(dir, "sub"));
      writeFileSync(join(dir, "x.txt"), "imported x");
      writeFileSync(join(dir, "sub", "y.txt"), "imported y");
      const t = serverTerm(server.url, { env: { XDG_STATE_HOME: tempDir("tufbox-state-") } });
      await importCommand([dir, "--prefix", "imported/", "--json"], t.term);
      const summary = JSON.parse(t.out.join("\n"));
      expect(summary).toMatchObject({ files: 2, uploaded: 2, skipped: 0, failed_tasks: [] });
      expected.set("imported/x.txt", text("imported x"));
      expected.set("imported/sub/y.txt", text("imported y"));

      // tufbox artifact upload FILE
      const file = join(dir, "x.txt");
      const u = serverTerm(server.url);
      await artifactCommand(["upload", file, "--prefix", "cli", "--json"], u.term);
      expect(JSON.parse(u.out.join("\n")).uploaded[0]).toMatchObject({
        path: "cli/x.txt",
        hashes: { sha256: sha256("imported x") },
      });
      expected.set("cli/x.txt", text("imported x"));

      await verifyAll();
      if (s3) {
        // The bytes are in the bucket (content-addressed), and /targets/ redirects there.
        const keys = await s3.keys();
        expect(keys).toContain(`sha256/${sha256(one)}`);
        const res = await fetch(`${server.url}/targets/put/${sha256(one)}.app-1.0.tar.gz`, { redirect: "manual" });
        expect(res.status).toBe(302);
        expect(res.headers.get("location")).toStartWith(s3.endpoint);
      }
    }, 120_000);

    test("a second import of the same directory is resumed from its journal: nothing is sent again", async () => {
      const dir = tempDir("tufbox-import-");
      for (let i = 0; i < 5; i++) writeFileSync(join(dir, `f${i}.txt`), `file ${i}`);
      const state = join(tempDir("tufbox-state-"), "journal.jsonl");
      const first = serverTerm(server.url);
      await importCommand([dir, "--state", state, "--json"], first.term);
      expect(JSON.parse(first.out.join("\n"))).toMatchObject({ uploaded: 5, skipped: 0 });
      writeFileSync(join(dir, "f5.txt"), "a new one");
      const second = serverTerm(server.url);
      await importCommand([dir, "--state", state, "--json"], second.term);
      expect(JSON.parse(second.out.join("\n"))).toMatchObject({ files: 6, uploaded: 1, skipped: 5 });
    }, 60_000);
  });
}
