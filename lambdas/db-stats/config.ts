import { ConfigError, type EnvReader } from "../core/config/env";
import { parseNewDocumentsSources, type NewDocumentsSource } from "../core/probes/db-stats";

export interface DbStatsConfig {
  secretId: string;
  databases: string[];
  newDocuments: NewDocumentsSource[];
}

export function loadDbStatsConfig(env: EnvReader): DbStatsConfig {
  const secretId = env.required("MONGODB_SECRET_ID");
  const databases = env.list("STATS_DATABASES");
  let newDocuments: NewDocumentsSource[];
  try {
    newDocuments = parseNewDocumentsSources(env.optional("NEW_DOCUMENTS_COLLECTIONS", ""));
  } catch (error) {
    throw new ConfigError("NEW_DOCUMENTS_COLLECTIONS", (error as Error).message);
  }
  return { secretId, databases, newDocuments };
}
