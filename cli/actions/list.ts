import { usage } from "../exit-codes";
import { resolveTarget } from "../../lambdas/adapters/targets";
import { parseKind } from "../../lambdas/core/archive/names";
import { forTerminal } from "../terminal-text";

export interface ListCommandOptions {
  kind?: string;
  json?: boolean;
}

export async function listCommand(url: string, options: ListCommandOptions): Promise<void> {
  const kind = options.kind === undefined ? undefined : usage(() => parseKind(options.kind!));
  const target = await usage(() => resolveTarget(url));
  for (const path of await target.clearAbandoned()) {
    process.stderr.write(`${forTerminal(`removed what an interrupted backup left: ${path}`)}\n`);
  }
  const backups = await target.list(kind, {
    onUnreadable: (sidecar) =>
      process.stderr.write(
        `atlas-ops: ${forTerminal(`skipped ${sidecar.url}: cannot be read: ${sidecar.reason}`)}\n`,
      ),
  });
  if (options.json) {
    const rows = backups.map((b) => ({
      name: b.name,
      kind: b.kind,
      url: b.url,
      startedAt: b.manifest.startedAt,
      finishedAt: b.manifest.finishedAt,
      bytes: b.manifest.archive?.bytes,
      sha256: b.manifest.archive?.sha256,
      collections: b.manifest.totals.collections,
      documents: b.manifest.totals.documents,
    }));
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  if (backups.length === 0) process.stdout.write(`no backups in ${target.url}\n`);
  for (const b of backups) {
    const mb = ((b.manifest.archive?.bytes ?? 0) / 1024 / 1024).toFixed(1);
    // The start time comes from the sidecar and the URL from the stored names: both may be hostile.
    const line = `${b.kind.padEnd(7)} ${b.manifest.startedAt}  ${mb.padStart(8)} MB  ${String(b.manifest.totals.documents).padStart(10)} docs  ${b.url}`;
    process.stdout.write(`${forTerminal(line)}\n`);
  }
}
