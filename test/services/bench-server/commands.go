package main

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// MongoDB error codes the clients look at.
const (
	codeBadValue          = 2
	codeCursorNotFound    = 43
	codeNamespaceNotFound = 26
	codeNamespaceExists   = 48
	codeCommandNotFound   = 59
	codeReadOnly          = 2
)

type commandError struct {
	code     int32
	codeName string
	message  string
}

func (e *commandError) Error() string { return e.message }

func failf(code int32, codeName, format string, args ...any) *commandError {
	return &commandError{code: code, codeName: codeName, message: fmt.Sprintf(format, args...)}
}

type commandContext struct {
	server *server
	conn   int64
	req    request
	db     string
}

// handler appends the reply's elements (before "ok": 1) or returns an error reply.
type handler func(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError)

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"hello":           helloCommand,
		"isMaster":        helloCommand,
		"ismaster":        helloCommand,
		"buildInfo":       buildInfoCommand,
		"buildinfo":       buildInfoCommand,
		"ping":            nothing,
		"endSessions":     nothing,
		"listDatabases":   listDatabasesCommand,
		"listCollections": listCollectionsCommand,
		"listIndexes":     listIndexesCommand,
		"count":           countCommand,
		"collStats":       collStatsCommand,
		"aggregate":       aggregateCommand,
		"find":            findCommand,
		"getMore":         getMoreCommand,
		"killCursors":     killCursorsCommand,
		"insert":          insertCommand,
		"create":          createCommand,
		"createIndexes":   createIndexesCommand,
		"drop":            dropCommand,
		"dropDatabase":    dropDatabaseCommand,
		"benchInserted":   benchInsertedCommand,
	}
}

// run appends the reply document for the request (nothing when dst is nil: moreToCome).
func (c *commandContext) run(dst []byte) []byte {
	first, err := c.req.body.IndexErr(0)
	name := ""
	if err == nil {
		name = first.Key()
	}
	c.db, _ = c.req.body.Lookup("$db").StringValueOK()
	if c.req.legacy && c.db == "" {
		c.db = "admin"
	}
	start, out := bsoncore.AppendDocumentStart(dst)
	var failure *commandError
	if h, ok := handlers[name]; ok {
		out, failure = h(c, out, first.Value())
	} else {
		failure = failf(codeCommandNotFound, "CommandNotFound", "no such command: '%s' (bench-server answers only what the benchmarked tools send)", name)
	}
	if failure != nil {
		c.server.logger.Warn("command failed", "conn", c.conn, "command", name, "db", c.db, "error", failure.message)
		out = out[:start+4]
		out = bsoncore.AppendDoubleElement(out, "ok", 0)
		out = bsoncore.AppendStringElement(out, "errmsg", failure.message)
		out = bsoncore.AppendInt32Element(out, "code", failure.code)
		out = bsoncore.AppendStringElement(out, "codeName", failure.codeName)
	} else {
		c.server.logger.Debug("command", "conn", c.conn, "command", name, "db", c.db)
		out = bsoncore.AppendDoubleElement(out, "ok", 1)
	}
	out, _ = bsoncore.AppendDocumentEnd(out, start)
	if dst == nil {
		return nil
	}
	return out
}

func nothing(_ *commandContext, dst []byte, _ bsoncore.Value) ([]byte, *commandError) {
	return dst, nil
}

func helloCommand(c *commandContext, dst []byte, _ bsoncore.Value) ([]byte, *commandError) {
	dst = bsoncore.AppendBooleanElement(dst, "helloOk", true)
	dst = bsoncore.AppendBooleanElement(dst, "ismaster", true)
	dst = bsoncore.AppendBooleanElement(dst, "isWritablePrimary", true)
	dst = bsoncore.AppendInt32Element(dst, "maxBsonObjectSize", 16*1024*1024)
	dst = bsoncore.AppendInt32Element(dst, "maxMessageSizeBytes", maxMessageBytes)
	dst = bsoncore.AppendInt32Element(dst, "maxWriteBatchSize", 100_000)
	dst = bsoncore.AppendDateTimeElement(dst, "localTime", time.Now().UnixMilli())
	dst = bsoncore.AppendInt32Element(dst, "logicalSessionTimeoutMinutes", 30)
	dst = bsoncore.AppendInt32Element(dst, "connectionId", int32(c.conn))
	dst = bsoncore.AppendInt32Element(dst, "minWireVersion", 0)
	dst = bsoncore.AppendInt32Element(dst, "maxWireVersion", 21)
	return bsoncore.AppendBooleanElement(dst, "readOnly", false), nil
}

func buildInfoCommand(_ *commandContext, dst []byte, _ bsoncore.Value) ([]byte, *commandError) {
	dst = bsoncore.AppendStringElement(dst, "version", "7.0.0")
	dst = bsoncore.AppendStringElement(dst, "gitVersion", "bench-server")
	dst = bsoncore.BuildArrayElement(dst, "versionArray",
		bsoncore.Value{Type: 0x10, Data: bsoncore.AppendInt32(nil, 7)},
		bsoncore.Value{Type: 0x10, Data: bsoncore.AppendInt32(nil, 0)},
		bsoncore.Value{Type: 0x10, Data: bsoncore.AppendInt32(nil, 0)},
		bsoncore.Value{Type: 0x10, Data: bsoncore.AppendInt32(nil, 0)})
	dst = bsoncore.AppendInt32Element(dst, "bits", 64)
	dst = bsoncore.AppendInt32Element(dst, "maxBsonObjectSize", 16*1024*1024)
	return bsoncore.AppendStringElement(dst, "benchServer", "atlas-ops bench-server"), nil
}

func listDatabasesCommand(c *commandContext, dst []byte, _ bsoncore.Value) ([]byte, *commandError) {
	names := []string{c.server.data.name}
	for _, db := range c.server.sinks.databases() {
		if db != c.server.data.name {
			names = append(names, db)
		}
	}
	array, dst := bsoncore.AppendArrayElementStart(dst, "databases")
	for i, name := range names {
		entry, out := bsoncore.AppendDocumentElementStart(dst, fmt.Sprint(i))
		out = bsoncore.AppendStringElement(out, "name", name)
		out = bsoncore.AppendInt64Element(out, "sizeOnDisk", 1)
		out = bsoncore.AppendBooleanElement(out, "empty", false)
		dst, _ = bsoncore.AppendDocumentEnd(out, entry)
	}
	dst, _ = bsoncore.AppendArrayEnd(dst, array)
	return bsoncore.AppendInt64Element(dst, "totalSize", int64(len(names))), nil
}

// collectionNames lists the collections of the request's database: the synthetic one, then those written to.
func (c *commandContext) collectionNames() []string {
	var names []string
	if c.db == c.server.data.name {
		names = append(names, ordersCollection)
	}
	for _, name := range c.server.sinks.collections(c.db) {
		if !c.server.data.has(c.db, name) {
			names = append(names, name)
		}
	}
	return names
}

func listCollectionsCommand(c *commandContext, dst []byte, _ bsoncore.Value) ([]byte, *commandError) {
	filter, _ := c.req.body.Lookup("filter").DocumentOK()
	var only string
	var hasOnly bool
	if filter != nil {
		if v, err := filter.LookupErr("name"); err == nil {
			if only, hasOnly = v.StringValueOK(); !hasOnly {
				return dst, failf(codeBadValue, "BadValue", "bench-server: listCollections filters only on a name string")
			}
		}
	}
	nameOnly, _ := c.req.body.Lookup("nameOnly").BooleanOK()
	cur, dst := bsoncore.AppendDocumentElementStart(dst, "cursor")
	dst = bsoncore.AppendInt64Element(dst, "id", 0)
	dst = bsoncore.AppendStringElement(dst, "ns", c.db+".$cmd.listCollections")
	batch, dst := bsoncore.AppendArrayElementStart(dst, "firstBatch")
	n := 0
	for _, name := range c.collectionNames() {
		if hasOnly && name != only {
			continue
		}
		entry, out := bsoncore.AppendDocumentElementStart(dst, fmt.Sprint(n))
		n++
		out = bsoncore.AppendStringElement(out, "name", name)
		out = bsoncore.AppendStringElement(out, "type", "collection")
		if !nameOnly {
			out = bsoncore.AppendDocumentElement(out, "options", bsoncore.NewDocumentBuilder().Build())
			uuid := sha256.Sum256([]byte(c.db + "." + name))
			info := bsoncore.NewDocumentBuilder().AppendBoolean("readOnly", c.server.data.has(c.db, name)).
				AppendBinary("uuid", 4, uuid[:16]).Build()
			out = bsoncore.AppendDocumentElement(out, "info", info)
			out = bsoncore.AppendDocumentElement(out, "idIndex", syntheticIndexes()[0])
		}
		dst, _ = bsoncore.AppendDocumentEnd(out, entry)
	}
	dst, _ = bsoncore.AppendArrayEnd(dst, batch)
	dst, _ = bsoncore.AppendDocumentEnd(dst, cur)
	return dst, nil
}

func (c *commandContext) collectionArg(arg bsoncore.Value) (string, *commandError) {
	name, ok := arg.StringValueOK()
	if !ok || name == "" {
		return "", failf(codeBadValue, "BadValue", "collection name must be a non-empty string")
	}
	return name, nil
}

func listIndexesCommand(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError) {
	name, failure := c.collectionArg(arg)
	if failure != nil {
		return dst, failure
	}
	var indexes []bsoncore.Document
	if c.server.data.has(c.db, name) {
		indexes = syntheticIndexes()
	} else if !c.server.sinks.with(c.db, name, false, func(s *sink) {
		indexes = append([]bsoncore.Document{syntheticIndexes()[0]}, s.indexes...)
	}) {
		return dst, failf(codeNamespaceNotFound, "NamespaceNotFound", "ns does not exist: %s.%s", c.db, name)
	}
	cur, dst := bsoncore.AppendDocumentElementStart(dst, "cursor")
	dst = bsoncore.AppendInt64Element(dst, "id", 0)
	dst = bsoncore.AppendStringElement(dst, "ns", c.db+"."+name)
	batch, dst := bsoncore.AppendArrayElementStart(dst, "firstBatch")
	for i, index := range indexes {
		dst = bsoncore.AppendDocumentElement(dst, fmt.Sprint(i), index)
	}
	dst, _ = bsoncore.AppendArrayEnd(dst, batch)
	dst, _ = bsoncore.AppendDocumentEnd(dst, cur)
	return dst, nil
}

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
	return bsoncore.AppendDocumentElement(dst, "wiredTiger", bsoncore.NewDocumentBuilder().Build()), nil
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

func (c *commandContext) writable(name string) *commandError {
	if c.server.data.has(c.db, name) {
		return failf(codeReadOnly, "BadValue", "%s.%s is the synthetic read-only collection", c.db, name)
	}
	if strings.HasPrefix(name, "system.") {
		return failf(codeBadValue, "BadValue", "bench-server does not write system collections (%s)", name)
	}
	return nil
}

func insertCommand(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError) {
	name, failure := c.collectionArg(arg)
	if failure == nil {
		failure = c.writable(name)
	}
	if failure != nil {
		return dst, failure
	}
	var documents []byte
	if seq, ok := c.req.sequences["documents"]; ok {
		documents = seq
	} else if array, ok := c.req.body.Lookup("documents").ArrayOK(); ok {
		values, _ := array.Values()
		for _, v := range values {
			documents = append(documents, v.Data...)
		}
	}
	var n int64
	var invalid error
	c.server.sinks.with(c.db, name, true, func(s *sink) {
		invalid = forEachDocument(documents, func(doc bsoncore.Document) error {
			if err := doc.Validate(); err != nil {
				return fmt.Errorf("document #%d is not valid BSON: %w", n+1, err)
			}
			s.add(doc)
			n++
			return nil
		})
	})
	if invalid != nil {
		return dst, failf(codeBadValue, "BadValue", "%s.%s: %v", c.db, name, invalid)
	}
	return bsoncore.AppendInt64Element(dst, "n", n), nil
}

func createCommand(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError) {
	name, failure := c.collectionArg(arg)
	if failure == nil {
		failure = c.writable(name)
	}
	if failure != nil {
		return dst, failure
	}
	existed := c.server.sinks.with(c.db, name, false, func(*sink) {})
	if existed {
		return dst, failf(codeNamespaceExists, "NamespaceExists", "Collection %s.%s already exists.", c.db, name)
	}
	c.server.sinks.with(c.db, name, true, func(s *sink) { s.options = c.req.body })
	return dst, nil
}

func createIndexesCommand(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError) {
	name, failure := c.collectionArg(arg)
	if failure != nil {
		return dst, failure
	}
	if c.server.data.has(c.db, name) {
		return dst, nil // already has its indexes
	}
	if failure = c.writable(name); failure != nil {
		return dst, failure
	}
	array, _ := c.req.body.Lookup("indexes").ArrayOK()
	values, _ := array.Values()
	var before, after int
	c.server.sinks.with(c.db, name, true, func(s *sink) {
		before = 1 + len(s.indexes)
		for _, v := range values {
			if spec, ok := v.DocumentOK(); ok {
				s.indexes = append(s.indexes, append(bsoncore.Document(nil), spec...))
			}
		}
		after = 1 + len(s.indexes)
	})
	dst = bsoncore.AppendInt32Element(dst, "numIndexesBefore", int32(before))
	return bsoncore.AppendInt32Element(dst, "numIndexesAfter", int32(after)), nil
}

func dropCommand(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError) {
	name, failure := c.collectionArg(arg)
	if failure == nil {
		failure = c.writable(name)
	}
	if failure != nil {
		return dst, failure
	}
	if !c.server.sinks.drop(c.db, name) {
		return dst, failf(codeNamespaceNotFound, "NamespaceNotFound", "ns not found")
	}
	return bsoncore.AppendStringElement(dst, "ns", c.db+"."+name), nil
}

func dropDatabaseCommand(c *commandContext, dst []byte, _ bsoncore.Value) ([]byte, *commandError) {
	if c.db == c.server.data.name {
		return dst, failf(codeReadOnly, "BadValue", "%s is the synthetic read-only database", c.db)
	}
	c.server.sinks.dropDatabase(c.db)
	return bsoncore.AppendStringElement(dst, "dropped", c.db), nil
}

// benchInsertedCommand reports what was inserted into <db>.<collection>: {documents, bytes, documentsDigest}.
func benchInsertedCommand(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError) {
	name, failure := c.collectionArg(arg)
	if failure != nil {
		return dst, failure
	}
	var s sink
	if !c.server.sinks.with(c.db, name, false, func(found *sink) { s = *found }) {
		return dst, failf(codeNamespaceNotFound, "NamespaceNotFound", "nothing was written to %s.%s", c.db, name)
	}
	dst = bsoncore.AppendInt64Element(dst, "documents", s.documents)
	dst = bsoncore.AppendInt64Element(dst, "bytes", s.bytes)
	return bsoncore.AppendStringElement(dst, "documentsDigest", s.digestHex()), nil
}
