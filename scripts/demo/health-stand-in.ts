import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { MongoClient } from "mongodb";

/**
 * A local stand-in for the app's /api/health (the real one is a Next.js route of the application): it pings
 * the database with the application's own open client and answers `{"status":"ok","db":"up"}`, or 503 when
 * the database does not answer or when the drill takes it down on purpose to show the failure path.
 * It lives as long as the drill's process.
 */
export interface HealthStandIn {
  url: string;
  /** While true, /api/health answers 503 as a broken deployment would. */
  broken: boolean;
  close(): Promise<void>;
}

export async function startHealthStandIn(app: MongoClient, database: string): Promise<HealthStandIn> {
  const state = { broken: false };
  const server = createServer((request, response) => {
    const reply = (status: number, body: unknown): void => {
      response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      response.end(JSON.stringify(body));
    };
    if (request.method !== "GET" || request.url?.split("?")[0] !== "/api/health") {
      return reply(404, { error: "not found" });
    }
    if (state.broken)
      return reply(503, { status: "error", db: "unknown", detail: "deployment broken on purpose" });
    app
      .db(database)
      .command({ ping: 1 })
      .then(
        () => reply(200, { status: "ok", db: "up" }),
        () => reply(503, { status: "error", db: "down" }),
      );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/health`,
    get broken() {
      return state.broken;
    },
    set broken(value: boolean) {
      state.broken = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
