/**
 * config/systemd/tufbox.service passes `systemd-analyze verify` with no
 * complaint at all (a misspelled directive is only a warning there, so any
 * output fails the test), and `systemd-analyze security` rates its exposure
 * "OK". Both run offline against a scratch root holding the unit, an
 * executable at ExecStart's path and a copy of this machine's system units.
 */
import { beforeAll, expect, test } from "bun:test";
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "../helpers/release.ts";
import { tempDir } from "../helpers/temp.ts";
import { fileExists, onPath, withTools } from "../helpers/tools.ts";

const UNIT = join(REPO, "config/systemd/tufbox.service");
const SYSTEM_UNITS = "/usr/lib/systemd/system";

withTools(
  "test/deploy/systemd.test.ts",
  [onPath("systemd-analyze", "apt-get install systemd"), fileExists(SYSTEM_UNITS, "apt-get install systemd")],
  () => {
    let root: string;

    /** A scratch root with `unitText` installed as tufbox.service. */
    function rootWith(unitText: string): string {
      const dir = tempDir("tufbox-systemd-");
      mkdirSync(join(dir, "usr/lib/systemd"), { recursive: true });
      cpSync(SYSTEM_UNITS, join(dir, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
      mkdirSync(join(dir, "usr/local/bin"), { recursive: true });
      writeFileSync(join(dir, "usr/local/bin/tufbox"), "#!/bin/sh\n");
      chmodSync(join(dir, "usr/local/bin/tufbox"), 0o755);
      mkdirSync(join(dir, "etc/systemd/system"), { recursive: true });
      writeFileSync(join(dir, "etc/systemd/system/tufbox.service"), unitText);
      return dir;
    }

    function analyze(args: string[], dir: string): { code: number; out: string; err: string } {
      const p = Bun.spawnSync(["systemd-analyze", ...args, `--root=${dir}`, "tufbox.service"], {
        stdout: "pipe",
        stderr: "pipe",
        env: { ...process.env, SYSTEMD_LOG_COLOR: "0", SYSTEMD_PAGER: "" },
      });
      return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
    }

    beforeAll(() => {
      root = rootWith(readFileSync(UNIT, "utf8"));
    });

    test("systemd-analyze verify: exit 0, not one warning", () => {
      const r = analyze(["verify"], root);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
    }, 60_000);

    test("verify can fail: a misspelled directive or a missing executable is reported", () => {
      const typo = analyze(["verify"], rootWith(readFileSync(UNIT, "utf8").replace("ProtectSystem=", "ProtectSystm=")));
      expect(typo.err).toContain("Unknown key 'ProtectSystm'");
      const noBinary = analyze(
        ["verify"],
        rootWith(
          readFileSync(UNIT, "utf8").replace("ExecStart=/usr/local/bin/tufbox", "ExecStart=/usr/local/bin/missing"),
        ),
      );
      expect(noBinary.code).not.toBe(0);
    }, 60_000);

    test("systemd-analyze security: overall exposure OK", () => {
      const r = analyze(["security", "--offline=true", "--no-pager"], root);
      const level = /Overall exposure level for tufbox\.service: ([\d.]+) (\w+)/.exec(r.out);
      expect(level?.[2]).toBe("OK");
      expect(Number(level?.[1])).toBeLessThan(2);
    }, 60_000);

    test("the unit is hardened as documented: dynamic user, state directory, read-only system, no new privileges", () => {
      const unit = readFileSync(UNIT, "utf8");
      for (const line of [
        "DynamicUser=yes",
        "StateDirectory=tufbox",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "ExecStart=/usr/local/bin/tufbox serve",
        "Environment=TUFBOX_ADMIN_TOKEN_FILE=%d/admin_token",
      ])
        expect(unit).toContain(`\n${line}\n`);
    });
  },
);
