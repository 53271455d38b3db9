import { ConfigError, type EnvReader } from "../config/env";

/** Where the reviews find Atlas: the project, the cluster, the API and the read-only credentials' secret. */
export interface AtlasReadConfig {
  projectId: string;
  clusterName: string;
  apiBaseUrl: string;
  credentialsSecretId: string;
}

export function loadAtlasReadConfig(env: EnvReader): AtlasReadConfig {
  const projectId = env.required("ATLAS_PROJECT_ID");
  if (!/^[0-9a-f]{24}$/.test(projectId)) {
    throw new ConfigError("ATLAS_PROJECT_ID", "must be the 24-hex-digit Atlas project id");
  }
  return {
    projectId,
    clusterName: env.required("ATLAS_CLUSTER_NAME"),
    apiBaseUrl: env.url("ATLAS_API_BASE_URL", { required: false })?.toString() ?? "https://cloud.mongodb.com",
    credentialsSecretId: env.required("ATLAS_READ_SECRET_ID"),
  };
}

/** An SNS topic ARN, checked like the daily report's. */
export function topicArn(env: EnvReader, name: string): string {
  const value = env.required(name);
  if (!/^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]+$/.test(value)) {
    throw new ConfigError(name, `must be an SNS topic ARN (got "${value}")`);
  }
  return value;
}
