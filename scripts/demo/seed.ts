import { randomBytes } from "node:crypto";
import { Double, Int32, ObjectId, type Document, type MongoClient } from "mongodb";

/**
 * A sample of what the "opendev" application keeps: NextAuth's collections (users, accounts, sessions,
 * verification_tokens, with the indexes its MongoDB adapter relies on) and orders spread over the last six
 * weeks, some from the last 24 hours so the daily figures have something to count.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const FIRST_NAMES = [
  "Ada",
  "Grace",
  "Linus",
  "Margaret",
  "Ken",
  "Barbara",
  "Dennis",
  "Frances",
  "Alan",
  "Radia",
];
const LAST_NAMES = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen"];
const PRODUCTS = [
  ["SKU-TEE", "Logo T-shirt", 24.0],
  ["SKU-MUG", "Coffee mug", 12.5],
  ["SKU-CAP", "Cap", 18.0],
  ["SKU-STK", "Sticker pack", 4.9],
  ["SKU-HOO", "Hoodie", 49.0],
] as const;

export interface SeededDatabase {
  database: string;
  /** Documents per collection. */
  collections: Record<string, number>;
  documents: number;
  /** Orders created in the last 24 hours (what db-stats must report as new). */
  ordersLastDay: number;
}

/** An ObjectId whose time part is `at` (the rest random), as the driver would have made at that moment. */
function objectIdAt(at: number): ObjectId {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt32BE(Math.floor(at / 1000), 0);
  randomBytes(8).copy(bytes, 4);
  return new ObjectId(bytes);
}

/** Drops and fills `database`; `now` anchors the dates. */
export async function seedOpendev(
  client: MongoClient,
  database: string,
  now = Date.now(),
  sizes = { users: 400, orders: 3000 },
): Promise<SeededDatabase> {
  const db = client.db(database);
  await db.dropDatabase();
  const pick = <T>(items: readonly T[], i: number): T => items[i % items.length]!;

  const users: Document[] = [];
  const accounts: Document[] = [];
  const sessions: Document[] = [];
  for (let i = 0; i < sizes.users; i += 1) {
    const joined = now - 42 * DAY + Math.floor((i / sizes.users) * 42 * DAY);
    const first = pick(FIRST_NAMES, i);
    const last = pick(LAST_NAMES, Math.floor(i / FIRST_NAMES.length));
    const _id = objectIdAt(joined);
    users.push({
      _id,
      name: `${first} ${last}`,
      email: `${first}.${last}.${i}@example.com`.toLowerCase(),
      emailVerified: i % 5 === 0 ? null : new Date(joined + 60_000),
      image: `https://avatars.example.com/u/${i}.png`,
    });
    if (i % 4 !== 3) {
      const provider = i % 2 ? "github" : "google";
      accounts.push({
        userId: _id,
        type: "oauth",
        provider,
        providerAccountId: String(100_000 + i),
        access_token: randomBytes(20).toString("hex"),
        token_type: "bearer",
        scope: provider === "github" ? "read:user,user:email" : "openid email profile",
        expires_at: new Int32(Math.floor((now + 30 * DAY) / 1000)),
      });
    }
    if (i % 3 === 0) {
      sessions.push({
        sessionToken: randomBytes(32).toString("hex"),
        userId: _id,
        expires: new Date(now + 30 * DAY - (i % 30) * DAY),
      });
    }
  }
  const verificationTokens = Array.from({ length: 12 }, (_, i) => ({
    identifier: `newcomer${i}@example.com`,
    token: randomBytes(32).toString("hex"),
    expires: new Date(now + DAY),
  }));

  let ordersLastDay = 0;
  const orders: Document[] = [];
  for (let i = 0; i < sizes.orders; i += 1) {
    // Busier lately: the newest ~5% of orders fall in the last day.
    let age = Math.floor(Math.pow((sizes.orders - i) / sizes.orders, 1.6) * 42 * DAY);
    // None within an hour of the 24-hour mark, so the count of new orders cannot change while the drill runs.
    if (Math.abs(age - DAY) < HOUR) age = DAY + HOUR;
    const createdAt = now - age - 1000;
    if (age < DAY) ordersLastDay += 1;
    const lines = 1 + (i % 3);
    const items = Array.from({ length: lines }, (_, line) => {
      const [sku, name, price] = pick(PRODUCTS, i + line * 2);
      return { sku, name, qty: new Int32(1 + ((i + line) % 2)), price: new Double(price) };
    });
    const total = items.reduce((sum, item) => sum + item.price.value * item.qty.value, 0);
    orders.push({
      _id: objectIdAt(createdAt),
      number: `OD-${String(10_000 + i)}`,
      userId: users[(i * 7) % users.length]!._id,
      status:
        age < 2 * DAY ? pick(["new", "paid"], i) : pick(["paid", "shipped", "delivered", "refunded"], i),
      items,
      total: new Double(Math.round(total * 100) / 100),
      currency: "EUR",
      createdAt: new Date(createdAt),
    });
  }

  const insert = async (name: string, docs: Document[]): Promise<void> => {
    for (let start = 0; start < docs.length; start += 1000) {
      await db.collection(name).insertMany(docs.slice(start, start + 1000));
    }
  };
  await insert("users", users);
  await insert("accounts", accounts);
  await insert("sessions", sessions);
  await insert("verification_tokens", verificationTokens);
  await insert("orders", orders);

  await db.collection("users").createIndex({ email: 1 }, { unique: true, name: "email_unique" });
  await db
    .collection("accounts")
    .createIndex({ provider: 1, providerAccountId: 1 }, { unique: true, name: "provider_account_unique" });
  await db.collection("accounts").createIndex({ userId: 1 }, { name: "userId" });
  await db
    .collection("sessions")
    .createIndex({ sessionToken: 1 }, { unique: true, name: "sessionToken_unique" });
  await db.collection("sessions").createIndex({ userId: 1 }, { name: "userId" });
  await db
    .collection("verification_tokens")
    .createIndex({ identifier: 1, token: 1 }, { unique: true, name: "identifier_token_unique" });
  await db.collection("orders").createIndex({ number: 1 }, { unique: true, name: "number_unique" });
  await db.collection("orders").createIndex({ userId: 1, createdAt: -1 }, { name: "user_recent_orders" });
  await db.collection("orders").createIndex({ createdAt: -1 }, { name: "createdAt" });

  const collections = {
    users: users.length,
    accounts: accounts.length,
    sessions: sessions.length,
    verification_tokens: verificationTokens.length,
    orders: orders.length,
  };
  const documents = Object.values(collections).reduce((sum, n) => sum + n, 0);
  return { database, collections, documents, ordersLastDay };
}
