/**
 * A real HTTP receiver on 127.0.0.1 for webhook tests: records every request
 * (headers, exact body) and answers with the next status from a script.
 */
export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  json: any;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** statuses to answer, in order; 200 once the list is used up */
  script: number[];
  stop(): Promise<void>;
}

export function startReceiver(): Receiver {
  const received: Received[] = [];
  const script: number[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    reusePort: false,
    async fetch(req) {
      const body = await req.text();
      let json: any;
      try {
        json = JSON.parse(body);
      } catch {}
      received.push({ path: new URL(req.url).pathname, headers: Object.fromEntries(req.headers), body, json });
      return new Response("ok", { status: script.shift() ?? 200 });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    received,
    script,
    async stop() {
      await server.stop(true);
    },
  };
}
