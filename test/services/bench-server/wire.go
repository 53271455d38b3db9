package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
	"go.mongodb.org/mongo-driver/x/mongo/driver/wiremessage"
)

// maxMessageBytes is what hello announces as maxMessageSizeBytes (as mongod does).
const maxMessageBytes = 48_000_000

// request is one decoded command: its body and, for inserts, the documents of an OP_MSG document sequence.
type request struct {
	body      bsoncore.Document
	sequences map[string][]byte
	// legacy is true for OP_QUERY (answered with OP_REPLY).
	legacy bool
}

type server struct {
	logger   *slog.Logger
	data     *syntheticDatabase
	cursors  *cursorTable
	sinks    *sinkTable
	nextConn atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newServer(logger *slog.Logger, data *syntheticDatabase) *server {
	return &server{
		logger:  logger,
		data:    data,
		cursors: newCursorTable(),
		sinks:   newSinkTable(),
		conns:   map[net.Conn]struct{}{},
	}
}

func (s *server) closeConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for conn := range s.conns {
		conn.Close()
	}
}

func (s *server) serve(ctx context.Context, conn net.Conn) {
	s.mu.Lock()
	s.conns[conn] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		conn.Close()
	}()
	id := s.nextConn.Add(1)
	reader := bufio.NewReaderSize(conn, 1<<20)
	var message, reply []byte
	for ctx.Err() == nil {
		var err error
		message, err = readMessage(reader, message[:0])
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.logger.Warn("connection closed", "conn", id, "error", err)
			}
			return
		}
		reply, err = s.handle(message, reply[:0], id)
		if err != nil {
			s.logger.Warn("bad message; closing the connection", "conn", id, "error", err)
			return
		}
		if len(reply) == 0 {
			continue // moreToCome: the client expects no answer
		}
		if _, err = conn.Write(reply); err != nil {
			return
		}
	}
}

func readMessage(reader *bufio.Reader, buf []byte) ([]byte, error) {
	var header [4]byte
	if _, err := io.ReadFull(reader, header[:]); err != nil {
		return buf, err
	}
	length := int(int32(binary.LittleEndian.Uint32(header[:])))
	if length < 16 || length > maxMessageBytes {
		return buf, fmt.Errorf("message length %d out of bounds", length)
	}
	if cap(buf) < length {
		buf = make([]byte, length)
	}
	buf = buf[:length]
	copy(buf, header[:])
	_, err := io.ReadFull(reader, buf[4:])
	return buf, err
}

// handle decodes one message, runs its command and appends the reply message to dst.
func (s *server) handle(message, dst []byte, conn int64) ([]byte, error) {
	_, requestID, _, opcode, rest, ok := wiremessage.ReadHeader(message)
	if !ok {
		return dst, errors.New("short header")
	}
	var req request
	var moreToCome bool
	switch opcode {
	case wiremessage.OpMsg:
		var err error
		req, moreToCome, err = decodeMsg(rest)
		if err != nil {
			return dst, err
		}
	case wiremessage.OpQuery:
		var err error
		req, err = decodeQuery(rest)
		if err != nil {
			return dst, err
		}
	default:
		return dst, fmt.Errorf("opcode %s is not supported", opcode)
	}
	ctx := commandContext{server: s, conn: conn, req: req}
	if moreToCome {
		ctx.run(nil)
		return dst, nil
	}
	start := len(dst)
	if req.legacy {
		dst = wiremessage.AppendHeader(dst, 0, wiremessage.NextRequestID(), requestID, wiremessage.OpReply)
		dst = wiremessage.AppendReplyFlags(dst, wiremessage.AwaitCapable)
		dst = wiremessage.AppendReplyCursorID(dst, 0)
		dst = wiremessage.AppendReplyStartingFrom(dst, 0)
		dst = wiremessage.AppendReplyNumberReturned(dst, 1)
	} else {
		dst = wiremessage.AppendHeader(dst, 0, wiremessage.NextRequestID(), requestID, wiremessage.OpMsg)
		dst = wiremessage.AppendMsgFlags(dst, 0)
		dst = wiremessage.AppendMsgSectionType(dst, wiremessage.SingleDocument)
	}
	dst = ctx.run(dst)
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst, nil
}

func decodeMsg(src []byte) (request, bool, error) {
	flags, src, ok := wiremessage.ReadMsgFlags(src)
	if !ok {
		return request{}, false, errors.New("OP_MSG without flags")
	}
	if flags&wiremessage.ChecksumPresent != 0 {
		if len(src) < 4 {
			return request{}, false, errors.New("OP_MSG checksum missing")
		}
		src = src[:len(src)-4]
	}
	req := request{}
	for len(src) > 0 {
		kind, rest, ok := wiremessage.ReadMsgSectionType(src)
		if !ok {
			return req, false, errors.New("OP_MSG section without a kind")
		}
		switch kind {
		case wiremessage.SingleDocument:
			req.body, src, ok = wiremessage.ReadMsgSectionSingleDocument(rest)
		case wiremessage.DocumentSequence:
			var identifier string
			var data []byte
			identifier, data, src, ok = wiremessage.ReadMsgSectionRawDocumentSequence(rest)
			if ok {
				if req.sequences == nil {
					req.sequences = map[string][]byte{}
				}
				req.sequences[identifier] = data
			}
		default:
			return req, false, fmt.Errorf("OP_MSG section kind %d is not supported", kind)
		}
		if !ok {
			return req, false, errors.New("OP_MSG section is truncated")
		}
	}
	if req.body == nil {
		return req, false, errors.New("OP_MSG without a body section")
	}
	return req, flags&wiremessage.MoreToCome != 0, nil
}

func decodeQuery(src []byte) (request, error) {
	_, src, ok := wiremessage.ReadQueryFlags(src)
	if !ok {
		return request{}, errors.New("OP_QUERY without flags")
	}
	collection, src, ok := wiremessage.ReadQueryFullCollectionName(src)
	if !ok {
		return request{}, errors.New("OP_QUERY without a collection name")
	}
	if _, src, ok = wiremessage.ReadQueryNumberToSkip(src); !ok {
		return request{}, errors.New("OP_QUERY without numberToSkip")
	}
	if _, src, ok = wiremessage.ReadQueryNumberToReturn(src); !ok {
		return request{}, errors.New("OP_QUERY without numberToReturn")
	}
	query, _, ok := wiremessage.ReadQueryQuery(src)
	if !ok {
		return request{}, errors.New("OP_QUERY without a query document")
	}
	// Only the handshake comes as OP_QUERY (to <db>.$cmd); a wrapped {$query: ...} is unwrapped.
	if inner, ok := query.Lookup("$query").DocumentOK(); ok {
		query = inner
	}
	if len(collection) < 5 || collection[len(collection)-5:] != ".$cmd" {
		return request{}, fmt.Errorf("OP_QUERY on %q: only commands are supported", collection)
	}
	return request{body: query, legacy: true}, nil
}

// forEachDocument walks a document sequence's concatenated documents.
func forEachDocument(data []byte, fn func(bsoncore.Document) error) error {
	for len(data) > 0 {
		doc, rest, ok := bsoncore.ReadDocument(data)
		if !ok {
			return errors.New("document sequence is truncated")
		}
		if err := fn(doc); err != nil {
			return err
		}
		data = rest
	}
	return nil
}
