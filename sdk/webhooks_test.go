package sdk_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/sdk"
)

// The example of the Standard Webhooks specification: whatever signs it so
// verifies the bus's deliveries too.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = "1614265330"
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	otherSecret   = "whsec_c2Vjb25kLXNlY3JldC1vZi10aGUtcmVjZWl2ZXI="
)

var specTime = time.Unix(1614265330, 0)

func specHeader(signature string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", specID)
	h.Set("webhook-timestamp", specTimestamp)
	h.Set("webhook-signature", signature)
	return h
}

func ExampleVerifyWebhook() {
	// In a receiver's handler: the header and the body exactly as received.
	header := http.Header{}
	header.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	header.Set("webhook-timestamp", "1614265330")
	header.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)
	now := time.Unix(1614265330, 0) // time.Now() in a real receiver

	secrets := []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} // during a rotation: old and new
	err := sdk.VerifyWebhook(secrets, header, body, now, 0)
	fmt.Println("genuine:", err == nil)

	err = sdk.VerifyWebhook(secrets, header, []byte(`{"test": 1}`), now, 0)
	fmt.Println("tampered:", errors.Is(err, sdk.ErrWebhookSignature))
	// Output:
	// genuine: true
	// tampered: true
}

func TestVerifyWebhookAcceptsTheSpecificationsExample(t *testing.T) {
	if err := sdk.VerifyWebhook([]string{specSecret}, specHeader(specSignature), []byte(specBody), specTime, 0); err != nil {
		t.Fatalf("the Standard Webhooks example must verify, or receivers of other libraries and ours disagree: %v", err)
	}
}

func TestVerifyWebhookAcceptsEitherSecretDuringARotation(t *testing.T) {
	both := specHeader("v1,bm90LXRoaXMtb25l " + specSignature) // a signature by another secret first
	for name, secrets := range map[string][]string{
		"old secret first": {specSecret, otherSecret},
		"new secret first": {otherSecret, specSecret},
	} {
		if err := sdk.VerifyWebhook(secrets, both, []byte(specBody), specTime, 0); err != nil {
			t.Errorf("%s: a receiver holding the signing secret among others must accept the delivery: %v", name, err)
		}
	}
}

func TestVerifyWebhookRefusesForgeries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		secrets []string
		header  http.Header
		body    string
		now     time.Time
		want    error
	}{
		{"a changed body", []string{specSecret}, specHeader(specSignature), `{"test": 1}`, specTime, sdk.ErrWebhookSignature},
		{"the wrong secret", []string{otherSecret}, specHeader(specSignature), specBody, specTime, sdk.ErrWebhookSignature},
		{"a signature of another scheme", []string{specSecret}, specHeader(strings.Replace(specSignature, "v1,", "v1a,", 1)), specBody, specTime, sdk.ErrWebhookSignature},
		{"a replay after the tolerance", []string{specSecret}, specHeader(specSignature), specBody, specTime.Add(5*time.Minute + time.Second), sdk.ErrWebhookTimestamp},
		{"a timestamp in the future", []string{specSecret}, specHeader(specSignature), specBody, specTime.Add(-6 * time.Minute), sdk.ErrWebhookTimestamp},
		{"no signature header", []string{specSecret}, specHeader(""), specBody, specTime, sdk.ErrWebhookHeaders},
	} {
		err := sdk.VerifyWebhook(tc.secrets, tc.header, []byte(tc.body), tc.now, 0)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v: a receiver must not take this for a delivery of the bus", tc.name, err, tc.want)
		}
	}
}

func TestVerifyWebhookHonoursAGivenTolerance(t *testing.T) {
	late := specTime.Add(10 * time.Minute)
	if err := sdk.VerifyWebhook([]string{specSecret}, specHeader(specSignature), []byte(specBody), late, 15*time.Minute); err != nil {
		t.Errorf("10 minutes late is within a tolerance of 15: %v", err)
	}
}

func TestVerifyWebhookNamesAMalformedSecretWithoutShowingIt(t *testing.T) {
	bad := "whsec_not*base64"
	err := sdk.VerifyWebhook([]string{specSecret, bad}, specHeader(specSignature), []byte(specBody), specTime, 0)
	if err == nil || !strings.Contains(err.Error(), "secrets[1]") || strings.Contains(err.Error(), bad) {
		t.Fatalf("got %v: want an error naming secrets[1] that does not repeat the secret", err)
	}
}
