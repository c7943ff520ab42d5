/**
 * Which delegated role a target path belongs to (spec 4.5 "paths" and
 * "path_hash_prefixes"). Path patterns use shell-style wildcards matched
 * segment by segment: a pattern and a path match only when they have the same
 * number of '/'-separated segments, so `*` never crosses a '/' (as python-tuf
 * and tuf-js match them).
 */
import { createHash } from "node:crypto";
import type { DelegatedRole } from "./metadata.ts";

const patternCache = new Map<string, RegExp>();

function segmentRegex(segment: string): RegExp {
  let cached = patternCache.get(segment);
  if (cached) return cached;
  let re = "^";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = segment.indexOf("]", i + 2);
      if (end === -1) re += "\\[";
      else {
        let body = segment.slice(i + 1, end);
        if (body.startsWith("!")) body = "^" + body.slice(1);
        re += "[" + body.replace(/\\/g, "\\\\") + "]";
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  cached = new RegExp(re + "$", "s");
  if (patternCache.size > 10_000) patternCache.clear();
  patternCache.set(segment, cached);
  return cached;
}

export function pathMatchesPattern(path: string, pattern: string): boolean {
  const p = path.split("/");
  const q = pattern.split("/");
  if (p.length !== q.length) return false;
  for (let i = 0; i < p.length; i++) if (!segmentRegex(q[i]!).test(p[i]!)) return false;
  return true;
}

export function roleMatchesPath(role: Pick<DelegatedRole, "paths" | "path_hash_prefixes">, path: string): boolean {
  if (role.paths) return role.paths.some((pattern) => pathMatchesPattern(path, pattern));
  if (role.path_hash_prefixes) {
    const digest = createHash("sha256").update(path).digest("hex");
    return role.path_hash_prefixes.some((prefix) => digest.startsWith(prefix));
  }
  return false;
}

/**
 * The role a client's delegation search (spec 5.6.7, preorder, in listed
 * order) finds first for `path`, among one level of delegations.
 */
export function firstRoleForPath(roles: readonly DelegatedRole[], path: string): DelegatedRole | undefined {
  return roles.find((r) => roleMatchesPath(r, path));
}
