import type { EnvReader } from "../core/config/env";
import type { BackupKind } from "../core/archive/events";
import type { ProductionDatabase } from "../core/restore-test/production-guard";
import { loadBucketConfig, type BucketConfig } from "../backup/config";

export interface RestoreTestJobConfig extends BucketConfig {
  /** The restore-test user's credentials: they point at the scratch target. */
  secretId: string;
  kind: BackupKind;
  /** Where production lives: the drill refuses to write there. */
  production: ProductionDatabase;
}

export function loadRestoreTestConfig(env: EnvReader): RestoreTestJobConfig {
  const hosts = env.list("PRODUCTION_MONGODB_HOSTS");
  if (!hosts.length) env.required("PRODUCTION_MONGODB_HOSTS");
  return {
    ...loadBucketConfig(env),
    secretId: env.required("MONGODB_SECRET_ID"),
    kind: env.oneOf("RESTORE_TEST_KIND", ["daily", "weekly", "monthly"] as const, "daily"),
    production: { hosts, database: env.required("PRODUCTION_DATABASE") },
  };
}
