import type { EnvReader } from "../core/config/env";
import { loadAtlasReadConfig, topicArn, type AtlasReadConfig } from "../core/atlas/read-config";
import type { SecurityThresholds } from "../core/security/security-review";

export interface SecurityReviewConfig {
  atlas: AtlasReadConfig;
  topicArn: string;
  reviewDays: number;
  secretArns: string[];
  expectedSecretReaders: string[];
  backupBucket?: string;
  thresholds: SecurityThresholds;
}

export function loadSecurityReviewConfig(env: EnvReader): SecurityReviewConfig {
  return {
    atlas: loadAtlasReadConfig(env),
    topicArn: topicArn(env, "SECURITY_TOPIC_ARN"),
    reviewDays: env.integer("REVIEW_DAYS", 7, { min: 1, max: 90 }),
    secretArns: env.list("REVIEWED_SECRET_ARNS"),
    expectedSecretReaders: env.list("EXPECTED_SECRET_READERS"),
    backupBucket: env.optional("BACKUP_BUCKET"),
    thresholds: {
      failedLogins: env.integer("FAILED_LOGINS_THRESHOLD", 25, { min: 0 }),
      databaseUserChanges: env.integer("USER_CHANGES_THRESHOLD", 6, { min: 0 }),
    },
  };
}
