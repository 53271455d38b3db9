import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import type { KeyPair } from "./certificates";

export interface TestServer {
  url: string;
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}

export type Respond = (request: http.IncomingMessage, response: http.ServerResponse, body: string) => void;

/** A local HTTP(S) server on 127.0.0.1 with a random port that records what it received. */
export async function startServer(respond: Respond, tls?: KeyPair): Promise<TestServer> {
  const requests: TestServer["requests"] = [];
  const listener = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body });
      respond(request, response, body);
    });
  };
  const server = tls
    ? https.createServer({ key: tls.key, cert: tls.cert }, listener)
    : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
