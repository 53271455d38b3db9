/**
 * Where a restore test restores each backed-up database: `<prefix><database>`. The infra grants the
 * restore-test database user exactly these names, so the two must come from here.
 */
export const DEFAULT_SCRATCH_PREFIX = "restoretest_";

export function scratchDatabaseName(database: string, prefix: string = DEFAULT_SCRATCH_PREFIX): string {
  return `${prefix}${database}`;
}
