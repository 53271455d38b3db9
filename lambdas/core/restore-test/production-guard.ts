import { parseMongoUri, redactSecrets } from "../mongo/uri";

/** Where production lives, from configuration: never a restore test's target. */
export interface ProductionDatabase {
  /** host[:port] list or the SRV host name of the production cluster. */
  hosts: readonly string[];
  database: string;
}

/** Lower-cased host without the default port, so `Host`, `host` and `host:27017` compare equal. */
function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/:27017$/, "");
}

/**
 * Refuses a scratch target on the production cluster that would write to (or drop) the production database:
 * a restore test drops what it restored, so pointing it at production by mistake must fail before any write.
 */
export function assertNotProduction(
  scratchUri: string,
  writtenDatabases: readonly string[],
  production: ProductionDatabase,
): void {
  const scratch = parseMongoUri(scratchUri);
  const productionHosts = new Set(production.hosts.map(normalizeHost));
  const shared = scratch.hosts.map(normalizeHost).filter((host) => productionHosts.has(host));
  if (shared.length === 0) return;
  const databases = new Set([...writtenDatabases, ...(scratch.database ? [scratch.database] : [])]);
  if (databases.has(production.database)) {
    throw new ProductionTargetError(
      `refusing to run a restore test against the production database "${production.database}" on ` +
        `${shared.join(", ")} (scratch target ${redactSecrets(scratchUri)}): point it at a scratch cluster or database`,
    );
  }
}

export class ProductionTargetError extends Error {
  override name = "ProductionTargetError";
}
