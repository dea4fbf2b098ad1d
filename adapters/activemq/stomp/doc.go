// Package stomp is the small STOMP 1.2 client the activemq backend needs,
// and no more: frames (ReadFrame, WriteFrame), a connection (Dial) with
// heart-beats, SEND with a receipt, SUBSCRIBE with client-individual acks
// and a prefetch, ACK, queue browsing, and DISCONNECT with a receipt.
//
// # Frames
//
// A frame is a command line, header lines "name:value", a blank line, a
// body and a NUL. Header names and values of every frame but CONNECT and
// CONNECTED escape backslash, newline, carriage return and colon as \\,
// \n, \r and \c; an unknown escape is an error. When a header repeats, the
// first occurrence counts. A body with a content-length header is read by
// that length, so it may hold NUL bytes; WriteFrame always writes one.
// Blank lines between frames are heart-beats and are skipped. ReadFrame
// bounds what it reads by Limits, so a peer cannot make it buffer without
// end.
//
// # Connections
//
// A Conn has one reader goroutine, which hands RECEIPTs to the call
// waiting for them and MESSAGEs to their subscription, and writes frames
// under a lock. An ERROR frame from the server ends the connection (the
// server closes it after one): every call waiting on it fails with an
// *Error carrying the server's message. Heart-beats are negotiated at
// CONNECT: the client writes a newline when it has written nothing for its
// interval, and gives up on a server silent for twice the server's.
package stomp
