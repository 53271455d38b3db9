/**
 * The daily report: one readable message with the last day's maintenance figures, and a subject line that
 * says at a glance whether anything needs attention.
 */

import type { SentryDigest } from "../sentry/sentry-issues";

export type BackupKind = "daily" | "weekly" | "monthly";

export interface DailyReportFigures {
  app: string;
  periodEnd: Date;
  backups: { succeeded: number; failed: number; lastBytes?: number };
  /** The latest verification run (weekly) and, per kind, the newest backup's age as it measured then. */
  verification: { ok?: boolean; at?: Date; newestAgeHours: Partial<Record<BackupKind, number>> };
  health: { checks: number; uptimePercent?: number; p95LatencyMs?: number; tlsCertDaysLeft?: number };
  newDocuments: { database: string; collection: string; documents: number }[];
  databases: { database: string; dataSizeBytes?: number; weekAgoDataSizeBytes?: number }[];
  /** Databases where db-stats could not check index usage in the last day ($indexStats refused). */
  indexUsageSkipped?: string[];
  restoreTest?: { ok: boolean; at: Date; rtoMs?: number; backupAgeHours?: number };
  /** Sidecars the latest backup or verification run had to skip because they cannot be read. */
  unreadableSidecars?: number;
  /** The application's Sentry, when configured: its digest, or why it could not be read. */
  sentry?: { digest?: SentryDigest; error?: string; spikeEvents: number };
}

export interface DailyReport {
  subject: string;
  message: string;
  problems: string[];
}

/** Thresholds past which a figure counts as a problem. */
const MAX_DAILY_BACKUP_AGE_HOURS = 26;
const MIN_UPTIME_PERCENT = 99;
const MIN_TLS_DAYS = 14;

export function formatDailyReport(figures: DailyReportFigures, timeZone: string): DailyReport {
  const when = (date: Date): string => formatTime(date, timeZone);
  const problems: string[] = [];
  const lines: string[] = [
    `Maintenance report for ${figures.app}, 24 hours to ${when(figures.periodEnd)}`,
    "",
  ];

  const { backups } = figures;
  lines.push("Backups");
  lines.push(`  made: ${backups.succeeded}, failed: ${backups.failed}`);
  if (backups.lastBytes !== undefined) lines.push(`  latest archive: ${formatBytes(backups.lastBytes)}`);
  if (backups.succeeded === 0) problems.push("no backup succeeded in the last 24 hours");
  if (backups.failed > 0) problems.push(`${backups.failed} backup run(s) failed`);

  const { verification } = figures;
  const verified =
    verification.ok === undefined ? "no verification run found" : verification.ok ? "passed" : "FAILED";
  lines.push(`  last verification: ${verified}${verification.at ? ` (${when(verification.at)})` : ""}`);
  if (verification.ok === false) problems.push("backup verification failed");
  for (const kind of ["daily", "weekly", "monthly"] as const) {
    const age = verification.newestAgeHours[kind];
    lines.push(
      `  newest ${kind} backup at verification: ${age === undefined ? "unknown" : `${formatHours(age)} old`}`,
    );
  }
  if (figures.unreadableSidecars) {
    lines.push(`  unreadable sidecars skipped: ${figures.unreadableSidecars} (see the job's log for which)`);
    problems.push(`${figures.unreadableSidecars} backup sidecar(s) cannot be read`);
  }
  const dailyAge = verification.newestAgeHours.daily;
  if (dailyAge !== undefined && dailyAge > MAX_DAILY_BACKUP_AGE_HOURS) {
    problems.push(`newest daily backup was ${formatHours(dailyAge)} old at verification`);
  }

  const { health } = figures;
  lines.push("", "Health");
  if (health.checks === 0 || health.uptimePercent === undefined) {
    lines.push("  no health checks recorded");
    problems.push("no health checks recorded");
  } else {
    lines.push(`  uptime: ${health.uptimePercent.toFixed(2)}% of ${health.checks} checks`);
    if (health.uptimePercent < MIN_UPTIME_PERCENT)
      problems.push(`uptime ${health.uptimePercent.toFixed(2)}%`);
  }
  lines.push(
    `  p95 latency: ${health.p95LatencyMs === undefined ? "n/a" : `${Math.round(health.p95LatencyMs)} ms`}`,
  );
  if (health.tlsCertDaysLeft !== undefined) {
    lines.push(`  TLS certificate expires in ${Math.floor(health.tlsCertDaysLeft)} days`);
    if (health.tlsCertDaysLeft < MIN_TLS_DAYS) problems.push("TLS certificate expires soon");
  }

  if (figures.sentry) sentryLines(figures.sentry, lines, problems);

  lines.push("", "Data");
  for (const figure of figures.newDocuments) {
    lines.push(`  new in ${figure.database}.${figure.collection}: ${figure.documents}`);
  }
  for (const database of figures.databases) {
    lines.push(
      `  ${database.database}: ${describeGrowth(database.dataSizeBytes, database.weekAgoDataSizeBytes)}`,
    );
  }
  for (const database of figures.indexUsageSkipped ?? []) {
    lines.push(
      `  ${database}: unused-index check skipped ($indexStats refused: the db-stats user lacks the indexStats action, or the server has none; see the db-stats log)`,
    );
  }
  if (!figures.newDocuments.length && !figures.databases.length)
    lines.push("  no database statistics recorded");

  lines.push("", "Restore test");
  const restore = figures.restoreTest;
  if (!restore) {
    lines.push("  none recorded in the last 35 days");
    problems.push("no restore test in the last 35 days");
  } else {
    const rto = restore.rtoMs === undefined ? "" : `, restore took ${formatDuration(restore.rtoMs)}`;
    const rpo =
      restore.backupAgeHours === undefined ? "" : `, backup was ${formatHours(restore.backupAgeHours)} old`;
    lines.push(`  ${restore.ok ? "passed" : "FAILED"} (${when(restore.at)})${rto}${rpo}`);
    if (!restore.ok) problems.push("the last restore test failed");
  }

  if (problems.length)
    lines.splice(2, 0, "Needs attention:", ...problems.map((problem) => `  - ${problem}`), "");
  const day = formatTime(figures.periodEnd, timeZone).slice(0, 10);
  const status = problems.length ? `${problems.length} problem(s)` : "all good";
  // SNS subjects: ASCII, at most 100 characters.
  const subject = `[${figures.app}] maintenance report ${day}: ${status}`
    .replace(/[^\x20-\x7e]/g, "?")
    .slice(0, 100);
  return { subject, message: lines.join("\n") + "\n", problems };
}

function sentryLines(
  sentry: NonNullable<DailyReportFigures["sentry"]>,
  lines: string[],
  problems: string[],
): void {
  lines.push("", "Application errors (Sentry)");
  const { digest } = sentry;
  if (!digest) {
    lines.push(`  could not be read: ${sentry.error ?? "unknown error"}`);
    problems.push("Sentry could not be read");
    return;
  }
  lines.push(
    `  events: ${digest.events}, new issues: ${digest.newIssues}, unresolved issues with events: ${digest.unresolvedIssues}`,
  );
  for (const issue of digest.top) {
    lines.push(`  ${issue.shortId}${issue.isNew ? " (new)" : ""}: ${issue.events} events, ${issue.title}`);
  }
  if (digest.truncated) lines.push("  (more issues than one report reads: see Sentry)");
  if (digest.events > sentry.spikeEvents) {
    problems.push(`${digest.events} Sentry events in 24 hours (spike threshold ${sentry.spikeEvents})`);
  }
}

/** Throws RangeError for an unknown IANA time zone. */
export function formatTime(date: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  }).formatToParts(date);
  const part = (type: string): string => parts.find((item) => item.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")} ${part("timeZoneName")}`;
}

function describeGrowth(now?: number, weekAgo?: number): string {
  if (now === undefined) return "size unknown";
  if (weekAgo === undefined || weekAgo === 0) return `${formatBytes(now)} (no figure from a week ago)`;
  const change = ((now - weekAgo) / weekAgo) * 100;
  return `${formatBytes(now)} (${change >= 0 ? "+" : ""}${change.toFixed(1)}% on last week)`;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function formatHours(hours: number): string {
  return hours >= 48 ? `${(hours / 24).toFixed(1)} days` : `${hours.toFixed(1)} h`;
}

function formatDuration(ms: number): string {
  const seconds = ms / 1000;
  return seconds >= 120 ? `${(seconds / 60).toFixed(1)} min` : `${seconds.toFixed(1)} s`;
}
