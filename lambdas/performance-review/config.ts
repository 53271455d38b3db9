import type { EnvReader } from "../core/config/env";
import { loadAtlasReadConfig, topicArn, type AtlasReadConfig } from "../core/atlas/read-config";

export interface PerformanceReviewConfig {
  atlas: AtlasReadConfig;
  topicArn: string;
  metricsNamespace: string;
  /** The backup user's secret: the monthly review lists unused indexes with it ($indexStats). */
  mongodbSecretId?: string;
  databases: string[];
}

export function loadPerformanceReviewConfig(env: EnvReader): PerformanceReviewConfig {
  return {
    atlas: loadAtlasReadConfig(env),
    topicArn: topicArn(env, "REPORT_TOPIC_ARN"),
    metricsNamespace: env.optional("METRICS_NAMESPACE", "AtlasOps"),
    mongodbSecretId: env.optional("MONGODB_SECRET_ID"),
    databases: env.list("STATS_DATABASES"),
  };
}

export type PerformanceReviewKind = "daily" | "monthly";

/** `{ review: "monthly" }` from the monthly schedule; anything else is the daily pull. */
export function reviewKind(event: unknown): PerformanceReviewKind {
  const review = (event as { review?: unknown } | null)?.review;
  if (review === undefined || review === "daily") return "daily";
  if (review === "monthly") return "monthly";
  throw new Error(`event field "review" must be "daily" or "monthly" (got ${JSON.stringify(review)})`);
}
