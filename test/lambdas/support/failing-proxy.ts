import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface FailingProxy {
  url: string;
  /** Requests answered with an error instead of being forwarded. */
  failed: string[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of moto that answers 500 InternalError to every request `shouldFail` selects (after
 * reading its body), and forwards the rest: S3 failing in the middle of storing a backup.
 */
export async function startFailingProxy(
  upstream: string,
  shouldFail: (method: string, path: string) => boolean,
): Promise<FailingProxy> {
  const failed: string[] = [];
  const target = new URL(upstream);
  const server = http.createServer((request, response) => {
    const method = request.method ?? "GET";
    const path = request.url ?? "/";
    if (shouldFail(method, path)) {
      request.resume();
      request.on("end", () => {
        failed.push(`${method} ${path}`);
        response.writeHead(500, { "content-type": "application/xml" });
        response.end("<Error><Code>InternalError</Code><Message>injected failure</Message></Error>");
      });
      return;
    }
    const forward = http.request(
      { host: target.hostname, port: target.port, method, path, headers: request.headers },
      (upstreamResponse) => {
        response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
        upstreamResponse.pipe(response);
      },
    );
    forward.on("error", () => response.destroy());
    request.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    failed,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
