/**
 * `tufbox healthcheck`: GET /healthz on the address the configuration says
 * the service listens on; exit 0 when it answers 200, 1 otherwise. It exists
 * for container HEALTHCHECKs and `ExecStartPost`-style probes: the image has
 * no curl or wget (nothing but the binary and glibc), and the check reads the
 * same flags, TUFBOX_* variables and --config file as `serve`, so it probes
 * whatever port the service was actually given.
 */
import { loadConfig, type Config } from "../config.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { ServerError } from "./client.ts";
import { flagString, parseCount } from "./flags.ts";
import { configFlagsHelp } from "./help.ts";

export const HEALTHCHECK_FLAGS = {
  url: { type: "string" },
  timeout: { type: "string" },
} as const;

export const HEALTHCHECK_HELP = `tufbox healthcheck [--listen HOST:PORT | --url URL] [--timeout SECONDS] [flags below]

GET /healthz of the service this configuration describes and exit 0 when it
answers 200, 1 otherwise (one line on stderr says why). An unspecified listen
address (0.0.0.0, ::) is probed on loopback; with --tls-cert it uses https
without verifying the certificate (it checks liveness, not identity).

  --url URL                 probe this URL instead (e.g. http://127.0.0.1:8080/healthz)
  --timeout SECONDS         give up after this long (default 5)

${configFlagsHelp()}`;

/** The /healthz URL for a listen address: loopback for a wildcard one. */
export function healthzUrl(config: Pick<Config, "listen" | "tls">): string {
  let host = config.listen.host;
  if (host === "0.0.0.0" || host === "") host = "127.0.0.1";
  else if (host === "::" || host === "::0") host = "::1";
  const scheme = config.tls.cert ? "https" : "http";
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${config.listen.port}/healthz`;
}

export async function healthcheckCommand(argv: string[]): Promise<void> {
  const args = parseCommandArgs("healthcheck", argv, HEALTHCHECK_FLAGS);
  if (args.own.help) {
    console.log(HEALTHCHECK_HELP);
    return;
  }
  if (args.positionals.length > 0)
    throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "run 'tufbox healthcheck --help'");
  const timeoutText = flagString(args.own, "timeout");
  const seconds =
    timeoutText === undefined ? 5 : parseCount(timeoutText, "--timeout", 1, "give whole seconds, e.g. --timeout 5");
  const explicit = flagString(args.own, "url");
  let url: string;
  if (explicit !== undefined) {
    if (!/^https?:\/\//.test(explicit))
      throw new UsageError(`--url ${explicit} is not an http(s) URL`, "e.g. --url http://127.0.0.1:8080/healthz");
    url = explicit;
  } else {
    url = healthzUrl(loadConfig({ flags: args.config }));
  }
  let status: number;
  try {
    const res = await fetch(url, {
      signal: AbortSignal.timeout(seconds * 1000),
      // A self-signed certificate for 127.0.0.1 would fail verification; this
      // probe asks "is the process serving", which TLS identity does not answer.
      tls: { rejectUnauthorized: false },
    });
    status = res.status;
    await res.body?.cancel();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why =
      err instanceof Error && err.name === "TimeoutError"
        ? `no answer within ${seconds}s`
        : typeof code === "string"
          ? `cannot connect (${code})`
          : err instanceof Error
            ? err.message
            : String(err);
    throw new ServerError(`${url}: ${why}`, "is tufbox running and listening there? (tufbox serve --listen)");
  }
  if (status !== 200)
    throw new ServerError(`${url} answered ${status}`, "the service is up but not healthy: see its log");
  console.log(`${url}: ok`);
}
