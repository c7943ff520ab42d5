/**
 * A delegated role's next version signed elsewhere by its offline keys and
 * uploaded whole (issue 17 item 4; RSTUF #647, draft API PR #939): accepted
 * documents are published with a new snapshot and timestamp and tuf-js
 * downloads a target they list; each bad document is refused with 422 and
 * its reason, and nothing is published.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, generateKeyPairSync } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Updater } from "tuf-js";
import { delegationCommand, roleFromFileName } from "../../src/cli/delegation.ts";
import { canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import { formatExpires } from "../../src/tuf/dates.ts";
import { computeKeyId, type KeyJSON } from "../../src/tuf/keys.ts";
import { type NativeSigner, publicKeyJSONFor, signerFromPem } from "../../src/tuf/signer.ts";
import { testTerminal } from "../cli/helpers.ts";
import { fixture, fixtureKey } from "../helpers/fixtures.ts";
import { startTestServer, TOKEN, type TestServer, tempDir } from "../helpers/server.ts";

function newKey(): { json: KeyJSON; keyid: string; signer: NativeSigner } {
  const { privateKey } = generateKeyPairSync("ed25519");
  const json = publicKeyJSONFor(privateKey);
  const keyid = computeKeyId(json);
  const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  return { json, keyid, signer: signerFromPem(pem, { keyJSON: json, keyid }) };
}

const CONTENT = utf8("team artifact bytes\n");
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("upload of signed delegated metadata", () => {
  let server: TestServer;
  let content: ReturnType<typeof Bun.serve> | undefined;
  const dir = tempDir("tufbox-deleg-upload-");
  const k1 = newKey();
  const k2 = newKey();
  const days = (n: number) => formatExpires(new Date(Date.now() + n * 86_400_000));

  const teamDoc = (version: number, targets: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    _type: "targets",
    spec_version: "1.0.31",
    version,
    expires: days(30),
    targets,
    ...extra,
  });
  const sign = (signed: unknown, signers = [k1, k2]) => ({
    signed,
    signatures: signers.map((k) => ({ keyid: k.keyid, sig: k.signer.sign(utf8(canonicalJson(signed))) })),
  });
  const upload = (metadata: unknown, rolename = "team") =>
    server.api("POST", "/api/v1/delegations/metadata", { rolename, metadata });
  const head = (role: string) => server.app.repo.heads().find((h) => h.role === role)?.version;
  const client = (name: string) =>
    new Updater({
      metadataBaseUrl: `${server.url}/metadata`,
      metadataDir: join(dir, name),
      targetDir: join(dir, `${name}-t`),
      targetBaseUrl: `http://127.0.0.1:${content!.port}/`,
    });
  const file = { length: CONTENT.length, hashes: { sha256: sha256(CONTENT) } };

  beforeAll(async () => {
    const p = fixture("bootstrap-delegations.json");
    p.settings.roles.delegations.keys[k1.keyid] = k1.json;
    p.settings.roles.delegations.keys[k2.keyid] = k2.json;
    // An earlier delegation claiming some of team's paths (checked first by clients and by tufbox).
    p.settings.roles.delegations.roles.unshift({
      name: "early",
      terminating: false,
      keyids: [],
      threshold: 1,
      paths: ["team/early-*"],
    });
    p.settings.roles.delegations.roles.push({
      name: "team",
      terminating: true,
      keyids: [k1.keyid, k2.keyid],
      threshold: 2,
      paths: ["team/*"],
      "x-rstuf-expire-policy": 30,
    });
    server = await startTestServer();
    const r = await server.api("POST", "/api/v1/bootstrap", p);
    expect((await server.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
    for (const name of ["a", "b"])
      await Bun.write(
        join(dir, name, "root.json"),
        await (await fetch(`${server.url}/metadata/1.root.json`)).arrayBuffer(),
      );
    // The artifact bytes, where clients fetch them (consistent snapshot: <sha256>.<name>).
    content = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req) =>
        new URL(req.url).pathname === `/team/${sha256(CONTENT)}.tool-1.0.tar.gz`
          ? new Response(CONTENT)
          : new Response("not found", { status: 404 }),
    });
  });
  afterAll(async () => {
    content?.stop(true);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a good document is published with snapshot and timestamp; tuf-js downloads a target it lists", async () => {
    expect(head("team")).toBeUndefined(); // v1 waits for signers since bootstrap
    const snapshotBefore = head("snapshot")!;
    const r = await upload(sign(teamDoc(1, { "team/tool-1.0.tar.gz": file })));
    expect(r.status).toBe(202);
    expect(r.body.message).toBe("Metadata delegation add accepted.");
    const t = await server.waitTask(r.body.data.task_id);
    expect(t.state).toBe("SUCCESS");
    expect(t.result.task).toBe("metadata_delegation");
    expect(t.result.details).toEqual({ delegated_roles: ["team"], failed_roles: [], version: 1 });
    expect(head("team")).toBe(1);
    expect(head("snapshot")).toBe(snapshotBefore + 1);
    const snapshot: any = await (await fetch(`${server.url}/metadata/${head("snapshot")}.snapshot.json`)).json();
    expect(snapshot.signed.meta["team.json"]).toEqual({ version: 1 });
    // The superseded v1 signing session is gone.
    expect((await server.api("GET", "/api/v1/metadata/sign")).body.data.metadata.team).toBeUndefined();

    const u = client("a");
    await u.refresh();
    const info = await u.getTargetInfo("team/tool-1.0.tar.gz");
    expect(info?.length).toBe(CONTENT.length);
    const path = await u.downloadTarget(info!, join(dir, "tool.tar.gz"));
    expect(await Bun.file(path).text()).toBe(new TextDecoder().decode(CONTENT));
    expect((await server.app.store.getArtifact("team/tool-1.0.tar.gz"))?.role).toBe("team");
  });

  const refusals: [string, () => unknown, string | undefined, (string | number)[], string][] = [
    [
      "bad signature",
      () => {
        const doc: any = sign(teamDoc(2, { "team/x.bin": file }));
        doc.signed.targets["team/x.bin"] = { ...file, length: 99 };
        return doc;
      },
      undefined,
      ["body", "metadata", "signatures"],
      " does not verify over the canonical JSON of signed",
    ],
    [
      "below threshold",
      () => sign(teamDoc(2, { "team/x.bin": file }), [k1]),
      undefined,
      ["body", "metadata", "signatures"],
      "1 of the 2 signatures team needs",
    ],
    [
      "wrong version",
      () => sign(teamDoc(3, { "team/x.bin": file })),
      undefined,
      ["body", "metadata", "signed", "version"],
      "expected version 2 (the published team is version 1), got 3",
    ],
    [
      "path outside the delegation",
      () => sign(teamDoc(2, { "other/x.bin": file })),
      undefined,
      ["body", "metadata", "signed", "targets", "other/x.bin"],
      "other/x.bin is outside the paths delegated to team (paths team/*)",
    ],
    [
      "a path an earlier delegation claims",
      () => sign(teamDoc(2, { "team/early-1.bin": file })),
      undefined,
      ["body", "metadata", "signed", "targets", "team/early-1.bin"],
      "team/early-1.bin is delegated to early first",
    ],
    [
      "oversize",
      () => {
        const targets: Record<string, unknown> = {};
        for (let i = 0; i < 6; i++) targets[`team/big-${i}`] = { ...file, custom: { pad: "x".repeat(1_000_000) } };
        return sign(teamDoc(2, targets));
      },
      undefined,
      ["body", "metadata"],
      "over the 5000000-byte limit TUF clients download for a targets role",
    ],
    [
      "expired",
      () => sign(teamDoc(2, { "team/x.bin": file }, { expires: formatExpires(new Date(Date.now() - 60_000)) })),
      undefined,
      ["body", "metadata", "signed", "expires"],
      "is in the past: the document has expired",
    ],
    [
      "not targets metadata",
      () => sign({ ...teamDoc(2, {}), _type: "root" }),
      undefined,
      ["body", "metadata", "signed", "_type"],
      'expected "targets", got "root"',
    ],
    [
      "a target entry that is not a TUF target (the path keeps its dots in the loc)",
      () => sign(teamDoc(2, { "team/x-1.0.tar.gz": { ...file, length: -1 } })),
      undefined,
      ["body", "metadata", "signed", "targets", "team/x-1.0.tar.gz", "length"],
      "must be at least 0",
    ],
    [
      "an online-key role",
      () => sign(teamDoc(2, { "nightly/x.bin": file })),
      "nightly",
      ["body", "rolename"],
      "nightly is signed by the online key",
    ],
    [
      "an unknown role",
      () => sign(teamDoc(1, {})),
      "nobody",
      ["body", "rolename"],
      "nobody is not a delegated role of this repository",
    ],
    [
      "further delegations",
      () => sign(teamDoc(2, {}, { delegations: { keys: {}, roles: [] } })),
      undefined,
      ["body", "metadata", "signed", "delegations"],
      "an uploaded role must not delegate further",
    ],
  ];

  for (const [name, make, role, loc, msg] of refusals) {
    test(`refused with 422 and nothing published: ${name}`, async () => {
      const before = { snapshot: head("snapshot"), timestamp: head("timestamp"), team: head("team") };
      const r = await upload(make(), role);
      expect(r.status).toBe(422);
      expect(r.body.detail[0].loc).toEqual(loc);
      expect(r.body.detail[0].msg).toContain(msg);
      await server.app.publisher.idle();
      expect({ snapshot: head("snapshot"), timestamp: head("timestamp"), team: head("team") }).toEqual(before);
    });
  }

  test("a role holding accepted artifact changes for its signers cannot be replaced by an upload", async () => {
    const { keyid } = fixtureKey("offline-ed25519");
    const add = await server.api("POST", "/api/v1/artifacts", {
      artifacts: [{ path: "releases/app.tar.gz", info: file }],
    });
    expect(add.status).toBe(202);
    await server.app.publisher.idle();
    const r = await upload({ signed: teamDoc(1, {}), signatures: [{ keyid, sig: "00" }] }, "releases");
    expect(r.status).toBe(422);
    expect(r.body.detail[0].msg).toContain("releases v1 is waiting for signatures and holds accepted artifact changes");
  });

  test("tufbox delegation upload FILE publishes the next version with a metadata:sign token (--json), and refuses a replay", async () => {
    const file2 = join(dir, "2.team.json");
    const doc2 = sign(teamDoc(2, { "team/tool-2.0.tar.gz": file }));
    await Bun.write(file2, JSON.stringify(doc2));
    const token = async (scopes: string[]) =>
      (await server.api("POST", "/api/v1/tokens", { name: scopes.join(" "), scopes })).body.data.token as string;
    // The signers' scope: a token that may only add artifacts cannot upload a role.
    const writer = await token(["artifacts:write"]);
    const refused = await server.api(
      "POST",
      "/api/v1/delegations/metadata",
      { rolename: "team", metadata: doc2 },
      { authorization: `Bearer ${writer}` },
    );
    expect(refused.status).toBe(403);
    const signer = await token(["metadata:sign"]);
    const t = testTerminal({ env: { TUFBOX_SERVER: server.url, TUFBOX_TOKEN: signer } });
    await delegationCommand(["upload", file2, "--json"], t.term);
    const result = JSON.parse(t.out.join("\n"));
    expect(result.state).toBe("SUCCESS");
    expect(result.role).toBe("team");
    expect(head("team")).toBe(2);
    const u = client("b");
    await u.refresh();
    expect((await u.getTargetInfo("team/tool-2.0.tar.gz"))?.path).toBe("team/tool-2.0.tar.gz");
    // v2 dropped tool-1.0: gone for clients and from the artifact table.
    expect(await u.getTargetInfo("team/tool-1.0.tar.gz")).toBeUndefined();
    expect(await server.app.store.getArtifact("team/tool-1.0.tar.gz")).toBeUndefined();

    // The same file again: version 2 is published already.
    const again = testTerminal({ env: { TUFBOX_SERVER: server.url, TUFBOX_TOKEN: TOKEN } });
    await expect(delegationCommand(["upload", file2, "--json"], again.term)).rejects.toThrow();
    expect(JSON.parse(again.out.join("\n")).error.detail[0].msg).toBe(
      "expected version 3 (the published team is version 2), got 2",
    );
  });

  test("the CLI names what is missing: the subcommand, the role", async () => {
    await expect(delegationCommand([], testTerminal().term)).rejects.toThrow("missing the subcommand");
    await expect(delegationCommand(["upload", join(dir, "signed.txt")], testTerminal().term)).rejects.toThrow(
      "cannot tell the role from the file name signed.txt",
    );
    expect(roleFromFileName("12.team.json")).toBe("team");
    expect(roleFromFileName("team.json")).toBe("team");
  });
});
