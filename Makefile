# The two commands a newcomer needs: `make run` and `make test`.
.PHONY: run test bench build

run:
	go run ./cmd/eventbus serve

# Installs and starts what the tests need, then runs every test.
test:
	scripts/test.sh

bench:
	go run ./bench

build:
	go build -o bin/eventbus ./cmd/eventbus
