import { SEGMENT_BYTES } from "../core/archive/segments";
import { ConfigError, type EnvReader } from "../core/config/env";

export interface BucketConfig {
  bucket: string;
  /** "" or ending in "/". */
  prefix: string;
}

/** BACKUP_BUCKET and BACKUP_PREFIX, shared by the jobs that read or write backups. */
export function loadBucketConfig(env: EnvReader): BucketConfig {
  const bucket = env.required("BACKUP_BUCKET");
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError("BACKUP_BUCKET", `must be an S3 bucket name (got "${bucket}")`);
  }
  const prefix = env.optional("BACKUP_PREFIX", "");
  if (prefix.startsWith("/")) throw new ConfigError("BACKUP_PREFIX", "must not start with /");
  return { bucket, prefix: prefix && !prefix.endsWith("/") ? `${prefix}/` : prefix };
}

export interface BackupConfig extends BucketConfig {
  secretId: string;
  kmsKeyId?: string;
  /** Empty: every non-system database. */
  databases: string[];
  /** Bytes of a .bson segment and between checkpoints, where a step may stop (default SEGMENT_BYTES). */
  segmentBytes: number;
}

export function loadBackupConfig(env: EnvReader): BackupConfig {
  return {
    ...loadBucketConfig(env),
    secretId: env.required("MONGODB_SECRET_ID"),
    kmsKeyId: env.optional("BACKUP_KMS_KEY_ID"),
    databases: env.list("BACKUP_DATABASES"),
    segmentBytes: env.integer("BACKUP_SEGMENT_BYTES", SEGMENT_BYTES, { min: 64 * 1024, max: 4 * 1024 ** 3 }),
  };
}
