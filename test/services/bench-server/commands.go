package main

import (
	"crypto/sha256"
	"fmt"
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
		"hello":            helloCommand,
		"isMaster":         helloCommand,
		"ismaster":         helloCommand,
		"buildInfo":        buildInfoCommand,
		"buildinfo":        buildInfoCommand,
		"ping":             nothing,
		"endSessions":      nothing,
		"listDatabases":    listDatabasesCommand,
		"listCollections":  listCollectionsCommand,
		"listIndexes":      listIndexesCommand,
		"count":            countCommand,
		"collStats":        collStatsCommand,
		"dbStats":          dbStatsCommand,
		"aggregate":        aggregateCommand,
		"find":             findCommand,
		"getMore":          getMoreCommand,
		"killCursors":      killCursorsCommand,
		"insert":           insertCommand,
		"create":           createCommand,
		"createIndexes":    createIndexesCommand,
		"drop":             dropCommand,
		"dropDatabase":     dropDatabaseCommand,
		"renameCollection": renameCollectionCommand,
		"benchInserted":    benchInsertedCommand,
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
