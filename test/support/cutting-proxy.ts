import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface CuttingProxy {
  server: Server;
  /** http://127.0.0.1:PORT, to use as the AWS endpoint. */
  endpoint: string;
  /** Drops every stalled connection now, and any that stalls from now on at once, instead of after `stallMs`. */
  cut(): void;
  /** Bytes the server sent back so far, over all connections. */
  bytesFromServer(): number;
}

/**
 * A TCP proxy to `target` (an http URL, or any host and port written as one) that cuts a connection once it has carried more than `requestBytes`
 * towards the server (an upload dropped mid-part), or that stalls one after `responseBytes` back (a download
 * stopped mid-body) and drops it after `stallMs` or when `cut()` is called. Whatever is cut is cut at the
 * socket, as a network failure would, not by the server. With `goneAfterCut`, the first cut is a server that
 * went away: every open connection is dropped with it and no new one is accepted. With `replyLostAfter`, the
 * n-th request (over all connections) whose bytes contain a text reaches the server, and the connection is cut
 * when the reply comes: the server did the work, the client never hears of it.
 */
export async function cuttingProxy(
  target: string,
  limits: {
    requestBytes?: number;
    responseBytes?: number;
    stallMs?: number;
    goneAfterCut?: boolean;
    replyLostAfter?: { contains: string; occurrence: number };
  },
): Promise<CuttingProxy> {
  let matchingRequests = 0;
  let fromServer = 0;
  const upstreamUrl = new URL(target);
  const stalled = new Set<() => void>();
  const open = new Set<Socket>();
  let cutRequested = false;
  const server = createServer((client: Socket) => {
    const upstream = createConnection(Number(upstreamUrl.port), upstreamUrl.hostname);
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      if (limits.goneAfterCut) {
        server.close();
        for (const socket of open) socket.destroy();
      }
    };
    let sent = 0;
    let received = 0;
    let stalling = false;
    let dropOnReply = false;
    client.on("data", (chunk: Buffer) => {
      sent += chunk.length;
      const lost = limits.replyLostAfter;
      if (lost && chunk.includes(lost.contains) && ++matchingRequests === lost.occurrence) dropOnReply = true;
      if (limits.requestBytes !== undefined && sent > limits.requestBytes) drop();
      else upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      fromServer += chunk.length;
      if (dropOnReply) return drop();
      if (stalling) return;
      received += chunk.length;
      if (limits.responseBytes !== undefined && received > limits.responseBytes) {
        stalling = true;
        client.write(chunk.subarray(0, chunk.length - (received - limits.responseBytes)));
        if (cutRequested) setImmediate(drop);
        else {
          stalled.add(drop);
          setTimeout(drop, limits.stallMs ?? 1_000).unref();
        }
      } else client.write(chunk);
    });
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => {
      open.delete(client);
      upstream.destroy();
    });
    // A stalled download ends only by the cut, whatever the server does with its side meanwhile.
    upstream.on("close", () => {
      open.delete(upstream);
      if (!stalling) client.destroy();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    server,
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    cut: () => {
      cutRequested = true;
      for (const drop of stalled) drop();
      stalled.clear();
    },
    bytesFromServer: () => fromServer,
  };
}
