/** `tufbox healthcheck`: the URL it probes, and its exit status against a real server and a closed port. */
import { expect, test } from "bun:test";
import { healthzUrl } from "../../src/cli/healthcheck.ts";
import { startTestServer } from "../helpers/server.ts";
import { runCli, tempDir } from "./helpers.ts";

test("probes loopback for a wildcard listen address, https with a certificate, IPv6 in brackets", () => {
  const tls = (cert: string | null) => ({ cert, key: cert });
  expect(healthzUrl({ listen: { host: "0.0.0.0", port: 8080 }, tls: tls(null) })).toBe("http://127.0.0.1:8080/healthz");
  expect(healthzUrl({ listen: { host: "::", port: 8443 }, tls: tls("c.pem") })).toBe("https://[::1]:8443/healthz");
  expect(healthzUrl({ listen: { host: "10.0.0.5", port: 80 }, tls: tls(null) })).toBe("http://10.0.0.5:80/healthz");
});

test("exit 0 against a serving tufbox (flag or TUFBOX_LISTEN), 1 with one line and a hint when nothing answers", async () => {
  const server = await startTestServer();
  const cwd = tempDir();
  try {
    const listen = server.url.replace("http://", "");
    const viaFlag = await runCli(["healthcheck", "--listen", listen], { cwd });
    expect(viaFlag.stdout).toBe(`${server.url}/healthz: ok\n`);
    expect(viaFlag.code).toBe(0);
    const viaEnv = await runCli(["healthcheck"], { cwd, env: { TUFBOX_LISTEN: listen } });
    expect(viaEnv.code).toBe(0);
  } finally {
    await server.stop();
  }
  const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = closed.port;
  closed.stop(true);
  const down = await runCli(["healthcheck", "--listen", `127.0.0.1:${port}`, "--timeout", "2"], { cwd });
  expect(down.code).toBe(1);
  expect(down.stderr).toBe(
    `tufbox healthcheck: http://127.0.0.1:${port}/healthz: cannot connect (ECONNREFUSED)\nhint: is tufbox running and listening there? (tufbox serve --listen)\n`,
  );
  const bad = await runCli(["healthcheck", "--timeout", "0"], { cwd });
  expect(bad.code).toBe(2);
}, 60_000);
