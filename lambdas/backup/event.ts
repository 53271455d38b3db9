import type { BackupKind } from "../core/archive/events";

export interface BackupEvent {
  kind: BackupKind;
  /** The schedule's `<aws.scheduler.scheduled-time>`: names the archive, so a retried run finds its own. */
  scheduledTime?: Date;
  /** Set in the event of a later step: where the previous step stored its state. */
  continuation?: BackupContinuation;
}

/** What a step that stopped early passes on (the workflow hands its result to the next step unchanged). */
export interface BackupContinuation {
  /** Key of the stored state, relative to the backup target. */
  state: string;
  /** The step that stored it (1 for the first). */
  step: number;
}

const KINDS: readonly BackupKind[] = ["daily", "weekly", "monthly"];

export function parseBackupEvent(event: unknown): BackupEvent {
  const record = (typeof event === "object" && event !== null ? event : {}) as Record<string, unknown>;
  const kind = record.kind;
  if (typeof kind !== "string" || !KINDS.includes(kind as BackupKind)) {
    throw new Error(`event field "kind" must be one of ${KINDS.join(", ")} (got ${JSON.stringify(kind)})`);
  }
  const continuation = parseContinuation(record.continuation);
  const scheduled = record.scheduledTime;
  if (scheduled === undefined || scheduled === null || scheduled === "")
    return { kind: kind as BackupKind, ...(continuation ? { continuation } : {}) };
  const scheduledTime = typeof scheduled === "string" ? new Date(scheduled) : undefined;
  if (!scheduledTime || Number.isNaN(scheduledTime.getTime())) {
    throw new Error(
      `event field "scheduledTime" must be an ISO 8601 time (got ${JSON.stringify(scheduled)})`,
    );
  }
  return { kind: kind as BackupKind, scheduledTime, ...(continuation ? { continuation } : {}) };
}

function parseContinuation(value: unknown): BackupContinuation | undefined {
  if (value === undefined || value === null) return undefined;
  const record = value as Partial<BackupContinuation>;
  if (typeof record.state !== "string" || !Number.isSafeInteger(record.step)) {
    throw new Error(`event field "continuation" must be { state, step } as a previous step returned it`);
  }
  return { state: record.state, step: record.step! };
}
