/**
 * Which delegated role a target path belongs to (spec 4.5 "paths" and
 * "path_hash_prefixes"). Path patterns use shell-style wildcards matched
 * segment by segment: a pattern and a path match only when they have the same
 * number of '/'-separated segments, so `*` never crosses a '/'.
 *
 * Why hand-written: clients disagree here, and the repository must route a
 * path to the role clients will look in. tuf-js matches each segment with
 * minimatch, python-tuf with fnmatch. On the portable subset — literal
 * characters, `*`, `?`, `[abc]`, `[a-z]`, `[!a]`, `[]a]` — this matcher agrees
 * with tuf-js's on a generated corpus (test/tuf/delegation.test.ts, which also
 * lists every known difference). Outside it:
 * - a leading '.' in a segment: minimatch's `*`, `?` and `[…]` never match it
 *   (dotfiles); fnmatch's and ours do. So `releases/*` covers
 *   `releases/.hidden` for python-tuf and tufbox, not for tuf-js;
 * - `{a,b}`, `+(a|b)` and the other extglobs, a leading `!` (negation) or `#`
 *   (comment), `\` escapes and `[[:alpha:]]`: minimatch syntax; fnmatch and
 *   ours read them as ordinary characters;
 * - `[^a]`: a negated class here and in minimatch; fnmatch reads `^` literally.
 * Operators should keep delegation patterns to the portable subset.
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
      // A class runs to the next ']', but a ']' right after '[' (or '[!', '[^') is a member,
      // as in POSIX, fnmatch and minimatch; a '[' that never closes is an ordinary character.
      let j = i + 1;
      if (segment[j] === "!" || segment[j] === "^") j++;
      if (segment[j] === "]") j++;
      const end = segment.indexOf("]", j);
      if (end === -1) re += "\\[";
      else {
        let body = segment.slice(i + 1, end);
        const negated = body.startsWith("!") || body.startsWith("^");
        if (negated) body = body.slice(1);
        re += `[${negated ? "^" : ""}${body.replace(/[\\\]^[]/g, "\\$&")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  cached = new RegExp(`${re}$`, "s");
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
