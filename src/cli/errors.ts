/**
 * The offline commands' failures become UsageErrors, which main.ts prints as
 * one message line plus a hint, without a stack trace.
 */
import { TufError } from "../tuf/errors.ts";
import { OfflineError } from "../offline/errors.ts";
import { UsageError } from "./args.ts";

export function asUsageError(err: unknown, command: string): unknown {
  if (err instanceof UsageError) return err;
  if (err instanceof OfflineError) return new UsageError(err.message, err.hint);
  if (err instanceof TufError) return new UsageError(err.message, `run 'tufbox ${command} --help'`);
  return err;
}

/** Run a command body, translating offline-layer errors. */
export async function offlineCommand(command: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    throw asUsageError(err, command);
  }
}
