import type { BackupKind } from "../core/archive/events";

export interface BackupEvent {
  kind: BackupKind;
  /** The schedule's `<aws.scheduler.scheduled-time>`: names the archive, so a retried run finds its own. */
  scheduledTime?: Date;
}

const KINDS: readonly BackupKind[] = ["daily", "weekly", "monthly"];

export function parseBackupEvent(event: unknown): BackupEvent {
  const record = (typeof event === "object" && event !== null ? event : {}) as Record<string, unknown>;
  const kind = record.kind;
  if (typeof kind !== "string" || !KINDS.includes(kind as BackupKind)) {
    throw new Error(`event field "kind" must be one of ${KINDS.join(", ")} (got ${JSON.stringify(kind)})`);
  }
  const scheduled = record.scheduledTime;
  if (scheduled === undefined || scheduled === null || scheduled === "") return { kind: kind as BackupKind };
  const scheduledTime = typeof scheduled === "string" ? new Date(scheduled) : undefined;
  if (!scheduledTime || Number.isNaN(scheduledTime.getTime())) {
    throw new Error(
      `event field "scheduledTime" must be an ISO 8601 time (got ${JSON.stringify(scheduled)})`,
    );
  }
  return { kind: kind as BackupKind, scheduledTime };
}
