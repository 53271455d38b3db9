/**
 * The archive code needs BSON, not the driver: importing `bson` itself keeps the driver out of bundles that only
 * read archives. It is the package the driver depends on, and `require` resolves the same CommonJS build the
 * driver loads (an ES `import` would pick bson's ES build in esbuild and vitest: a second copy with its own
 * classes), so values decoded here are the driver's own BSON types.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: same instance as the driver's
import bson = require("bson");

export const BSON = bson.BSON;
export type Document = bson.Document;
