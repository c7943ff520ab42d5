import { BaseNotifier, type Notifier } from "./notifier.ts";

/** Single process: the repository wakes its own publisher; nobody else to tell. */
export class LocalNotifier extends BaseNotifier implements Notifier {
  readonly kind = "local" as const;
  async start(): Promise<void> {}
  announceChange(): void {}
  announcePublished(_version: number): void {}
  async ping(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}
