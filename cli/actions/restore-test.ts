import { EXIT_FAILED, UsageError, usage } from "../exit-codes";
import { checkedMongoUri } from "../mongo-uri";
import { resolveTarget } from "../../lambdas/adapters/targets";
import { BACKUP_KINDS, type BackupKind } from "../../lambdas/core/archive/events";
import { ProductionTargetError } from "../../lambdas/core/restore-test/production-guard";
import { runRestoreTest, type RestoreTestResult } from "../../lambdas/core/restore-test/restore-test";
import { forTerminal } from "../terminal-text";

export interface RestoreTestCommandOptions {
  uri?: string;
  kind: string;
  productionHosts?: string;
  productionDatabase?: string;
  json?: boolean;
}

function formatResult(result: RestoreTestResult): string {
  const lines: string[] = result.unreadableSidecars.map(
    (sidecar) => `skipped ${sidecar.url}: cannot be read: ${sidecar.reason}`,
  );
  if (result.backup) {
    lines.push(
      `backup ${result.backup.name} (${result.backup.kind}, finished ${result.backup.finishedAt}, ` +
        `${result.backupAgeHours.toFixed(1)} h old at test time)`,
    );
  }
  lines.push(
    `restored ${result.documents} documents (${result.bytes} bytes) in ${(result.restoreDurationMs / 1000).toFixed(1)} s` +
      `, verified in ${(result.verifyDurationMs / 1000).toFixed(1)} s`,
  );
  for (const check of result.collections) {
    const state = check.problem ? `FAILED: ${check.problem}` : "ok";
    lines.push(`  ${check.namespace}: ${check.documents}/${check.expectedDocuments} documents, ${state}`);
  }
  lines.push(
    `scratch databases ${result.scratchDropped ? "dropped" : "NOT dropped"}: ${result.scratchDatabases.join(", ")}`,
  );
  lines.push(result.ok ? "RESTORE TEST PASSED" : `RESTORE TEST FAILED: ${result.reason}`);
  // Backup names, namespaces and reasons come from the archive and its sidecars: escaped line by line, so a
  // newline in one cannot forge a line of the report (JSON output escapes on its own).
  return lines.map((line) => forTerminal(line)).join("\n");
}

export async function restoreTestCommand(
  targetUrl: string,
  options: RestoreTestCommandOptions,
): Promise<void> {
  if (!BACKUP_KINDS.includes(options.kind as BackupKind)) {
    throw new UsageError(`--kind must be one of ${BACKUP_KINDS.join(", ")}, not "${options.kind}"`);
  }
  if (!options.uri)
    throw new UsageError("--uri (or RESTORE_TEST_MONGODB_URI) is required: the scratch server");
  checkedMongoUri(options.uri, "--uri");
  const target = await usage(() => resolveTarget(targetUrl));
  let result: RestoreTestResult;
  try {
    result = await runRestoreTest({
      target,
      kind: options.kind as BackupKind,
      scratchUri: options.uri,
      production: {
        hosts: (options.productionHosts ?? "").split(",").filter((host) => host.trim() !== ""),
        database: options.productionDatabase ?? "",
      },
    });
  } catch (error) {
    if (error instanceof ProductionTargetError) throw new UsageError(error.message);
    throw error;
  }
  const { restore: _restore, ...printable } = result;
  process.stdout.write(
    options.json ? `${JSON.stringify(printable, null, 2)}\n` : `${formatResult(result)}\n`,
  );
  if (!result.ok) process.exitCode = EXIT_FAILED;
}
