/**
 * The read endpoints of the Atlas Administration API v2 the security and performance reviews call, plugged
 * into the contract fake (fake-atlas-api.ts, `readRoutes`). It follows the published contract: paths under
 * /api/atlas/v2/groups/{groupId}, list answers `{ links: [{ rel, href }], results, totalCount }` paged with
 * pageNum/itemsPerPage (at most 500), errors `{ error, errorCode, detail, reason }`, and the project role each
 * resource needs per the documentation (every project role includes Project Read Only).
 */
import type {
  AtlasAccessLog,
  AtlasEvent,
  AtlasMeasurement,
  AtlasProcess,
  QueryShape,
  SlowQuery,
  SuggestedIndex,
} from "../../lambdas/core/atlas/atlas-reads";

export type AtlasProjectRole =
  | "GROUP_READ_ONLY"
  | "GROUP_MONITORING_ADMIN"
  | "GROUP_DATABASE_ACCESS_ADMIN"
  | "GROUP_OBSERVABILITY_VIEWER"
  | "GROUP_OWNER";

export interface AtlasReadState {
  projectId: string;
  clusterName: string;
  /** Roles of the calling credentials. */
  roles: AtlasProjectRole[];
  accessLogs: AtlasAccessLog[];
  events: AtlasEvent[];
  processes: AtlasProcess[];
  /** Per process id. */
  measurements: Map<string, AtlasMeasurement[]>;
  diskMeasurements: Map<string, AtlasMeasurement[]>;
  advisor: Map<string, { suggestedIndexes: SuggestedIndex[]; shapes: QueryShape[] }>;
  slowQueries: Map<string, SlowQuery[]>;
  /** Query strings of every read, for assertions on paging and filters. */
  seen: URL[];
}

export function emptyReadState(
  projectId: string,
  clusterName: string,
  roles: AtlasProjectRole[],
): AtlasReadState {
  return {
    projectId,
    clusterName,
    roles,
    accessLogs: [],
    events: [],
    processes: [],
    measurements: new Map(),
    diskMeasurements: new Map(),
    advisor: new Map(),
    slowQueries: new Map(),
    seen: [],
  };
}

const error = (status: number, errorCode: string, detail: string): [number, unknown] => [
  status,
  { error: status, errorCode, detail, reason: errorCode, parameters: [] },
];

const ACCESS_HISTORY_ROLES: AtlasProjectRole[] = [
  "GROUP_MONITORING_ADMIN",
  "GROUP_DATABASE_ACCESS_ADMIN",
  "GROUP_OWNER",
];
const SLOW_QUERY_ROLES: AtlasProjectRole[] = ["GROUP_OBSERVABILITY_VIEWER", "GROUP_OWNER"];

export function atlasReadRoutes(
  state: AtlasReadState,
): (method: string, url: URL) => [number, unknown] | undefined {
  return (method, url) => {
    const match = /^\/api\/atlas\/v2\/groups\/([^/]+)\/(dbAccessHistory|events|processes)(\/.*)?$/.exec(
      url.pathname,
    );
    if (!match || method !== "GET") return undefined;
    state.seen.push(url);
    if (decodeURIComponent(match[1]!) !== state.projectId) {
      return error(404, "GROUP_NOT_FOUND", `No group with ID ${match[1]} exists.`);
    }
    const allowed = (roles: AtlasProjectRole[]) => state.roles.some((role) => roles.includes(role));
    const unauthorized = error(
      403,
      "USER_UNAUTHORIZED",
      "Current user is not authorized to perform this action.",
    );
    const rest = match[3] ?? "";
    const query = url.searchParams;

    if (match[2] === "dbAccessHistory") {
      const cluster = /^\/clusters\/([^/]+)$/.exec(rest);
      if (!cluster) return error(404, "RESOURCE_NOT_FOUND", `no route ${url.pathname}`);
      if (!allowed(ACCESS_HISTORY_ROLES)) return unauthorized;
      if (decodeURIComponent(cluster[1]!) !== state.clusterName)
        return error(
          404,
          "CLUSTER_NOT_FOUND",
          `No cluster named ${cluster[1]} exists in group ${state.projectId}.`,
        );
      const start = query.get("start");
      const end = query.get("end");
      if ((start === null) !== (end === null))
        return error(400, "INVALID_PARAMETER", "start and end go together.");
      const from = start === null ? -Infinity : Number(start);
      const to = end === null ? Infinity : Number(end);
      const limit = Number(query.get("nLogs") ?? 20_000);
      const logs = state.accessLogs
        .filter((log) => {
          const at = Date.parse(log.timestamp ?? "");
          return at >= from && at <= to;
        })
        .filter(
          (log) => query.get("authResult") === null || String(log.authResult) === query.get("authResult"),
        )
        .slice(0, limit);
      return [200, { accessLogs: logs }];
    }

    if (!allowed(["GROUP_READ_ONLY", ...ACCESS_HISTORY_ROLES, ...SLOW_QUERY_ROLES])) return unauthorized;

    if (match[2] === "events") {
      if (rest) return error(404, "RESOURCE_NOT_FOUND", `no route ${url.pathname}`);
      const types = query.getAll("eventType");
      const min = Date.parse(query.get("minDate") ?? "") || -Infinity;
      const max = Date.parse(query.get("maxDate") ?? "") || Infinity;
      const events = state.events.filter((event) => {
        const at = Date.parse(event.created ?? "");
        return (types.length === 0 || types.includes(event.eventTypeName ?? "")) && at >= min && at <= max;
      });
      return page(url, events);
    }

    // processes
    if (rest === "") return page(url, state.processes);
    const processMatch = /^\/([^/]+)(\/.*)$/.exec(rest);
    const processId = decodeURIComponent(processMatch?.[1] ?? "");
    if (!processMatch || !state.processes.some((process) => process.id === processId))
      return error(404, "PROCESS_NOT_FOUND", `No process ${processId} exists in group ${state.projectId}.`);
    const sub = processMatch[2]!;
    const measured = (source: Map<string, AtlasMeasurement[]>): [number, unknown] => {
      if (!query.get("granularity") || !(query.get("period") || (query.get("start") && query.get("end"))))
        return error(
          400,
          "MISSING_QUERY_PARAMETER",
          "granularity and period (or start and end) are required.",
        );
      const wanted = query.getAll("m");
      const all = source.get(processId) ?? [];
      return [
        200,
        {
          groupId: state.projectId,
          processId,
          granularity: query.get("granularity"),
          measurements: wanted.length ? all.filter((m) => wanted.includes(m.name)) : all,
        },
      ];
    };
    if (sub === "/measurements") return measured(state.measurements);
    if (sub === "/disks") return page(url, [{ partitionName: "data" }]);
    if (sub === "/disks/data/measurements") return measured(state.diskMeasurements);
    if (sub === "/performanceAdvisor/suggestedIndexes")
      return [200, state.advisor.get(processId) ?? { suggestedIndexes: [], shapes: [] }];
    if (sub === "/performanceAdvisor/slowQueryLogs") {
      if (!allowed(SLOW_QUERY_ROLES)) return unauthorized;
      const limit = Number(query.get("nLogs") ?? 20_000);
      return [200, { slowQueries: (state.slowQueries.get(processId) ?? []).slice(0, limit) }];
    }
    return error(404, "RESOURCE_NOT_FOUND", `no route ${url.pathname}`);
  };
}

/** One page of a list resource, with `links` rel="self" and, when more remain, rel="next". */
function page(url: URL, items: unknown[]): [number, unknown] {
  const pageNum = Number(url.searchParams.get("pageNum") ?? 1);
  const itemsPerPage = Number(url.searchParams.get("itemsPerPage") ?? 100);
  if (!Number.isInteger(itemsPerPage) || itemsPerPage < 1 || itemsPerPage > 500)
    return error(400, "INVALID_ITEMS_PER_PAGE", "itemsPerPage must be between 1 and 500.");
  const results = items.slice((pageNum - 1) * itemsPerPage, pageNum * itemsPerPage);
  const link = (n: number) => {
    const next = new URL(url);
    next.searchParams.set("pageNum", String(n));
    return next.toString();
  };
  const links = [{ rel: "self", href: link(pageNum) }];
  if (pageNum * itemsPerPage < items.length) links.push({ rel: "next", href: link(pageNum + 1) });
  return [200, { links, results, totalCount: items.length }];
}
