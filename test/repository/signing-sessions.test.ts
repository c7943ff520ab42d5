/**
 * Signing sessions and root rotation (src/repository/signing-sessions.ts,
 * root-update.ts) on a real SQLite file: documents short of their
 * thresholds wait, signatures are checked one by one, the document is
 * published the moment every threshold is met (root N+1: N's and N+1's).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ValidationError } from "../../src/repository/errors.ts";
import { toRootUpdate } from "../../src/server/api/metadata/model.ts";
import { parseBootstrapPayload } from "../../src/server/api/bootstrap/model.ts";
import { parseRoot, type Metadata, type RootSigned } from "../../src/tuf/metadata.ts";
import { fixture } from "../helpers/fixtures.ts";
import { bootstrapped, type Engine, openEngine, removeEngineDirs, signatureBy, verifyPublished } from "./helpers.ts";

afterAll(removeEngineDirs);

const rootOf = (file: string): Metadata<RootSigned> => parseRoot(fixture(file).metadata.root);

async function finished(e: Engine, p: Promise<{ taskId: string }>) {
  const { taskId } = await p;
  await e.repo.drain();
  return (await e.task(taskId))!;
}

describe("bootstrap waiting for root v1's signatures", () => {
  test("parked at 1 of 2; a bad signature is refused; the second root key's publishes it", async () => {
    const e = await openEngine();
    try {
      const payload = parseBootstrapPayload(fixture("bootstrap-bins-1-of-2-signatures.json"));
      const { taskId } = await e.repo.acceptBootstrap(payload);
      await e.repo.drain();
      expect(e.repo.bootstrapRecord?.state).toBe("signing");
      expect((await e.task(taskId))?.result?.details).toEqual({ bootstrap: "Root v1 is pending signatures" });
      const pending = (await e.repo.pendingSigning()) as Record<string, Metadata<RootSigned>>;
      expect(Object.keys(pending)).toEqual(["root"]);
      expect(e.files.size).toBe(0);

      const wrong = { ...signatureBy(pending.root!, "root-ecdsa"), sig: "00" };
      const refused = await finished(e, e.repo.acceptSign("root", wrong));
      expect([refused.state, refused.result?.error]).toEqual(["ERRORED", "Invalid signature"]);
      const notRoot = await finished(e, e.repo.acceptSign("root", signatureBy(pending.root!, "online-ed25519")));
      expect(notRoot.result?.error).toBe("Invalid signature");

      const signed = await finished(e, e.repo.acceptSign("root", signatureBy(pending.root!, "root-ecdsa")));
      expect(signed.result?.details).toEqual({ bootstrap: "Bootstrap Finished" });
      expect(e.repo.bootstrapRecord?.state).toBe("finished");
      expect(verifyPublished(e.files).versions.get("root")).toBe(1);
      expect(await e.repo.pendingSigning()).toBeNull();
    } finally {
      await e.close();
    }
  });

  test("cancelling it frees the repository for another bootstrap", async () => {
    const e = await openEngine();
    try {
      const { taskId } = await e.repo.acceptBootstrap(
        parseBootstrapPayload(fixture("bootstrap-bins-1-of-2-signatures.json")),
      );
      const cancel = await finished(e, e.repo.acceptSignDelete("root"));
      expect(cancel.result?.details).toEqual({ deleted_roles: ["root"] });
      expect((await e.task(taskId))?.state).toBe("REVOKED");
      expect(e.repo.bootstrapRecord).toBeUndefined();
      await bootstrapped(e);
    } finally {
      await e.close();
    }
  });
});

describe("root N+1", () => {
  test("at both thresholds: published, and a new online key re-signs every online role in the same batch", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e);
      const v2 = toRootUpdate({
        metadata: { root: fixture("metadata-update-root-v2-online-ecdsa.json").metadata.root },
      });
      const task = await finished(e, e.repo.acceptRootUpdate(v2));
      expect(task.result?.details).toEqual({ role: "root" });
      const p = verifyPublished(e.files);
      expect(p.versions.get("root")).toBe(2);
      // Every online role is now signed by the new (ecdsa) online key, one version up.
      for (const [role, version] of p.versions) if (role !== "root") expect([role, version]).toEqual([role, 2]);
      expect(e.repo.settings?.onlineKeyId).toBe(v2.signed.roles.timestamp.keyids[0]);
    } finally {
      await e.close();
    }
  });

  test("short of a threshold: pending with the trusted root; the missing signature publishes it", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e);
      await finished(e, e.repo.acceptRootUpdate(rootOf("metadata-update-root-v2-online-ecdsa.json")));
      const v3 = rootOf("metadata-update-root-v3-online-rsa-1-of-2.json");
      const parked = await finished(e, e.repo.acceptRootUpdate(v3));
      expect(parked.result?.details).toEqual({ update: "Root v3 is pending signatures" });
      const pending = (await e.repo.pendingSigning()) as Record<string, Metadata<RootSigned>>;
      expect(Object.keys(pending).sort()).toEqual(["root", "trusted_root"]);
      expect(pending.trusted_root!.signed.version).toBe(2);
      expect(verifyPublished(e.files).versions.get("root")).toBe(2);

      const signed = await finished(e, e.repo.acceptSign("root", signatureBy(pending.root!, "root-ecdsa")));
      expect(signed.result?.details).toEqual({ update: "Metadata update finished" });
      expect(verifyPublished(e.files).versions.get("root")).toBe(3);
    } finally {
      await e.close();
    }
  });

  test("a root that does not follow the trusted one is refused at once, naming the field", async () => {
    const e = await openEngine();
    try {
      await bootstrapped(e);
      const err = await e.repo
        .acceptRootUpdate(rootOf("metadata-update-root-v3-online-rsa-1-of-2.json"))
        .catch((x) => x);
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.issues[0]).toMatchObject({ loc: ["body", "metadata", "root", "signed", "version"] });
      expect(await e.repo.pendingSigning()).toBeNull();
    } finally {
      await e.close();
    }
  });
});
