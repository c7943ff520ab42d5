/**
 * Where a worker's entry point is, named by its path under src/. This module
 * sits at the root of src/, and a compiled binary keeps every entry point
 * under the bundle's root as it is under src/ (scripts/compile.ts WORKERS),
 * so one relative URL finds the worker from source and in the binary alike.
 */
export function workerUrl(pathUnderSrc: string): string {
  return new URL(`./${pathUnderSrc}`, import.meta.url).href;
}
