package sqs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// Scheme is the URL scheme of this backend.
const Scheme = "sqs"

// Defaults for the URL options.
const (
	DefaultPrefix            = "eventbus-"
	DefaultVisibilityTimeout = 30 * time.Second
	DefaultMaxReceiveCount   = 50
	DefaultMaxMessageBytes   = 720 << 10
)

// Limits of SQS.
const (
	sqsMaxBytes    = 1 << 20 // a message, and a batch of them
	sqsMaxBatch    = 10
	sqsMaxName     = 80
	sqsMaxDelay    = 15 * time.Minute    // DelaySeconds
	sqsMaxHidden   = 12 * time.Hour      // VisibilityTimeout
	sqsRetention   = 14 * 24 * time.Hour // the longest SQS keeps a message
	bodyHeadroom   = 64 << 10            // JSON framing and attributes, at most
	dlqSuffix      = ".dlq"
	fifoSuffix     = ".fifo"
	maxInflightOut = 64 // batches of one topic being sent at once
)

// maxCanonicalBytes is the largest max_message_bytes whose structured
// encoding (data in base64, 4/3 the size) still fits SQS's limit.
const maxCanonicalBytes = (sqsMaxBytes - bodyHeadroom) / 4 * 3

type options struct {
	region            string
	endpoint          string // "" for AWS itself
	fifo              bool
	prefix            string
	visibilityTimeout time.Duration
	maxReceiveCount   int
	maxMessageBytes   int
}

func parseOptions(u *url.URL) (options, error) {
	o := options{prefix: DefaultPrefix, visibilityTimeout: DefaultVisibilityTimeout, maxReceiveCount: DefaultMaxReceiveCount, maxMessageBytes: DefaultMaxMessageBytes}
	scheme := "http"
	for key, vals := range u.Query() {
		v := vals[0]
		switch key {
		case "region":
			o.region = v
			continue
		case "prefix":
			if strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
				return o, errcode.Errorf(errcode.InvalidArgument, "sqs:// option prefix=%q may hold only letters, digits, '_' and '-'", v)
			}
			o.prefix = v
			continue
		case "endpoint":
			if v != "http" && v != "https" {
				return o, errcode.Errorf(errcode.InvalidArgument, "sqs:// option endpoint=%q must be http or https (the scheme of the endpoint the URL's host names)", v)
			}
			scheme = v
			continue
		case "fifo":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, errcode.Errorf(errcode.InvalidArgument, "sqs:// option fifo=%q must be true or false", v)
			}
			o.fifo = b
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return o, errcode.Errorf(errcode.InvalidArgument, "sqs:// option %s=%q must be a positive integer", key, v)
		}
		switch key {
		case "visibility_timeout":
			if n < 3 || time.Duration(n)*time.Second > sqsMaxHidden {
				return o, errcode.Errorf(errcode.InvalidArgument, "sqs:// option visibility_timeout=%d must be 3 to 43200 seconds", n)
			}
			o.visibilityTimeout = time.Duration(n) * time.Second
		case "max_receive_count":
			if n > 1000 {
				return o, errcode.Errorf(errcode.InvalidArgument, "sqs:// option max_receive_count=%d is over SQS's 1000", n)
			}
			o.maxReceiveCount = n
		case "max_message_bytes":
			if n > maxCanonicalBytes {
				return o, errcode.Errorf(errcode.InvalidArgument, "sqs:// option max_message_bytes=%d is over %d, the most whose structured encoding fits SQS's 1 MiB", n, maxCanonicalBytes)
			}
			o.maxMessageBytes = n
		default:
			return o, errcode.Errorf(errcode.InvalidArgument, "sqs:// has no option %q (known: region, endpoint, fifo, prefix, visibility_timeout, max_receive_count, max_message_bytes)", key)
		}
	}
	if u.Host != "" {
		o.endpoint = scheme + "://" + u.Host
	}
	return o, nil
}

// Open is the adapters.Opener for sqs:// URLs: sqs://?region=eu-west-1 for
// AWS itself, with the default credential chain; sqs://HOST:PORT?region=…
// for an endpoint of one's own (an emulator), over http unless
// endpoint=https, with the default credentials or, if there are none,
// placeholder ones emulators accept. It fails with Unavailable when SQS does
// not answer.
func Open(ctx context.Context, u *url.URL) (adapters.Driver, error) {
	if u.Scheme != Scheme {
		return nil, errcode.Errorf(errcode.InvalidArgument, "URL scheme %q is not %s://", u.Scheme, Scheme)
	}
	opts, err := parseOptions(u)
	if err != nil {
		return nil, err
	}
	loads := []func(*config.LoadOptions) error{
		// Retrying is the bus's decision, not the driver's.
		config.WithRetryMaxAttempts(1),
	}
	if opts.region != "" {
		loads = append(loads, config.WithRegion(opts.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, errcode.Errorf(errcode.InvalidArgument, "sqs:// AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errcode.Errorf(errcode.InvalidArgument, "sqs:// names no region: add ?region=… or set AWS_REGION")
	}
	if opts.endpoint != "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		// An endpoint of one's own (an emulator) without credentials in
		// the environment: placeholders, rather than probing for an EC2
		// instance role.
		cfg.Credentials = credentials.NewStaticCredentialsProvider("eventbus", "eventbus", "")
	}
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if opts.endpoint != "" {
			o.BaseEndpoint = aws.String(opts.endpoint)
		}
	})
	b := &Driver{opts: opts, client: client, where: where(opts, cfg.Region), urls: map[string]string{}}
	if err := b.Ping(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

func where(o options, region string) string {
	if o.endpoint != "" {
		return o.endpoint
	}
	return "SQS in " + region
}

// Driver is one SQS endpoint and region.
type Driver struct {
	opts   options
	client *sqs.Client
	where  string // for errors: the endpoint, or the region

	mu   sync.Mutex
	urls map[string]string // queue name → URL
}

var (
	_ adapters.Driver      = (*Driver)(nil)
	_ adapters.TopicOpener = (*Driver)(nil)
)

// Capabilities implements adapters.Driver. SQS keeps messages durably and
// can hold one back (DelaySeconds up to 15 minutes, hidden on receipt after
// that). Only FIFO queues keep order, so Ordering follows the fifo option.
//
// Every SQS request is a round trip that takes up to ten messages, so the
// Backend gathers concurrent sends, receives and acks into batches of ten:
// sends in up to maxInflightOut batches at once.
func (b *Driver) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{
		Durable: true, MaxMessageBytes: b.opts.maxMessageBytes, Delay: true, Ordering: b.opts.fifo, Topics: true,
		Batching: adapters.Batching{MaxSendBatch: sqsMaxBatch, SendHandlers: maxInflightOut, MaxReceiveBatch: sqsMaxBatch, MaxAckBatch: sqsMaxBatch},
	}
}

// Ping implements adapters.Driver with a round trip to SQS.
func (b *Driver) Ping(ctx context.Context) error {
	_, err := b.client.ListQueues(ctx, &sqs.ListQueuesInput{MaxResults: aws.Int32(1), QueueNamePrefix: aws.String(b.opts.prefix)})
	if err != nil {
		return errcode.Errorf(codeOf(err), "%s does not answer (check the URL's host and region, and the credentials): %w", b.where, err)
	}
	return nil
}

// Close implements adapters.Driver; SQS keeps no connection to close.
func (b *Driver) Close() error { return nil }

// queueName is the SQS name of a channel's queue. SQS allows letters,
// digits, '-' and '_' in at most 80 characters, ".fifo" included; a channel
// name with other characters (a dead-letter channel "C.dlq") or too long
// gets them replaced by '-' and a hash of the whole name appended, so two
// channels never share a queue.
func (b *Driver) queueName(channel string) string {
	suffix := ""
	if b.opts.fifo {
		suffix = fifoSuffix
	}
	name := b.opts.prefix + channel
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, name)
	if clean == name && len(name)+len(suffix) <= sqsMaxName {
		return name + suffix
	}
	sum := sha256.Sum256([]byte(channel))
	tag := "-" + hex.EncodeToString(sum[:4])
	return clean[:min(len(clean), sqsMaxName-len(tag)-len(suffix))] + tag + suffix
}

func (b *Driver) queueAttributes(redrive string) map[string]string {
	attrs := map[string]string{
		string(types.QueueAttributeNameVisibilityTimeout):      strconv.Itoa(int(b.opts.visibilityTimeout / time.Second)),
		string(types.QueueAttributeNameMessageRetentionPeriod): strconv.Itoa(int(sqsRetention / time.Second)),
		string(types.QueueAttributeNameMaximumMessageSize):     strconv.Itoa(sqsMaxBytes),
	}
	if b.opts.fifo {
		attrs[string(types.QueueAttributeNameFifoQueue)] = "true"
	}
	if redrive != "" {
		attrs[string(types.QueueAttributeNameRedrivePolicy)] = redrive
	}
	return attrs
}

// EnsureChannel implements adapters.Provisioner. For channel C it creates
// the dead-letter queue of C.dlq first, then C's queue with a redrive
// policy to it after max_receive_count receives: a safety net under the
// bus's own max_attempts, which dead-letters first. Ensuring C.dlq itself
// creates that queue alone. A queue that exists with other attributes
// fails with FailedPrecondition.
func (b *Driver) EnsureChannel(ctx context.Context, channel string) error {
	if channel == "" {
		return errcode.Errorf(errcode.InvalidArgument, "channel name is empty")
	}
	if strings.HasSuffix(channel, dlqSuffix) {
		_, err := b.createQueue(ctx, channel, b.queueAttributes(""))
		return err
	}
	dlqURL, err := b.createQueue(ctx, channel+dlqSuffix, b.queueAttributes(""))
	if err != nil {
		return err
	}
	out, err := b.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dlqURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return b.fail(channel, "read the dead-letter queue's ARN", err)
	}
	redrive, _ := json.Marshal(map[string]string{
		"deadLetterTargetArn": out.Attributes[string(types.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     strconv.Itoa(b.opts.maxReceiveCount),
	})
	_, err = b.createQueue(ctx, channel, b.queueAttributes(string(redrive)))
	return err
}

func (b *Driver) createQueue(ctx context.Context, channel string, attrs map[string]string) (string, error) {
	name := b.queueName(channel)
	out, err := b.client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", b.fail(channel, "create queue "+name, err)
	}
	b.mu.Lock()
	b.urls[name] = *out.QueueUrl
	b.mu.Unlock()
	return *out.QueueUrl, nil
}

// queueURL returns the URL of a channel's queue; NotFound if there is none.
func (b *Driver) queueURL(ctx context.Context, channel, op string) (string, error) {
	name := b.queueName(channel)
	b.mu.Lock()
	u, ok := b.urls[name]
	b.mu.Unlock()
	if ok {
		return u, nil
	}
	out, err := b.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", b.fail(channel, op, err)
	}
	b.mu.Lock()
	b.urls[name] = *out.QueueUrl
	b.mu.Unlock()
	return *out.QueueUrl, nil
}

// DeleteChannel implements adapters.Provisioner: the channel's queue and
// its messages. The bus deletes C.dlq as a channel of its own.
func (b *Driver) DeleteChannel(ctx context.Context, channel string) error {
	u, err := b.queueURL(ctx, channel, "delete")
	if errcode.Of(err) == errcode.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	b.mu.Lock()
	delete(b.urls, b.queueName(channel))
	b.mu.Unlock()
	if _, err := b.client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)}); err != nil && codeOf(err) != errcode.NotFound {
		return b.fail(channel, "delete", err)
	}
	return nil
}

// Depth implements adapters.Provisioner: SQS's approximate counts of the
// messages visible and delayed. Messages in flight (received, or hidden
// until a due time) are not counted.
func (b *Driver) Depth(ctx context.Context, channel string) (int64, error) {
	u, err := b.queueURL(ctx, channel, "depth")
	if err != nil {
		return 0, err
	}
	out, err := b.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(u),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		return 0, b.fail(channel, "depth", err)
	}
	var depth int64
	for _, v := range out.Attributes {
		n, _ := strconv.ParseInt(v, 10, 64)
		depth += n
	}
	return depth, nil
}

// Purge implements adapters.Provisioner with PurgeQueue, which SQS allows
// once a minute per queue and which removes messages in flight too.
func (b *Driver) Purge(ctx context.Context, channel string) error {
	u, err := b.queueURL(ctx, channel, "purge")
	if err != nil {
		return err
	}
	if _, err := b.client.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(u)}); err != nil {
		return b.fail(channel, "purge", err)
	}
	return nil
}

// OpenChannel implements adapters.Driver. The channel must exist.
func (b *Driver) OpenChannel(ctx context.Context, channel string) (driver.Topic, error) {
	u, err := b.queueURL(ctx, channel, "open topic")
	if err != nil {
		return nil, err
	}
	return &topic{b: b, channel: channel, url: u, fifo: b.opts.fifo}, nil
}

// OpenTopic implements adapters.TopicOpener: it sends to the queue of that
// exact name (a FIFO queue if it ends in ".fifo"), creating it if it is
// missing.
func (b *Driver) OpenTopic(ctx context.Context, name string) (driver.Topic, error) {
	fifo := strings.HasSuffix(name, fifoSuffix)
	attrs := map[string]string{}
	if fifo {
		attrs[string(types.QueueAttributeNameFifoQueue)] = "true"
	}
	out, err := b.client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return nil, b.fail(name, "create queue "+name, err)
	}
	return &topic{b: b, channel: name, url: *out.QueueUrl, fifo: fifo}, nil
}

// OpenSubscription implements adapters.Driver. The channel must exist.
func (b *Driver) OpenSubscription(ctx context.Context, channel string, opts adapters.SubscriptionOptions) (driver.Subscription, error) {
	u, err := b.queueURL(ctx, channel, "open subscription")
	if err != nil {
		return nil, err
	}
	return newSubscription(b, channel, u, opts.MaxInflight), nil
}

// fail wraps an SQS error once, with the channel, the operation, and what
// to do about it.
func (b *Driver) fail(channel, op string, err error) error {
	switch code := codeOf(err); code {
	case errcode.NotFound:
		return errcode.Errorf(code, "channel %q: %s: its queue does not exist on %s (ensure the route's channel first): %w", channel, op, b.where, err)
	case errcode.InvalidArgument:
		return errcode.Errorf(code, "channel %q: %s: %s refused the request as invalid: %w", channel, op, b.where, err)
	case errcode.FailedPrecondition:
		return errcode.Errorf(code, "channel %q: %s: %s refused (check the credentials' permissions, and that the queue was created with this URL's options): %w", channel, op, b.where, err)
	case errcode.ResourceExhausted:
		return errcode.Errorf(code, "channel %q: %s: %s is throttling or a purge is under way, retry later: %w", channel, op, b.where, err)
	case errcode.Unavailable:
		return errcode.Errorf(code, "channel %q: %s: %s is unavailable, retry later: %w", channel, op, b.where, err)
	default:
		return errcode.Errorf(code, "channel %q: %s: %w", channel, op, err)
	}
}

// codeOf classifies an error from the SQS API by its error code; anything
// without one is the network.
func codeOf(err error) errcode.Code {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return errcode.Unavailable
	}
	switch api.ErrorCode() {
	case "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist":
		return errcode.NotFound
	case "InvalidParameterValue", "InvalidAttributeValue", "InvalidAttributeName", "InvalidMessageContents",
		"MessageTooLong", "BatchRequestTooLong", "InvalidBatchEntryId", "TooManyEntriesInBatchRequest",
		"MissingParameter", "ValidationError", "InvalidAddress":
		return errcode.InvalidArgument
	case "QueueAlreadyExists", "QueueNameExists", "AccessDenied", "AccessDeniedException",
		"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
		"InvalidSecurity", "KmsAccessDenied", "KmsDisabled":
		return errcode.FailedPrecondition
	case "PurgeQueueInProgress", "OverLimit", "RequestThrottled", "ThrottlingException", "KmsThrottled":
		return errcode.ResourceExhausted
	}
	if api.ErrorFault() == smithy.FaultServer {
		return errcode.Unavailable
	}
	return errcode.Internal
}
