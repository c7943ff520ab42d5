/**
 * Errors of the repository layer. The HTTP layer maps them to responses in one
 * place (src/server/errors.ts); messages never contain key material.
 */
import type { TufError } from "../tuf/errors.ts";

export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** Bad input: answered 422 with RSTUF's (FastAPI's) `{"detail": [{loc, msg, type}]}` shape. */
export class ValidationError extends Error {
  readonly issues: ValidationIssue[];
  constructor(issues: ValidationIssue[]) {
    super(issues.map((i) => `${i.loc.join(".")}: ${i.msg}`).join("; "));
    this.name = "ValidationError";
    this.issues = issues;
  }

  static at(loc: (string | number)[], msg: string, type = "value_error"): ValidationError {
    return new ValidationError([{ loc, msg, type }]);
  }

  /** A TufError's dotted field (`a.b[2].c`) becomes a loc under `prefix`. */
  static fromTuf(err: TufError, prefix: (string | number)[]): ValidationError {
    const loc: (string | number)[] = [...prefix];
    // Split on '.' and [n], but keyids / paths may contain dots: TufError fields
    // are built with joinField, whose segments never start with '['.
    for (const part of err.field.split(/\.(?![^[]*\])/)) {
      const m = /^(.*?)((?:\[\d+\])*)$/.exec(part);
      if (!m) continue;
      if (m[1]) loc.push(m[1]);
      for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) loc.push(Number(idx[1]));
    }
    const msg = err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
    return new ValidationError([{ loc, msg, type: "value_error" }]);
  }
}

/**
 * A request that conflicts with the repository's state ("not bootstrapped",
 * "already bootstrapped", "nothing pending"). RSTUF answers these with 404;
 * we keep that for compatibility.
 */
export class StateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateError";
  }
}

/** Something on the server side is missing (e.g. the online key file). */
export class ConfigurationError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = "ConfigurationError";
    this.hint = hint;
  }
}
