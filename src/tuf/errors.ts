/**
 * The one error type of the pure TUF layer. `field` is a dotted path to the
 * offending value (e.g. `signed.keys.ab12….keyval.public`) so the HTTP layer
 * can answer a 422 that names it.
 */
export class TufError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(field ? `${field}: ${message}` : message);
    this.name = "TufError";
    this.field = field;
  }
}

export function joinField(parent: string, child: string | number): string {
  if (typeof child === "number") return `${parent}[${child}]`;
  return parent ? `${parent}.${child}` : child;
}
