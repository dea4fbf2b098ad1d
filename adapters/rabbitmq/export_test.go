package rabbitmq

import "github.com/eventbus-go/eventbus/adapters"

// DropConnection closes b's AMQP connection under it, as a network failure
// would, so tests can watch the backend reconnect.
func DropConnection(b adapters.Driver) error {
	conn, err := b.(*Driver).s.connection()
	if err != nil {
		return err
	}
	return conn.Close()
}

// QueueName is the queue that holds channel's messages on b.
func QueueName(b adapters.Driver, channel string) string {
	return b.(*Driver).names(channel).queue
}
