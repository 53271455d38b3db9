import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface CuttingProxy {
  server: Server;
  /** http://127.0.0.1:PORT, to use as the AWS endpoint. */
  endpoint: string;
}

/**
 * A TCP proxy to `target` (an http URL) that cuts a connection once it has carried more than `requestBytes`
 * towards the server (an upload dropped mid-part) or more than `responseBytes` back (a download that stalls
 * mid-body for a second, then drops). Whatever is cut is cut at the socket, as a network failure would, not
 * by the server.
 */
export async function cuttingProxy(
  target: string,
  limits: { requestBytes?: number; responseBytes?: number },
): Promise<CuttingProxy> {
  const upstreamUrl = new URL(target);
  const server = createServer((client: Socket) => {
    const upstream = createConnection(Number(upstreamUrl.port), upstreamUrl.hostname);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    let sent = 0;
    let received = 0;
    let stalled = false;
    client.on("data", (chunk: Buffer) => {
      sent += chunk.length;
      if (limits.requestBytes !== undefined && sent > limits.requestBytes) cut();
      else upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (stalled) return;
      received += chunk.length;
      if (limits.responseBytes !== undefined && received > limits.responseBytes) {
        // Deliver up to the limit, stall (the reader consumes what it got), then drop the connection.
        stalled = true;
        client.write(chunk.subarray(0, chunk.length - (received - limits.responseBytes)));
        setTimeout(cut, 1_000);
      } else client.write(chunk);
    });
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}
