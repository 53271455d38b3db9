/**
 * The application's own Sentry, read for the daily report through Sentry's web API: the project's
 * unresolved issues with their event counts over the last 24 hours (`GET /api/0/projects/{org}/{project}/
 * issues/?query=is:unresolved&statsPeriod=24h`, bearer auth token, cursor pagination in the `Link` header,
 * 429 with Retry-After). The token never appears in an error or a log.
 */

export interface SentryProject {
  baseUrl: string;
  organization: string;
  project: string;
}

export interface SentryIssue {
  id: string;
  shortId?: string;
  title?: string;
  culprit?: string;
  level?: string;
  status?: string;
  count?: string;
  userCount?: number;
  firstSeen?: string;
  lastSeen?: string;
  permalink?: string;
  stats?: Record<string, [number, number][]>;
}

export interface SentryDigest {
  /** Events of unresolved issues in the last 24 hours. */
  events: number;
  /** Issues first seen in the last 24 hours. */
  newIssues: number;
  /** Unresolved issues with events in the last 24 hours. */
  unresolvedIssues: number;
  /** The busiest issues, most events first. */
  top: { shortId: string; title: string; events: number; isNew: boolean; permalink?: string }[];
  /** More issues existed than one digest reads. */
  truncated: boolean;
}

export class SentryApiError extends Error {
  override name = "SentryApiError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const MAX_PAGES = 10;
const TOP = 5;

export async function readSentryDigest(
  target: SentryProject,
  token: string,
  now: Date,
  { attempts = 4, baseDelayMs = 1000 } = {},
): Promise<SentryDigest> {
  const path = `/api/0/projects/${encodeURIComponent(target.organization)}/${encodeURIComponent(target.project)}/issues/`;
  let url: string | undefined = new URL(
    `${path}?${new URLSearchParams({ query: "is:unresolved", statsPeriod: "24h" })}`,
    target.baseUrl,
  ).toString();
  const issues: SentryIssue[] = [];
  let pages = 0;
  while (url && pages < MAX_PAGES) {
    const response = await get(url, token, attempts, baseDelayMs, `${target.organization}/${target.project}`);
    const page = (await response.json()) as unknown;
    if (!Array.isArray(page))
      throw new SentryApiError(
        `Sentry issues of ${target.organization}/${target.project}: the answer is not a list`,
        response.status,
      );
    issues.push(...(page as SentryIssue[]));
    pages++;
    url = nextPage(response.headers.get("link"));
  }
  return digest(issues, now, url !== undefined);
}

export function digest(issues: SentryIssue[], now: Date, truncated: boolean): SentryDigest {
  const dayAgo = now.getTime() - 24 * 3600_000;
  const counted = issues.map((issue) => {
    const events = (issue.stats?.["24h"] ?? []).reduce((sum, [, n]) => sum + (Number.isFinite(n) ? n : 0), 0);
    const isNew = issue.firstSeen !== undefined && Date.parse(issue.firstSeen) >= dayAgo;
    return { issue, events, isNew };
  });
  const active = counted.filter((entry) => entry.events > 0 || entry.isNew);
  return {
    events: active.reduce((sum, entry) => sum + entry.events, 0),
    newIssues: active.filter((entry) => entry.isNew).length,
    unresolvedIssues: active.length,
    top: [...active]
      .sort((a, b) => b.events - a.events)
      .slice(0, TOP)
      .map(({ issue, events, isNew }) => ({
        shortId: issue.shortId ?? issue.id,
        title: (issue.title ?? "").slice(0, 120),
        events,
        isNew,
        permalink: issue.permalink,
      })),
    truncated,
  };
}

/** The `rel="next"` URL of a Link header, when Sentry says it has results. */
export function nextPage(link: string | null): string | undefined {
  for (const part of (link ?? "").split(/,(?=\s*<)/)) {
    const url = /<([^>]+)>/.exec(part)?.[1];
    if (url && /rel="next"/.test(part) && /results="true"/.test(part)) return url;
  }
  return undefined;
}

async function get(
  url: string,
  token: string,
  attempts: number,
  baseDelayMs: number,
  project: string,
): Promise<Response> {
  const what = `Sentry issues of ${project}`;
  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
        signal: AbortSignal.timeout(15_000),
      });
    } catch (error) {
      if (attempt >= attempts) throw new SentryApiError(`${what}: ${(error as Error).message}`, 0);
      await sleep(baseDelayMs * 2 ** (attempt - 1));
      continue;
    }
    if (response.ok) return response;
    const detail = await response.text().then(
      (text) => {
        try {
          const body = JSON.parse(text) as { detail?: unknown };
          return typeof body.detail === "string" ? `: ${body.detail.slice(0, 200)}` : "";
        } catch {
          return "";
        }
      },
      () => "",
    );
    if ((response.status === 429 || response.status >= 500) && attempt < attempts) {
      const told = Number(response.headers.get("retry-after"));
      await sleep(Math.max(baseDelayMs * 2 ** (attempt - 1), Number.isFinite(told) ? told * 1000 : 0));
      continue;
    }
    const why =
      response.status === 401
        ? "the auth token was refused (401)"
        : response.status === 403
          ? "the auth token lacks the project:read / event:read scope (403)"
          : response.status === 404
            ? "no such organization or project (404)"
            : `HTTP ${response.status} after ${attempt} attempt(s)`;
    throw new SentryApiError(`${what}: ${why}${detail}`, response.status);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
