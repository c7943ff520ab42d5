/**
 * `tufbox quickstart`: a ready repository in seconds for evaluation. On an
 * empty data directory it generates DEVELOPMENT root and online keys, signs a
 * root, bootstraps, and serves; on a bootstrapped directory it just serves.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdirSync, writeFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadConfig } from "../config.ts";
import { createApp, listen } from "../app.ts";
import { checkStartupPaths } from "../startup.ts";
import { canonicalJson } from "../tuf/canonical.ts";
import { computeKeyId } from "../tuf/keys.ts";
import { expiresIn } from "../tuf/dates.ts";
import { SPEC_VERSION, type RootSigned } from "../tuf/metadata.ts";
import { signText } from "../tuf/document.ts";
import { signerFromPem, publicKeyJSONFor } from "../tuf/signer.ts";
import { parseBootstrapPayload } from "../server/api/bootstrap/model.ts";
import type { Repository } from "../repository/repository.ts";
import type { Store } from "../store/store.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { loggerFor, runUntilSignal } from "./serve.ts";
import { KEY_NAME, ONLINE_KEY_URI } from "../tuf/rstuf.ts";
import { configFlagsHelp } from "./help.ts";
import { binCountConcern } from "../tuf/bin-advice.ts";

export const QUICKSTART_FLAGS = { bins: { type: "string" } } as const;

export const QUICKSTART_HELP = `tufbox quickstart [--data-dir DIR] [--listen HOST:PORT] [--bins N] [flags below]

On an empty DIR: generates development keys (root key unencrypted on disk:
for evaluation only), bootstraps a repository with N hash bins and serves it.
On a bootstrapped DIR: serves it.

  --bins N                  hash bins, a power of two in 2..16384 (default 256: bins under
                            64 KiB up to ~100,000 artifacts, quick for tuf-js and python-tuf;
                            tufbox bins advise --artifacts N for more)

${configFlagsHelp()}`;

function pem(key: KeyObject): string {
  return key.export({ format: "pem", type: "pkcs8" }).toString();
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

/** Development keys and a root v1 signed by the development root key, as an RSTUF bootstrap payload. */
export function developmentPayload(opts: { dataDir: string; onlineKeyDir: string; bins: number; now?: Date }): unknown {
  const now = opts.now ?? new Date();
  const root = generateKeyPairSync("ed25519").privateKey;
  const online = generateKeyPairSync("ed25519").privateKey;
  const rootJSON = publicKeyJSONFor(root, { [KEY_NAME]: "quickstart root key (DEVELOPMENT ONLY)" });
  const rootId = computeKeyId(rootJSON);
  const onlineBase = publicKeyJSONFor(online);
  const onlineId = computeKeyId(onlineBase);
  const onlineJSON = { ...onlineBase, [KEY_NAME]: "online key", [ONLINE_KEY_URI]: `fn:${onlineId}` };
  mkdirSync(opts.onlineKeyDir, { recursive: true, mode: 0o700 });
  writeSecret(join(opts.onlineKeyDir, onlineId), pem(online));
  writeSecret(join(opts.dataDir, "DEVELOPMENT-root-key.pem"), pem(root));
  const signed: RootSigned = {
    _type: "root",
    spec_version: SPEC_VERSION,
    version: 1,
    expires: expiresIn(now, 365),
    consistent_snapshot: true,
    keys: { [rootId]: rootJSON, [onlineId]: onlineJSON },
    roles: {
      root: { keyids: [rootId], threshold: 1 },
      targets: { keyids: [onlineId], threshold: 1 },
      snapshot: { keyids: [onlineId], threshold: 1 },
      timestamp: { keyids: [onlineId], threshold: 1 },
    },
  };
  const doc = signText(canonicalJson(signed), [signerFromPem(pem(root), { keyJSON: rootJSON, keyid: rootId })]);
  return {
    settings: {
      roles: {
        root: { expiration: 365 },
        targets: { expiration: 365 },
        snapshot: { expiration: 1 },
        timestamp: { expiration: 1 },
        bins: { expiration: 1, number_of_delegated_bins: opts.bins },
      },
    },
    metadata: { root: { signed, signatures: doc.signatures } },
  };
}

/** Wait for an accepted bootstrap to finish; throws with the task's error if it failed. */
export async function waitForBootstrap(
  repo: Repository,
  store: Store,
  taskId: string,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (repo.bootstrapped) return;
    const task = await store.getTask(taskId);
    if (task && (task.state === "FAILURE" || task.state === "ERRORED"))
      throw new Error(`bootstrap failed: ${task.result?.error ?? task.result?.message ?? "unknown error"}`);
    await Bun.sleep(20);
  }
  throw new Error("bootstrap did not finish in time");
}

export async function quickstartCommand(argv: string[]): Promise<void> {
  const args = parseCommandArgs("quickstart", argv, QUICKSTART_FLAGS);
  if (args.own.help) {
    console.log(QUICKSTART_HELP);
    return;
  }
  const bins = args.own.bins === undefined ? 256 : Number(args.own.bins);
  if (!Number.isInteger(bins) || bins < 2 || bins > 16384 || (bins & (bins - 1)) !== 0) {
    throw new UsageError(
      `--bins ${String(args.own.bins)} is not allowed`,
      "use a power of two between 2 and 16384, e.g. --bins 256",
    );
  }
  const config = loadConfig({ flags: args.config });
  const log = loggerFor(config);
  for (const w of config.meta.warnings) log.warn(w);
  checkStartupPaths(config);
  const app = await createApp(config, log);
  app.repo.checkOnlineKey();
  // The port (and TLS) first: a start that cannot listen must not have
  // generated keys, bootstrapped, or stored an admin token nobody sees.
  const listener = listen(app);
  if (!app.repo.bootstrapped && !app.repo.bootstrapRecord) {
    const payload = developmentPayload({ dataDir: config.data_dir, onlineKeyDir: config.online_key_dir, bins });
    const { taskId } = await app.repo.acceptBootstrap(parseBootstrapPayload(payload));
    await waitForBootstrap(app.repo, app.store, taskId);
    const keyPath = resolve(config.data_dir, "DEVELOPMENT-root-key.pem");
    log.warn("=".repeat(72));
    log.warn("QUICKSTART: generated DEVELOPMENT keys, for evaluation only.");
    log.warn(
      `The root private key is UNENCRYPTED at ${keyPath}; a real repository keeps root keys offline (tufbox ceremony).`,
    );
    log.warn("=".repeat(72));
    log.info(`bootstrapped a repository with ${bins} hash bins`);
    const concern = binCountConcern(bins);
    if (concern) log.warn(concern);
  } else if (existsSync(join(config.data_dir, "DEVELOPMENT-root-key.pem"))) {
    log.warn("serving a quickstart repository with DEVELOPMENT keys (evaluation only)");
  }
  await runUntilSignal(
    app,
    log,
    (running) => {
      log.info(`trusted root for clients: ${running.url}/metadata/1.root.json`);
    },
    listener,
  );
}
