/**
 * The one error type of the offline layer (key files, ceremony, root
 * signing). `hint` says what to do next; the CLI prints both. Messages name
 * files, flags and keyids — never key material.
 */
export class OfflineError extends Error {
  readonly hint: string;
  /** machine-readable reason for callers that retry (a prompt asks again on "wrong-passphrase") */
  readonly reason: "wrong-passphrase" | "invalid";
  constructor(message: string, hint: string, reason: OfflineError["reason"] = "invalid") {
    super(message);
    this.name = "OfflineError";
    this.hint = hint;
    this.reason = reason;
  }
}
