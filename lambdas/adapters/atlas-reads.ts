import { AtlasReads } from "../core/atlas/atlas-reads";
import type { AtlasReadConfig } from "../core/atlas/read-config";
import { AtlasAdminApi, parseAtlasAdminCredentials } from "../core/rotation/atlas-admin-api";
import type { SecretReader } from "./secrets";

/** The reviews' Atlas client, with the read-only credentials from Secrets Manager (AWSCURRENT). */
export async function atlasReadsFrom(secrets: SecretReader, config: AtlasReadConfig): Promise<AtlasReads> {
  const credentials = parseAtlasAdminCredentials(
    await secrets.read(config.credentialsSecretId),
    config.credentialsSecretId,
  );
  const api = new AtlasAdminApi({
    baseUrl: config.apiBaseUrl,
    projectId: config.projectId,
    credentials,
    credentialsSource: `secret ${config.credentialsSecretId}`,
  });
  return new AtlasReads(api, config.projectId);
}
