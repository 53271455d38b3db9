/**
 * Fails on high or critical advisories in production dependencies (`npm audit --omit=dev`), except those
 * accepted in audit-accept.json: [{ "id": "GHSA-...", "reason": "...", "until": "YYYY-MM-DD" }].
 * An acceptance past its `until` date no longer counts, so accepted risks get looked at again.
 * When the registry's audit endpoint cannot be reached, it says so and exits 0: no verdict is not a pass,
 * and the line printed says which it was.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

interface Acceptance {
  id: string;
  reason: string;
  until: string;
}

interface AuditVia {
  url?: string;
  severity?: string;
  title?: string;
}

function runAudit(): Record<string, unknown> {
  try {
    return JSON.parse(execFileSync("npm", ["audit", "--omit=dev", "--json"], { encoding: "utf8" }));
  } catch (error) {
    // npm audit exits 1 when it finds advisories; its JSON is still on stdout.
    const stdout = (error as { stdout?: string }).stdout ?? "";
    return stdout ? JSON.parse(stdout) : { message: String(error) };
  }
}

const acceptances: Acceptance[] = existsSync("audit-accept.json")
  ? JSON.parse(readFileSync("audit-accept.json", "utf8"))
  : [];
const today = new Date().toISOString().slice(0, 10);
const accepted = new Set(acceptances.filter((a) => a.until >= today).map((a) => a.id));

const report = runAudit();
if (!report.vulnerabilities) {
  console.log(`audit: not checked, the registry's audit endpoint did not answer (${String(report.message)})`);
  process.exit(0);
}

const blocking: string[] = [];
for (const [name, entry] of Object.entries(report.vulnerabilities as Record<string, { via: unknown[] }>)) {
  for (const via of entry.via) {
    if (typeof via !== "object" || via === null) continue;
    const { url = "", severity = "", title = "" } = via as AuditVia;
    const id = url.split("/").pop() ?? url;
    if ((severity === "high" || severity === "critical") && !accepted.has(id)) {
      blocking.push(`${name}: ${severity} ${id} ${title}`);
    }
  }
}
if (blocking.length > 0) {
  console.error(`audit: ${blocking.length} high/critical advisories in production dependencies:`);
  for (const line of blocking) console.error(`  ${line}`);
  console.error("Upgrade, or accept one in audit-accept.json with a reason and an expiry date.");
  process.exit(1);
}
console.log("audit: no unaccepted high or critical advisories in production dependencies");
