import type { QueryShape, SlowQuery, SuggestedIndex } from "../atlas/atlas-reads";
import type { UnusedIndex } from "../probes/db-stats";

/**
 * The guide's monthly "Performance review" and "Index Maintenance" as one mail: month-over-month trends of
 * the figures on the dashboard, the Performance Advisor's suggested indexes with the query shapes they help,
 * the slowest logged queries per collection, and indexes never used (each with collection and index named).
 */

export interface Trend {
  label: string;
  unit: string;
  thisMonth?: number;
  lastMonth?: number;
}

export interface MonthlyReviewInput {
  app: string;
  periodEnd: Date;
  trends: Trend[];
  suggestedIndexes: SuggestedIndex[];
  shapes: QueryShape[];
  slowQueries: SlowQuery[];
  unusedIndexes: UnusedIndex[];
  /** Why the unused-index check could not run (e.g. the server lacks $indexStats). */
  unusedIndexesSkipped: string[];
}

export interface MonthlyReview {
  subject: string;
  message: string;
  figures: { SuggestedIndexes: number; SlowQueries: number; UnusedIndexes: number };
}

const MAX_LINES = 15;

export function formatMonthlyReview(input: MonthlyReviewInput): MonthlyReview {
  const lines = [
    `Performance review for ${input.app}, 30 days to ${input.periodEnd.toISOString().slice(0, 10)}`,
    "",
  ];

  lines.push("Trends (this month against the month before, averages)");
  for (const trend of input.trends) lines.push(`  ${trend.label}: ${describeTrend(trend)}`);

  lines.push("", `Indexes the Performance Advisor suggests: ${input.suggestedIndexes.length}`);
  const shapes = new Map(input.shapes.map((shape) => [shape.id, shape]));
  for (const suggestion of input.suggestedIndexes.slice(0, MAX_LINES)) {
    const keys = suggestion.index.map((key) =>
      Object.entries(key)
        .map(([f, d]) => `${f}: ${d}`)
        .join(", "),
    );
    const helped = (suggestion.impact ?? []).map((id) => shapes.get(id)).filter((s): s is QueryShape => !!s);
    const calls = helped.reduce((sum, shape) => sum + (shape.count ?? 0), 0);
    const slowest = Math.max(0, ...helped.map((shape) => shape.avgMs ?? 0));
    lines.push(
      `  ${suggestion.namespace}: createIndex({ ${keys.join(", ")} })` +
        (helped.length
          ? ` (helps ${helped.length} query shape(s), ${calls} calls, up to ${slowest} ms on average)`
          : ""),
    );
  }
  more(lines, input.suggestedIndexes.length);

  lines.push("", `Slow queries logged: ${input.slowQueries.length}`);
  const slow = input.slowQueries.map(parseSlowQuery).sort((a, b) => b.durationMs - a.durationMs);
  const byNamespace = new Map<string, number>();
  for (const query of slow) byNamespace.set(query.namespace, (byNamespace.get(query.namespace) ?? 0) + 1);
  for (const [namespace, count] of [...byNamespace].sort((a, b) => b[1] - a[1]).slice(0, MAX_LINES))
    lines.push(`  ${namespace}: ${count} slow`);
  if (slow.length) lines.push("  slowest:");
  for (const query of slow.slice(0, 5))
    lines.push(`    ${query.durationMs} ms ${query.namespace}${query.plan ? ` (${query.plan})` : ""}`);

  lines.push("", `Indexes never used since the server started counting: ${input.unusedIndexes.length}`);
  for (const index of input.unusedIndexes.slice(0, MAX_LINES))
    lines.push(
      `  ${index.namespace}: ${index.index}${index.since ? ` (counting since ${index.since.slice(0, 10)})` : ""}`,
    );
  more(lines, input.unusedIndexes.length);
  for (const reason of input.unusedIndexesSkipped) lines.push(`  not checked: ${reason}`);

  const count = input.suggestedIndexes.length + input.unusedIndexes.length;
  const status = count ? `${count} index change(s) to consider` : "no index changes suggested";
  return {
    subject: `[${input.app}] monthly performance review: ${status}`
      .replace(/[^\x20-\x7e]/g, "?")
      .slice(0, 100),
    message: lines.join("\n") + "\n",
    figures: {
      SuggestedIndexes: input.suggestedIndexes.length,
      SlowQueries: input.slowQueries.length,
      UnusedIndexes: input.unusedIndexes.length,
    },
  };
}

function more(lines: string[], total: number): void {
  if (total > MAX_LINES) lines.push(`  ... and ${total - MAX_LINES} more`);
}

function describeTrend(trend: Trend): string {
  const format = (value: number) => `${Number(value.toFixed(2))} ${trend.unit}`.trim();
  if (trend.thisMonth === undefined) return "no data this month";
  if (trend.lastMonth === undefined || trend.lastMonth === 0)
    return `${format(trend.thisMonth)} (no figure for the month before)`;
  const change = ((trend.thisMonth - trend.lastMonth) / trend.lastMonth) * 100;
  return `${format(trend.thisMonth)} (${change >= 0 ? "+" : ""}${change.toFixed(1)}% on ${format(trend.lastMonth)})`;
}

/** A slow query log line is mongod's JSON log entry: duration and plan summary from its `attr`. */
function parseSlowQuery(query: SlowQuery): { namespace: string; durationMs: number; plan?: string } {
  let attr: { ns?: unknown; durationMillis?: unknown; planSummary?: unknown } = {};
  try {
    attr = ((JSON.parse(query.line) as { attr?: typeof attr }).attr ?? {}) as typeof attr;
  } catch {
    // Not JSON (an older log format): the namespace from Atlas is still shown.
  }
  return {
    namespace: query.namespace ?? (typeof attr.ns === "string" ? attr.ns : "?"),
    durationMs: typeof attr.durationMillis === "number" ? attr.durationMillis : 0,
    plan: typeof attr.planSummary === "string" ? attr.planSummary : undefined,
  };
}
