import { readRestartConfig, type RestartConfig } from "../core/rotation/restart";
import { ROTATION_STRATEGY_NAMES, type RotationStrategyName } from "../core/rotation/database-password";

export interface MongodbPasswordRotationConfig {
  strategy: RotationStrategyName;
  adminSecretId: string;
  projectId: string;
  apiBaseUrl: string;
  /** How long testSecret waits for Atlas to apply the new password (ROTATION_LOGIN_WAIT_SECONDS). */
  loginWaitMs: number;
  restart: RestartConfig;
}

type Env = Record<string, string | undefined>;

/** Reads and validates the function's environment at cold start; errors name the variable. */
export function readMongodbPasswordRotationConfig(env: Env): MongodbPasswordRotationConfig {
  const strategy = env.ROTATION_STRATEGY || "single-user";
  if (!ROTATION_STRATEGY_NAMES.includes(strategy as RotationStrategyName)) {
    throw new Error(`ROTATION_STRATEGY must be ${ROTATION_STRATEGY_NAMES.join(" or ")} (got "${strategy}")`);
  }
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  const apiBaseUrl = env.ATLAS_API_BASE_URL || "https://cloud.mongodb.com";
  try {
    new URL(apiBaseUrl);
  } catch {
    throw new Error(`ATLAS_API_BASE_URL is not a URL`);
  }
  const waitSeconds = Number(env.ROTATION_LOGIN_WAIT_SECONDS || "120");
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) {
    throw new Error("ROTATION_LOGIN_WAIT_SECONDS must be a number of seconds >= 0");
  }
  return {
    strategy: strategy as RotationStrategyName,
    adminSecretId: required("ATLAS_ADMIN_SECRET_ID"),
    projectId: required("ATLAS_PROJECT_ID"),
    apiBaseUrl,
    loginWaitMs: waitSeconds * 1000,
    restart: readRestartConfig(env),
  };
}
