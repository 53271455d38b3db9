package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
	"go.mongodb.org/mongo-driver/x/mongo/driver/wiremessage"
)

// readCollection is the instrument's own speed check: a raw client (find, then getMore until the cursor is
// exhausted, documents counted but never decoded) against address, over a real socket. The Node.js driver
// reads the same data several times more slowly, so this is the ceiling of any client.
func readCollection(address, db, collection string) error {
	conn, err := net.Dial("tcp", address)
	if err != nil {
		return err
	}
	defer conn.Close()
	reader := bufio.NewReaderSize(conn, 1<<20)
	started := time.Now()
	command := bsoncore.NewDocumentBuilder().AppendString("find", collection).AppendString("$db", db).Build()
	var documents, total int64
	var message []byte
	for {
		request := wiremessage.AppendHeader(nil, 0, wiremessage.NextRequestID(), 0, wiremessage.OpMsg)
		request = wiremessage.AppendMsgFlags(request, 0)
		request = wiremessage.AppendMsgSectionType(request, wiremessage.SingleDocument)
		request = append(request, command...)
		request[0], request[1], request[2], request[3] = byte(len(request)), byte(len(request)>>8), byte(len(request)>>16), byte(len(request)>>24)
		if _, err = conn.Write(request); err != nil {
			return err
		}
		if message, err = readMessage(reader, message[:0]); err != nil {
			return err
		}
		_, _, _, _, rest, _ := wiremessage.ReadHeader(message)
		_, rest, _ = wiremessage.ReadMsgFlags(rest)
		_, rest, _ = wiremessage.ReadMsgSectionType(rest)
		reply, _, ok := wiremessage.ReadMsgSectionSingleDocument(rest)
		if !ok {
			return errors.New("reply without a body")
		}
		if okValue, _ := reply.Lookup("ok").AsInt64OK(); okValue != 1 {
			return fmt.Errorf("server refused the read: %s", reply)
		}
		cursor := reply.Lookup("cursor").Document()
		batch, ok := cursor.Lookup("firstBatch").ArrayOK()
		if !ok {
			batch = cursor.Lookup("nextBatch").Array()
		}
		// Element by element, without decoding: type byte, key, then the document's own length.
		for at := 4; at < len(batch)-1; {
			key := bytes.IndexByte(batch[at+1:], 0)
			length := int(int32(binary.LittleEndian.Uint32(batch[at+2+key:])))
			at += 2 + key + length
			documents++
			total += int64(length)
		}
		id := cursor.Lookup("id").Int64()
		if id == 0 {
			break
		}
		command = bsoncore.NewDocumentBuilder().AppendInt64("getMore", id).
			AppendString("collection", collection).AppendString("$db", db).Build()
	}
	seconds := time.Since(started).Seconds()
	fmt.Printf("read %d documents, %d bytes in %.3f s = %.1f MB/s\n", documents, total, seconds, float64(total)/(1<<20)/seconds)
	return nil
}
