/**
 * Root updates, signing sessions and forced bumps (RSTUF-API.md "Metadata").
 * RSTUF mangles role names in GET /metadata/sign; tufbox keeps them exact.
 */
import { Elysia } from "elysia";
import type { App } from "../../core.ts";
import { parseBump, parseRootUpdate, parseSign, parseSignDelete } from "../../repository/payloads.ts";
import { json } from "../errors.ts";
import { readJson } from "./body.ts";
import { accepted, actorOf } from "./route.ts";

export function metadataRoutes(app: App) {
  const max = () => app.config.limits.max_body_bytes;
  const now = () => new Date().toISOString();
  return new Elysia()
    .post(
      "/api/v1/metadata",
      async ({ request }) => {
        const root = parseRootUpdate(await readJson(request, max()));
        const { taskId } = await app.repo.acceptRootUpdate(root, actorOf(app, request));
        return accepted("Metadata update accepted.", { task_id: taskId, last_update: now() });
      },
      { parse: "none" },
    )
    .get("/api/v1/metadata/sign", async () => {
      const pending = await app.repo.pendingSigning();
      if (!pending) return json({ message: "No metadata pending signing available" });
      return json({ data: { metadata: pending }, message: "Metadata role(s) pending signing" });
    })
    .post(
      "/api/v1/metadata/sign",
      async ({ request }) => {
        const { role, signature } = parseSign(await readJson(request, max()));
        const { taskId } = await app.repo.acceptSign(role, signature, actorOf(app, request));
        return accepted("Metadata sign accepted.", { task_id: taskId, last_update: now() });
      },
      { parse: "none" },
    )
    .post(
      "/api/v1/metadata/sign/delete",
      async ({ request }) => {
        const role = parseSignDelete(await readJson(request, max()));
        const { taskId } = await app.repo.acceptSignDelete(role, actorOf(app, request));
        return accepted("Metadata sign delete accepted.", { task_id: taskId, last_update: now() });
      },
      { parse: "none" },
    )
    .post(
      "/api/v1/metadata/online",
      async ({ request }) => {
        // An empty body means "every online role", as RSTUF allows.
        const roles = parseBump(await readJson(request, max(), { emptyAs: {} }));
        const { taskId } = await app.repo.acceptBump(roles, actorOf(app, request));
        return accepted("Force online metadata update accepted.", { task_id: taskId, last_update: now() });
      },
      { parse: "none" },
    );
}
