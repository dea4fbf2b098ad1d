package memory

// queue is a FIFO of messages that can also take messages back at its head.
type queue struct {
	items []*message
	head  int
}

func (q *queue) len() int { return len(q.items) - q.head }

func (q *queue) push(m *message) { q.items = append(q.items, m) }

// pushFront puts ms back at the head, keeping their order.
func (q *queue) pushFront(ms []*message) {
	if len(ms) <= q.head {
		q.head -= len(ms)
		copy(q.items[q.head:], ms)
		return
	}
	items := make([]*message, 0, len(ms)+q.len())
	items = append(items, ms...)
	q.items = append(items, q.items[q.head:]...)
	q.head = 0
}

// pop removes up to n messages from the head and appends them to out.
func (q *queue) pop(out []*message, n int) []*message {
	n = min(n, q.len())
	out = append(out, q.items[q.head:q.head+n]...)
	clear(q.items[q.head : q.head+n])
	q.head += n
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head > len(q.items)/2 {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	return out
}

func (q *queue) reset() []*message {
	out := q.items[q.head:]
	q.items, q.head = nil, 0
	return out
}
