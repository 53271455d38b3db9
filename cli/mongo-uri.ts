import { MongoClient } from "mongodb";
import { usage } from "./exit-codes";
import { parseMongoUri } from "../lambdas/core/mongo/uri";

/**
 * A connection string checked before any work starts, by our parser and the driver's (constructing a client
 * parses the URI without opening a connection): a malformed one is bad usage, exit 2, for every command.
 */
export function checkedMongoUri(uri: string, option: string): string {
  return usage(() => {
    try {
      parseMongoUri(uri);
      void new MongoClient(uri);
    } catch (error) {
      throw new Error(`${option}: ${error instanceof Error ? error.message : String(error)}`);
    }
    return uri;
  });
}
