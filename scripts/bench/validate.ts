/**
 * `tufbox validate` on a repository with 16384 hash bins (and --count
 * artifacts, metadata only): the whole walk from the trusted root, every bin
 * downloaded and verified, over HTTP from a running server (--server) and
 * from its data directory (--data-dir); then --server with the artifact
 * check (one HEAD per artifact; the bench's artifacts have no bytes, so each
 * is a 404 and a reported problem: the timing is what counts here).
 *   bun scripts/bench/validate.ts [--bins 16384] [--count 100000]
 * Prints figures and one JSON line. Noisy on a shared 2-core machine.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validateCommand } from "../../src/cli/validate.ts";
import type { ServerTerminal } from "../../src/cli/output.ts";
import { tempDir } from "../../test/helpers/server.ts";
import { addAll, bootstrappedServer, flag, waitTaskAt } from "./lib.ts";

const bins = flag("bins", 16384);
const count = flag("count", 100_000);

const { server, dataDir } = await bootstrappedServer(bins, {
  TUFBOX_MAX_BODY_BYTES: "64MiB",
  TUFBOX_MAX_ARTIFACTS_PER_REQUEST: "10000",
});
const work = tempDir("tufbox-bench-validate-");
try {
  if (count > 0) {
    const tasks = await addAll(server.url, "pkgs", 0, count, 10_000, 2);
    for (const t of tasks) await waitTaskAt(server.url, t, 600_000);
  }
  const rootFile = join(work, "1.root.json");
  writeFileSync(rootFile, new Uint8Array(await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer()));

  const run = async (args: string[]) => {
    const out: string[] = [];
    const term: ServerTerminal = {
      interactive: false,
      env: {},
      out: (t) => void out.push(t),
      info: () => {},
      ask: async () => "",
      askSecret: async () => "",
    };
    const t = performance.now();
    try {
      await validateCommand([...args, "--root", rootFile, "--json"], term);
    } catch {
      // problems found (the artifact run): the report is still on stdout
    }
    const seconds = (performance.now() - t) / 1000;
    return { seconds, report: JSON.parse(out.join("\n")) };
  };

  const http = await run(["--server", server.url, "--skip-artifacts"]);
  if (!http.report.ok) throw new Error(`validate found problems: ${JSON.stringify(http.report.problems.slice(0, 3))}`);
  const dir = await run(["--data-dir", dataDir, "--skip-artifacts"]);
  const withArtifacts = await run(["--server", server.url]);
  const roles = http.report.delegated_roles.verified + 1;
  console.log(
    `validate --server, ${bins} bins, ${count} artifacts: ${http.seconds.toFixed(2)} s (${Math.round(roles / http.seconds)} roles/s, snapshot ${http.report.snapshot.length} bytes, largest bin ${http.report.delegated_roles.largest?.length} bytes)`,
  );
  console.log(`validate --data-dir: ${dir.seconds.toFixed(2)} s`);
  console.log(
    `validate --server with the artifact check (${withArtifacts.report.artifacts.listed} HEAD requests): ${withArtifacts.seconds.toFixed(2)} s (${Math.round(withArtifacts.report.artifacts.listed / withArtifacts.seconds)} artifacts/s)`,
  );
  console.log(
    JSON.stringify({
      bench: "validate",
      bins,
      artifacts: count,
      server_seconds: +http.seconds.toFixed(2),
      data_dir_seconds: +dir.seconds.toFixed(2),
      server_with_artifacts_seconds: +withArtifacts.seconds.toFixed(2),
      roles_checked: roles,
    }),
  );
} finally {
  server.proc.kill("SIGTERM");
  await server.proc.exited;
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
