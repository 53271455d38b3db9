import type { EnvReader } from "../core/config/env";
import { readRestartConfig, type RestartConfig } from "../core/rotation/restart";
import { ROTATION_STRATEGY_NAMES, type RotationStrategyName } from "../core/rotation/database-password";

export interface MongodbPasswordRotationConfig {
  strategy: RotationStrategyName;
  adminSecretId: string;
  projectId: string;
  apiBaseUrl: string;
  /** The host the stack gives the cluster now (MONGODB_HOST); the next rotation moves each secret to it. */
  host?: string;
  /** How long testSecret waits for Atlas to apply the new password (ROTATION_LOGIN_WAIT_SECONDS). */
  loginWaitMs: number;
  restart: RestartConfig;
}

export const DEFAULT_ATLAS_API_BASE_URL = "https://cloud.mongodb.com";

/** Reads and validates the function's environment at cold start; errors name the variable. */
export function loadMongodbPasswordRotationConfig(env: EnvReader): MongodbPasswordRotationConfig {
  const strategy = env.oneOf("ROTATION_STRATEGY", ROTATION_STRATEGY_NAMES, "single-user");
  const adminSecretId = env.required("ATLAS_ADMIN_SECRET_ID");
  const projectId = env.required("ATLAS_PROJECT_ID");
  // Kept as written (no trailing slash added): API paths are resolved against it.
  const apiBaseUrl = env.url("ATLAS_API_BASE_URL", { required: false })
    ? env.required("ATLAS_API_BASE_URL")
    : DEFAULT_ATLAS_API_BASE_URL;
  // Within the function's 300 s timeout, leaving time for the login itself.
  const waitSeconds = env.integer("ROTATION_LOGIN_WAIT_SECONDS", 120, { min: 0, max: 240 });
  return {
    strategy,
    adminSecretId,
    projectId,
    apiBaseUrl,
    host: env.optional("MONGODB_HOST"),
    loginWaitMs: waitSeconds * 1000,
    restart: readRestartConfig(env),
  };
}
