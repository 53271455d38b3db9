import type { AtlasAdminApi } from "../rotation/atlas-admin-api";

/**
 * The read-only Atlas Administration API v2 calls the weekly security review and the performance review
 * make, over the same client (auth, versioned Accept header, 429/5xx back-off) as password rotation. List
 * endpoints are paged with pageNum/itemsPerPage and a `links` entry rel="next"; every read is bounded.
 */

/** Project roles the Atlas documentation names for each resource (quoted in a 403's message). */
export const ATLAS_READ_ROLES = {
  accessHistory: "Project Monitoring Admin",
  events: "Project Read Only",
  processes: "Project Read Only",
  measurements: "Project Read Only",
  suggestedIndexes: "Project Read Only",
  slowQueries: "Project Observability Viewer",
} as const;

export interface AtlasAccessLog {
  authResult?: boolean;
  authSource?: string;
  failureReason?: string;
  hostname?: string;
  ipAddress?: string;
  timestamp?: string;
  username?: string;
}

export interface AtlasEvent {
  id?: string;
  created?: string;
  eventTypeName?: string;
  username?: string;
  publicKey?: string;
  remoteAddress?: string;
  dbUserUsername?: string;
  whitelistEntry?: string;
  raw?: Record<string, unknown>;
}

export interface AtlasProcess {
  id: string;
  hostname: string;
  port: number;
  typeName?: string;
  userAlias?: string;
}

export interface AtlasMeasurement {
  name: string;
  units?: string;
  dataPoints: { timestamp: string; value: number | null }[];
}

export interface SuggestedIndex {
  id?: string;
  namespace: string;
  index: Record<string, number>[];
  weight?: number;
  impact?: string[];
}

export interface QueryShape {
  id?: string;
  namespace: string;
  avgMs?: number;
  count?: number;
  inefficiencyScore?: number;
}

export interface SlowQuery {
  namespace?: string;
  line: string;
}

const ITEMS_PER_PAGE = 500;
/** 20 pages of 500: far beyond a week of security events of one project; more is reported, not read. */
const MAX_PAGES = 20;

export class AtlasReads {
  constructor(
    private readonly api: AtlasAdminApi,
    private readonly projectId: string,
  ) {}

  private group(): string {
    return `/api/atlas/v2/groups/${encodeURIComponent(this.projectId)}`;
  }

  /** Authentication attempts against the cluster between `from` and `to` (at most `limit` lines). */
  async accessHistory(clusterName: string, from: Date, to: Date, limit = 20_000): Promise<AtlasAccessLog[]> {
    const query = new URLSearchParams({
      start: String(from.getTime()),
      end: String(to.getTime()),
      nLogs: String(limit),
    });
    const body = (await this.api.getJson(
      `${this.group()}/dbAccessHistory/clusters/${encodeURIComponent(clusterName)}`,
      query,
      ATLAS_READ_ROLES.accessHistory,
    )) as { accessLogs?: AtlasAccessLog[] };
    return Array.isArray(body.accessLogs) ? body.accessLogs : [];
  }

  /** Project events of the given types since `from`, every page. */
  async events(
    eventTypes: readonly string[],
    from: Date,
    to: Date,
  ): Promise<{ events: AtlasEvent[]; truncated: boolean }> {
    const query = new URLSearchParams({
      minDate: from.toISOString(),
      maxDate: to.toISOString(),
      includeRaw: "true",
    });
    for (const type of eventTypes) query.append("eventType", type);
    const { results, truncated } = await this.paged<AtlasEvent>(
      `${this.group()}/events`,
      query,
      ATLAS_READ_ROLES.events,
    );
    return { events: results, truncated };
  }

  /** The MongoDB processes of the project (every node of every cluster). */
  async processes(): Promise<AtlasProcess[]> {
    const { results } = await this.paged<AtlasProcess>(
      `${this.group()}/processes`,
      new URLSearchParams(),
      ATLAS_READ_ROLES.processes,
    );
    return results;
  }

  /** Hourly measurements of one process over `period` (ISO 8601 duration, e.g. P1D). */
  async measurements(
    processId: string,
    metrics: readonly string[],
    period: string,
  ): Promise<AtlasMeasurement[]> {
    const query = new URLSearchParams({ granularity: "PT1H", period });
    for (const metric of metrics) query.append("m", metric);
    const body = (await this.api.getJson(
      `${this.group()}/processes/${encodeURIComponent(processId)}/measurements`,
      query,
      ATLAS_READ_ROLES.measurements,
    )) as { measurements?: AtlasMeasurement[] };
    return Array.isArray(body.measurements) ? body.measurements : [];
  }

  /** Hourly measurements of a process's disk partition (Atlas names the data partition "data"). */
  async diskMeasurements(
    processId: string,
    metrics: readonly string[],
    period: string,
  ): Promise<AtlasMeasurement[]> {
    const process = `${this.group()}/processes/${encodeURIComponent(processId)}`;
    const { results: disks } = await this.paged<{ partitionName?: string }>(
      `${process}/disks`,
      new URLSearchParams(),
      ATLAS_READ_ROLES.measurements,
    );
    const partition =
      disks.find((disk) => disk.partitionName === "data")?.partitionName ?? disks[0]?.partitionName;
    if (!partition) return [];
    const query = new URLSearchParams({ granularity: "PT1H", period });
    for (const metric of metrics) query.append("m", metric);
    const body = (await this.api.getJson(
      `${process}/disks/${encodeURIComponent(partition)}/measurements`,
      query,
      ATLAS_READ_ROLES.measurements,
    )) as { measurements?: AtlasMeasurement[] };
    return Array.isArray(body.measurements) ? body.measurements : [];
  }

  /** The Performance Advisor's suggested indexes and the query shapes behind them, since `from`. */
  async suggestedIndexes(
    processId: string,
    from: Date,
  ): Promise<{ suggestedIndexes: SuggestedIndex[]; shapes: QueryShape[] }> {
    const body = (await this.api.getJson(
      `${this.group()}/processes/${encodeURIComponent(processId)}/performanceAdvisor/suggestedIndexes`,
      new URLSearchParams({ since: String(from.getTime()) }),
      ATLAS_READ_ROLES.suggestedIndexes,
    )) as { suggestedIndexes?: SuggestedIndex[]; shapes?: QueryShape[] };
    return {
      suggestedIndexes: Array.isArray(body.suggestedIndexes) ? body.suggestedIndexes : [],
      shapes: Array.isArray(body.shapes) ? body.shapes : [],
    };
  }

  /** Slow query log lines since `from` (at most `limit`). */
  async slowQueries(processId: string, from: Date, limit = 200): Promise<SlowQuery[]> {
    const body = (await this.api.getJson(
      `${this.group()}/processes/${encodeURIComponent(processId)}/performanceAdvisor/slowQueryLogs`,
      new URLSearchParams({ since: String(from.getTime()), nLogs: String(limit) }),
      ATLAS_READ_ROLES.slowQueries,
    )) as { slowQueries?: SlowQuery[] };
    return Array.isArray(body.slowQueries) ? body.slowQueries : [];
  }

  private async paged<T>(
    path: string,
    query: URLSearchParams,
    role: string,
  ): Promise<{ results: T[]; truncated: boolean }> {
    const results: T[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const pageQuery = new URLSearchParams(query);
      pageQuery.set("pageNum", String(page));
      pageQuery.set("itemsPerPage", String(ITEMS_PER_PAGE));
      const body = (await this.api.getJson(path, pageQuery, role)) as {
        results?: T[];
        links?: { rel?: string; href?: string }[];
      };
      const items = Array.isArray(body.results) ? body.results : [];
      results.push(...items);
      const hasNext = (body.links ?? []).some((link) => link.rel === "next");
      if (!hasNext || items.length === 0) return { results, truncated: false };
    }
    return { results, truncated: true };
  }
}

/** The cluster's nodes among the project's processes: Atlas host names start with the cluster name. */
export function clusterProcesses(processes: AtlasProcess[], clusterName: string): AtlasProcess[] {
  const prefix = `${clusterName.toLowerCase()}-`;
  return processes.filter(
    (process) =>
      (process.typeName ?? "").startsWith("REPLICA_") &&
      (process.hostname.toLowerCase().startsWith(prefix) ||
        (process.userAlias ?? "").toLowerCase().startsWith(prefix)),
  );
}
