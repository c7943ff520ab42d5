/**
 * Every command's --help lists every flag the command accepts: the flag
 * specs the commands parse with are the source, and the configuration flags
 * come from the config table (src/config.ts), so neither can drift from the
 * help. A command missing from this table fails the coverage check below.
 */
import { describe, expect, test } from "bun:test";
import { CONFIG_FLAGS, CONFIG_KEYS } from "../../src/config.ts";
import type { FlagSpec } from "../../src/cli/args.ts";
import { CONFIG_FLAG_DOCS, configFlagsHelp } from "../../src/cli/help.ts";
import { QUICKSTART_FLAGS } from "../../src/cli/quickstart.ts";
import { HEALTHCHECK_FLAGS } from "../../src/cli/healthcheck.ts";
import { KEY_GENERATE_FLAGS, KEY_INFO_FLAGS } from "../../src/cli/key.ts";
import { FLAGS as CEREMONY_FLAGS } from "../../src/cli/ceremony.ts";
import { FLAGS as SIGN_FLAGS } from "../../src/cli/sign.ts";
import { ROOT_UPDATE_FLAGS } from "../../src/cli/root-update.ts";
import { FLAGS as SEND_FLAGS } from "../../src/cli/send.ts";
import { FLAGS as ARTIFACT_FLAGS } from "../../src/cli/artifact.ts";
import { FLAGS as TASK_FLAGS } from "../../src/cli/task.ts";
import { SERVER_FLAGS } from "../../src/cli/server-options.ts";
import { TOKEN_FLAGS } from "../../src/cli/token.ts";
import { PUBLISHER_FLAGS } from "../../src/cli/publisher.ts";
import { AUDIT_FLAGS } from "../../src/cli/audit.ts";
import { MIRROR_FLAGS } from "../../src/cli/mirror.ts";
import { EXPORT_FLAGS } from "../../src/cli/export.ts";
import { IMPORT_FLAGS } from "../../src/cli/import.ts";
import { UPLOAD_FLAGS } from "../../src/cli/upload.ts";
import { BINS_RESIZE_FLAGS } from "../../src/cli/bins-resize.ts";
import { VALIDATE_FLAGS } from "../../src/cli/validate.ts";
import { BACKUP_FLAGS, RESTORE_FLAGS } from "../../src/cli/backup.ts";
import { DELEGATION_FLAGS } from "../../src/cli/delegation.ts";
import { BINS_ADVISE_FLAGS } from "../../src/cli/bins.ts";
import { runCli, tempDir } from "./helpers.ts";

/** argv before --help → the flags that command parses. */
const COMMANDS: [string, FlagSpec][] = [
  ["serve", CONFIG_FLAGS],
  ["quickstart", { ...CONFIG_FLAGS, ...QUICKSTART_FLAGS }],
  ["healthcheck", { ...CONFIG_FLAGS, ...HEALTHCHECK_FLAGS }],
  ["mirror", { ...CONFIG_FLAGS, ...MIRROR_FLAGS }],
  ["export", { ...CONFIG_FLAGS, ...EXPORT_FLAGS }],
  ["validate", { ...CONFIG_FLAGS, ...VALIDATE_FLAGS }],
  ["backup", { ...CONFIG_FLAGS, ...BACKUP_FLAGS }],
  ["restore", { ...CONFIG_FLAGS, ...RESTORE_FLAGS }],
  ["key generate", KEY_GENERATE_FLAGS],
  ["key info", KEY_INFO_FLAGS],
  ["ceremony", CEREMONY_FLAGS],
  ["sign", SIGN_FLAGS],
  ["root update", ROOT_UPDATE_FLAGS],
  ["bootstrap", SEND_FLAGS],
  ["send", SEND_FLAGS],
  ["artifact add", ARTIFACT_FLAGS],
  ["artifact delete", ARTIFACT_FLAGS],
  ["artifact upload", UPLOAD_FLAGS],
  ["import", IMPORT_FLAGS],
  ["task", TASK_FLAGS],
  ["delegation upload", DELEGATION_FLAGS],
  // admin-token reads only the configuration keys its help names.
  ["status", SERVER_FLAGS],
  ["bins resize", BINS_RESIZE_FLAGS],
  ["bins advise", BINS_ADVISE_FLAGS],
  ["token create", TOKEN_FLAGS],
  ["publisher pause", PUBLISHER_FLAGS],
  ["audit", AUDIT_FLAGS],
  ["admin-token reset", { "data-dir": CONFIG_FLAGS["data-dir"]!, database: CONFIG_FLAGS.database! }],
  ["version", {}],
];

describe("--help lists every flag", () => {
  const dir = tempDir();
  for (const [command, spec] of COMMANDS) {
    test(command, async () => {
      const r = await runCli([...command.split(" "), "--help"], { cwd: dir });
      const help = r.stdout;
      if (command !== "version") expect(r.code).toBe(0);
      const missing = Object.keys(spec).filter((flag) => !new RegExp(`--${flag}(?![\\w-])`).test(help));
      expect(missing).toEqual([]);
    });
  }

  test("every command of 'tufbox help' is in the table above", async () => {
    const r = await runCli(["help"], { cwd: tempDir() });
    const listed = [...r.stdout.matchAll(/^ {2}([a-z][a-z-]*) {2,}/gm)].map((m) => m[1]!);
    expect(listed.length).toBeGreaterThan(10);
    const covered = new Set(COMMANDS.map(([c]) => c.split(" ")[0]!));
    expect(listed.filter((c) => !covered.has(c))).toEqual([]);
  });

  test("configuration flags are taken only by the commands that read the configuration", async () => {
    const r = await runCli(["key", "generate", "--out", "k", "--no-passphrase", "--data-dir", "/x"], {
      cwd: tempDir(),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--data-dir");
  });
});

describe("the configuration flags' help comes from the config table", () => {
  test("each config key with a flag has a help line, and no line is left over", () => {
    const withFlags = CONFIG_KEYS.filter((k) => k.flag !== undefined).map((k) => k.path);
    expect(Object.keys(CONFIG_FLAG_DOCS).sort()).toEqual([...withFlags].sort());
  });

  test("each line names the flag, its environment variable and, where there is one, its default", () => {
    const help = configFlagsHelp();
    for (const key of CONFIG_KEYS) {
      if (key.flag === undefined) continue;
      expect(help).toContain(`--${key.flag}`);
      for (const env of key.env) expect(help).toContain(env);
    }
    expect(help).toContain("(default 127.0.0.1:8080; env TUFBOX_LISTEN)");
    expect(help).toContain("--config FILE");
    // Secrets have no flag (argv is visible in ps): they must not appear as flags.
    expect(help).not.toContain("--admin-token");
    expect(help).not.toContain("--online-key ");
  });
});
