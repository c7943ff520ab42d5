/** Small text formats shared by commands: sizes and time left before expiry. */

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** "in 364 days", "in 5 h", "EXPIRED 2 h ago". */
export function timeLeft(seconds: number): string {
  const abs = Math.abs(seconds);
  const text =
    abs >= 2 * 86_400
      ? `${Math.floor(abs / 86_400)} days`
      : abs >= 2 * 3600
        ? `${Math.floor(abs / 3600)} h`
        : abs >= 120
          ? `${Math.floor(abs / 60)} min`
          : `${Math.floor(abs)} s`;
  return seconds > 0 ? `in ${text}` : `EXPIRED ${text} ago`;
}
