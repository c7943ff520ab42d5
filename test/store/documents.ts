/** Publications for store tests that look like the engine's: documents that list what the artifact rows say. */
import type { DocumentRecord, Publication, Store } from "../../src/store/store.ts";
import { canonicalTargetsText, serializeEnvelope } from "../../src/tuf/document.ts";

function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

/**
 * The publication with the documents its artifact rows imply, as the engine
 * writes them: every role that gains or loses a path gets a new version
 * listing exactly its entries (a version the publication already carries
 * gets those bytes). A role whose path moves to another role keeps its
 * document, as in a re-binning. The SQLite store reads fragments back out of
 * these documents.
 */
export async function withDocuments(store: Store, pub: Publication): Promise<Publication> {
  const { upsert, remove } = pub.artifacts!;
  const listed = new Map<string, Map<string, string>>();
  const entriesOf = async (role: string) => {
    let m = listed.get(role);
    if (!m) {
      m = new Map((await store.listArtifactsInRole(role)).map((a) => [a.path, a.fragment]));
      listed.set(role, m);
    }
    return m;
  };
  for (const path of remove) {
    const was = await store.getArtifact(path);
    if (was) (await entriesOf(was.role)).delete(path);
  }
  const moved = new Set<string>();
  for (const a of upsert) {
    const was = await store.getArtifact(a.path);
    if (was && was.role !== a.role && !remove.includes(a.path)) moved.add(was.role);
    (await entriesOf(a.role)).set(a.path, a.fragment);
  }
  const heads = new Map((await store.getHeads()).map((h) => [h.role, h.version]));
  const documents = [...pub.documents];
  const expectedHeads = { ...pub.expectedHeads };
  for (const [role, entries] of listed) {
    if (moved.has(role) && !upsert.some((a) => a.role === role)) continue;
    const at = documents.findIndex((d) => d.role === role);
    const version = at >= 0 ? documents[at]!.version : (heads.get(role) ?? 0) + 1;
    const text = canonicalTargetsText(
      { _type: "targets", spec_version: "1.0.31", version, expires: "2030-01-01T00:00:00Z" },
      [...entries],
    );
    const bytes = serializeEnvelope(text, [{ keyid: "00", sig: "00" }]);
    const d: DocumentRecord = { role, version, bytes, expires: "2030-01-01T00:00:00Z", sha256: sha256(bytes) };
    if (at >= 0) documents[at] = d;
    else documents.push(d);
    if (!(role in expectedHeads)) expectedHeads[role] = heads.get(role) ?? 0;
  }
  return { ...pub, documents, expectedHeads };
}
