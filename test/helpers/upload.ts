/** Shared helpers for artifact content tests: bootstrapped servers, uploads, what storage holds. */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { expect } from "bun:test";
import { binsPayload } from "./fixtures.ts";
import { startTestServer, TOKEN, type TestServer, type TestServerOptions } from "./server.ts";

export const sha256 = (b: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(b).digest("hex");
export const sha512 = (b: Uint8Array | string) => new Bun.CryptoHasher("sha512").update(b).digest("hex");

export async function bootstrapped(opts: TestServerOptions = {}, bins = 4): Promise<TestServer> {
  const s = await startTestServer(opts);
  const r = await s.api("POST", "/api/v1/bootstrap", binsPayload(bins));
  expect(r.status).toBe(202);
  expect((await s.waitTask(r.body.data.task_id, 60_000)).state).toBe("SUCCESS");
  return s;
}

export async function put(
  url: string,
  path: string,
  body: RequestInit["body"] | null,
  headers: Record<string, string> = {},
  query = "",
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/v1/artifacts/content/${path}${query}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${TOKEN}`, ...headers },
    body,
  });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed };
}

export async function postForm(
  url: string,
  form: FormData,
  query = "",
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/v1/artifacts/upload${query}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, ...headers },
    body: form,
  });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed };
}

/** Files under a local storage directory: content objects and staging leftovers. */
export function localFiles(contentDir: string): { objects: string[]; staging: string[] } {
  const objects: string[] = [];
  const root = join(contentDir, "objects", "sha256");
  if (existsSync(root)) for (const d of readdirSync(root)) for (const f of readdirSync(join(root, d))) objects.push(f);
  const stagingDir = join(contentDir, "staging");
  const staging = existsSync(stagingDir) ? readdirSync(stagingDir) : [];
  return { objects: objects.sort(), staging };
}
