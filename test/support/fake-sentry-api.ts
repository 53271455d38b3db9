/**
 * A contract fake of the one Sentry web API call the daily report makes (Sentry is SaaS and cannot run
 * here): `GET /api/0/projects/{organization_slug}/{project_slug}/issues/` with `Authorization: Bearer
 * <auth token>`, `query` (default is:unresolved) and `statsPeriod` ("", "24h" or "14d"; with 24h each issue
 * carries `stats["24h"]`, hourly `[unix seconds, events]` pairs). Pages follow Sentry's cursor pagination:
 * `Link: <url>; rel="previous"; results="false"; cursor="...", <url>; rel="next"; results="true"; cursor="..."`.
 * Errors are `{ "detail": "..." }`: 401 bad token, 404 unknown project, 400 bad statsPeriod, 429 (Retry-After)
 * on demand.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { SentryIssue } from "../../lambdas/core/sentry/sentry-issues";

export interface FakeSentry {
  url: string;
  issues: SentryIssue[];
  /** Query strings and auth headers seen, for assertions. */
  requests: { url: URL; authorization?: string }[];
  rateLimitNext(times: number): void;
  close(): Promise<void>;
}

export async function startFakeSentry(options: {
  organization: string;
  project: string;
  token: string;
  perPage?: number;
}): Promise<FakeSentry> {
  const issues: SentryIssue[] = [];
  const requests: FakeSentry["requests"] = [];
  const perPage = options.perPage ?? 100;
  let limited = 0;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://fake");
    requests.push({ url, authorization: req.headers.authorization });
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${options.token}`)
      return reply(401, { detail: "Invalid token" });
    if (limited > 0) {
      limited--;
      return reply(
        429,
        {
          detail: "You are attempting to use this endpoint too frequently. Limit is 40 requests in 1 seconds",
        },
        { "Retry-After": "1" },
      );
    }
    const path = `/api/0/projects/${options.organization}/${options.project}/issues/`;
    if (req.method !== "GET" || url.pathname !== path)
      return reply(404, { detail: "The requested resource does not exist" });
    const statsPeriod = url.searchParams.get("statsPeriod") ?? "24h";
    if (!["", "24h", "14d"].includes(statsPeriod))
      return reply(400, { detail: "Invalid stats_period. Valid choices are '', '24h', and '14d'." });
    const query = url.searchParams.get("query") ?? "is:unresolved";
    const matching = issues.filter((issue) => query !== "is:unresolved" || issue.status === "unresolved");
    const offset = Number((url.searchParams.get("cursor") ?? "0:0:0").split(":")[1]);
    const pageItems = matching.slice(offset, offset + perPage).map((issue) => ({
      ...issue,
      stats: statsPeriod ? { [statsPeriod]: issue.stats?.[statsPeriod] ?? [] } : undefined,
    }));
    const link = (cursor: string, rel: string, results: boolean) => {
      const target = new URL(`http://${req.headers.host}${url.pathname}`);
      url.searchParams.forEach((value, key) => key !== "cursor" && target.searchParams.set(key, value));
      target.searchParams.set("cursor", cursor);
      return `<${target}>; rel="${rel}"; results="${results}"; cursor="${cursor}"`;
    };
    const previous = link(`0:${Math.max(0, offset - perPage)}:1`, "previous", offset > 0);
    const next = link(`0:${offset + perPage}:0`, "next", offset + perPage < matching.length);
    reply(200, pageItems, { Link: `${previous}, ${next}` });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    issues,
    requests,
    rateLimitNext: (times) => {
      limited = times;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** An unresolved issue with `events` spread over the last 24 hourly buckets. */
export function sentryIssue(
  id: number,
  title: string,
  events: number[],
  firstSeenHoursAgo: number,
): SentryIssue {
  const hour = Math.floor(Date.now() / 3600_000) * 3600;
  return {
    id: String(id),
    shortId: `OPENDEV-${id.toString(36).toUpperCase()}`,
    title,
    culprit: "app/api/orders/route.ts",
    level: "error",
    status: "unresolved",
    count: String(events.reduce((a, b) => a + b, 0) + 100),
    userCount: 3,
    firstSeen: new Date(Date.now() - firstSeenHoursAgo * 3600_000).toISOString(),
    lastSeen: new Date().toISOString(),
    permalink: `https://example.sentry.io/issues/${id}/`,
    stats: {
      "24h": Array.from(
        { length: 24 },
        (_, i) => [hour - (23 - i) * 3600, events[i] ?? 0] as [number, number],
      ),
    },
  };
}
