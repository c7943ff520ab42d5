// One-off: records what the hand-written parsers answered for every corpus case.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { ValidationError } from "../../../src/repository/errors.ts";
import {
  asObject,
  parseAddArtifacts,
  parseBootstrapPayload,
  parseBump,
  parseDelegations,
  parseRemoveArtifacts,
  parseRootUpdate,
  parseSettingsUpdate,
  parseSign,
  parseSignDelete,
} from "../../../src/repository/payloads.ts";
import { canonicalJson } from "../../../src/tuf/canonical.ts";
import { type Answer, type BodyRoute, CORPUS_MAX_ARTIFACTS, corpus } from "./validation-corpus.ts";

const delegations = (body: unknown, namesOnly: boolean) => {
  const top = asObject(body, ["body"], ["delegations"]);
  if (top.delegations === undefined) throw ValidationError.at(["body", "delegations"], "Field required", "missing");
  return parseDelegations(top.delegations, ["body", "delegations"], { namesOnly });
};
const PARSERS: Record<BodyRoute, (body: unknown) => unknown> = {
  "POST /api/v1/bootstrap": parseBootstrapPayload,
  "POST /api/v1/artifacts": (b) => parseAddArtifacts(b, CORPUS_MAX_ARTIFACTS),
  "POST /api/v1/artifacts/delete": (b) => parseRemoveArtifacts(b, CORPUS_MAX_ARTIFACTS),
  "POST /api/v1/metadata": parseRootUpdate,
  "POST /api/v1/metadata/sign": parseSign,
  "POST /api/v1/metadata/sign/delete": parseSignDelete,
  "POST /api/v1/metadata/online": parseBump,
  "PUT /api/v1/config": parseSettingsUpdate,
  "POST /api/v1/delegations": (b) => delegations(b, false),
  "POST /api/v1/delegations/delete": (b) => delegations(b, true),
};
const started = performance.now();
const cases = corpus();
const messages: string[] = [];
const out: Record<string, Record<string, unknown>> = {};
for (const c of cases) {
  let answer: Answer;
  try {
    const v = PARSERS[c.route](structuredClone(c.body));
    answer = { ok: createHash("sha256").update(canonicalJson(v)).digest("hex").slice(0, 16) };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw new Error(`${c.route} ${c.name}: ${err}`);
    answer = err.issues[0]!;
  }
  let m = -1;
  if ("msg" in answer) {
    const key = JSON.stringify([answer.msg, answer.type]);
    m = messages.indexOf(key);
    if (m < 0) m = messages.push(key) - 1;
  }
  (out[c.route] ??= {})[c.name] = "ok" in answer ? answer.ok : [answer.loc, m];
}
const lines = ["{", `  "messages": [\n    ${messages.join(",\n    ")}\n  ],`];
const routes = Object.entries(out);
routes.forEach(([route, answers], i) => {
  lines.push(`  ${JSON.stringify(route)}: {`);
  const entries = Object.entries(answers);
  entries.forEach(([name, a], j) =>
    lines.push(`    ${JSON.stringify(name)}: ${JSON.stringify(a)}${j < entries.length - 1 ? "," : ""}`),
  );
  lines.push(`  }${i < routes.length - 1 ? "," : ""}`);
});
lines.push("}");
writeFileSync(process.argv[2]!, lines.join("\n") + "\n");
console.log(cases.length, "cases", Math.round(performance.now() - started), "ms", messages.length);
