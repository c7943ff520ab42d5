/**
 * `disable_endpoints` (RSTUF's RSTUF_DISABLE_ENDPOINTS): rules that switch API
 * routes off, as RSTUF writes them (`{'POST'}/api/v1/bootstrap/`) or as
 * `POST,DELETE /api/v1/artifacts`, and the check the API runs before routing.
 */
import { Invalid, type Parser, text } from "./values.ts";

/** One `disable_endpoints` rule: a path prefix, optionally only some methods. */
export interface DisabledEndpoint {
  methods?: string[];
  path: string;
}

const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const ENDPOINTS_EXPECTED =
  "expected a ':'-separated list of path prefixes, each optionally preceded by methods as RSTUF writes them " +
  "(e.g. {'POST'}/api/v1/bootstrap/:/api/v1/token/) or as `POST,DELETE /api/v1/artifacts`";

function endpointRule(entry: string): DisabledEndpoint {
  const s = entry.trim();
  // RSTUF prints FastAPI's method set: {'POST'} or {'GET', 'HEAD'}. Our own
  // form is "POST,DELETE /path"; glued without a space only in upper case, so
  // a path missing its leading slash ("api/v1/x") is not read as method "API".
  const m =
    /^\{([^}]*)\}\s*(\S+)$/.exec(s) ??
    /^([A-Za-z]+(?:\s*,\s*[A-Za-z]+)*)\s+(\/\S*)$/.exec(s) ??
    /^([A-Z]+(?:,[A-Z]+)*)(\/\S*)$/.exec(s);
  const methodsText = m ? m[1]! : undefined;
  const p = m ? m[2]! : s;
  const rule = endpointPath(p);
  if (methodsText !== undefined)
    rule.methods = endpointMethods(methodsText.split(",").map((x) => x.replace(/['"\s]/g, "")));
  return rule;
}

function endpointPath(p: string): DisabledEndpoint {
  if (!/^\/[^\s?#]*$/.test(p)) throw new Invalid(`${ENDPOINTS_EXPECTED}; ${JSON.stringify(p)} is not a path`);
  // RSTUF writes prefixes with a trailing slash; tufbox routes answer with and
  // without one, so compare without.
  return { path: p.length > 1 ? p.replace(/\/+$/, "") || "/" : p };
}

function endpointMethods(list: string[]): string[] {
  const methods = list.map((x) => x.toUpperCase()).filter((x) => x !== "");
  const bad = methods.find((x) => !HTTP_METHODS.includes(x));
  if (methods.length === 0 || bad !== undefined) {
    throw new Invalid(`${ENDPOINTS_EXPECTED}; methods must be among ${HTTP_METHODS.join(", ")}`);
  }
  return methods;
}

export const endpoints: Parser<DisabledEndpoint[]> = (raw) => {
  if (typeof raw === "string")
    return raw
      .split(":")
      .filter((e) => e.trim() !== "")
      .map(endpointRule);
  if (!Array.isArray(raw)) throw new Invalid(ENDPOINTS_EXPECTED);
  return raw.map((item): DisabledEndpoint => {
    if (typeof item === "string") return endpointRule(item);
    if (typeof item === "object" && item !== null && !Array.isArray(item)) {
      const { path: p, methods, ...rest } = item as Record<string, unknown>;
      const extra = Object.keys(rest)[0];
      if (extra !== undefined)
        throw new Invalid(`unknown field ${JSON.stringify(extra)} in a rule; allowed: path, methods`);
      const rule = endpointPath(text(p, "a rule with a path"));
      if (methods !== undefined && methods !== null) {
        const list =
          typeof methods === "string" ? methods.split(",") : Array.isArray(methods) ? methods.map(String) : null;
        if (list === null) throw new Invalid("expected methods as a list such as [POST, DELETE]");
        rule.methods = endpointMethods(list);
      }
      return rule;
    }
    throw new Invalid(ENDPOINTS_EXPECTED);
  });
};

/** Whether a request is switched off by `disable_endpoints`. GET rules also cover HEAD. */
export function isEndpointDisabled(rules: readonly DisabledEndpoint[], method: string, pathname: string): boolean {
  const m = method.toUpperCase();
  const p = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
  return rules.some(
    (r) =>
      (r.path === "/" || p === r.path || p.startsWith(r.path + "/")) &&
      (r.methods === undefined || r.methods.includes(m) || (m === "HEAD" && r.methods.includes("GET"))),
  );
}

export function showEndpoint(r: DisabledEndpoint): string {
  return r.methods ? `${r.methods.join(",")} ${r.path}` : r.path;
}
