package main

import (
	"fmt"

	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// The read side: counts and cursors over the synthetic collection (written collections read as empty).

// documentCount is what count answers: the synthetic size, or the documents inserted into a sink.
func (c *commandContext) documentCount(name string) int64 {
	if c.server.data.has(c.db, name) {
		return c.server.data.orders
	}
	var n int64
	c.server.sinks.with(c.db, name, false, func(s *sink) { n = s.documents })
	return n
}

func countCommand(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError) {
	name, failure := c.collectionArg(arg)
	if failure != nil {
		return dst, failure
	}
	if query, ok := c.req.body.Lookup("query").DocumentOK(); ok && len(query) > 5 {
		return dst, failf(codeBadValue, "BadValue", "bench-server: count takes no query")
	}
	return bsoncore.AppendInt64Element(dst, "n", c.documentCount(name)), nil
}

// collStatsCommand answers enough for mongodump to see a WiredTiger collection.
func collStatsCommand(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError) {
	name, failure := c.collectionArg(arg)
	if failure != nil {
		return dst, failure
	}
	dst = bsoncore.AppendStringElement(dst, "ns", c.db+"."+name)
	dst = bsoncore.AppendInt64Element(dst, "count", c.documentCount(name))
	// size: the documents' BSON bytes, as mongod reports them (clients size their reads by it).
	dst = bsoncore.AppendInt64Element(dst, "size", c.dataSize(name))
	return bsoncore.AppendDocumentElement(dst, "wiredTiger", bsoncore.NewDocumentBuilder().Build()), nil
}

// dbStatsCommand answers what a backup asks before it starts (the databases' dataSize, to plan its parts), as
// the sum over the database's collections.
func dbStatsCommand(c *commandContext, dst []byte, _ bsoncore.Value) ([]byte, *commandError) {
	var objects, size int64
	names := c.collectionNames()
	for _, name := range names {
		objects += c.documentCount(name)
		size += c.dataSize(name)
	}
	dst = bsoncore.AppendStringElement(dst, "db", c.db)
	dst = bsoncore.AppendInt64Element(dst, "collections", int64(len(names)))
	dst = bsoncore.AppendInt64Element(dst, "objects", objects)
	return bsoncore.AppendInt64Element(dst, "dataSize", size), nil
}

func (c *commandContext) dataSize(name string) int64 {
	if c.server.data.has(c.db, name) {
		return int64(len(c.server.data.bytes))
	}
	var n int64
	c.server.sinks.with(c.db, name, false, func(s *sink) { n = s.bytes })
	return n
}

// aggregateCommand answers the counting pipelines clients send ($match {} then $group with $sum: 1, as
// countDocuments does), nothing else.
func aggregateCommand(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError) {
	name, failure := c.collectionArg(arg)
	if failure != nil {
		return dst, failure
	}
	pipeline, _ := c.req.body.Lookup("pipeline").ArrayOK()
	stages, _ := pipeline.Values()
	counting := false
	for _, stage := range stages {
		doc, _ := stage.DocumentOK()
		first, err := doc.IndexErr(0)
		if err != nil {
			return dst, failf(codeBadValue, "BadValue", "empty pipeline stage")
		}
		switch first.Key() {
		case "$match":
			if m, _ := first.Value().DocumentOK(); len(m) > 5 {
				return dst, failf(codeBadValue, "BadValue", "bench-server: $match takes no filter")
			}
		case "$group":
			counting = true
		default:
			return dst, failf(codeBadValue, "BadValue", "bench-server: aggregate answers only counts, not %s", first.Key())
		}
	}
	if !counting {
		return dst, failf(codeBadValue, "BadValue", "bench-server: aggregate answers only counts")
	}
	cur, dst := bsoncore.AppendDocumentElementStart(dst, "cursor")
	dst = bsoncore.AppendInt64Element(dst, "id", 0)
	dst = bsoncore.AppendStringElement(dst, "ns", c.db+"."+name)
	batch, dst := bsoncore.AppendArrayElementStart(dst, "firstBatch")
	if n := c.documentCount(name); n > 0 {
		dst = bsoncore.BuildDocumentElement(dst, "0", bsoncore.AppendInt32Element(nil, "_id", 1),
			bsoncore.AppendInt64Element(nil, "n", n))
	}
	dst, _ = bsoncore.AppendArrayEnd(dst, batch)
	dst, _ = bsoncore.AppendDocumentEnd(dst, cur)
	return dst, nil
}

func int64Field(doc bsoncore.Document, key string) int64 {
	v, _ := doc.Lookup(key).AsInt64OK()
	return v
}

func findCommand(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError) {
	name, failure := c.collectionArg(arg)
	if failure != nil {
		return dst, failure
	}
	body := c.req.body
	if filter, ok := body.Lookup("filter").DocumentOK(); ok && len(filter) > 5 && c.server.data.has(c.db, name) {
		return dst, failf(codeBadValue, "BadValue", "bench-server serves whole collections: find takes no filter")
	}
	cur := &cursor{ns: c.db + "." + name}
	if c.server.data.has(c.db, name) {
		cur.end = c.server.data.orders
	}
	limit := int64Field(body, "limit")
	single, _ := body.Lookup("singleBatch").BooleanOK()
	if limit < 0 {
		limit, single = -limit, true
	}
	if limit > 0 && limit < cur.end {
		cur.end = limit
	}
	batchSize := int64(101)
	if v, err := body.LookupErr("batchSize"); err == nil {
		batchSize, _ = v.AsInt64OK()
	}
	if batchSize == 0 && !single {
		batchSize = -1 // an empty first batch
	}
	return c.appendCursorReply(dst, "firstBatch", cur, batchSize, single), nil
}

func getMoreCommand(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError) {
	id, ok := arg.AsInt64OK()
	if !ok {
		return dst, failf(codeBadValue, "BadValue", "getMore needs a cursor id")
	}
	cur := c.server.cursors.take(id)
	if cur == nil {
		return dst, failf(codeCursorNotFound, "CursorNotFound", "cursor id %d not found", id)
	}
	return c.appendCursorReplyWithID(dst, "nextBatch", cur, int64Field(c.req.body, "batchSize"), false, id), nil
}

func (c *commandContext) appendCursorReply(dst []byte, key string, cur *cursor, batchSize int64, single bool) []byte {
	return c.appendCursorReplyWithID(dst, key, cur, batchSize, single, 0)
}

// appendCursorReplyWithID appends {cursor: {<key>: [...], id, ns}}; the cursor stays open (under a new id
// when it had none) while documents remain.
func (c *commandContext) appendCursorReplyWithID(dst []byte, key string, cur *cursor, batchSize int64, single bool, id int64) []byte {
	doc, dst := bsoncore.AppendDocumentElementStart(dst, "cursor")
	array, dst := bsoncore.AppendArrayElementStart(dst, key)
	if batchSize >= 0 {
		dst, _ = c.server.data.appendBatch(dst, cur, batchSize)
	}
	dst, _ = bsoncore.AppendArrayEnd(dst, array)
	if cur.next < cur.end && !single {
		if id == 0 {
			id = c.server.cursors.add(cur)
		} else {
			c.server.cursors.put(id, cur)
		}
	} else {
		id = 0
	}
	dst = bsoncore.AppendInt64Element(dst, "id", id)
	dst = bsoncore.AppendStringElement(dst, "ns", cur.ns)
	dst, _ = bsoncore.AppendDocumentEnd(dst, doc)
	return dst
}

func killCursorsCommand(c *commandContext, dst []byte, _ bsoncore.Value) ([]byte, *commandError) {
	ids, _ := c.req.body.Lookup("cursors").ArrayOK()
	values, _ := ids.Values()
	killed, dst := bsoncore.AppendArrayElementStart(dst, "cursorsKilled")
	n := 0
	for _, v := range values {
		if id, ok := v.AsInt64OK(); ok && c.server.cursors.take(id) != nil {
			dst = bsoncore.AppendInt64Element(dst, fmt.Sprint(n), id)
			n++
		}
	}
	dst, _ = bsoncore.AppendArrayEnd(dst, killed)
	for _, empty := range []string{"cursorsNotFound", "cursorsAlive", "cursorsUnknown"} {
		dst = bsoncore.AppendArrayElement(dst, empty, bsoncore.NewArrayBuilder().Build())
	}
	return dst, nil
}
