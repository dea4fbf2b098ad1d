package plugins

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/eventbus-go/eventbus/spec"
)

// Defaults of Config's zero fields, and bounds.
const (
	// DefaultTimeout bounds one delivery when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// MaxInstances bounds Config.Instances.
	MaxInstances = 64
)

// Config declares one plugin, as the bus config lists it:
//
//	plugins:
//	  - name: mailer
//	    cmd: ./bin/mailer
//	    args: [--smtp, 127.0.0.1:25]
//	    env: {MAILER_FROM: noreply@example.com}
//	    instances: 2
//	    timeout: 5s
type Config struct {
	// Name is what routes call the plugin: target: {plugin: {name: mailer}}.
	Name string `json:"name"`
	// Cmd is the plugin's executable, a path or a name looked up in PATH.
	Cmd  string   `json:"cmd"`
	Args []string `json:"args,omitempty"`
	// Env is added to the bus's own environment for the plugin process.
	Env map[string]string `json:"env,omitempty"`
	// Instances is how many processes share the plugin's deliveries; 0
	// means 1.
	Instances int `json:"instances,omitempty"`
	// Timeout bounds one delivery; 0 means DefaultTimeout. A plugin that
	// has not answered a delivery by then is taken as hung and restarted.
	Timeout spec.Duration `json:"timeout,omitzero"`
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// Validate checks the config and returns every problem, each a *spec.FieldError
// whose path is relative to the plugin ("cmd", "instances"): the caller
// prefixes it with where the plugin sits in its own config.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.Name == "":
		errs = append(errs, &spec.FieldError{Path: "name", Message: "is required"})
	case !namePattern.MatchString(c.Name):
		errs = append(errs, &spec.FieldError{Path: "name", Message: fmt.Sprintf("%q must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit", c.Name)})
	}
	if c.Cmd == "" {
		errs = append(errs, &spec.FieldError{Path: "cmd", Message: "is required: the path of the plugin's executable"})
	}
	if c.Instances < 0 || c.Instances > MaxInstances {
		errs = append(errs, &spec.FieldError{Path: "instances", Message: fmt.Sprintf("must be between 0 and %d, got %d", MaxInstances, c.Instances)})
	}
	if c.Timeout < 0 {
		errs = append(errs, &spec.FieldError{Path: "timeout", Message: "must not be negative"})
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Instances == 0 {
		c.Instances = 1
	}
	if c.Timeout == 0 {
		c.Timeout = spec.Duration(DefaultTimeout)
	}
	return c
}
