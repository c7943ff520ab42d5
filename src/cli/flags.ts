/** Typed access to a command's own flags (as parseCommandArgs returns them). */
import { UsageError, type ParsedArgs } from "./args.ts";

type Own = ParsedArgs["own"];

export function flagString(own: Own, name: string): string | undefined {
  const v = own[name];
  if (Array.isArray(v)) return v[v.length - 1];
  return typeof v === "string" ? v : undefined;
}

export function flagStrings(own: Own, name: string): string[] {
  const v = own[name];
  if (v === undefined || typeof v === "boolean") return [];
  return Array.isArray(v) ? v : [v];
}

export function flagBool(own: Own, name: string): boolean {
  return own[name] === true;
}

export function requireFlag(own: Own, name: string, command: string, example: string): string {
  const v = flagString(own, name);
  if (v === undefined || v === "") throw new UsageError(`--${name} is required`, `e.g. tufbox ${command} ${example}`);
  return v;
}

/** A whole number ≥ min from a flag or prompt answer. */
export function parseCount(text: string, flag: string, min: number, hint: string): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} ${text} is not allowed`, hint);
  return n;
}
