import { createReadStream } from "node:fs";
import { readArchive } from "./lambdas/core/archive/events";
async function main() {
  for (const file of process.argv.slice(2)) {
    const counts: Record<string, number> = {};
    let fmt = "";
    try {
      for await (const ev of readArchive(createReadStream(file), { onFormat: (f) => (fmt = f) })) {
        if (ev.type === "collection-end") counts[`${ev.db}.${ev.collection}`] = ev.documentCount;
        if (ev.type === "manifest") counts.manifest = ev.manifest.totals.documents;
      }
      console.log(file, fmt, JSON.stringify(counts));
    } catch (e) { console.log(file, "ERROR", (e as Error).message); }
  }
}
main();
