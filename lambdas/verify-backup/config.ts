import type { EnvReader } from "../core/config/env";
import { loadBucketConfig, type BucketConfig } from "../backup/config";

export interface VerifyBackupConfig extends BucketConfig {
  /** Every archive younger than this is verified, besides the newest of each kind. */
  maxAgeHours: number;
}

export function loadVerifyBackupConfig(env: EnvReader): VerifyBackupConfig {
  return {
    ...loadBucketConfig(env),
    maxAgeHours: env.integer("VERIFY_MAX_AGE_HOURS", 168, { min: 1, max: 24 * 400 }),
  };
}
