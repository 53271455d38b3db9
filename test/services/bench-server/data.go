package main

import (
	"encoding/binary"
	"strconv"
	"sync"

	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// syntheticDatabase is the read-only data served: <name>.orders with `orders` documents, byte for byte what
// orderDocument(i) of test/support/seed.ts serialises to (so FerretDB and this server can hold the same data),
// generated once at start and kept in memory: serving a batch is then a copy.
type syntheticDatabase struct {
	name   string
	orders int64
	// documents end to end; document i is bytes[offsets[i]:offsets[i+1]].
	bytes   []byte
	offsets []int64
}

func newSyntheticDatabase(name string, orders int64) syntheticDatabase {
	d := syntheticDatabase{name: name, orders: orders, offsets: make([]int64, 0, orders+1)}
	d.bytes = make([]byte, 0, orders*272)
	for i := int64(0); i < orders; i++ {
		d.offsets = append(d.offsets, int64(len(d.bytes)))
		d.bytes = appendOrder(d.bytes, i)
	}
	d.offsets = append(d.offsets, int64(len(d.bytes)))
	return d
}

const ordersCollection = "orders"

var statuses = [4]string{"new", "paid", "shipped", "cancelled"}

// 2024-01-01T00:00:00Z in milliseconds.
const ordersEpochMs = 1704067200000

func (d syntheticDatabase) has(db, collection string) bool {
	return db == d.name && collection == ordersCollection
}

// appendOrder appends order document #index, the Go twin of orderDocument(index).
func appendOrder(dst []byte, index int64) []byte {
	start, dst := bsoncore.AppendDocumentStart(dst)
	var id [12]byte
	binary.BigEndian.PutUint64(id[4:], uint64(index))
	dst = bsoncore.AppendHeader(dst, 0x07, "_id")
	dst = append(dst, id[:]...)

	var scratch [32]byte
	number := append(scratch[:0], "ORD-"...)
	digits := strconv.AppendInt(nil, index, 10)
	for i := len(digits); i < 8; i++ {
		number = append(number, '0')
	}
	number = append(number, digits...)
	dst = appendStringElement(dst, "number", number)

	customer, dst := bsoncore.AppendDocumentElementStart(dst, "customer")
	dst = bsoncore.AppendInt32Element(dst, "id", int32(index%977))
	email := strconv.AppendInt(append(scratch[:0], "customer"...), index%977, 10)
	dst = appendStringElement(dst, "email", append(email, "@example.com"...))
	dst, _ = bsoncore.AppendDocumentEnd(dst, customer)

	dst = bsoncore.AppendStringElement(dst, "status", statuses[index%4])
	dst = bsoncore.AppendDoubleElement(dst, "total", float64(index%10_000)/100)

	items, dst := bsoncore.AppendArrayElementStart(dst, "items")
	for item := int64(0); item < 1+index%3; item++ {
		var key [1]byte
		key[0] = byte('0' + item)
		entry, out := bsoncore.AppendDocumentElementStart(dst, string(key[:]))
		sku := strconv.AppendInt(append(scratch[:0], "SKU-"...), (index*7+item)%5000, 10)
		out = appendStringElement(out, "sku", sku)
		out = bsoncore.AppendInt32Element(out, "qty", int32(1+item))
		out = bsoncore.AppendDoubleElement(out, "price", 9.99+float64(item))
		dst, _ = bsoncore.AppendDocumentEnd(out, entry)
	}
	dst, _ = bsoncore.AppendArrayEnd(dst, items)

	dst = bsoncore.AppendDateTimeElement(dst, "createdAt", ordersEpochMs+index*60_000)
	dst, _ = bsoncore.AppendDocumentEnd(dst, start)
	return dst
}

// appendStringElement is bsoncore.AppendStringElement for a byte slice (no string allocation per document).
func appendStringElement(dst []byte, key string, value []byte) []byte {
	dst = bsoncore.AppendHeader(dst, 0x02, key)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(value)+1))
	dst = append(dst, value...)
	return append(dst, 0)
}

// The indexes of the synthetic collection: _id and a unique order number, as the benchmark seeds FerretDB.
func syntheticIndexes() []bsoncore.Document {
	id := bsoncore.NewDocumentBuilder().
		AppendInt32("v", 2).
		AppendDocument("key", bsoncore.NewDocumentBuilder().AppendInt32("_id", 1).Build()).
		AppendString("name", "_id_").Build()
	number := bsoncore.NewDocumentBuilder().
		AppendInt32("v", 2).
		AppendDocument("key", bsoncore.NewDocumentBuilder().AppendInt32("number", 1).Build()).
		AppendString("name", "number_1").
		AppendBoolean("unique", true).Build()
	return []bsoncore.Document{id, number}
}

// cursor is an open find over the synthetic collection: documents [next, end) are still to be returned.
type cursor struct {
	ns   string
	next int64
	end  int64
}

type cursorTable struct {
	mu     sync.Mutex
	lastID int64
	open   map[int64]*cursor
}

func newCursorTable() *cursorTable { return &cursorTable{open: map[int64]*cursor{}} }

func (t *cursorTable) add(c *cursor) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastID++
	t.open[t.lastID] = c
	return t.lastID
}

// take removes a cursor while one request uses it (getMore on one cursor is not concurrent).
func (t *cursorTable) take(id int64) *cursor {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.open[id]
	delete(t.open, id)
	return c
}

func (t *cursorTable) put(id int64, c *cursor) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.open[id] = c
}

// maxBatchBytes bounds one reply's documents (mongod's 16 MiB, less room for the reply around them).
const maxBatchBytes = 16*1024*1024 - 64*1024

// appendBatch appends documents of c as array elements "0", "1", ... until `limit` documents (0: no limit)
// or maxBatchBytes; returns the number appended.
func (d *syntheticDatabase) appendBatch(dst []byte, c *cursor, limit int64) ([]byte, int64) {
	start := len(dst)
	var n int64
	var key []byte
	for c.next < c.end && (limit <= 0 || n < limit) && len(dst)-start < maxBatchBytes {
		key = strconv.AppendInt(key[:0], n, 10)
		dst = append(dst, 0x03)
		dst = append(dst, key...)
		dst = append(dst, 0)
		dst = append(dst, d.bytes[d.offsets[c.next]:d.offsets[c.next+1]]...)
		c.next++
		n++
	}
	return dst, n
}
