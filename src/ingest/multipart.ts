/**
 * A streaming multipart/form-data reader (RFC 7578 over RFC 2046), for
 * POST /api/v1/artifacts/upload: each part's body is an async iterable read
 * straight from the request, so a form carrying gigabytes of files never sits
 * in memory (Request.formData() would buffer the whole body).
 *
 * Hand-written because it is small and the stream-native parsers on the
 * registry (busboy and descendants) are built on Node's stream events; the
 * tests in test/ingest/multipart.test.ts compare it with Bun's own
 * FormData encoder/decoder on generated forms, chunked at every size.
 *
 * Use: `for await (const part of readMultipart(body, boundary))`; read (or
 * skip) `part.body` fully before asking for the next part.
 */

export interface FormPart {
  name: string;
  /** the part's filename parameter (filename* wins), undefined for plain fields */
  filename: string | undefined;
  contentType: string | undefined;
  body: AsyncIterable<Uint8Array>;
}

export class MultipartError extends Error {
  override readonly name = "MultipartError";
}

const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");
const MAX_HEADER_BYTES = 16 * 1024;

/** The boundary of a multipart/form-data Content-Type, or undefined. */
export function multipartBoundary(contentType: string | null): string | undefined {
  if (!contentType || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

class Source {
  buf: Buffer = Buffer.alloc(0);
  done = false;
  readonly #it: AsyncIterator<Uint8Array>;
  constructor(body: AsyncIterable<Uint8Array>) {
    this.#it = body[Symbol.asyncIterator]();
  }
  /** Read more into `buf`; false at the end of the body. */
  async more(): Promise<boolean> {
    if (this.done) return false;
    const { value, done } = await this.#it.next();
    if (done) {
      this.done = true;
      return false;
    }
    const chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    return true;
  }
  async cancel(): Promise<void> {
    await this.#it.return?.();
  }
}

export async function* readMultipart(body: AsyncIterable<Uint8Array>, boundary: string): AsyncGenerator<FormPart> {
  const src = new Source(body);
  // Every delimiter but the first follows a CRLF; pretend the first does too.
  src.buf = Buffer.from(CRLF);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  try {
    // Preamble: everything before the first delimiter is ignored.
    for (;;) {
      const at = src.buf.indexOf(delimiter);
      if (at >= 0) {
        src.buf = src.buf.subarray(at + delimiter.length);
        break;
      }
      src.buf = src.buf.subarray(Math.max(0, src.buf.length - delimiter.length + 1));
      if (!(await src.more())) throw new MultipartError("the form has no parts (boundary not found)");
    }
    for (;;) {
      // After a delimiter: "--" closes the form, otherwise (optional padding) CRLF and headers.
      while (src.buf.length < 2) if (!(await src.more())) throw truncated();
      if (src.buf[0] === 0x2d && src.buf[1] === 0x2d) return;
      let eol = src.buf.indexOf(CRLF);
      for (; eol < 0; eol = src.buf.indexOf(CRLF)) {
        if (src.buf.length > 1024) throw new MultipartError("malformed delimiter line");
        if (!(await src.more())) throw truncated();
      }
      if (src.buf.subarray(0, eol).toString("latin1").trim() !== "")
        throw new MultipartError("malformed delimiter line");
      src.buf = src.buf.subarray(eol);
      // Headers end with an empty line; the CRLF just kept starts the search so a part without headers works.
      let end = src.buf.indexOf(HEADER_END);
      for (; end < 0; end = src.buf.indexOf(HEADER_END)) {
        if (src.buf.length > MAX_HEADER_BYTES)
          throw new MultipartError(`part headers larger than ${MAX_HEADER_BYTES} bytes`);
        if (!(await src.more())) throw truncated();
      }
      const headers = parseHeaders(src.buf.subarray(2, end).toString("utf8"));
      src.buf = src.buf.subarray(end + HEADER_END.length);
      let finished = false;
      const partBody = async function* (): AsyncGenerator<Uint8Array> {
        for (;;) {
          const at = src.buf.indexOf(delimiter);
          if (at >= 0) {
            if (at > 0) yield src.buf.subarray(0, at);
            src.buf = src.buf.subarray(at + delimiter.length);
            finished = true;
            return;
          }
          // Keep what could be the start of a delimiter split across chunks.
          const safe = src.buf.length - delimiter.length + 1;
          if (safe > 0) {
            const out = src.buf.subarray(0, safe);
            src.buf = src.buf.subarray(safe);
            yield out;
          }
          if (!(await src.more())) throw truncated();
        }
      };
      const disposition = headers.get("content-disposition");
      if (!disposition || !/^\s*form-data\s*(;|$)/i.test(disposition))
        throw new MultipartError("a part without Content-Disposition: form-data");
      const params = dispositionParams(disposition);
      const name = params.get("name");
      if (name === undefined) throw new MultipartError("a part without a name");
      const filename = params.get("filename*") ?? params.get("filename");
      const it = partBody();
      yield { name, filename, contentType: headers.get("content-type"), body: it };
      // The consumer may have stopped early: skip the rest of this part.
      if (!finished) for await (const _ of it);
    }
  } finally {
    await src.cancel().catch(() => undefined);
  }
}

function truncated(): MultipartError {
  return new MultipartError("the form ended before its closing boundary");
}

function parseHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new MultipartError("malformed part header");
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** Parameters of `form-data; name="x"; filename="a b"; filename*=UTF-8''a%20b`. */
export function dispositionParams(value: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /;\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const key = m[1]!.toLowerCase();
    let v = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3]!.trim();
    if (key.endsWith("*")) {
      // RFC 8187: charset'lang'percent-encoded
      const ext = /^([^']*)'[^']*'(.*)$/.exec(v);
      if (!ext || !/^utf-8$/i.test(ext[1]!)) continue;
      try {
        v = decodeURIComponent(ext[2]!);
      } catch {
        continue;
      }
    }
    params.set(key, v);
  }
  return params;
}
