/**
 * Online keys per role (issue 17 item 3) on the engine, real SQLite file:
 * timestamp, snapshot, targets and the bins each signed by a key of their
 * own, every key type in every role; a root update that rotates one of them
 * re-signs exactly the roles that key signs (versions compared before and
 * after); a key the server cannot load is refused at bootstrap with the
 * field. What is published is verified with @tufjs/models.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Metadata, MetadataKind } from "@tufjs/models";
import { parseBootstrapPayload } from "../../src/server/api/bootstrap/model.ts";
import { parseRoot } from "../../src/tuf/metadata.ts";
import { fixture } from "../helpers/fixtures.ts";
import {
  KEY_TYPES,
  newOnlineKey,
  onlineKeyDir,
  perRolePayload,
  type RoleKeys,
  rootUpdate,
} from "../helpers/online-keys.ts";
import {
  addition,
  bootstrapped,
  type Engine,
  openEngine,
  type Published,
  publishedTarget,
  removeEngineDirs,
  verifyPublished,
} from "./helpers.ts";

afterAll(removeEngineDirs);

const ROLES = ["timestamp", "snapshot", "targets", "bins"] as const;

async function bootstrapWith(e: Engine, keys: RoleKeys, bins = 4): Promise<void> {
  const { taskId } = await e.repo.acceptBootstrap(parseBootstrapPayload(perRolePayload(keys, bins)));
  await e.repo.drain();
  const task = await e.task(taskId);
  if (task?.state !== "SUCCESS") throw new Error(`bootstrap ${task?.state}: ${JSON.stringify(task?.result)}`);
}

/** The keyid of the one signature on each published role. */
function signers(p: Published): Record<string, string> {
  const out: Record<string, string> = {
    timestamp: p.timestamp.signatures ? Object.keys(p.timestamp.signatures)[0]! : "",
    snapshot: Object.keys(p.snapshot.signatures)[0]!,
    targets: Object.keys(p.targets.signatures)[0]!,
  };
  for (const [role, m] of p.roles) {
    expect(Object.keys(m.signatures)).toHaveLength(1);
    out[role] = Object.keys(m.signatures)[0]!;
  }
  for (const m of [p.timestamp, p.snapshot, p.targets]) expect(Object.keys(m.signatures)).toHaveLength(1);
  return out;
}

function versions(e: Engine): Map<string, number> {
  return new Map(e.repo.heads().map((h) => [h.role, h.version]));
}

describe("each role signed by its own online key", () => {
  // Three rounds: each key type signs each of the four roles once.
  for (let shift = 0; shift < KEY_TYPES.length; shift++) {
    const types = ROLES.map((_, i) => KEY_TYPES[(i + shift) % KEY_TYPES.length]!);
    test(`${ROLES.map((r, i) => `${r}: ${types[i]}`).join(", ")}`, async () => {
      const dir = onlineKeyDir();
      const [timestamp, snapshot, targets, bins] = types.map((t, i) => newOnlineKey(t, dir, `${ROLES[i]} key`));
      const keys: RoleKeys = { timestamp: timestamp!, snapshot: snapshot!, targets: targets!, bins: bins! };
      const e = await openEngine({ onlineKeyDir: dir });
      try {
        await bootstrapWith(e, keys);
        await e.repo.acceptAdd({
          artifacts: [addition("a/one"), addition("b/two")],
          addTaskIdToCustom: false,
          publish: true,
        });
        expect((await e.repo.publishOnce()).changes).toBe(2);
        const p = verifyPublished(e.files);
        expect(publishedTarget(p, "a/one")).toBeDefined();
        const by = signers(p);
        expect(by.timestamp).toBe(keys.timestamp.keyid);
        expect(by.snapshot).toBe(keys.snapshot.keyid);
        expect(by.targets).toBe(keys.targets.keyid);
        for (const bin of ["bins-0", "bins-1", "bins-2", "bins-3"]) expect(by[bin]).toBe(keys.bins!.keyid);
        expect(p.targets.signed.delegations?.succinctRoles?.keyIDs).toEqual([keys.bins!.keyid]);
        expect(e.repo.onlineKeys()).toEqual({
          targets: keys.targets.keyid,
          snapshot: keys.snapshot.keyid,
          timestamp: keys.timestamp.keyid,
          bins: keys.bins!.keyid,
        });
        expect(() => e.repo.checkOnlineKey()).not.toThrow();
      } finally {
        await e.close();
      }
    });
  }

  test("a role's key the server cannot load is refused at bootstrap, naming it; nothing is recorded", async () => {
    const dir = onlineKeyDir();
    const keys: RoleKeys = {
      timestamp: newOnlineKey("ed25519", dir),
      snapshot: newOnlineKey("ecdsa", dir),
      targets: newOnlineKey("rsa", dir),
      // Written elsewhere: the server's online key directory does not have it.
      bins: newOnlineKey("ed25519", onlineKeyDir()),
    };
    const e = await openEngine({ onlineKeyDir: dir });
    try {
      const err = await e.repo.acceptBootstrap(parseBootstrapPayload(perRolePayload(keys))).catch((x) => x);
      expect(err.issues[0].loc).toEqual(["body", "settings", "roles", "bins", "online_key", keys.bins!.keyid]);
      expect(err.issues[0].msg).toContain(`online key ${keys.bins!.keyid} is not available`);
      expect(err.issues[0].msg).not.toContain("PRIVATE KEY");
      expect(e.repo.bootstrapRecord).toBeUndefined();
    } finally {
      await e.close();
    }
  });
});

describe("a root update rotating one online key re-signs exactly what that key signs", () => {
  async function setup(ownBinsKey: boolean) {
    const dir = onlineKeyDir();
    const keys: RoleKeys = {
      timestamp: newOnlineKey("ed25519", dir),
      snapshot: newOnlineKey("ecdsa", dir),
      targets: newOnlineKey("rsa", dir),
      ...(ownBinsKey ? { bins: newOnlineKey("ed25519", dir) } : {}),
    };
    const e = await openEngine({ onlineKeyDir: dir });
    await bootstrapWith(e, keys);
    await e.repo.acceptAdd({ artifacts: [addition("kept/x")], addTaskIdToCustom: false, publish: true });
    await e.repo.publishOnce();
    return { e, dir, keys };
  }

  async function rotate(e: Engine, keys: RoleKeys): Promise<void> {
    const current = e.repo.root!.signed as unknown as Record<string, any>;
    const next = parseRoot(rootUpdate(current, keys));
    const { taskId } = await e.repo.acceptRootUpdate(next);
    await e.repo.drain();
    const task = await e.task(taskId);
    if (task?.state !== "SUCCESS") throw new Error(`root update ${task?.state}: ${JSON.stringify(task?.result)}`);
  }

  /** Roles whose version moved between `before` and now. */
  function moved(e: Engine, before: Map<string, number>): string[] {
    const out: string[] = [];
    for (const [role, v] of versions(e)) if (v !== before.get(role)) out.push(role);
    return out.sort();
  }

  test("timestamp key: root and timestamp only", async () => {
    const { e, dir, keys } = await setup(true);
    try {
      const before = versions(e);
      const timestamp = newOnlineKey("rsa", dir);
      await rotate(e, { ...keys, timestamp });
      expect(moved(e, before)).toEqual(["root", "timestamp"]);
      const p = verifyPublished(e.files);
      expect(signers(p).timestamp).toBe(timestamp.keyid);
      expect(publishedTarget(p, "kept/x")).toBeDefined();
    } finally {
      await e.close();
    }
  });

  test("snapshot key: root, snapshot and timestamp (it names the new snapshot)", async () => {
    const { e, dir, keys } = await setup(true);
    try {
      const before = versions(e);
      const snapshot = newOnlineKey("ed25519", dir);
      await rotate(e, { ...keys, snapshot });
      expect(moved(e, before)).toEqual(["root", "snapshot", "timestamp"]);
      const p = verifyPublished(e.files);
      expect(signers(p).snapshot).toBe(snapshot.keyid);
      expect(signers(p).timestamp).toBe(keys.timestamp.keyid);
    } finally {
      await e.close();
    }
  });

  test("targets key, bins with a key of their own: targets (and snapshot, timestamp), not the bins", async () => {
    const { e, dir, keys } = await setup(true);
    try {
      const before = versions(e);
      const targets = newOnlineKey("ecdsa", dir);
      await rotate(e, { ...keys, targets });
      expect(moved(e, before)).toEqual(["root", "snapshot", "targets", "timestamp"]);
      const p = verifyPublished(e.files);
      expect(signers(p).targets).toBe(targets.keyid);
      expect(signers(p)["bins-0"]).toBe(keys.bins!.keyid);
    } finally {
      await e.close();
    }
  });

  test("targets key, bins on the targets key: the bins follow it to the new key", async () => {
    const { e, dir, keys } = await setup(false);
    try {
      expect(verifyPublished(e.files).targets.signed.delegations?.succinctRoles?.keyIDs).toEqual([keys.targets.keyid]);
      const before = versions(e);
      const targets = newOnlineKey("ed25519", dir);
      await rotate(e, { ...keys, targets });
      expect(moved(e, before)).toEqual(
        ["bins-0", "bins-1", "bins-2", "bins-3", "root", "snapshot", "targets", "timestamp"].sort(),
      );
      const p = verifyPublished(e.files);
      expect(p.targets.signed.delegations?.succinctRoles?.keyIDs).toEqual([targets.keyid]);
      // The old targets key is no longer listed by the delegation.
      expect(Object.keys(p.targets.signed.delegations?.keys ?? {})).toEqual([targets.keyid]);
      for (const bin of ["bins-0", "bins-1", "bins-2", "bins-3"]) expect(signers(p)[bin]).toBe(targets.keyid);
      expect(publishedTarget(p, "kept/x")).toBeDefined();
    } finally {
      await e.close();
    }
  });

  test("the same keys again: root alone", async () => {
    const { e, keys } = await setup(true);
    try {
      const before = versions(e);
      await rotate(e, keys);
      expect(moved(e, before)).toEqual(["root"]);
      verifyPublished(e.files);
    } finally {
      await e.close();
    }
  });
});

describe("a custom delegated role with an online key of its own", () => {
  test("added over the delegations workflow, signed by its key; a key the server lacks fails that role", async () => {
    const dir = onlineKeyDir();
    const e = await openEngine({ onlineKeyDir: dir });
    try {
      await bootstrapped(e, "bootstrap-delegations.json");
      const own = newOnlineKey("ecdsa", dir, "team key");
      const role = (name: string, keyid: string) => ({
        name,
        terminating: true,
        keyids: [keyid],
        threshold: 1,
        paths: [`${name}/*`],
        "x-rstuf-expire-policy": 2,
      });
      const { taskId } = await e.repo.acceptDelegations("add", {
        keys: { [own.keyid]: own.key },
        roles: [role("team", own.keyid)],
      });
      await e.repo.drain();
      expect((await e.task(taskId))?.result?.details).toEqual({ delegated_roles: ["team"], failed_roles: [] });
      await e.repo.acceptAdd({ artifacts: [addition("team/tool.tgz")], addTaskIdToCustom: false, publish: true });
      expect((await e.repo.publishOnce()).changes).toBe(1);
      const p = verifyPublished(e.files);
      expect(Object.keys(p.roles.get("team")!.signatures)).toEqual([own.keyid]);
      expect(publishedTarget(p, "team/tool.tgz")).toBeDefined();
      // The RSTUF fixture's roles: nightly on the (one) online key, releases offline.
      expect(e.repo.onlineKeys().team).toBe(own.keyid);
      expect(e.repo.onlineKeys().nightly).toBe(e.repo.onlineKeys().targets);
      expect(e.repo.onlineKeys().releases).toBeUndefined();

      const missing = newOnlineKey("ed25519", onlineKeyDir());
      const r = await e.repo.acceptDelegations("add", {
        keys: { [missing.keyid]: missing.key },
        roles: [role("other", missing.keyid)],
      });
      await e.repo.drain();
      const failed = (await e.task(r.taskId))?.result?.details as any;
      expect(failed.delegated_roles).toEqual([]);
      expect(failed.failed_roles[0].role).toBe("other");
      expect(failed.failed_roles[0].reason).toContain(`online key ${missing.keyid} is not available`);
    } finally {
      await e.close();
    }
  });
});

describe("a bootstrap payload with custom delegations", () => {
  test("a role given its own online key in delegations.keys is signed by it from v1", async () => {
    const dir = onlineKeyDir();
    const own = newOnlineKey("rsa", dir, "nightly key");
    const payload = fixture("bootstrap-delegations.json");
    const d = payload.settings.roles.delegations;
    d.keys[own.keyid] = own.key;
    d.roles.find((r: { name: string }) => r.name === "nightly").keyids = [own.keyid];
    const e = await openEngine({ onlineKeyDir: dir });
    try {
      const { taskId } = await e.repo.acceptBootstrap(parseBootstrapPayload(payload));
      await e.repo.drain();
      expect((await e.task(taskId))?.state).toBe("SUCCESS");
      const p = verifyPublished(e.files);
      expect(Object.keys(p.roles.get("nightly")!.signatures)).toEqual([own.keyid]);
      expect(e.repo.onlineKeys().nightly).toBe(own.keyid);
    } finally {
      await e.close();
    }
    // Without the private key the payload is refused, naming the key.
    const other = await openEngine({ onlineKeyDir: onlineKeyDir() });
    try {
      const err = await other.repo.acceptBootstrap(parseBootstrapPayload(payload)).catch((x) => x);
      expect(err.issues[0].loc).toEqual(["body", "settings", "roles", "delegations", "keys", own.keyid]);
    } finally {
      await other.close();
    }
  });
});

describe("a custom role's own hash bins with a key per role", () => {
  test("signed by the targets role's key; a targets key rotation moves the role and its bins to the new key", async () => {
    const dir = onlineKeyDir();
    const keys: RoleKeys = {
      timestamp: newOnlineKey("ed25519", dir),
      snapshot: newOnlineKey("ecdsa", dir),
      targets: newOnlineKey("rsa", dir),
    };
    const payload = perRolePayload(keys);
    payload.settings.roles.bins = null;
    payload.settings.roles.delegations = {
      keys: {},
      roles: [
        {
          name: "pypi",
          terminating: true,
          keyids: [],
          threshold: 1,
          paths: ["pypi/*"],
          "x-rstuf-expire-policy": 5,
          "x-rstuf-num-bins": 4,
        },
      ],
    };
    const e = await openEngine({ onlineKeyDir: dir });
    try {
      const { taskId } = await e.repo.acceptBootstrap(parseBootstrapPayload(payload));
      await e.repo.drain();
      expect((await e.task(taskId))?.state).toBe("SUCCESS");
      await e.repo.acceptAdd({ artifacts: [addition("pypi/a.tgz")], addTaskIdToCustom: false, publish: true });
      expect((await e.repo.publishOnce()).changes).toBe(1);
      const nestedSigners = (targetsKey: string) => {
        const p = verifyPublished(e.files);
        const pypi = p.roles.get("pypi")!;
        expect(Object.keys(pypi.signatures)).toEqual([targetsKey]);
        expect(pypi.signed.delegations?.succinctRoles?.keyIDs).toEqual([targetsKey]);
        // Each bin as the pypi document delegates it (the snapshot lists them; verify with pypi's keys).
        const bins = [...p.versions.keys()].filter((r) => r.startsWith("pypi-bins-"));
        expect(bins).toHaveLength(4);
        for (const bin of bins) {
          const v = p.versions.get(bin)!;
          const m = Metadata.fromJSON(
            MetadataKind.Targets,
            JSON.parse(new TextDecoder().decode(e.files.get(`${v}.${bin}.json`)!)),
          );
          pypi.verifyDelegate(bin, m);
        }
      };
      nestedSigners(keys.targets.keyid);

      const targets = newOnlineKey("ed25519", dir);
      const next = parseRoot(rootUpdate(e.repo.root!.signed as unknown as Record<string, any>, { ...keys, targets }));
      const { taskId: rotated } = await e.repo.acceptRootUpdate(next);
      await e.repo.drain();
      expect((await e.task(rotated))?.state).toBe("SUCCESS");
      nestedSigners(targets.keyid);
    } finally {
      await e.close();
    }
  });
});
