import type { MongoClient } from "mongodb";
import { holdsData } from "./collections";
import { formatNamespace, type Namespace, type NamespaceSelection } from "./namespaces";

/**
 * What the restore does with each namespace of an archive, decided before anything is written, with
 * mongorestore's choices where it makes one:
 * - admin.system.users / system.roles / system.version: users and roles (mongorestore restores them only with
 *   --restoreDbUsersAndRoles; on Atlas they are managed through the Admin API, which the restore does not use);
 * - system.profile and system.indexes: skipped, as mongorestore does; other system.* collections are the
 *   server's own (views and time-series buckets come from their collection's metadata);
 * - system.js: restored like any collection (mongorestore does; readWrite may write it);
 * - a target in admin, local or config: refused up front, naming it (Atlas keeps those databases to itself).
 */
export type NamespaceDecision =
  | { kind: "restore"; target: Namespace }
  | { kind: "skip"; reason: string }
  | { kind: "refuse"; reason: string };

/** Databases a restore must never write: they belong to the server. */
export const SERVER_DATABASES: ReadonlySet<string> = new Set(["admin", "local", "config"]);

const AUTH_COLLECTIONS = new Set(["system.users", "system.roles", "system.version"]);

export function decideNamespace(source: Namespace, selection: NamespaceSelection): NamespaceDecision {
  if (source.db === "admin" && AUTH_COLLECTIONS.has(source.collection)) {
    return {
      kind: "skip",
      reason:
        "database users and roles are not restored (Atlas manages them; mongorestore restores them only " +
        "with --restoreDbUsersAndRoles)",
    };
  }
  if (source.db === "local" || source.db === "config") {
    return { kind: "skip", reason: `database ${source.db} belongs to the server` };
  }
  if (source.collection === "system.profile" || source.collection === "system.indexes") {
    return { kind: "skip", reason: `${source.collection} is not restored (as mongorestore)` };
  }
  if (source.collection.startsWith("system.") && source.collection !== "system.js") {
    return { kind: "skip", reason: "system collection (the server maintains it)" };
  }
  const target = selection.target(source);
  if (!target) return { kind: "skip", reason: "not selected" };
  if (SERVER_DATABASES.has(target.db)) {
    return {
      kind: "refuse",
      reason:
        `${formatNamespace(source)} would be restored into the ${target.db} database, which belongs to the ` +
        `server: restore it into another database with --nsFrom/--nsTo, or leave it out with --nsExclude`,
    };
  }
  return { kind: "restore", target };
}

/** Problems that stop a restore before it writes anything; every one is named. */
export class RestorePlanError extends Error {
  override name = "RestorePlanError";
  constructor(readonly problems: string[]) {
    super(`the restore cannot go ahead: ${problems.join("; ")}`);
  }
}

/**
 * Follows the namespaces of an archive as they are met and collects what a restore of them would hit:
 * refused targets, a namespace held twice, two namespaces mapped onto one target.
 */
export class PlanCheck {
  private readonly sources = new Set<string>();
  private readonly targets = new Map<string, string>();
  readonly problems: string[] = [];

  constructor(private readonly selection: NamespaceSelection) {}

  /** Records one namespace; returns the decision and, when the namespace brings a problem, its text. */
  add(source: Namespace): { decision: NamespaceDecision; problem?: string } {
    const name = formatNamespace(source);
    const decision = decideNamespace(source, this.selection);
    let problem: string | undefined;
    if (this.sources.has(name)) problem = `the archive holds ${name} twice`;
    else if (decision.kind === "refuse") problem = decision.reason;
    else if (decision.kind === "restore") {
      const target = formatNamespace(decision.target);
      const other = this.targets.get(target);
      if (other !== undefined) problem = `${other} and ${name} would both be restored into ${target}`;
      else this.targets.set(target, name);
    }
    this.sources.add(name);
    if (problem) this.problems.push(problem);
    return { decision, problem };
  }

  static of(sources: readonly Namespace[], selection: NamespaceSelection): PlanCheck {
    const check = new PlanCheck(selection);
    for (const source of sources) check.add(source);
    return check;
  }
}

/** Target namespaces that already hold data: the restore refuses to mix the backup with them. */
export class TargetNotEmptyError extends Error {
  override name = "TargetNotEmptyError";
  constructor(readonly namespaces: string[]) {
    super(
      `target namespaces already hold data: ${namespaces.join(", ")} ` +
        "(restore into empty namespaces, or pass --drop to replace exactly the namespaces being restored)",
    );
  }
}

/** The namespaces of `sources` whose target would be written, checked for existing data. */
export async function findConflicts(
  client: MongoClient,
  sources: readonly Namespace[],
  selection: NamespaceSelection,
): Promise<string[]> {
  const conflicts: string[] = [];
  for (const source of sources) {
    const decision = decideNamespace(source, selection);
    if (decision.kind !== "restore") continue;
    if (await holdsData(client, decision.target)) conflicts.push(formatNamespace(decision.target));
  }
  return conflicts;
}
