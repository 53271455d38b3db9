import type { MongoClient } from "mongodb";
import type { BackupOutcome } from "../../lambdas/backup/handler";
import type { DemoResources } from "./local-aws";
import type { Env } from "./lambda";
import type { Steps } from "./steps";

/** What the drill's steps share. */
export interface DrillContext {
  root: string;
  resources: DemoResources;
  /** The services' own administrative login (scratch restores, comparisons, clean-up). */
  admin: MongoClient;
  adminUri: string;
  /** The application's long-lived client, opened with the app user's credentials before any rotation. */
  app: MongoClient;
  steps: Steps;
  /** Where the handlers' logs and EMF lines go. */
  logFile: string;
  /** Scratch databases to drop at the end. */
  scratchDatabases: string[];
  backups: Partial<Record<"daily" | "weekly", BackupOutcome>>;
  /** Local copies written to ./backups/, in the guide's naming. */
  localCopies: string[];
}

/** The environment every job shares, as the Pulumi stack sets it. */
export function commonEnv(context: DrillContext): Env {
  return {
    APP_NAME: "opendev",
    METRICS_NAMESPACE: context.resources.metricsNamespace,
    LOG_LEVEL: "INFO",
    SENTRY_DSN: undefined,
  };
}
