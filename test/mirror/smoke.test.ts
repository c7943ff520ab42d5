import { test, expect } from "bun:test";
import { join } from "node:path";
import { startUpstream, startMirror, publish, artifact } from "/work/wt/i12/test/mirror/helpers.ts";
import { tufClient } from "/work/wt/i12/test/helpers/tufjs.ts";
import { tempDir } from "/work/wt/i12/test/helpers/server.ts";

test("smoke", async () => {
  const up = await startUpstream(16);
  const a = artifact("rel/app-1.tgz", "hello app");
  await publish(up, [a]);
  const m = await startMirror(up.url, up.trustedRoot);
  await m.mirror.syncNow();
  console.log(JSON.stringify(m.mirror.status(), null, 1));
  console.log(m.logs.join("\n"));
  const c = tufClient(m.url, tempDir("c-"), up.trustedRoot);
  await c.refresh();
  expect(await c.download("rel/app-1.tgz")).toEqual(a.bytes);
  console.log(await (await fetch(m.url + "/metrics")).text());
  await m.stop();
  await up.server.stop();
}, 60000);
