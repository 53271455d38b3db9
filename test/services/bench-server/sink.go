package main

import (
	"crypto/sha256"
	"encoding/hex"
	"math/bits"
	"sort"
	"sync"

	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// sink is a collection written to: its documents are counted and digested, then dropped. The digest is the
// manifest's documentsDigest (lambdas/core/archive/documents-digest.ts): the sum modulo 2^256 of each
// document's SHA-256, so a benchmark can check a restore was complete whatever the order of inserts.
type sink struct {
	documents int64
	bytes     int64
	// digest as four 64-bit limbs, most significant first (the big-endian reading of a SHA-256).
	digest  [4]uint64
	indexes []bsoncore.Document
	options bsoncore.Document
}

func (s *sink) add(document []byte) {
	sum := sha256.Sum256(document)
	var carry uint64
	for limb := 3; limb >= 0; limb-- {
		word := uint64(sum[limb*8])<<56 | uint64(sum[limb*8+1])<<48 | uint64(sum[limb*8+2])<<40 |
			uint64(sum[limb*8+3])<<32 | uint64(sum[limb*8+4])<<24 | uint64(sum[limb*8+5])<<16 |
			uint64(sum[limb*8+6])<<8 | uint64(sum[limb*8+7])
		s.digest[limb], carry = bits.Add64(s.digest[limb], word, carry)
	}
	s.documents++
	s.bytes += int64(len(document))
}

func (s *sink) digestHex() string {
	var out [32]byte
	for limb := 0; limb < 4; limb++ {
		for b := 0; b < 8; b++ {
			out[limb*8+b] = byte(s.digest[limb] >> (56 - 8*b))
		}
	}
	return hex.EncodeToString(out[:])
}

type sinkTable struct {
	mu    sync.Mutex
	sinks map[string]map[string]*sink // db -> collection -> sink
}

func newSinkTable() *sinkTable { return &sinkTable{sinks: map[string]map[string]*sink{}} }

// with runs fn on the sink of db.collection, creating it when asked; fn runs under the table's lock.
func (t *sinkTable) with(db, collection string, create bool, fn func(*sink)) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	colls := t.sinks[db]
	s := colls[collection]
	if s == nil {
		if !create {
			return false
		}
		if colls == nil {
			colls = map[string]*sink{}
			t.sinks[db] = colls
		}
		s = &sink{}
		colls[collection] = s
	}
	fn(s)
	return true
}

func (t *sinkTable) drop(db, collection string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.sinks[db][collection]; !ok {
		return false
	}
	delete(t.sinks[db], collection)
	if len(t.sinks[db]) == 0 {
		delete(t.sinks, db)
	}
	return true
}

type renameOutcome int

const (
	renamed renameOutcome = iota
	renameSourceMissing
	renameTargetExists
)

func (t *sinkTable) rename(db, from, to string, dropTarget bool) renameOutcome {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.sinks[db][from]
	if !ok {
		return renameSourceMissing
	}
	if _, exists := t.sinks[db][to]; exists && !dropTarget {
		return renameTargetExists
	}
	delete(t.sinks[db], from)
	t.sinks[db][to] = s
	return renamed
}

func (t *sinkTable) dropDatabase(db string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.sinks, db)
}

func (t *sinkTable) databases() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.sinks))
	for db := range t.sinks {
		names = append(names, db)
	}
	sort.Strings(names)
	return names
}

func (t *sinkTable) collections(db string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.sinks[db]))
	for name := range t.sinks[db] {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
