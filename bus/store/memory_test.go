package store_test

import (
	"testing"

	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/bus/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return store.NewMemory() })
}

func TestMemoryCountsTheReplicasSharingIt(t *testing.T) {
	m := store.NewMemory()
	storetest.RunReplicas(t, m, m)
}
