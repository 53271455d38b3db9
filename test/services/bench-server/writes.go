package main

import (
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// The write side: written collections are sinks (see sink.go); the synthetic collection refuses writes.

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

// renameCollectionCommand moves a sink within its database, as a restore that writes a temporary copy and
// renames it over its target does: {renameCollection: "db.from", to: "db.to", dropTarget}.
func renameCollectionCommand(c *commandContext, dst []byte, arg bsoncore.Value) ([]byte, *commandError) {
	from, _ := arg.StringValueOK()
	to, _ := c.req.body.Lookup("to").StringValueOK()
	fromDb, fromName, okFrom := strings.Cut(from, ".")
	toDb, toName, okTo := strings.Cut(to, ".")
	if !okFrom || !okTo || fromName == "" || toName == "" {
		return dst, failf(codeBadValue, "BadValue", "renameCollection needs two full namespaces (got %q, %q)", from, to)
	}
	if fromDb != toDb {
		return dst, failf(codeBadValue, "BadValue", "bench-server renames only within a database (%s -> %s)", from, to)
	}
	c.db = fromDb
	for _, name := range []string{fromName, toName} {
		if failure := c.writable(name); failure != nil {
			return dst, failure
		}
	}
	dropTarget, _ := c.req.body.Lookup("dropTarget").BooleanOK()
	switch c.server.sinks.rename(fromDb, fromName, toName, dropTarget) {
	case renameSourceMissing:
		return dst, failf(codeNamespaceNotFound, "NamespaceNotFound", "source namespace %s does not exist", from)
	case renameTargetExists:
		return dst, failf(codeNamespaceExists, "NamespaceExists", "target namespace %s exists", to)
	}
	return dst, nil
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
